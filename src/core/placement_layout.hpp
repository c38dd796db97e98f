// The host-side layout of a replica placement, shared by the CPU
// PlacementPlanner (placement_planner.cpp) and the CUDA one
// (src/cuda/placement_planner_cuda.cu, which copies these arrays to the
// device): validation, each expert's present slots, the LP graph of
// common/placement_lp.hpp, and per-slot arc / multiplicity. One builder, so
// both backends solve the same LP over the same arrays.
//
// Absent slots (optional mask, nonzero = the slot cannot serve): an absent
// slot is left out of everything below: it gets share 0, map() never picks
// it, an even split spreads an expert over its present slots only, and the
// LP sees only the ranks of present slots. Every expert needs >= 1 present
// slot.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace lplb::detail {

struct PlacementLayout {
  int64_t num_experts = 0, ep_size = 0, n_local = 0;
  int64_t max_count = 0;  // most present replicas of one expert
  int64_t num_items = 0;  // LP items: experts sharing one set of >= 2 ranks
  std::vector<int32_t> phy2log;  // [num_physical]
  std::vector<uint8_t> absent;   // [num_physical], 1 = absent (all 0 without a mask)
  // Expert e's present slots, ascending: slots[slot_offset[e] .. slot_offset[e+1]).
  std::vector<int32_t> slot_offset, slots;
  // [E]: the LP item of e, or -1 when all its present replicas sit on one rank.
  std::vector<int32_t> item_of;
  // [num_physical]: the LP arc (item, rank) of the slot (-1: a one-rank
  // expert or an absent slot) and the number of its expert's present slots
  // on that rank (0 for an absent slot).
  std::vector<int32_t> slot_arc, slot_mult;
  // The LP graph (common/placement_lp.hpp's PlacementGraph).
  std::vector<int32_t> item_offset, item_rank, rank_offset, rank_arc, arc_item;
  // Per item its experts, ascending (item_expert[item_expert_offset[i] ..]);
  // per rank the one-rank experts it holds, ascending. The item weights and
  // fixed loads are sums over these lists in this order on both backends.
  std::vector<int32_t> item_expert_offset, item_expert, fixed_offset, fixed_expert;

  int64_t num_physical() const { return static_cast<int64_t>(phy2log.size()); }
  int64_t nnz() const { return static_cast<int64_t>(item_rank.size()); }
};

// Checks phy2log against E and P (length a positive multiple of P, ids in
// [0, E), every expert has a slot) and converts it; throws InvalidArgument
// naming "phy2log", "num_experts" or "ep_size".
std::vector<int32_t> checked_phy2log(std::span<const int64_t> phy2log, int64_t E, int64_t P);
std::vector<int32_t> checked_phy2log(std::span<const int32_t> phy2log, int64_t E, int64_t P);

// The layout of a checked phy2log. absent: empty (every slot present) or one
// byte per slot; throws InvalidArgument naming "absent" on a wrong length or
// an expert without a present slot.
PlacementLayout build_placement_layout(std::vector<int32_t> phy2log, int64_t E, int64_t P,
                                       std::span<const uint8_t> absent = {});

}  // namespace lplb::detail
