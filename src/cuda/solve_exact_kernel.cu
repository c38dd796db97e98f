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
#include "cuda/group_load.cuh"
#include "cuda/solve_group.cuh"
#include "cuda/launch.cuh"
#include "lplb/cuda/planner_cuda.hpp"

namespace lplb::cuda::detail {
namespace {

constexpr int kExactThreads = 32;

// kH = 0: the serial solver; else the warp solver for kH ranks per lane and
// kD slots (p.D == kD).
template <int kH, int kD>
__global__ void __launch_bounds__(kExactThreads)
    solve_exact_kernel(SolveParams p, WorkloadRef workload) {
  constexpr bool kSerial = kH == 0;
  __shared__ GroupShared sh;
  __shared__ __align__(16) unsigned char ws_buf[kSerial ? lplb::detail::kExactWorkspaceMaxBytes : 8];
  const int layer = blockIdx.x / p.G, g = blockIdx.x % p.G;
  const int S = p.S, D = p.D, SD = S * D;
  const WorkloadRef w = layer_of(workload, layer, p.E);
  load_group(p, w, g, sh);

  GroupResult r{};
  if constexpr (kSerial) {
    if (sh.bad != INT_MAX) {
      if (threadIdx.x == 0) report_bad_workload(p.error, layer, p.E, sh.bad);
      for (int k = threadIdx.x; k < SD; k += blockDim.x) sh.probs[k] = 1.0;
      r.code = static_cast<int32_t>(lplb::detail::LpCode::kTrivial);
    } else if (threadIdx.x == 0) {
      const lplb::detail::ExactProblem pb{S, D, sh.r2o, sh.o2r, sh.fixed, sh.block};
      const lplb::detail::ExactInfo info = lplb::detail::exact_solve(
          pb, lplb::detail::exact_workspace_bind(ws_buf, S, D), sh.probs);
      r = GroupResult{info.max_load, info.bound, static_cast<int32_t>(info.code), info.rounds, 0, 0};
    }
  } else {
    r = solve_group_warp<kH, kD>(p, layer, sh);  // the block is one warp
  }
  __syncthreads();
  write_group(p, w, layer, g, sh.probs, r);
}

template <int kH>
void launch_warp(const SolveParams& p, WorkloadRef workload, unsigned blocks, cudaStream_t stream) {
  switch (p.D) {
    case 1: solve_exact_kernel<kH, 1><<<blocks, kExactThreads, 0, stream>>>(p, workload); break;
    case 2: solve_exact_kernel<kH, 2><<<blocks, kExactThreads, 0, stream>>>(p, workload); break;
    case 3: solve_exact_kernel<kH, 3><<<blocks, kExactThreads, 0, stream>>>(p, workload); break;
    default: solve_exact_kernel<kH, 4><<<blocks, kExactThreads, 0, stream>>>(p, workload); break;
  }
}

}  // namespace

void launch_solve_exact(const SolveParams& p, WorkloadRef workload, int64_t num_layers,
                        SolveKind kind, cudaStream_t stream) {
  const int64_t blocks = num_layers * p.G;
  if (blocks == 0) return;
  const unsigned grid = static_cast<unsigned>(blocks);
  if (kind == SolveKind::kExactSerial)
    solve_exact_kernel<0, 1><<<grid, kExactThreads, 0, stream>>>(p, workload);
  else if (p.S <= 32)
    launch_warp<1>(p, workload, grid, stream);
  else
    launch_warp<2>(p, workload, grid, stream);
  LPLB_CUDA_CHECK_LAUNCH();
}

}  // namespace lplb::cuda::detail
