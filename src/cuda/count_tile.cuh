// The per-tile work of count(), shared by the count kernel and the fused
// count + solve kernel of small batches.
#pragma once

#include "cuda/id_access.cuh"
#include "cuda/tiling.hpp"

namespace lplb::cuda::detail {

// One count tile per block (all threads): each warp counts its ids into its
// own shared-memory histogram (`hist`: [warps][copies][row], row = E or
// E + 1 ints); the block writes its tile's counts and adds them to a global
// accumulator (integer atomics: the totals do not depend on their order); the
// last block to finish copies the totals to counts[E] and clears the
// accumulator for the next launch. Returns true in that last block (after a
// barrier: counts[E] is visible to the whole block), false elsewhere.
template <typename Id>
__device__ __forceinline__ bool count_tile(const Id* __restrict__ ids, const Tiling& t, int32_t E,
                                           const CountState& st, ErrorState* err, int32_t* hist) {
  __shared__ bool last;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int row = t.copies > 1 ? E + 1 : E;  // count_row_ints
  const int rows = t.warps * t.copies;
  for (int k = threadIdx.x; k < rows * row; k += blockDim.x) hist[k] = 0;
  __syncthreads();

  int32_t* mine = hist + (warp * t.copies + lane % t.copies) * row;
  const WarpRange range = warp_range(t, blockIdx.x, warp);
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
    for (int r = 0; r < rows; ++r) s += hist[r * row + e];
    st.partials[int64_t{blockIdx.x} * E + e] = s;
    if (s != 0) atomicAdd(st.accumulator + e, static_cast<unsigned>(s));
  }
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0) last = atomicAdd(st.ticket, 1u) == gridDim.x - 1;
  __syncthreads();
  if (!last) return false;
  __threadfence();
  for (int e = threadIdx.x; e < E; e += blockDim.x) {
    st.counts[e] = __ldcg(st.accumulator + e);
    st.accumulator[e] = 0;
  }
  if (threadIdx.x == 0) {
    *st.ticket = 0;
    *st.counted_n = t.n;
  }
  __syncthreads();
  return true;
}

}  // namespace lplb::cuda::detail
