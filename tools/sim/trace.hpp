// Recorded expert-load traces (the format of /work/shared/traces): a JSON
// object {"counts": [steps][layers][experts], "config": {...}, ...} or a bare
// 3-D array, plain or gzipped (name ending in .gz).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace lplb::sim {

struct Trace {
  int64_t num_steps = 0;
  int64_t num_layers = 0;
  int64_t num_experts = 0;
  std::vector<int64_t> counts;  // [num_steps][num_layers][num_experts], >= 0
  nlohmann::json config;        // the file's "config" object, if any

  const int64_t* at(int64_t step, int64_t layer) const {
    return counts.data() + (step * num_layers + layer) * num_experts;
  }
};

// Validates shape (3-D, not ragged, non-empty) and values (non-negative
// integers); throws InvalidArgument naming `arg` and the offending index.
Trace parse_trace(const nlohmann::json& j, const char* arg = "--trace");
Trace load_trace(const std::string& path, const char* arg = "--trace");

}  // namespace lplb::sim
