// EPLB static placement: replica counts and their packing onto GPUs from
// per-expert loads, identical to deepseek-ai/EPLB's rebalance_experts for
// inputs without ties (docs/EPLB.md).
//
// Thread safety: pure functions (no shared state); concurrent calls are safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lplb/errors.hpp"

namespace lplb {

struct EplbOptions {
  // Never place two replicas of one logical expert on the same GPU when the
  // sizes allow it (off by default so that output matches the reference).
  bool spread_replicas = false;
};

struct EplbResult {
  int64_t num_layers = 0;
  int64_t num_logical = 0;   // E
  int64_t num_replicas = 0;  // physical experts per layer
  int64_t max_count = 0;     // largest replica count over all layers
  std::vector<int64_t> phy2log;  // [num_layers][num_replicas]
  std::vector<int64_t> log2phy;  // [num_layers][num_logical][max_count], -1 padded
  std::vector<int64_t> logcnt;   // [num_layers][num_logical]
};

// weight: [num_layers][num_logical] row-major, finite, >= 0 and <= FLT_MAX:
// like the reference (which runs on weight.float()) the arithmetic is float32.
// Requires num_replicas >= num_logical, num_replicas % num_gpus == 0,
// num_gpus % num_nodes == 0 and num_logical % num_groups == 0.
// Hierarchical policy when num_groups % num_nodes == 0, else global.
// Throws InvalidArgument naming the argument on bad sizes or values.
// Thread-safe (no shared state).
EplbResult rebalance_experts(const double* weight, int64_t num_layers, int64_t num_logical,
                             int64_t num_replicas, int64_t num_groups, int64_t num_nodes,
                             int64_t num_gpus, const EplbOptions& options = {});

inline EplbResult rebalance_experts(const std::vector<double>& weight, int64_t num_layers,
                                    int64_t num_replicas, int64_t num_groups,
                                    int64_t num_nodes, int64_t num_gpus,
                                    const EplbOptions& options = {}) {
  check_arg(num_layers <= 0 || weight.size() % num_layers == 0, "weight",
            "size " + std::to_string(weight.size()) + " is not a multiple of num_layers (" +
                std::to_string(num_layers) + ")");
  const int64_t num_logical =
      num_layers > 0 ? static_cast<int64_t>(weight.size()) / num_layers : 0;
  return rebalance_experts(weight.data(), num_layers, num_logical, num_replicas, num_groups,
                           num_nodes, num_gpus, options);
}

}  // namespace lplb
