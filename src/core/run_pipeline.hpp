// count -> all-reduce -> solve -> map: the one sequence behind Planner::run
// and PlacementPlanner::run (docs/ARCHITECTURE.md, "The pipeline"). Internal
// to the core library.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "lplb/comm.hpp"

namespace lplb::detail {

// `split`: the plan's member that map() takes (probs or shares).
template <class PlannerT, class Id, class Plan>
Plan run_pipeline(const PlannerT& planner, std::span<const Id> ids, std::span<Id> out,
                  Communicator* comm, std::vector<double> Plan::*split) {
  std::vector<int64_t> counts = planner.count(ids);
  if (comm != nullptr) comm->all_reduce_sum(counts);
  Plan plan = planner.solve(std::span<const int64_t>(counts));
  planner.map(ids, std::span<const double>(plan.*split), out);
  return plan;
}

}  // namespace lplb::detail
