// The map kernel shared by both CUDA planners: logical -> physical ids, the
// k-th token (input order) of expert e going to pick(e, k), where k is the
// exact occurrence index of the token among e's ids.
//
// Same tiling as count() (block b maps tile b). A block first lets the
// picker build its per-expert table in shared memory, counts each warp's ids
// per expert (shared counters), turns them into the warp's starting k per
// expert from count()'s per-tile offsets, then each warp walks its ids in
// input order (chunks of 32 lanes x kIdsPerLane, j-major), ranking equal
// experts among the lanes with a warp match, and writes pick(e, k). k is
// therefore independent of the launch configuration.
//
// A picker (map_kernel.cu: LPLB's two-slot split; placement_map.cu: the
// k-replica split of a placement) provides
//   __device__ int32_t* setup(unsigned char* smem, const CountState& st)
//     builds its table (all threads, before the kernel's barrier) and
//     returns where the per-warp counters may start (4-byte aligned);
//   __device__ int32_t pick(int e, int32_t k) const
//     the physical slot of e's k-th token.
#pragma once

#include <cuda_runtime.h>

#include "cuda/cuda_check.cuh"
#include "cuda/id_access.cuh"
#include "cuda/launch.cuh"

namespace lplb::cuda::detail {

// Lanes of the warp whose key equals this lane's (keys in [0, 2^bits)).
template <MatchKind kMatch>
__device__ __forceinline__ unsigned warp_match(int key, int bits) {
  if constexpr (kMatch == MatchKind::kMatchAny) {
    (void)bits;
    return __match_any_sync(0xffffffffu, key);
  } else {
    unsigned same = 0xffffffffu;
    for (int b = 0; b < bits; ++b) {
      const bool bit = (key >> b) & 1;
      const unsigned set = __ballot_sync(0xffffffffu, bit);
      same &= bit ? set : ~set;
    }
    return same;
  }
}

template <typename Id, MatchKind kMatch, typename Pick>
__global__ void __launch_bounds__(kMaxWarps * 32, kTilesPerSm)
    map_kernel(const Id* __restrict__ ids, Id* __restrict__ out, Tiling t, int32_t E,
               Pick pick, CountState st, ErrorState* err) {
  extern __shared__ int4 smem[];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (blockIdx.x == 0 && threadIdx.x == 0 && *st.counted_n != t.n)
    atomicOr(&err->bits, kStaleCountBit);
  int32_t* counters = pick.setup(reinterpret_cast<unsigned char*>(smem), st);  // [warps][E]
  int32_t* mine = counters + warp * E;
  const WarpRange range = warp_range(t, blockIdx.x, warp);
  if (st.warp_counts != nullptr) {
    // Phase A done by count(): its per-warp counts of the same ids and tiling.
    const int32_t* src = st.warp_counts + int64_t{blockIdx.x} * t.warps * E;
    for (int k = threadIdx.x; k < t.warps * E; k += blockDim.x) counters[k] = src[k];
    __syncthreads();
  } else {
    for (int k = threadIdx.x; k < t.warps * E; k += blockDim.x) counters[k] = 0;
    __syncthreads();
    // Phase A: tokens per expert in each warp's range.
    for_each_id_unordered(ids, range.begin, range.end, lane, [&](Id e, int64_t) {
      if (e >= 0 && e < E) atomicAdd(mine + e, 1);
    });
    __syncthreads();
  }
  // Starting k of each (warp, expert): earlier tiles, then earlier warps.
  for (int e = threadIdx.x; e < E; e += blockDim.x) {
    int32_t run = 0;
    if (t.inline_prefix) {  // raw tile counts: sum the earlier tiles
      for (int r = 0; r < static_cast<int>(blockIdx.x); ++r) run += st.partials[int64_t{r} * E + e];
    } else {  // exclusive prefixes from the offsets kernel
      run = st.partials[int64_t{blockIdx.x} * E + e];
    }
    for (int w = 0; w < t.warps; ++w) {
      const int32_t c = counters[w * E + e];
      counters[w * E + e] = run;
      run += c;
    }
  }
  __syncthreads();

  // Phase B: input order, chunk by chunk.
  const int bits = 32 - __clz(E);  // keys 0..E (E = not a valid expert)
  const unsigned lower_lanes = (1u << lane) - 1u;
  for (int64_t chunk = range.begin; chunk < range.end; chunk += kChunkIds) {
    Id v[kIdsPerLane];
#pragma unroll
    for (int j = 0; j < kIdsPerLane; ++j) {
      const int64_t pos = chunk + j * 32 + lane;
      v[j] = pos < range.end ? ids[pos] : Id(-1);
    }
#pragma unroll
    for (int j = 0; j < kIdsPerLane; ++j) {
      const int64_t pos = chunk + j * 32 + lane;
      const Id e = v[j];
      const bool valid = e >= 0 && e < E;
      const int key = valid ? static_cast<int>(e) : E;
      const unsigned same = warp_match<kMatch>(key, bits);
      const int leader = __ffs(same) - 1;
      int base = 0;
      if (valid && lane == leader) {
        base = mine[key];
        mine[key] = base + __popc(same);
      }
      base = __shfl_sync(0xffffffffu, base, leader);
      Id phys = -1;
      if (valid) phys = static_cast<Id>(pick.pick(key, base + __popc(same & lower_lanes)));
      if (pos < range.end) out[pos] = phys;
      __syncwarp();
    }
  }
}

// Raises the dynamic shared-memory limit of one instantiation (setup).
template <typename Id, MatchKind kMatch, typename Pick>
void configure_map_kernel() {
  LPLB_CUDA_CHECK(cudaFuncSetAttribute(map_kernel<Id, kMatch, Pick>,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       kMapSharedBytes));
}

template <typename Id, typename Pick>
void launch_map_kernel(const Id* ids, Id* out, const Tiling& t, int32_t E, const Pick& pick,
                       size_t smem, const CountState& st, ErrorState* err, cudaStream_t stream,
                       MatchKind match) {
  if (match == MatchKind::kMatchAny)
    map_kernel<Id, MatchKind::kMatchAny, Pick>
        <<<t.num_tiles, t.warps * 32, smem, stream>>>(ids, out, t, E, pick, st, err);
  else
    map_kernel<Id, MatchKind::kBallot, Pick>
        <<<t.num_tiles, t.warps * 32, smem, stream>>>(ids, out, t, E, pick, st, err);
  LPLB_CUDA_CHECK_LAUNCH();
}

}  // namespace lplb::cuda::detail
