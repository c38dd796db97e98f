// CPU backend of lplb/placement.hpp: validation, the LP graph of a placement,
// shares from the max-flow (src/common/placement_lp.hpp) and the k-replica
// token split (src/common/placement_split.hpp).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <string>

#include "common/placement_lp.hpp"
#include "common/placement_split.hpp"
#include "core/input_checks.hpp"
#include "core/placement_layout.hpp"
#include "core/run_pipeline.hpp"
#include "lplb/comm.hpp"
#include "lplb/errors.hpp"
#include "lplb/placement.hpp"

namespace lplb {
namespace {

using detail::check_workload;

void check_shares(std::span<const double> shares, int64_t n) {
  detail::check_length(shares.size(), n, "shares", "physical slot");
  detail::check_entries(shares, "shares", detail::Bound::kNonNegative);
}

}  // namespace

PlacementPlanner::PlacementPlanner(std::span<const int64_t> phy2log, int64_t num_experts,
                                   int64_t ep_size, std::span<const uint8_t> absent)
    : num_experts_(num_experts), ep_size_(ep_size),
      phy2log_(detail::checked_phy2log(phy2log, num_experts, ep_size)) {
  build(absent);
}

PlacementPlanner::PlacementPlanner(std::span<const int32_t> phy2log, int64_t num_experts,
                                   int64_t ep_size, std::span<const uint8_t> absent)
    : num_experts_(num_experts), ep_size_(ep_size),
      phy2log_(detail::checked_phy2log(phy2log, num_experts, ep_size)) {
  build(absent);
}

void PlacementPlanner::build(std::span<const uint8_t> absent) {
  // The layout is shared with the CUDA backend (core/placement_layout.hpp).
  detail::PlacementLayout L =
      detail::build_placement_layout(std::move(phy2log_), num_experts_, ep_size_, absent);
  phy2log_ = std::move(L.phy2log);
  absent_ = std::move(L.absent);
  n_local_ = L.n_local;
  max_count_ = L.max_count;
  num_items_ = L.num_items;
  slot_offset_ = std::move(L.slot_offset);
  slots_ = std::move(L.slots);
  item_of_ = std::move(L.item_of);
  slot_arc_ = std::move(L.slot_arc);
  slot_mult_ = std::move(L.slot_mult);
  item_offset_ = std::move(L.item_offset);
  item_rank_ = std::move(L.item_rank);
  rank_offset_ = std::move(L.rank_offset);
  rank_arc_ = std::move(L.rank_arc);
  arc_item_ = std::move(L.arc_item);
}

std::vector<int32_t> PlacementPlanner::log2phy() const {
  std::vector<int32_t> out(num_experts_ * max_count_, -1);
  for (int64_t e = 0; e < num_experts_; ++e)
    for (int32_t k = slot_offset_[e]; k < slot_offset_[e + 1]; ++k)
      out[e * max_count_ + (k - slot_offset_[e])] = slots_[k];
  return out;
}

std::vector<int32_t> PlacementPlanner::logcnt() const {
  std::vector<int32_t> out(num_experts_);
  for (int64_t e = 0; e < num_experts_; ++e) out[e] = slot_offset_[e + 1] - slot_offset_[e];
  return out;
}

std::vector<double> PlacementPlanner::even_shares() const {
  std::vector<double> out(phy2log_.size(), 0.0);
  for (size_t s = 0; s < out.size(); ++s) {
    if (absent_[s]) continue;
    const int32_t e = phy2log_[s];
    out[s] = 1.0 / static_cast<double>(slot_offset_[e + 1] - slot_offset_[e]);
  }
  return out;
}

template <typename Id>
std::vector<int64_t> PlacementPlanner::count_impl(std::span<const Id> ids) const {
  return detail::count_ids(ids, num_experts_);
}

std::vector<int64_t> PlacementPlanner::count(std::span<const int32_t> ids) const {
  return count_impl(ids);
}
std::vector<int64_t> PlacementPlanner::count(std::span<const int64_t> ids) const {
  return count_impl(ids);
}

PlacementSolveOutput PlacementPlanner::solve(std::span<const double> workload) const {
  check_workload(workload, num_experts_, "workload");
  const int64_t E = num_experts_, P = ep_size_, I = num_items_;
  const int64_t nnz = static_cast<int64_t>(item_rank_.size());
  PlacementSolveOutput out;
  out.load_before = loads_unchecked(workload, {});

  const auto t0 = std::chrono::steady_clock::now();
  // One buffer: fixed[P], item weight[I], then the solver's workspace.
  const size_t ws_bytes = detail::placement_workspace_bytes(static_cast<int>(P),
                                                            static_cast<int>(I),
                                                            static_cast<int>(nnz));
  std::vector<double> buffer(P + I + ws_bytes / sizeof(double) + 1, 0.0);
  double* fixed = buffer.data();
  double* weight = fixed + P;
  for (int64_t e = 0; e < E; ++e) {
    if (item_of_[e] >= 0)
      weight[item_of_[e]] += workload[e];
    else
      fixed[slots_[slot_offset_[e]] / n_local_] += workload[e];
  }
  const detail::PlacementGraph graph{static_cast<int32_t>(P), static_cast<int32_t>(I),
                                     item_offset_.data(), item_rank_.data(),
                                     rank_offset_.data(), rank_arc_.data(), arc_item_.data()};
  const detail::PlacementWorkspace ws = detail::placement_workspace_bind(
      weight + I, static_cast<int>(P), static_cast<int>(I), static_cast<int>(nnz));
  const detail::PlacementInfo info = detail::placement_solve(graph, ws, weight, fixed);

  // Shares: an item's flow, normalised by what it routed (exact up to
  // rounding), split evenly among an expert's slots on one rank.
  std::vector<double> routed(I, 0.0);
  for (int64_t i = 0; i < I; ++i)
    for (int32_t a = item_offset_[i]; a < item_offset_[i + 1]; ++a) routed[i] += ws.flow[a];
  out.shares.resize(phy2log_.size());
  for (size_t s = 0; s < phy2log_.size(); ++s) {
    if (absent_[s]) {
      out.shares[s] = 0.0;
      continue;
    }
    const int32_t e = phy2log_[s], a = slot_arc_[s];
    const double count = static_cast<double>(slot_offset_[e + 1] - slot_offset_[e]);
    if (a < 0) {
      out.shares[s] = 1.0 / count;  // one rank: all its slots share evenly
    } else {
      const double r = routed[item_of_[e]];
      out.shares[s] = r > 0.0 ? ws.flow[a] / r / slot_mult_[s] : 1.0 / count;
    }
  }
  const auto t1 = std::chrono::steady_clock::now();
  out.solve_us = std::chrono::duration<double, std::micro>(t1 - t0).count();
  out.optimum = info.bound;
  out.rounds = info.rounds;
  out.load_after = loads_unchecked(workload, out.shares);
  return out;
}

PlacementSolveOutput PlacementPlanner::solve(std::span<const int64_t> workload) const {
  detail::check_length(workload.size(), num_experts_, "workload", "logical expert");
  const std::vector<double> w = detail::counts_as_workload(workload, "workload");
  return solve(std::span<const double>(w));
}

std::vector<double> PlacementPlanner::rank_loads(std::span<const double> workload,
                                                 std::span<const double> shares) const {
  check_workload(workload, num_experts_, "workload");
  if (!shares.empty()) check_shares(shares, num_physical());
  return loads_unchecked(workload, shares);
}

std::vector<double> PlacementPlanner::loads_unchecked(std::span<const double> workload,
                                                      std::span<const double> shares) const {
  std::vector<double> load(ep_size_, 0.0);
  for (int64_t e = 0; e < num_experts_; ++e) {
    const int32_t first = slot_offset_[e], last = slot_offset_[e + 1];
    double sum = 0.0;
    if (!shares.empty())
      for (int32_t k = first; k < last; ++k) sum += shares[slots_[k]];
    for (int32_t k = first; k < last; ++k) {
      const double share =
          sum > 0.0 ? shares[slots_[k]] / sum : 1.0 / static_cast<double>(last - first);
      load[slots_[k] / n_local_] += workload[e] * share;
    }
  }
  return load;
}

std::vector<int64_t> PlacementPlanner::slot_counts(std::span<const int64_t> counts,
                                                   std::span<const double> shares) const {
  check_arg(static_cast<int64_t>(counts.size()) == num_experts_, "counts",
            "expected " + std::to_string(num_experts_) +
                " entries (one per logical expert), got " + std::to_string(counts.size()));
  check_shares(shares, num_physical());
  std::vector<int64_t> per_replica(slots_.size()), out(phy2log_.size(), 0);
  std::vector<double> share(max_count_), rest(max_count_);
  for (int64_t e = 0; e < num_experts_; ++e) {
    if (counts[e] < 0)
      throw_arg("counts", "entry " + std::to_string(e) + " is negative (" +
                              std::to_string(counts[e]) + ")");
    const int32_t first = slot_offset_[e], k = slot_offset_[e + 1] - first;
    for (int32_t j = 0; j < k; ++j) share[j] = shares[slots_[first + j]];
    detail::split_counts(share.data(), k, counts[e], &per_replica[first], rest.data());
    for (int32_t j = 0; j < k; ++j) out[slots_[first + j]] = per_replica[first + j];
  }
  return out;
}

template <typename Id>
void PlacementPlanner::map_impl(std::span<const Id> ids, std::span<const double> shares,
                                std::span<Id> out) const {
  detail::check_length(out.size(), static_cast<int64_t>(ids.size()), "out", nullptr);
  check_arg(static_cast<int64_t>(ids.size()) < detail::kMaxIdsPerCall, "ids",
            "at most 2^31 - 1 ids per call");
  check_shares(shares, num_physical());
  const std::vector<int64_t> totals = count_impl(ids);  // validates ids
  const int64_t E = num_experts_;
  // Per replica token counts, laid out like slots_.
  std::vector<int64_t> counts(slots_.size());
  std::vector<double> share(max_count_), rest(max_count_);
  for (int64_t e = 0; e < E; ++e) {
    const int32_t first = slot_offset_[e], k = slot_offset_[e + 1] - first;
    for (int32_t j = 0; j < k; ++j) share[j] = shares[slots_[first + j]];
    detail::split_counts(share.data(), k, totals[e], &counts[first], rest.data());
  }
  std::vector<int64_t> seen(E, 0);
  for (size_t t = 0; t < ids.size(); ++t) {
    const Id e = ids[t];
    if (e < 0) {
      out[t] = -1;
      continue;
    }
    const int32_t first = slot_offset_[e], k = slot_offset_[e + 1] - first;
    const int32_t j = detail::split_pick(seen[e]++, &counts[first], k, totals[e]);
    out[t] = static_cast<Id>(slots_[first + j]);
  }
}

void PlacementPlanner::map(std::span<const int32_t> ids, std::span<const double> shares,
                           std::span<int32_t> out) const {
  map_impl(ids, shares, out);
}
void PlacementPlanner::map(std::span<const int64_t> ids, std::span<const double> shares,
                           std::span<int64_t> out) const {
  map_impl(ids, shares, out);
}

template <typename Id>
PlacementSolveOutput PlacementPlanner::run_impl(std::span<const Id> ids, std::span<Id> out,
                                                Communicator* comm) const {
  return detail::run_pipeline(*this, ids, out, comm, &PlacementSolveOutput::shares);
}

PlacementSolveOutput PlacementPlanner::run(std::span<const int32_t> ids, std::span<int32_t> out,
                                           Communicator* comm) const {
  return run_impl(ids, out, comm);
}
PlacementSolveOutput PlacementPlanner::run(std::span<const int64_t> ids, std::span<int64_t> out,
                                           Communicator* comm) const {
  return run_impl(ids, out, comm);
}

}  // namespace lplb
