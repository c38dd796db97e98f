// Dynamic LP balancing over ANY replica placement.
//
// A placement is a phy2log over P ranks: physical slot s holds logical expert
// phy2log[s] and lives on rank s / n_local. Replica counts are free: EPLB's
// output (rebalance_experts), LPLB's layout (Mapping::phy2log), several
// copies of an expert on one rank, or a user's own. For every batch the
// PlacementPlanner solves exactly: for every logical expert, which share of
// its tokens goes to each of its replicas, minimising the most loaded rank
// (a transportation problem, solved as a parametric max-flow). Every expert
// gets its own split; replicas of one expert on the same rank share that
// rank's part evenly.
//
// Thread safety: a PlacementPlanner is immutable after construction; all
// const methods may run concurrently.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace lplb {

class Communicator;  // lplb/comm.hpp

struct PlacementSolveOutput {
  // [num_physical]: share of its expert's tokens sent to each physical slot;
  // an expert's shares sum to 1 (an expert without tokens gets any valid split: evenly
  // when its replicas share no rank set with loaded experts; no token moves either way).
  std::vector<double> shares;
  std::vector<double> load_before;  // [P] every expert split evenly over its replicas
  std::vector<double> load_after;   // [P] with `shares` applied
  double optimum = 0;   // the LP's optimal max rank load (max(load_after) up to rounding)
  int rounds = 0;       // max-flow rounds (Dinkelbach steps), usually 1-3
  double solve_us = 0;  // wall time of the LP
};

class PlacementPlanner {
 public:
  // phy2log: [ep_size * n_local] logical expert ids in [0, num_experts); its
  // length must be a positive multiple of ep_size and every expert must
  // appear at least once. Throws InvalidArgument naming the argument.
  //
  // absent: empty (every slot serves) or one byte per slot, nonzero = the
  // slot cannot serve (e.g. its weights are being refilled by an online
  // re-placement, lplb/replan.hpp). An absent slot gets share 0 from solve()
  // and even_shares(), never appears in map() output, receives no tokens in
  // slot_counts(), and the LP and the even split see only the present slots.
  // log2phy(), logcnt() and max_count() count present slots only. Every
  // expert needs at least one present slot (InvalidArgument naming "absent").
  PlacementPlanner(std::span<const int64_t> phy2log, int64_t num_experts, int64_t ep_size,
                   std::span<const uint8_t> absent = {});
  PlacementPlanner(std::span<const int32_t> phy2log, int64_t num_experts, int64_t ep_size,
                   std::span<const uint8_t> absent = {});

  int64_t num_experts() const { return num_experts_; }  // E
  int64_t ep_size() const { return ep_size_; }          // P
  int64_t n_local() const { return n_local_; }          // physical slots per rank
  int64_t num_physical() const { return ep_size_ * n_local_; }
  int64_t max_count() const { return max_count_; }      // most present replicas of one expert
  const std::vector<int32_t>& phy2log() const { return phy2log_; }  // [num_physical]
  const std::vector<uint8_t>& absent() const { return absent_; }    // [num_physical], 1 = absent
  // [E][max_count]: an expert's present physical slots in ascending order, -1 padded.
  std::vector<int32_t> log2phy() const;
  std::vector<int32_t> logcnt() const;  // [E] present replicas per expert (>= 1)
  // Movable groups of the LP (experts sharing one set of >= 2 ranks).
  int64_t num_movable_groups() const { return num_items_; }

  // counts[E] of ids in [-1, E); -1 skipped; anything else throws.
  std::vector<int64_t> count(std::span<const int32_t> ids) const;
  std::vector<int64_t> count(std::span<const int64_t> ids) const;

  // The exact LP for a global workload[E] (finite, >= 0; total <= 2^53).
  // Deterministic: the same workload gives bit-identical shares.
  PlacementSolveOutput solve(std::span<const double> workload) const;
  PlacementSolveOutput solve(std::span<const int64_t> workload) const;

  // Physical slot ids for ids (same length), -1 kept. An expert's T local
  // tokens are split among its replicas (ascending slot order) in counts that
  // are the largest-remainder rounding of share * T (summing to T), evenly
  // interleaved in input order (src/common/placement_split.hpp). shares:
  // [num_physical], finite, >= 0; an expert whose shares sum to 0 is split
  // evenly.
  void map(std::span<const int32_t> ids, std::span<const double> shares,
           std::span<int32_t> out) const;
  void map(std::span<const int64_t> ids, std::span<const double> shares,
           std::span<int64_t> out) const;

  // count -> (all-reduce through comm, if any) -> solve -> map.
  PlacementSolveOutput run(std::span<const int32_t> ids, std::span<int32_t> out,
                           Communicator* comm = nullptr) const;
  PlacementSolveOutput run(std::span<const int64_t> ids, std::span<int64_t> out,
                           Communicator* comm = nullptr) const;

  // [num_physical]: tokens each physical slot receives when map() splits
  // counts[E] (>= 0) tokens per expert with these shares (the same
  // largest-remainder rounding, applied to the whole count).
  std::vector<int64_t> slot_counts(std::span<const int64_t> counts,
                                   std::span<const double> shares) const;

  // Per-rank loads of workload[E] with shares applied; shares empty: every
  // expert split evenly over its replicas.
  std::vector<double> rank_loads(std::span<const double> workload,
                                 std::span<const double> shares = {}) const;
  // [num_physical]: 1 / logcnt of each present slot's expert, 0 for an absent slot.
  std::vector<double> even_shares() const;

 private:
  void build(std::span<const uint8_t> absent);
  std::vector<double> loads_unchecked(std::span<const double> workload,
                                      std::span<const double> shares) const;
  template <typename Id>
  std::vector<int64_t> count_impl(std::span<const Id> ids) const;
  template <typename Id>
  void map_impl(std::span<const Id> ids, std::span<const double> shares, std::span<Id> out) const;
  template <typename Id>
  PlacementSolveOutput run_impl(std::span<const Id> ids, std::span<Id> out,
                                Communicator* comm) const;

  int64_t num_experts_ = 0, ep_size_ = 0, n_local_ = 0, max_count_ = 0, num_items_ = 0;
  std::vector<int32_t> phy2log_;
  std::vector<uint8_t> absent_;  // [num_physical], 1 = absent
  // Expert e's present slots, ascending: slots_[slot_offset_[e] .. slot_offset_[e+1]).
  std::vector<int32_t> slot_offset_, slots_;
  // [E]: the LP item of e, or -1 when all its replicas sit on one rank.
  std::vector<int32_t> item_of_;
  // [num_physical]: the LP arc (item, rank) of the slot (-1 for a one-rank
  // expert) and the number of e's slots on that rank.
  std::vector<int32_t> slot_arc_, slot_mult_;
  // The LP graph (src/common/placement_lp.hpp).
  std::vector<int32_t> item_offset_, item_rank_, rank_offset_, rank_arc_, arc_item_;
};

// Per-rank imbalance helper lives in planner.hpp: lplb::imbalance(loads).

}  // namespace lplb
