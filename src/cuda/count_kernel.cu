// count(): a histogram of int32/int64 expert ids, deterministic.
//
// One block per tile (tiling.hpp), tiles handed out in block start order.
// Each warp counts its ids into its own shared-memory histogram (integer
// atomics: the result does not depend on their order). The block then
// publishes its tile's counts and finds the counts of all earlier tiles by a
// decoupled look-back (a warp reads the flags of 32 predecessors at once and
// the block sums their per-expert counts up to the nearest published
// prefix), and publishes the prefix through its own tile. map() reads these
// prefixes to number each expert's tokens in input order; the last tile's
// prefix is counts[E]. The last block to finish advances the epoch.
#include <cuda_runtime.h>

#include "cuda/cuda_check.cuh"
#include "cuda/id_access.cuh"
#include "cuda/launch.cuh"
#include "cuda/tiling.hpp"

namespace lplb::cuda::detail {
namespace {

constexpr unsigned kAggregate = 1, kInclusive = 2;

__device__ __forceinline__ unsigned load_flag(const unsigned* p) {
  return *reinterpret_cast<const volatile unsigned*>(p);
}

template <typename Id>
__global__ void __launch_bounds__(kMaxWarps * 32, kTilesPerSm)
    count_kernel(const Id* __restrict__ ids, Tiling t, int32_t E, CountState st,
                 ErrorState* err) {
  extern __shared__ int32_t hist[];  // [warps][E] per warp, [E] tile sum, [E] prefix
  int32_t* tile_sum = hist + t.warps * E;
  int32_t* prefix = tile_sum + E;
  __shared__ int tile_s, limit_s, found_s;
  __shared__ unsigned epoch_s;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (threadIdx.x == 0) {
    tile_s = static_cast<int>(atomicAdd(&st.control[0], 1u));
    epoch_s = load_flag(&st.control[2]) & 0x3fffffffu;
  }
  for (int k = threadIdx.x; k < (t.warps + 2) * E; k += blockDim.x) hist[k] = 0;
  __syncthreads();
  const int tile = tile_s;
  const unsigned epoch = epoch_s;

  int32_t* mine = hist + warp * E;
  const WarpRange range = warp_range(t, tile, warp);
  for_each_id_unordered(ids, range.begin, range.end, lane, [&](Id e, int64_t index) {
    if (e >= 0 && e < E) {
      atomicAdd(mine + e, 1);
    } else if (e != -1) {
      report_bad_id(err, index, e);
    }
  });
  __syncthreads();
  for (int e = threadIdx.x; e < E; e += blockDim.x) {
    int32_t s = 0;
    for (int w = 0; w < t.warps; ++w) s += hist[w * E + e];
    tile_sum[e] = s;
    st.aggregate[int64_t{tile} * E + e] = s;
  }
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0) atomicExch(&st.flags[tile], (epoch << 2) | kAggregate);

  // Look-back over predecessors p, p-1, ..., 32 at a time.
  for (int p = tile - 1; p >= 0; p -= 32) {
    if (warp == 0) {
      const int q = p - lane;
      for (;;) {
        unsigned state = kInclusive;  // before tile 0: an empty prefix
        if (q >= 0) {
          const unsigned f = load_flag(&st.flags[q]);
          state = (f >> 2) == epoch ? (f & 3u) : 0u;
        }
        const unsigned stop = __ballot_sync(0xffffffffu, state == kInclusive);
        const int limit = stop ? __ffs(stop) - 1 : 32;
        const unsigned missing = __ballot_sync(0xffffffffu, state == 0) &
                                 (limit == 32 ? 0xffffffffu : (1u << limit) - 1u);
        if (missing == 0) {
          if (lane == 0) {
            limit_s = limit;
            found_s = stop != 0;
          }
          break;
        }
      }
      __threadfence();
    }
    __syncthreads();
    const int limit = limit_s;
    const bool found = found_s;
    for (int e = threadIdx.x; e < E; e += blockDim.x) {
      int32_t acc = prefix[e];
      for (int l = 0; l < limit; ++l) acc += __ldcg(st.aggregate + int64_t{p - l} * E + e);
      if (found && p - limit >= 0) acc += __ldcg(st.inclusive + int64_t{p - limit} * E + e);
      prefix[e] = acc;
    }
    __syncthreads();
    if (found) break;
  }

  const bool last_tile = tile == t.num_tiles - 1;
  for (int e = threadIdx.x; e < E; e += blockDim.x) {
    const int32_t through = prefix[e] + tile_sum[e];
    st.inclusive[int64_t{tile} * E + e] = through;
    if (last_tile) st.counts[e] = through;
  }
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0) {
    atomicExch(&st.flags[tile], (epoch << 2) | kInclusive);
    if (last_tile) *st.counted_n = t.n;
    if (atomicAdd(&st.control[1], 1u) == gridDim.x - 1) {  // everyone is done
      st.control[0] = 0;
      st.control[1] = 0;
      atomicExch(&st.control[2], (epoch + 1) & 0x3fffffffu);
    }
  }
}

}  // namespace

void configure_count_kernels() {
  LPLB_CUDA_CHECK(cudaFuncSetAttribute(count_kernel<int32_t>,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       kMapSharedBytes));
  LPLB_CUDA_CHECK(cudaFuncSetAttribute(count_kernel<int64_t>,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       kMapSharedBytes));
}

template <typename Id>
void launch_count(const Id* ids, const Tiling& t, int32_t E, const CountState& st,
                  ErrorState* err, cudaStream_t stream) {
  count_kernel<Id><<<t.num_tiles, t.warps * 32, count_shared_bytes(E, t.warps), stream>>>(
      ids, t, E, st, err);
  LPLB_CUDA_CHECK_LAUNCH();
}

template void launch_count<int32_t>(const int32_t*, const Tiling&, int32_t, const CountState&,
                                    ErrorState*, cudaStream_t);
template void launch_count<int64_t>(const int64_t*, const Tiling&, int32_t, const CountState&,
                                    ErrorState*, cudaStream_t);

}  // namespace lplb::cuda::detail
