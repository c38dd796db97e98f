// Plain structs shared by the CUDA launchers and kernels: sizes, the
// placement as device arrays, the error word. Every field's shape is stated;
// all pointers are device pointers.
#pragma once

#include <stdint.h>

namespace lplb::cuda::detail {

// Ids in one warp chunk: 32 lanes x kIdsPerLane, walked j-major, lane-minor
// (id j*32 + lane), which is input order.
constexpr int kIdsPerLane = 8;
constexpr int kChunkIds = 32 * kIdsPerLane;
constexpr int kMaxWarps = 8;             // per count/map block
constexpr int kTilesPerSm = 4;           // count/map blocks per multiprocessor
constexpr int64_t kMaxExperts = 4096;    // per-warp counters must fit in shared memory
constexpr int kMapSharedBytes = 160 * 1024;  // fits sm_80 (163 KB) and later

// The device error word and where the first problem was seen.
struct ErrorState {
  int32_t bits;       // ErrorBit mask (lplb/cuda/planner_cuda.hpp)
  int32_t unused;
  // (index << 32) | uint32(clamped id value) of the invalid id with the
  // smallest index; ~0 when none.
  unsigned long long first_bad_id;
  // layer * E + expert of the smallest bad workload entry; ~0 when none.
  unsigned long long first_bad_workload;
};

// How n ids are cut into tiles, one block per tile. Warp w of tile b owns the
// contiguous ids [b*tile_ids + w*chunks*kChunkIds, +chunks*kChunkIds). Count
// and map of the same n must use the same tiling (make_tiling).
struct Tiling {
  int64_t n;
  int64_t tile_ids;   // warps * chunks * kChunkIds
  int32_t num_tiles;  // >= 1
  int32_t warps;      // warps per block
  int32_t chunks;     // warp chunks per warp
  // count: histogram copies per warp (lane l adds to copy l % copies; rows
  // padded to E + 1 ints so that one expert's copies sit in different
  // banks): fewer lanes of one atomic instruction hit one address.
  int32_t copies;
  // Few tiles: map() sums the earlier tiles' counts itself and count() skips
  // the offsets kernel.
  bool inline_prefix;
};

constexpr int kInlinePrefixTiles = 32;
constexpr int kCountCopyBytes = 48 * 1024;  // shared memory allowed for copies

// The current placement, as the count/map kernels read it.
struct MapTables {
  int32_t num_experts;        // E
  const int32_t* log2phy;     // [E][2]: original slot, copy slot or -1
  const int32_t* prob_index;  // [E]: index into probs of e's block, or -1
  // Split with each prob rounded to float32 first (the probs the Python
  // layer's solve_probs returns), so run() equals solve_probs + map.
  int32_t float32_probs;
};

// A device workload array of any supported element type (one kernel serves
// them all: the loads convert to double).
enum class WorkloadType : int32_t { kInt32, kInt64, kFloat32, kFloat64 };
struct WorkloadRef {
  const void* data;  // [num_layers][E]
  WorkloadType type;
};

// Per-tile counts and the results of count(). The count kernel writes each
// tile's counts and adds them to `accumulator` (integer atomics: the sum does
// not depend on their order); the last block to finish moves the totals to
// counts[E] and clears the accumulator. The offsets kernel then turns the
// [tiles][E] counts into exclusive prefix sums over tiles for map().
struct CountState {
  int32_t* partials;           // [max_tiles][E]: tile counts, then prefixes
  unsigned int* accumulator;   // [E], zero between launches
  unsigned int* ticket;        // blocks finished, zero between launches
  int64_t* counts;             // [E]
  int64_t* counted_n;          // n of the last count
};

// The group LPs of one launch: grid = num_layers * G blocks.
struct SolveParams {
  int32_t S, D, G, E;
  int32_t n_local_logical, n_local, replicated;  // replicated = C * D
  const int32_t* r2o;      // [S][D]
  const int32_t* o2r;      // [S][D]
  const int32_t* phy2log;  // [P][n_local]
  double* probs;           // [num_layers][P*D]
  void* results;           // GroupResult [num_layers][G], or null
  ErrorState* error;
  unsigned char* ipm_workspace;  // [num_layers*G][ipm_stride] when not in shared memory
  int64_t ipm_stride;
  // Optional extra outputs of a one-layer launch (null: none).
  float* probs_f32;     // [P*D]: probs rounded to float32
  float* workload_f32;  // [E]: the workload as float32
  // The reference's avail counter: += 1 per group solved to a feasible point
  // (int32 or int64 by counter_int64).
  void* counter;
  int32_t counter_int64;
  // Exact warp solver: small groups start at the densest-subset bound.
  int32_t subset_start;
};

}  // namespace lplb::cuda::detail
