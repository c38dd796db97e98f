// `lplb plan --placement FILE.json`: the exact per-batch LP over any replica
// placement (lplb/placement.hpp) instead of an LPLB topology. Implemented in
// cmd_plan_placement.cpp; cmd_plan.cpp dispatches here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lplb::cli {

struct PlanPlacementArgs {
  std::string placement;  // JSON phy2log: 1-D [P * n_local] (needs ep) or 2-D [P][n_local]
  std::string workload;   // JSON [E]: this batch's tokens per expert (E = its length)
  std::string output;     // empty: stdout
  int64_t experts = 0;    // 0: from the workload; otherwise must match it
  int64_t ep = 0;         // 0: from a 2-D placement; required for a 1-D one
  int64_t layer = -1;     // for lplb eplb's [layers][replicas] output; -1: none given
};

// phy2log [P * n_local] from --placement: a 1-D array (needs ep), a 2-D
// [P][n_local] array, lplb eplb's output object (one layer of it) or an
// object with phy2log and ep (lplb design / plan output). Sets ep.
std::vector<int64_t> read_placement(const std::string& path, int64_t layer, int64_t& ep);

void run_plan_placement(const PlanPlacementArgs& args);

}  // namespace lplb::cli
