// Designing a replica placement for the per-batch LP (lplb/placement.hpp).
//
// EPLB chooses replica counts and packs replicas so that the *predicted*
// loads are even, then splits every expert evenly; LPLB's topologies connect
// ranks so that per-batch noise can move, but give every replicated expert
// exactly one copy. design_placement does both for one slot budget:
//  1. replica counts: EPLB's rule (the next copy goes to the expert with the
//     largest predicted load per copy);
//  2. packing: replicas by predicted load per copy, heaviest first, each onto
//     the least loaded rank with a free slot that holds no copy of the same
//     expert, preferring ranks that share few experts with the expert's other
//     ranks, so that the replica graph is well connected (expander-like);
//  3. optionally, a local search (swaps of two slots, moves of a copy from one
//     expert to another) that minimises the mean exact LP optimum over sample
//     batches, e.g. the most recent ones: a sample-average approximation of the
//     expected per-batch imbalance.
// Deterministic for given inputs and seed.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace lplb {

struct PlacementDesignOptions {
  int64_t slots_per_rank = 0;  // physical slots per rank; ep_size * slots_per_rank >= E
  int64_t max_copies = 0;      // most replicas of one expert (0: ep_size)
  int64_t search_moves = 0;    // local-search moves tried (0: steps 1-2 only)
  // Packing: loads within this fraction of a mean slot's load count as equal,
  // and the rank sharing fewer experts with the expert's other ranks wins.
  double tie_fraction = 0.1;
  // Replica counts follow predicted + count_deviations * deviation; packing
  // balances predicted + pack_deviations * deviation (bursty experts get
  // copies and are spread).
  double count_deviations = 1.0;
  double pack_deviations = 1.0;
  uint64_t seed = 0;           // of the local search's move choice
};

struct PlacementDesign {
  std::vector<int32_t> phy2log;  // [ep_size * slots_per_rank]
  double sample_imbalance_before = 0;  // mean LP imbalance over the samples, before search
  double sample_imbalance_after = 0;   // ... and after (0 without samples)
  int64_t moves_accepted = 0;
};

// predicted[E]: expected tokens per expert (finite, >= 0), e.g. a recency
// weighted history. deviation[E] (or empty): how much each expert's tokens
// vary from batch to batch, e.g. their standard deviation. samples: [num_samples][E] row-major batches (finite,
// >= 0) for the local search; may be empty. Throws InvalidArgument naming the
// argument.
PlacementDesign design_placement(std::span<const double> predicted,
                                 std::span<const double> deviation, int64_t ep_size,
                                 std::span<const double> samples,
                                 const PlacementDesignOptions& options);

}  // namespace lplb
