// Where `lplb simulate`'s per-step counts come from: the synthetic stream or
// a recorded trace (one stream per replayed layer), resolved from the
// options with the flags' validation.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "sim/simulator.hpp"

namespace lplb::sim {

// Each step's counts: one vector[E] per stream.
class CountSource {
 public:
  virtual ~CountSource() = default;
  virtual void next(int64_t step, std::vector<std::vector<int64_t>>& counts) = 0;
};

struct OpenedSource {
  std::unique_ptr<CountSource> source;
  int64_t num_experts = 0, num_steps = 0;
  std::vector<int64_t> layers;  // trace layers replayed ({0} for the synthetic stream)
};

// Opens the trace (--trace, --layer, --tokens) or sets up the synthetic
// stream, records the source's part of `config`; throws InvalidArgument
// naming the flag.
OpenedSource open_source(const SimOptions& o, nlohmann::json& config);

}  // namespace lplb::sim
