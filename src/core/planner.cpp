#include "lplb/planner.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <string>

#include "common/lp_common.hpp"
#include "common/split.hpp"
#include "core/input_checks.hpp"
#include "core/planner_objective.hpp"
#include "core/run_pipeline.hpp"
#include "lplb/comm.hpp"
#include "lplb/eplb.hpp"
#include "lplb/errors.hpp"

namespace lplb {
namespace {

constexpr int64_t kMaxExperts = int64_t{1} << 20;
constexpr int64_t kMaxRanks = int64_t{1} << 16;

using detail::check_workload;

}  // namespace

Planner::Planner(Topology topology, const PlannerOptions& options)
    : topology_(std::move(topology)), options_(options) {
  const int64_t E = options.num_experts, P = options.ep_size, R = options.redundant_per_rank;
  const int64_t S = topology_.group_size(), D = topology_.slots();
  check_arg(E > 0, "num_experts", "must be > 0, got " + std::to_string(E));
  check_arg(P > 0, "ep_size", "must be > 0, got " + std::to_string(P));
  // Generous caps that keep every index in int32 and allocations small.
  check_arg(E <= kMaxExperts, "num_experts",
            std::to_string(E) + " exceeds the supported maximum " + std::to_string(kMaxExperts));
  check_arg(P <= kMaxRanks, "ep_size",
            std::to_string(P) + " exceeds the supported maximum " + std::to_string(kMaxRanks));
  check_arg(E % P == 0, "num_experts", std::to_string(E) + " is not a multiple of ep_size " +
                                           std::to_string(P));
  check_arg(P % S == 0, "ep_size", std::to_string(P) + " is not a multiple of the topology's group size " +
                                       std::to_string(S));
  check_arg(R > 0, "redundant_per_rank", "must be > 0, got " + std::to_string(R));
  check_arg(R % D == 0, "redundant_per_rank",
            std::to_string(R) + " is not a multiple of the topology's slots per rank " +
                std::to_string(D));
  check_arg(R <= E / P, "redundant_per_rank",
            std::to_string(R) + " exceeds the experts per rank " + std::to_string(E / P));
  check_arg(options.gpus_per_node > 0, "gpus_per_node", "must be > 0");
  check_arg(options.solver != SolverKind::kIpm ||
                (S <= detail::kMaxGroupSize && D <= detail::kMaxSlots),
            "solver", "the reference IPM supports groups of at most " +
                          std::to_string(detail::kMaxGroupSize) + " ranks and " +
                          std::to_string(detail::kMaxSlots) + " slots; use the exact solver");
  detail::validate_objective(options_);
  update_redundancy_mapping();
}

const Mapping& Planner::update_redundancy_mapping(std::span<const double> history) {
  const int64_t E = options_.num_experts, P = options_.ep_size;
  const int64_t n_ll = n_local_logical(), G = num_groups();

  // Logical experts in rank order ("nored" placement), E entries.
  std::vector<int64_t> order(E);
  std::iota(order.begin(), order.end(), 0);
  if (!history.empty()) {
    check_workload(history, E, "history");
    const int64_t nodes = std::max<int64_t>(1, P / options_.gpus_per_node);
    EplbResult r = rebalance_experts(history.data(), 1, E, E, G, nodes, P);
    order = std::move(r.phy2log);
    for (int64_t rank = 0; rank < P; ++rank) {
      auto first = order.begin() + rank * n_ll;
      std::stable_sort(first, first + n_ll,
                       [&](int64_t a, int64_t b) { return history[a] > history[b]; });
    }
  }

  build_mapping(order, mapping_, prob_index_);
  return mapping_;
}

void Planner::build_mapping(std::span<const int64_t> order, Mapping& m,
                            std::vector<int32_t>& prob_index) const {
  const int64_t E = options_.num_experts, P = options_.ep_size;
  const int64_t S = topology_.group_size(), D = topology_.slots();
  const int64_t n_ll = n_local_logical(), n_loc = n_local(), CD = combined() * D;
  m.phy2log.assign(P * n_loc, 0);
  for (int64_t rank = 0; rank < P; ++rank) {
    const int64_t g = rank / S, i = rank % S;
    for (int64_t l = 0; l < n_ll; ++l)
      m.phy2log[rank * n_loc + l] = static_cast<int32_t>(order[rank * n_ll + l]);
    for (int64_t l = 0; l < CD; ++l) {  // replica slot n_ll + c*D + d
      const int64_t d = l % D;
      const int64_t src = g * S + topology_.r2o(i, d);
      m.phy2log[rank * n_loc + n_ll + l] = static_cast<int32_t>(order[src * n_ll + l]);
    }
  }
  // log2phy: originals come first because they have lower local indices.
  m.log2phy.assign(E * 2, -1);
  m.logcnt.assign(E, 0);
  for (int64_t l = 0; l < n_loc; ++l)
    for (int64_t rank = 0; rank < P; ++rank) {
      const int32_t e = m.phy2log[rank * n_loc + l];
      m.log2phy[e * 2 + m.logcnt[e]++] = static_cast<int32_t>(rank * n_loc + l);
    }
  prob_index.assign(E, -1);
  for (int64_t rank = 0; rank < P; ++rank)
    for (int64_t l = 0; l < CD; ++l)
      prob_index[m.phy2log[rank * n_loc + l]] = static_cast<int32_t>(rank * D + l % D);
}

const Mapping& Planner::set_mapping(std::span<const int32_t> phy2log) {
  const int64_t E = options_.num_experts, P = options_.ep_size;
  const int64_t n_ll = n_local_logical(), n_loc = n_local();
  check_arg(static_cast<int64_t>(phy2log.size()) == P * n_loc, "phy2log",
            "expected " + std::to_string(P * n_loc) + " entries (ep_size " + std::to_string(P) +
                " x n_local " + std::to_string(n_loc) + "), got " + std::to_string(phy2log.size()));
  // The first n_local_logical slots of each rank are the originals: together
  // a permutation of the experts. The copies are then fixed by the topology.
  std::vector<int64_t> order(E);
  std::vector<char> seen(E, 0);
  for (int64_t rank = 0; rank < P; ++rank)
    for (int64_t l = 0; l < n_ll; ++l) {
      const int64_t slot = rank * n_loc + l, e = phy2log[slot];
      check_arg(e >= 0 && e < E, "phy2log",
                "entry " + std::to_string(slot) + " = " + std::to_string(e) + " is outside [0, " +
                    std::to_string(E) + ")");
      check_arg(!seen[e], "phy2log",
                "expert " + std::to_string(e) + " has two original slots (the second is " +
                    std::to_string(slot) + "); each rank's first " + std::to_string(n_ll) +
                    " slots must hold every expert exactly once");
      seen[e] = 1;
      order[rank * n_ll + l] = e;
    }
  Mapping m;
  std::vector<int32_t> prob_index;
  build_mapping(order, m, prob_index);
  const std::vector<int32_t>& expected = m.phy2log;
  for (int64_t slot = 0; slot < P * n_loc; ++slot)
    check_arg(phy2log[slot] == expected[slot], "phy2log",
              "entry " + std::to_string(slot) + " (rank " + std::to_string(slot / n_loc) +
                  ", local slot " + std::to_string(slot % n_loc) + ") = " +
                  std::to_string(phy2log[slot]) + ", but this topology puts expert " +
                  std::to_string(expected[slot]) +
                  " there (the copies follow the originals and redundant_to_original)");
  mapping_ = std::move(m);
  prob_index_ = std::move(prob_index);
  return mapping_;
}

std::vector<int64_t> Planner::count(std::span<const int32_t> ids) const {
  return detail::count_ids(ids, options_.num_experts);
}
std::vector<int64_t> Planner::count(std::span<const int64_t> ids) const {
  return detail::count_ids(ids, options_.num_experts);
}

void Planner::split_workload(std::span<const double> workload, std::vector<double>& fixed,
                             std::vector<double>& block) const {
  const int64_t P = options_.ep_size, D = topology_.slots();
  const int64_t n_ll = n_local_logical(), n_loc = n_local(), CD = combined() * D;
  fixed.assign(P, 0.0);
  block.assign(P * D, 0.0);
  for (int64_t rank = 0; rank < P; ++rank)
    for (int64_t l = 0; l < n_ll; ++l) {
      const double w = workload[mapping_.phy2log[rank * n_loc + l]];
      if (l < CD)
        block[rank * D + l % D] += w;
      else
        fixed[rank] += w;
    }
}

SolveOutput Planner::solve(std::span<const double> workload) const {
  check_workload(workload, options_.num_experts, "workload");
  const int64_t S = topology_.group_size(), D = topology_.slots(), G = num_groups();
  std::vector<double> fixed, block;
  split_workload(workload, fixed, block);

  SolveOutput out;
  out.probs.assign(options_.ep_size * D, 1.0);
  out.load_before.resize(options_.ep_size);
  out.load_after.resize(options_.ep_size);
  for (int64_t r = 0; r < options_.ep_size; ++r)
    out.load_before[r] = fixed[r] + std::accumulate(&block[r * D], &block[r * D] + D, 0.0);

  // The reference IPM normalises by the batch's largest per-expert count.
  const double ipm_scale = *std::max_element(workload.begin(), workload.end());
  // A non-default objective (time, min_moves) goes through planner_objective.cpp.
  const Objective& objective = options_.objective;
  const bool plain = objective.kind == ObjectiveKind::kTokens && !objective.min_moves;
  const std::vector<int64_t> active = objective.kind == ObjectiveKind::kTime
                                          ? detail::placement_active(*this, workload)
                                          : std::vector<int64_t>{};
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t g = 0; g < G; ++g) {
    double* probs = &out.probs[g * S * D];
    const LpResult r =
        !plain ? detail::solve_group_objective(topology_, options_, g, &fixed[g * S],
                                               &block[g * S * D],
                                               active.empty() ? nullptr : &active[g * S], probs)
        : options_.solver == SolverKind::kIpm
            ? solve_group_ipm(topology_, &fixed[g * S], &block[g * S * D], probs, ipm_scale)
            : solve_group(topology_, options_.solver, &fixed[g * S], &block[g * S * D], probs);
    if (r.status == LpStatus::kIpmFallback) ++out.ipm_fallbacks;
  }
  const auto t1 = std::chrono::steady_clock::now();
  out.solve_us = std::chrono::duration<double, std::micro>(t1 - t0).count();
  for (int64_t g = 0; g < G; ++g)
    group_loads(topology_, &fixed[g * S], &block[g * S * D], &out.probs[g * S * D],
                &out.load_after[g * S]);
  detail::report_objective(*this, workload, out);
  return out;
}

SolveOutput Planner::solve(std::span<const int64_t> workload) const {
  const std::vector<double> w = detail::counts_as_workload(workload, "workload");
  return solve(std::span<const double>(w));
}

std::vector<double> Planner::rank_loads(std::span<const double> workload,
                                        std::span<const double> probs) const {
  check_workload(workload, options_.num_experts, "workload");
  const int64_t S = topology_.group_size(), D = topology_.slots();
  std::vector<double> fixed, block, load(options_.ep_size);
  split_workload(workload, fixed, block);
  if (probs.empty()) {
    for (int64_t r = 0; r < options_.ep_size; ++r)
      load[r] = fixed[r] + std::accumulate(&block[r * D], &block[r * D] + D, 0.0);
    return load;
  }
  detail::check_length(probs.size(), num_probs(), "probs", nullptr);
  for (int64_t g = 0; g < num_groups(); ++g)
    group_loads(topology_, &fixed[g * S], &block[g * S * D], &probs[g * S * D], &load[g * S]);
  return load;
}

template <typename Id>
void Planner::map_impl(std::span<const Id> ids, std::span<const double> probs,
                       std::span<Id> out) const {
  detail::check_length(out.size(), static_cast<int64_t>(ids.size()), "out", nullptr);
  check_arg(static_cast<int64_t>(ids.size()) < detail::kMaxIdsPerCall, "ids",
            "at most 2^31 - 1 ids per call");
  detail::check_length(probs.size(), num_probs(), "probs", nullptr);
  for (size_t k = 0; k < probs.size(); ++k)
    if (std::isnan(probs[k])) throw_arg("probs", "entry " + std::to_string(k) + " is NaN");
  const std::vector<int64_t> totals = detail::count_ids(ids, options_.num_experts);  // validates ids
  const int64_t E = options_.num_experts;
  std::vector<int64_t> kept(E), seen(E, 0);
  for (int64_t e = 0; e < E; ++e)
    kept[e] = prob_index_[e] < 0 ? totals[e] : detail::kept_tokens(probs[prob_index_[e]], totals[e]);
  for (size_t k = 0; k < ids.size(); ++k) {
    const Id e = ids[k];
    if (e < 0) {
      out[k] = -1;
      continue;
    }
    const int64_t n = seen[e]++;
    const bool original = prob_index_[e] < 0 || detail::stays_on_original(n, kept[e], totals[e]);
    out[k] = static_cast<Id>(mapping_.log2phy[e * 2 + (original ? 0 : 1)]);
  }
}

void Planner::map(std::span<const int32_t> ids, std::span<const double> probs,
                  std::span<int32_t> out) const {
  map_impl(ids, probs, out);
}
void Planner::map(std::span<const int64_t> ids, std::span<const double> probs,
                  std::span<int64_t> out) const {
  map_impl(ids, probs, out);
}

SolveOutput Planner::run(std::span<const int32_t> ids, std::span<int32_t> out,
                         Communicator* comm) const {
  return detail::run_pipeline(*this, ids, out, comm, &SolveOutput::probs);
}
SolveOutput Planner::run(std::span<const int64_t> ids, std::span<int64_t> out,
                         Communicator* comm) const {
  return detail::run_pipeline(*this, ids, out, comm, &SolveOutput::probs);
}

double imbalance(std::span<const double> loads) {
  if (loads.empty()) return 1.0;
  const double total = std::accumulate(loads.begin(), loads.end(), 0.0);
  if (total <= 0) return 1.0;
  return *std::max_element(loads.begin(), loads.end()) / (total / static_cast<double>(loads.size()));
}

}  // namespace lplb
