// solve(), exact solver: every group's LP in one launch, one warp-sized block
// per (layer, group). The block loads the group into shared memory in
// parallel, then either
//  - the warp solves it together (exact_warp.cuh, the default), or
//  - one thread runs lplb::detail::exact_solve (common/lp_exact.hpp, the CPU
//    backend's code: bit-identical probs, but ~100x slower than the CPU).
// Groups with no load, or already balanced, leave at the first check.
#include <cuda_runtime.h>

#include "common/lp_exact.hpp"
#include "cuda/cuda_check.cuh"
#include "cuda/exact_warp.cuh"
#include "cuda/group_load.cuh"
#include "cuda/launch.cuh"
#include "lplb/cuda/planner_cuda.hpp"

namespace lplb::cuda::detail {
namespace {

constexpr int kExactThreads = 32;

template <typename W, bool kSerial>
__global__ void __launch_bounds__(kExactThreads)
    solve_exact_kernel(SolveParams p, const W* __restrict__ workload) {
  __shared__ GroupShared sh;
  __shared__ __align__(16) unsigned char ws_buf[kSerial ? lplb::detail::kExactWorkspaceMaxBytes : 8];
  const int layer = blockIdx.x / p.G, g = blockIdx.x % p.G;
  const int S = p.S, D = p.D, SD = S * D;
  load_group(p, workload + int64_t{layer} * p.E, g, sh);

  GroupResult r{};
  if (sh.bad != INT_MAX) {
    if (threadIdx.x == 0) report_bad_workload(p.error, layer, p.E, sh.bad);
    for (int k = threadIdx.x; k < SD; k += blockDim.x) sh.probs[k] = 1.0;
    r.code = static_cast<int32_t>(lplb::detail::LpCode::kTrivial);
  } else if constexpr (kSerial) {
    if (threadIdx.x == 0) {
      const lplb::detail::ExactProblem pb{S, D, sh.r2o, sh.o2r, sh.fixed, sh.block};
      const lplb::detail::ExactInfo info = lplb::detail::exact_solve(
          pb, lplb::detail::exact_workspace_bind(ws_buf, S, D), sh.probs);
      r = GroupResult{info.max_load, info.bound, static_cast<int32_t>(info.code), info.rounds, 0, 0};
    }
  } else {
    const WarpExactResult w =
        S <= 32 ? warp_exact_solve<1>(S, D, sh.r2o, sh.o2r, sh.fixed, sh.block, sh.probs)
                : warp_exact_solve<2>(S, D, sh.r2o, sh.o2r, sh.fixed, sh.block, sh.probs);
    r = GroupResult{w.max_load, w.bound, w.code, w.rounds, w.pulses, w.relabels};
  }
  if (threadIdx.x == 0 && p.results != nullptr) static_cast<GroupResult*>(p.results)[blockIdx.x] = r;
  __syncthreads();
  double* out = p.probs + (int64_t{layer} * p.G + g) * SD;
  for (int k = threadIdx.x; k < SD; k += blockDim.x) out[k] = sh.probs[k];
}

}  // namespace

template <typename W>
void launch_solve_exact(const SolveParams& p, const W* workload, int64_t num_layers,
                        SolveKind kind, cudaStream_t stream) {
  const int64_t blocks = num_layers * p.G;
  if (blocks == 0) return;
  if (kind == SolveKind::kExactSerial)
    solve_exact_kernel<W, true>
        <<<static_cast<unsigned>(blocks), kExactThreads, 0, stream>>>(p, workload);
  else
    solve_exact_kernel<W, false>
        <<<static_cast<unsigned>(blocks), kExactThreads, 0, stream>>>(p, workload);
  LPLB_CUDA_CHECK_LAUNCH();
}

template void launch_solve_exact<int64_t>(const SolveParams&, const int64_t*, int64_t, SolveKind,
                                          cudaStream_t);
template void launch_solve_exact<double>(const SolveParams&, const double*, int64_t, SolveKind,
                                         cudaStream_t);

}  // namespace lplb::cuda::detail
