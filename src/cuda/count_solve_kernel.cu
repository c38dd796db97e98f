// The first two steps of run() in one launch for small batches: every block
// counts its tile (count_tile.cuh); the last block to finish then solves
// every group from the totals it has just written, one warp per group (the
// exact warp solver), with the solve kernel's outputs. One launch instead of
// two: on a host where a launch costs microseconds this matters as much as
// the kernel time, and the solve skips its own launch latency. Used by
// CudaPlanner::run when the tiles need no offsets kernel, the groups fit the
// block's warps, and the exact warp solver applies (fusable_count_solve).
#include <cuda_runtime.h>

#include "cuda/count_tile.cuh"
#include "cuda/cuda_check.cuh"
#include "cuda/launch.cuh"
#include "cuda/solve_group.cuh"

namespace lplb::cuda::detail {
namespace {

template <typename Id, int kD>
__global__ void __launch_bounds__(kMaxWarps * 32, 1)
    count_solve_kernel(const Id* __restrict__ ids, Tiling t, int32_t E, CountState st,
                       ErrorState* err, SolveParams p) {
  // Histograms while counting; then one GroupShared per solving warp.
  extern __shared__ __align__(16) unsigned char smem[];
  if (!count_tile(ids, t, E, st, err, reinterpret_cast<int32_t*>(smem))) return;
  const int warp = threadIdx.x / 32;
  if (warp >= p.G) return;
  GroupShared& sh = reinterpret_cast<GroupShared*>(smem)[warp];
  const WorkloadRef w{st.counts, WorkloadType::kInt64};
  load_group<true>(p, w, warp, sh);
  const GroupResult r = solve_group_warp<1, kD>(p, 0, sh);
  write_group<true>(p, w, 0, warp, sh.probs, r);
}

template <typename Id, int kD>
void launch_one(const Id* ids, const Tiling& t, int32_t E, const CountState& st, ErrorState* err,
                const SolveParams& p, cudaStream_t stream) {
  const size_t smem = std::max(count_shared_bytes(E, t.warps, t.copies),
                               static_cast<size_t>(p.G) * sizeof(GroupShared));
  count_solve_kernel<Id, kD><<<t.num_tiles, t.warps * 32, smem, stream>>>(ids, t, E, st, err, p);
}

template <typename Id>
void configure_id() {
  for (auto f : {reinterpret_cast<const void*>(count_solve_kernel<Id, 1>),
                 reinterpret_cast<const void*>(count_solve_kernel<Id, 2>),
                 reinterpret_cast<const void*>(count_solve_kernel<Id, 3>),
                 reinterpret_cast<const void*>(count_solve_kernel<Id, 4>)})
    LPLB_CUDA_CHECK(cudaFuncSetAttribute(f, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         kMapSharedBytes));
}

}  // namespace

bool fusable_count_solve(const Tiling& t, const SolveParams& p) {
  return t.inline_prefix && p.G >= 1 && p.G <= t.warps && p.S <= 32 && p.D >= 1 && p.D <= 4 &&
         static_cast<size_t>(p.G) * sizeof(GroupShared) <= static_cast<size_t>(kMapSharedBytes);
}

void configure_count_solve_kernels() {
  configure_id<int32_t>();
  configure_id<int64_t>();
}

template <typename Id>
void launch_count_solve(const Id* ids, const Tiling& t, int32_t E, const CountState& st,
                        ErrorState* err, const SolveParams& p, cudaStream_t stream) {
  switch (p.D) {
    case 1: launch_one<Id, 1>(ids, t, E, st, err, p, stream); break;
    case 2: launch_one<Id, 2>(ids, t, E, st, err, p, stream); break;
    case 3: launch_one<Id, 3>(ids, t, E, st, err, p, stream); break;
    default: launch_one<Id, 4>(ids, t, E, st, err, p, stream); break;
  }
  LPLB_CUDA_CHECK_LAUNCH();
}

template void launch_count_solve<int32_t>(const int32_t*, const Tiling&, int32_t,
                                          const CountState&, ErrorState*, const SolveParams&,
                                          cudaStream_t);
template void launch_count_solve<int64_t>(const int64_t*, const Tiling&, int32_t,
                                          const CountState&, ErrorState*, const SolveParams&,
                                          cudaStream_t);

}  // namespace lplb::cuda::detail
