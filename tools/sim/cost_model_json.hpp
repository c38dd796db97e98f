// Reads a CostModel (lplb/objective.hpp) from JSON, for `lplb plan` and
// `lplb simulate --cost-model FILE`. Two forms:
//   {"a_us": 4.0, "b_us_per_token": 0.0756, "c_us_per_expert": 32.2,
//    "speed": [per rank], "extra_us": [per rank]}   (every key optional)
//   a table written by scripts/measure_gemm.py: its fit of "default_method".
#pragma once

#include <string>

#include "lplb/objective.hpp"

namespace lplb::sim {

// Throws InvalidArgument naming `arg` on a bad file or value (the sizes of
// speed / extra_us are checked later, against the number of ranks).
CostModel read_cost_model(const std::string& path, const char* arg);

}  // namespace lplb::sim
