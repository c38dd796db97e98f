// The placement of a CudaPlacementPlanner as device arrays: one int32 block
// at fixed offsets (sized for the worst case at construction), rewritten by
// set_placement() from host-built arrays (core/placement_layout.hpp). The
// current shapes live in a device header inside the block, so kernels
// captured in a graph read the placement of their replay, not of their
// capture.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#include "cuda/device_types.cuh"

namespace lplb::cuda::detail {

// Indices into the header (first kPlacementHeaderInts ints of the block).
enum PlacementHeader : int {
  kHdrNumPhysical = 0,
  kHdrNLocal = 1,
  kHdrNumItems = 2,
  kHdrNnz = 3,
  kHdrMaxCount = 4,
  kPlacementHeaderInts = 8,
};

// Device views (fixed for the planner's lifetime). Worst-case sizes:
// S = max_physical, I = max_items (<= min(E, S / 2)), nnz <= S.
struct PlacementTables {
  int32_t E, P, max_physical, max_items, max_replicas;
  const int32_t* header;              // [kPlacementHeaderInts]
  const int32_t* phy2log;             // [S]
  const int32_t* slot_offset;         // [E + 1] present slots per expert
  const int32_t* slots;               // [S]
  const int32_t* slot_arc;            // [S] -1: one-rank expert or absent
  const int32_t* slot_mult;           // [S] 0: absent
  const int32_t* item_offset;         // [I + 1]
  const int32_t* item_rank;           // [nnz]
  const int32_t* rank_offset;         // [P + 1]
  const int32_t* rank_arc;            // [nnz]
  const int32_t* arc_item;            // [nnz]
  const int32_t* item_expert_offset;  // [I + 1]
  const int32_t* item_expert;         // [<= E]
  const int32_t* fixed_offset;        // [P + 1]
  const int32_t* fixed_expert;        // [<= E]
};

// Ints of the block for these worst-case sizes, and the views into it.
__host__ __device__ inline size_t placement_block_ints(int64_t E, int64_t P, int64_t S,
                                                       int64_t I) {
  return static_cast<size_t>(kPlacementHeaderInts + 7 * S + 3 * E + 1 + 2 * (I + 1) +
                             2 * (P + 1));
}

__host__ __device__ inline PlacementTables placement_tables(int32_t* block, int64_t E, int64_t P,
                                                            int64_t S, int64_t I,
                                                            int64_t max_replicas) {
  PlacementTables t{};
  t.E = static_cast<int32_t>(E);
  t.P = static_cast<int32_t>(P);
  t.max_physical = static_cast<int32_t>(S);
  t.max_items = static_cast<int32_t>(I);
  t.max_replicas = static_cast<int32_t>(max_replicas);
  int32_t* p = block;
  auto take = [&p](int64_t n) {
    int32_t* q = p;
    p += n;
    return q;
  };
  t.header = take(kPlacementHeaderInts);
  t.phy2log = take(S);
  t.slot_offset = take(E + 1);
  t.slots = take(S);
  t.slot_arc = take(S);
  t.slot_mult = take(S);
  t.item_offset = take(I + 1);
  t.item_rank = take(S);
  t.rank_offset = take(P + 1);
  t.rank_arc = take(S);
  t.arc_item = take(S);
  t.item_expert_offset = take(I + 1);
  t.item_expert = take(E);
  t.fixed_offset = take(P + 1);
  t.fixed_expert = take(E);
  return t;
}

// Launchers (placement_solve.cu, placement_map.cu).
// The solve's latency paths (CudaPlacementPlannerOptions::solve_features);
// none changes the result.
enum PlacementSolveFeature : int {
  kSolveBulkLoad = 1,     // the whole placement block in one vectorised copy
  kSolveEarlyExit = 2,    // PulseState::early_exit
  kSolveFusedStats = 4,   // PulseState::fused_stats
  kSolveRankItem = 8,     // PulseState::rank_item
  kSolveBfsEarlyStop = 16,  // PulseState::bfs_early_stop
  kSolveAllFeatures = 31,
  kSolveProfileNoLp = 256,  // benchmark only: skip the LP (shares = even split)
};
struct PlacementSolveConfig {
  int threads;   // per block (one layer per block)
  size_t smem;   // dynamic shared memory per block
  bool serial;   // the CPU solver on one thread
  int features = kSolveAllFeatures;
};
size_t placement_solve_smem(int64_t E, int64_t P, int64_t S, int64_t I, bool serial);
void configure_placement_kernels();
template <typename W>
void launch_placement_solve(const PlacementTables& t, const W* workload, int64_t num_layers,
                            double* shares, int64_t shares_stride, void* results,
                            ErrorState* err, const PlacementSolveConfig& cfg,
                            cudaStream_t stream);

// Shared memory of the placement map kernel per block for `warps` warps.
size_t placement_map_smem(int64_t E, int64_t S, int32_t warps);
void configure_placement_map_kernels();
template <typename Id>
void launch_placement_map(const Id* ids, Id* out, const Tiling& t, const PlacementTables& tables,
                          const double* shares, const CountState& st, ErrorState* err,
                          cudaStream_t stream);

}  // namespace lplb::cuda::detail
