// count(): a histogram of int32/int64 expert ids, deterministic, in two
// kernels.
//
// count_kernel: one block per tile (tiling.hpp). Each warp counts its ids
// into its own shared-memory histogram; the block writes its tile's counts
// and adds them to a global accumulator (integer atomics: the totals do not
// depend on their order); the last block to finish copies the totals to
// counts[E] and clears the accumulator for the next launch.
// offsets_kernel: per expert, exclusive prefix sums of the tile counts over
// tiles (fixed order), which map() uses to number each expert's tokens in
// input order. With few tiles it is skipped and map() sums the earlier
// tiles' counts itself (Tiling::inline_prefix).
#include <cuda_runtime.h>

#include "cuda/count_tile.cuh"
#include "cuda/cuda_check.cuh"
#include "cuda/id_access.cuh"
#include "cuda/launch.cuh"
#include "cuda/tiling.hpp"

namespace lplb::cuda::detail {
namespace {

constexpr int kOffsetsWarps = 16;
constexpr int kOffsetsBatch = 16;  // loads in flight per lane

template <typename Id>
__global__ void __launch_bounds__(kMaxWarps * 32, kTilesPerSm)
    count_kernel(const Id* __restrict__ ids, Tiling t, int32_t E, CountState st,
                 ErrorState* err) {
  extern __shared__ int32_t hist[];  // [warps][copies][row], row = E or E + 1 ints
  count_tile(ids, t, E, st, err, hist);
}

// Block c owns experts [32c, 32c + 32) (lane = expert); warp w owns a
// contiguous range of tiles. Two passes over [tiles][E]: range sums, then
// the prefixes written back.
__global__ void __launch_bounds__(kOffsetsWarps * 32)
    offsets_kernel(int32_t num_tiles, int32_t E, int32_t* __restrict__ partials) {
  __shared__ int32_t seg[kOffsetsWarps][32];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int e = blockIdx.x * 32 + lane;
  const int per_warp = (num_tiles + kOffsetsWarps - 1) / kOffsetsWarps;
  const int r0 = min(num_tiles, warp * per_warp), r1 = min(num_tiles, r0 + per_warp);
  int32_t sum = 0;
  if (e < E) {
    int r = r0;
    for (; r + kOffsetsBatch <= r1; r += kOffsetsBatch) {
      int32_t v[kOffsetsBatch];
#pragma unroll
      for (int u = 0; u < kOffsetsBatch; ++u) v[u] = partials[int64_t{r + u} * E + e];
#pragma unroll
      for (int u = 0; u < kOffsetsBatch; ++u) sum += v[u];
    }
    for (; r < r1; ++r) sum += partials[int64_t{r} * E + e];
  }
  seg[warp][lane] = sum;
  __syncthreads();
  if (warp == 0) {
    int32_t run = 0;
    for (int w = 0; w < kOffsetsWarps; ++w) {
      const int32_t s = seg[w][lane];
      seg[w][lane] = run;
      run += s;
    }
  }
  __syncthreads();
  if (e >= E) return;
  int32_t run = seg[warp][lane];
  int r = r0;
  for (; r + kOffsetsBatch <= r1; r += kOffsetsBatch) {
    int32_t v[kOffsetsBatch];
#pragma unroll
    for (int u = 0; u < kOffsetsBatch; ++u) v[u] = partials[int64_t{r + u} * E + e];
#pragma unroll
    for (int u = 0; u < kOffsetsBatch; ++u) {
      partials[int64_t{r + u} * E + e] = run;
      run += v[u];
    }
  }
  for (; r < r1; ++r) {
    const int32_t v = partials[int64_t{r} * E + e];
    partials[int64_t{r} * E + e] = run;
    run += v;
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
  count_kernel<Id>
      <<<t.num_tiles, t.warps * 32, count_shared_bytes(E, t.warps, t.copies), stream>>>(
          ids, t, E, st, err);
  LPLB_CUDA_CHECK_LAUNCH();
  if (t.inline_prefix) return;  // map() sums the few earlier tiles itself
  offsets_kernel<<<(E + 31) / 32, kOffsetsWarps * 32, 0, stream>>>(t.num_tiles, E, st.partials);
  LPLB_CUDA_CHECK_LAUNCH();
}

template void launch_count<int32_t>(const int32_t*, const Tiling&, int32_t, const CountState&,
                                    ErrorState*, cudaStream_t);
template void launch_count<int64_t>(const int64_t*, const Tiling&, int32_t, const CountState&,
                                    ErrorState*, cudaStream_t);

}  // namespace lplb::cuda::detail
