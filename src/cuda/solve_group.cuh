// One loaded group (load_group) solved exactly by one warp: a bad workload
// gives probs 1 and the error word; else the warp solver of exact_warp.cuh
// for groups of <= 32 ranks (kH ranks per lane). Shared by the solve kernel
// and the fused count + solve kernel of small batches. Every lane of the
// warp calls it and gets the result; sh.probs is final after a __syncwarp.
#pragma once

#include <limits.h>

#include "cuda/exact_warp.cuh"
#include "cuda/group_load.cuh"

namespace lplb::cuda::detail {

template <int kH, int kD>
__device__ __forceinline__ GroupResult solve_group_warp(const SolveParams& p, int layer,
                                                        GroupShared& sh) {
  const int lane = threadIdx.x % 32, SD = p.S * p.D;
  GroupResult r{};
  if (sh.bad != INT_MAX) {
    if (lane == 0) report_bad_workload(p.error, layer, p.E, sh.bad);
    for (int k = lane; k < SD; k += 32) sh.probs[k] = 1.0;
    r.code = static_cast<int32_t>(lplb::detail::LpCode::kTrivial);
  } else {
    const WarpExactResult w = warp_exact_solve<kH, kD>(p.S, sh.r2o, sh.o2r, sh.fixed, sh.block,
                                                       sh.probs, p.subset_start != 0);
    r = GroupResult{w.max_load, w.bound, w.code, w.rounds, w.pulses, w.relabels};
  }
  __syncwarp();
  return r;
}

}  // namespace lplb::cuda::detail
