// The weighted per-group LP and the move statistics (lplb/lp_objective.hpp).
// The weighted solver is lp_exact.hpp's, given rank weights and offsets; the
// min-cost flow lives in min_moves.cpp.
#include "lplb/lp_objective.hpp"

#include <cmath>
#include <string>
#include <vector>

#include "core/input_checks.hpp"
#include "core/lp_host.hpp"
#include "lplb/errors.hpp"

namespace lplb {

LpResult solve_group_weighted(const Topology& topology, const double* fixed, const double* block,
                              const double* weight, const double* offset, double* probs) {
  const int S = static_cast<int>(topology.group_size()), D = static_cast<int>(topology.slots());
  detail::check_entries(fixed, S, "fixed", detail::Bound::kNonNegative);
  detail::check_entries(block, int64_t{S} * D, "block", detail::Bound::kNonNegative);
  detail::check_entries(weight, S, "weight", detail::Bound::kPositive);
  detail::check_entries(offset, S, "offset", detail::Bound::kFinite);
  check_arg(probs != nullptr, "probs", "is null");
  return detail::solve_exact_problem(
      {S, D, topology.r2o_data().data(), topology.o2r_data().data(), fixed, block, weight, offset},
      probs);
}

MoveResult group_moves(const Topology& topology, const double* block, const double* probs,
                       const uint8_t* cross) {
  const int64_t SD = topology.group_size() * topology.slots();
  MoveResult r;
  for (int64_t e = 0; e < SD; ++e) {
    const double moved = (1.0 - detail::clamp_prob(probs[e])) * block[e];
    r.tokens_moved += moved;
    if (cross != nullptr && cross[e] != 0) r.tokens_cross_node += moved;
  }
  return r;
}

std::vector<uint8_t> cross_node_blocks(const Topology& topology, int64_t group,
                                       int64_t gpus_per_node) {
  check_arg(gpus_per_node > 0, "gpus_per_node", "must be > 0, got " + std::to_string(gpus_per_node));
  check_arg(group >= 0, "group", "must be >= 0, got " + std::to_string(group));
  const int64_t S = topology.group_size(), D = topology.slots(), first = group * S;
  std::vector<uint8_t> cross(S * D);
  for (int64_t i = 0; i < S; ++i)
    for (int64_t d = 0; d < D; ++d)
      cross[i * D + d] = (first + i) / gpus_per_node != (first + topology.o2r(i, d)) / gpus_per_node;
  return cross;
}

}  // namespace lplb
