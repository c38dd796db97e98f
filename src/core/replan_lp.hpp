// The placement LP as replan() needs it: the optimum of many nearby
// placements (one slot changed each), fast. Unlike PlacementPlanner it
// validates nothing, allocates once, and makes every expert with >= 2
// distinct ranks its own LP item (no grouping of experts that share a rank
// set: the optimum is the same, and building the graph is a counting sort).
// After a solve it also reports the bottleneck ranks: the set Y of ranks at
// the optimum whose load cannot be shifted anywhere else (the LP's
// minimum cut), the ranks a move must relieve to lower the optimum.
#pragma once

#include <cstdint>
#include <vector>

namespace lplb::detail {

class ReplanLp {
 public:
  ReplanLp(int64_t num_experts, int64_t ep_size, int64_t n_local);

  // The graph of phy2log[P * n_local] (ids in [0, E), every expert present).
  void load(const std::vector<int32_t>& phy2log);
  // The LP optimum (largest rank load) for workload w[E] on the loaded graph.
  double solve(const double* w);
  // After solve(w): per-rank loads of the optimal flow and the bottleneck
  // mask (1 = in Y).
  void bottleneck(const double* w, double optimum, std::vector<double>& rank_load,
                  std::vector<uint8_t>& in_set);
  // Distinct ranks of expert e on the loaded graph, ascending.
  const int32_t* ranks_begin(int64_t e) const { return &expert_rank_[expert_rank_offset_[e]]; }
  const int32_t* ranks_end(int64_t e) const { return &expert_rank_[expert_rank_offset_[e + 1]]; }

 private:
  int64_t E_, P_, n_local_;
  // Per expert its distinct ranks (CSR) and LP item (-1: one rank).
  std::vector<int32_t> expert_rank_offset_, expert_rank_, item_of_, item_expert_;
  // The LP graph (common/placement_lp.hpp's PlacementGraph).
  std::vector<int32_t> item_offset_, item_rank_, rank_offset_, rank_arc_, arc_item_, fill_;
  int32_t num_items_ = 0;
  std::vector<double> fixed_, weight_, workspace_;
  std::vector<int32_t> last_rank_;  // scratch: per expert the last rank seen
  std::vector<int32_t> queue_;
};

}  // namespace lplb::detail
