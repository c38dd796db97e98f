// Planner glue for the objectives beyond token counts (lplb/lp_objective.hpp): one group solved under a
// non-default Objective, and the modelled times and token moves a solve
// reports. Internal to the core library.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "lplb/lp_objective.hpp"
#include "lplb/planner.hpp"

namespace lplb::detail {

// Throws InvalidArgument naming "objective" when the objective does not fit
// the options (model, tolerance, solver).
void validate_objective(const PlannerOptions& options);

// Experts with tokens per rank, counting every physical slot (originals and
// copies) whose logical expert has workload > 0: the active set the time
// objective fixes by placement. [P].
std::vector<int64_t> placement_active(const Planner& planner, std::span<const double> workload);

// Group `group` under options.objective with the exact solver: the primary
// objective (tokens or modelled time, active[S] = the group's slice of
// placement_active; unused for tokens), then, with min_moves, the split
// within move_tolerance of it that moves the fewest tokens. Writes probs[S*D].
LpResult solve_group_objective(const Topology& topology, const PlannerOptions& options,
                               int64_t group, const double* fixed, const double* block,
                               const int64_t* active, double* probs);

// Fills out.tokens_moved, tokens_cross_node, time_before and time_after from
// out.probs (any solver). workload as given to Planner::solve.
void report_objective(const Planner& planner, std::span<const double> workload,
                      SolveOutput& out);

}  // namespace lplb::detail
