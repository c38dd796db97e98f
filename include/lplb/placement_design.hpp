// Designing a replica placement for the per-batch LP (lplb/placement.hpp).
//
// EPLB chooses replica counts and packs replicas so that the *predicted*
// loads are even, then splits every expert evenly; LPLB's topologies connect
// ranks so that per-batch noise can move, but give every replicated expert
// exactly one copy. design_placement does both for one slot budget:
//  1. replica counts: EPLB's rule (each extra copy goes to the expert with the
//     largest load per copy), on a risk-adjusted load: predicted +
//     count_deviations * deviation, so that bursty experts get copies;
//  2. packing: replicas by load per copy, heaviest first, each onto the least
//     loaded rank with a free slot and no copy of the same expert; every rank
//     takes about its fair share of replicas of multi-copy experts (so every
//     rank can shed load), and among ranks whose loads are within
//     tie_fraction of a slot's mean load, the one sharing the fewest experts
//     with the expert's other ranks wins, so the replica graph is well
//     connected (expander-like) and per-batch noise can flow;
//  3. optionally, a local search (swaps of two slots, moves of a copy from one
//     expert to another) that minimises the mean exact LP optimum over sample
//     batches: a sample-average approximation of the expected per-batch
//     imbalance. On the recorded traces it lowers the mean slightly, costs
//     ~1 s per layer and does not improve the tail (docs/PLACEMENT.md), so it
//     is off by default.
// Deterministic for given inputs and seed. Thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace lplb {

struct PlacementDesignOptions {
  int64_t slots_per_rank = 0;  // physical slots per rank; ep_size * slots_per_rank >= E
  // Most replicas of one expert; 0: one per rank (of its node), or more
  // when the slots cannot be filled otherwise.
  int64_t max_copies = 0;
  // Packing: loads within this fraction of a mean slot's load count as equal,
  // and the rank sharing fewer experts with the expert's other ranks wins.
  double tie_fraction = 0.2;
  // Replica counts follow predicted + count_deviations * deviation; packing
  // balances predicted + pack_deviations * deviation. Without a deviation
  // both are the predicted load.
  double count_deviations = 2.0;
  double pack_deviations = 0.0;
  // Node-local placement (EPLB's hierarchical first step): with num_nodes >
  // 1, groups of E / num_groups consecutive experts are shared out to nodes
  // (the same number of groups each, balancing the predicted load), and every
  // replica of an expert stays on its node's ep_size / num_nodes ranks: no
  // token crosses nodes, at the price of a less connected replica graph.
  int64_t num_groups = 1;
  int64_t num_nodes = 1;
  int64_t search_moves = 0;    // local-search moves tried (0: steps 1-2 only)
  uint64_t seed = 0;           // of the local search's move choice
};

struct PlacementDesign {
  std::vector<int32_t> phy2log;        // [ep_size * slots_per_rank], rank-major
  double sample_imbalance_before = 0;  // mean LP imbalance over the samples before the search
  double sample_imbalance_after = 0;   // ... and after it (both 0 without samples)
  int64_t moves_accepted = 0;
};

// predicted[E]: expected tokens per expert (finite, >= 0), e.g. a recency
// weighted mean of recent batches. deviation[E] or empty: how much each
// expert's tokens vary from batch to batch, e.g. their standard deviation.
// samples: [num_samples][E] row-major batches (finite, >= 0) for the local
// search and the reported sample imbalance; may be empty. Every expert gets
// at least one slot. Throws InvalidArgument naming the argument.
PlacementDesign design_placement(std::span<const double> predicted,
                                 std::span<const double> deviation, int64_t ep_size,
                                 std::span<const double> samples,
                                 const PlacementDesignOptions& options);

}  // namespace lplb
