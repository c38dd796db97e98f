// detail::ReplanLp: see replan_lp.hpp.
#include "core/replan_lp.hpp"

#include <algorithm>

#include "common/placement_lp.hpp"

namespace lplb::detail {

ReplanLp::ReplanLp(int64_t num_experts, int64_t ep_size, int64_t n_local)
    : E_(num_experts), P_(ep_size), n_local_(n_local) {
  const int64_t n = P_ * n_local_;
  expert_rank_offset_.resize(E_ + 1);
  expert_rank_.reserve(n);
  item_of_.resize(E_);
  item_expert_.reserve(E_);
  item_offset_.reserve(E_ + 1);
  item_rank_.reserve(n);
  rank_offset_.resize(P_ + 1);
  rank_arc_.reserve(n);
  arc_item_.reserve(n);
  fill_.resize(P_);
  fixed_.resize(P_);
  weight_.reserve(E_);
  last_rank_.resize(E_);
  queue_.reserve(P_);
  // Sized for the worst case (every expert an item, every slot an arc).
  workspace_.resize(placement_workspace_bytes(static_cast<int>(P_), static_cast<int>(E_),
                                              static_cast<int>(n)) /
                        sizeof(double) +
                    1);
}

void ReplanLp::load(const std::vector<int32_t>& phy2log) {
  const int64_t n = static_cast<int64_t>(phy2log.size());
  // Distinct ranks per expert: slots ascending give ranks ascending.
  std::fill(last_rank_.begin(), last_rank_.end(), -1);
  std::fill(expert_rank_offset_.begin(), expert_rank_offset_.end(), 0);
  // Slots walked rank by rank (no division per slot: it dominated load()).
  const int32_t ranks = static_cast<int32_t>(n / n_local_);
  const int32_t* slot = phy2log.data();
  for (int32_t r = 0; r < ranks; ++r)
    for (int64_t l = 0; l < n_local_; ++l) {
      const int32_t e = *slot++;
      if (last_rank_[e] != r) {
        last_rank_[e] = r;
        ++expert_rank_offset_[e + 1];
      }
    }
  for (int64_t e = 0; e < E_; ++e) expert_rank_offset_[e + 1] += expert_rank_offset_[e];
  expert_rank_.resize(expert_rank_offset_[E_]);
  std::fill(last_rank_.begin(), last_rank_.end(), -1);
  std::vector<int32_t>& at = item_of_;  // borrowed as the fill cursor, rewritten below
  for (int64_t e = 0; e < E_; ++e) at[e] = expert_rank_offset_[e];
  slot = phy2log.data();
  for (int32_t r = 0; r < ranks; ++r)
    for (int64_t l = 0; l < n_local_; ++l) {
      const int32_t e = *slot++;
      if (last_rank_[e] != r) {
        last_rank_[e] = r;
        expert_rank_[at[e]++] = r;
      }
    }
  // Items: experts on >= 2 ranks, in expert order.
  item_expert_.clear();
  item_offset_.assign(1, 0);
  item_rank_.clear();
  for (int64_t e = 0; e < E_; ++e) {
    const int32_t first = expert_rank_offset_[e], last = expert_rank_offset_[e + 1];
    if (last - first < 2) {
      item_of_[e] = -1;
      continue;
    }
    item_of_[e] = static_cast<int32_t>(item_expert_.size());
    item_expert_.push_back(static_cast<int32_t>(e));
    item_rank_.insert(item_rank_.end(), expert_rank_.begin() + first, expert_rank_.begin() + last);
    item_offset_.push_back(static_cast<int32_t>(item_rank_.size()));
  }
  num_items_ = static_cast<int32_t>(item_expert_.size());
  // Arcs by rank, ascending item.
  const int32_t nnz = static_cast<int32_t>(item_rank_.size());
  std::fill(rank_offset_.begin(), rank_offset_.end(), 0);
  for (int32_t a = 0; a < nnz; ++a) ++rank_offset_[item_rank_[a] + 1];
  for (int64_t r = 0; r < P_; ++r) rank_offset_[r + 1] += rank_offset_[r];
  rank_arc_.resize(nnz);
  arc_item_.resize(nnz);
  for (int64_t r = 0; r < P_; ++r) fill_[r] = rank_offset_[r];
  for (int32_t i = 0; i < num_items_; ++i)
    for (int32_t a = item_offset_[i]; a < item_offset_[i + 1]; ++a) {
      rank_arc_[fill_[item_rank_[a]]++] = a;
      arc_item_[a] = i;
    }
}

double ReplanLp::solve(const double* w) {
  std::fill(fixed_.begin(), fixed_.end(), 0.0);
  weight_.assign(num_items_, 0.0);
  for (int64_t e = 0; e < E_; ++e) {
    if (item_of_[e] >= 0)
      weight_[item_of_[e]] = w[e];
    else
      fixed_[expert_rank_[expert_rank_offset_[e]]] += w[e];
  }
  const int P = static_cast<int>(P_), nnz = static_cast<int>(item_rank_.size());
  const PlacementGraph g{P, num_items_, item_offset_.data(), item_rank_.data(),
                         rank_offset_.data(), rank_arc_.data(), arc_item_.data()};
  const PlacementWorkspace ws = placement_workspace_bind(workspace_.data(), P, num_items_, nnz);
  return placement_solve(g, ws, weight_.data(), fixed_.data()).bound;
}

void ReplanLp::bottleneck(const double* w, double optimum, std::vector<double>& rank_load,
                          std::vector<uint8_t>& in_set) {
  const int P = static_cast<int>(P_), nnz = static_cast<int>(item_rank_.size());
  const PlacementWorkspace ws = placement_workspace_bind(workspace_.data(), P, num_items_, nnz);
  double total = 0.0;
  for (int64_t e = 0; e < E_; ++e) total += w[e];
  rank_load.assign(fixed_.begin(), fixed_.end());
  for (int32_t a = 0; a < nnz; ++a) rank_load[item_rank_[a]] += ws.flow[a];
  // Ranks below the optimum can take more; a rank can pass load on when an
  // item sends it flow and also reaches a rank that can pass load on.
  const double tight = optimum * (1.0 - 1e-9), eps = 1e-12 * total;
  in_set.assign(P_, 1);
  queue_.clear();
  for (int32_t r = 0; r < P; ++r)
    if (rank_load[r] < tight) {
      in_set[r] = 0;
      queue_.push_back(r);
    }
  for (size_t head = 0; head < queue_.size(); ++head) {
    const int32_t q = queue_[head];
    for (int32_t k = rank_offset_[q]; k < rank_offset_[q + 1]; ++k) {
      const int32_t i = arc_item_[rank_arc_[k]];
      for (int32_t a = item_offset_[i]; a < item_offset_[i + 1]; ++a) {
        const int32_t r = item_rank_[a];
        if (in_set[r] && ws.flow[a] > eps) {
          in_set[r] = 0;
          queue_.push_back(r);
        }
      }
    }
  }
}

}  // namespace lplb::detail
