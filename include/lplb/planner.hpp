// The LPLB planner: LPLB's redundancy layout (every rank's first R experts
// copied once onto a neighbour of its redundancy group), counting, the
// per-batch LP over every group, and token -> physical mapping. The
// pipeline, notation and layouts are in docs/ARCHITECTURE.md. This is the
// CPU backend; the CUDA backend (lplb/cuda/planner_cuda.hpp) computes the
// same. lplb/placement.hpp balances any other placement.
//
// Thread safety: the const methods (count, solve, map, run, rank_loads) may
// run concurrently on one Planner. update_redundancy_mapping mutates it: no
// other call may run on the same Planner meanwhile (the Python binding
// releases the GIL during solve/run, so Python callers must not update from
// another thread either). Distinct Planners are independent.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "lplb/lp.hpp"
#include "lplb/objective.hpp"
#include "lplb/topology.hpp"

namespace lplb {

class Communicator;  // lplb/comm.hpp

struct PlannerOptions {
  int64_t num_experts = 0;         // E logical experts
  int64_t ep_size = 0;             // P ranks
  int64_t redundant_per_rank = 0;  // R; a multiple of D
  int64_t gpus_per_node = 8;       // for the EPLB reorder in update_redundancy_mapping
                                   // and the nodes of Objective::min_moves
  SolverKind solver = SolverKind::kExact;
  // What solve() minimises (lplb/objective.hpp); the default is the largest
  // rank's token count. Anything else needs solver = kExact.
  Objective objective;
};

// LPLB's placement (layouts in docs/ARCHITECTURE.md, "Layouts").
struct Mapping {
  std::vector<int32_t> phy2log;  // [P * n_local]
  std::vector<int32_t> log2phy;  // [E][2], original slot first, -1 padded
  std::vector<int32_t> logcnt;   // [E], 1 or 2
};

struct SolveOutput {
  std::vector<double> probs;        // [n_group][S][D]
  std::vector<double> load_before;  // [P] all tokens on their original rank
  std::vector<double> load_after;   // [P] with probs applied
  double solve_us = 0;              // wall time of the LPs
  int ipm_fallbacks = 0;            // groups where the IPM fell back to 0.5
  // For every solver and objective: tokens sent to a copy instead
  // of their expert's original rank, and the part of those whose copy is on
  // another node (nodes of PlannerOptions::gpus_per_node ranks).
  double tokens_moved = 0;
  double tokens_cross_node = 0;
  // [P] modelled GEMM time in us (options.objective.model): all tokens on
  // their original rank / with probs applied; a rank's active experts are
  // those that receive at least one token as map() rounds.
  std::vector<double> time_before;
  std::vector<double> time_after;
};

class Planner {
 public:
  // Validates E % P, P % S, R % D, sizes > 0; throws InvalidArgument.
  Planner(Topology topology, const PlannerOptions& options);

  const Topology& topology() const { return topology_; }
  const PlannerOptions& options() const { return options_; }
  int64_t num_groups() const { return options_.ep_size / topology_.group_size(); }
  int64_t n_local_logical() const { return options_.num_experts / options_.ep_size; }
  int64_t n_local() const { return n_local_logical() + options_.redundant_per_rank; }
  int64_t num_physical() const { return n_local() * options_.ep_size; }
  int64_t combined() const { return options_.redundant_per_rank / topology_.slots(); }  // C
  int64_t num_probs() const { return options_.ep_size * topology_.slots(); }

  // history empty: identity order. Otherwise length E, finite, >= 0: EPLB
  // reorder, then each rank's experts sorted by history descending.
  const Mapping& update_redundancy_mapping(std::span<const double> history = {});
  const Mapping& mapping() const { return mapping_; }
  // Restores a saved mapping (e.g. from a checkpoint): phy2log [P * n_local]
  // as update_redundancy_mapping builds it. Validated (the originals are a
  // permutation of the experts and the copies follow the topology); throws
  // InvalidArgument naming the first bad slot and leaves the mapping as it was.
  const Mapping& set_mapping(std::span<const int32_t> phy2log);

  // counts[E] of ids in [-1, E); -1 skipped; anything else throws.
  std::vector<int64_t> count(std::span<const int32_t> ids) const;
  std::vector<int64_t> count(std::span<const int64_t> ids) const;

  // The LPs of every group for a global workload[E] (finite, >= 0).
  SolveOutput solve(std::span<const double> workload) const;
  SolveOutput solve(std::span<const int64_t> workload) const;

  // Physical ids for ids (same length), -1 kept. For an expert with a copy,
  // round(p * T_e) of its T_e tokens go to the original, evenly interleaved.
  void map(std::span<const int32_t> ids, std::span<const double> probs,
           std::span<int32_t> out) const;
  void map(std::span<const int64_t> ids, std::span<const double> probs,
           std::span<int64_t> out) const;

  // count -> (all-reduce through comm, if any) -> solve -> map.
  SolveOutput run(std::span<const int32_t> ids, std::span<int32_t> out,
                  Communicator* comm = nullptr) const;
  SolveOutput run(std::span<const int64_t> ids, std::span<int64_t> out,
                  Communicator* comm = nullptr) const;

  // Per-rank token loads of a workload[E] with probs applied (clamped to
  // [0, 1]); probs empty means no balancing.
  std::vector<double> rank_loads(std::span<const double> workload,
                                 std::span<const double> probs = {}) const;

 private:
  Topology topology_;
  PlannerOptions options_;
  Mapping mapping_;
  // [E]: index into probs of the block that holds e's original, or -1 when e
  // has no copy. Derived from mapping_.
  std::vector<int32_t> prob_index_;

  // The mapping and prob_index for the originals' order [E] (rank-major).
  void build_mapping(std::span<const int64_t> order, Mapping& m,
                     std::vector<int32_t>& prob_index) const;
  // Per-rank fixed load and per-block load of a workload, laid out as the
  // group LPs read them: fixed[P], block[P * D].
  void split_workload(std::span<const double> workload, std::vector<double>& fixed,
                      std::vector<double>& block) const;
  template <typename Id>
  void map_impl(std::span<const Id> ids, std::span<const double> probs, std::span<Id> out) const;
};

// max / mean of loads (1 for an all-zero vector).
double imbalance(std::span<const double> loads);

}  // namespace lplb
