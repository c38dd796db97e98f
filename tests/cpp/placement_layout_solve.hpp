// The CPU solver (common/placement_lp.hpp) over a placement layout
// (core/placement_layout.hpp): the optimum PlacementPlanner computes, also
// for layouts with absent slots. An oracle for the GPU planner's tests.
#pragma once

#include <vector>

#include "common/placement_lp.hpp"
#include "core/placement_layout.hpp"

namespace lplb::test {

inline double layout_optimum(const detail::PlacementLayout& L, const std::vector<double>& w) {
  const int P = static_cast<int>(L.ep_size), I = static_cast<int>(L.num_items),
            nnz = static_cast<int>(L.nnz());
  std::vector<double> fixed(P, 0.0), weight(I, 0.0);
  for (int64_t e = 0; e < L.num_experts; ++e) {
    if (L.item_of[e] >= 0)
      weight[L.item_of[e]] += w[e];
    else
      fixed[L.slots[L.slot_offset[e]] / L.n_local] += w[e];
  }
  std::vector<double> ws(detail::placement_workspace_bytes(P, I, nnz) / 8 + 1);
  const detail::PlacementGraph g{P, I, L.item_offset.data(), L.item_rank.data(),
                                 L.rank_offset.data(), L.rank_arc.data(), L.arc_item.data()};
  return detail::placement_solve(g, detail::placement_workspace_bind(ws.data(), P, I, nnz),
                                 weight.data(), fixed.data())
      .bound;
}

}  // namespace lplb::test
