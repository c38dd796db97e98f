// map() of CudaPlanner: LPLB's two-slot split of common/split.hpp through
// the shared map kernel (map_kernel.cuh): the k-th token (input order) of an
// expert with a copy stays on the original iff stays_on_original(k,
// round(p T), T).
#include <cuda_runtime.h>

#include "common/split.hpp"
#include "cuda/map_kernel.cuh"
#include "cuda/split_fast.cuh"

namespace lplb::cuda::detail {
namespace {

// Per expert, in shared memory: x = T (tokens), y = kept, z = original
// slot, w = copy slot (the original when there is none), and 1 / T.
struct LplbPick {
  MapTables m;
  const double* probs;
  int4* slots;
  double* inv_total;

  __device__ int32_t* setup(unsigned char* smem, const CountState& st) {
    const int32_t E = m.num_experts;
    slots = reinterpret_cast<int4*>(smem);
    inv_total = reinterpret_cast<double*>(slots + E);
    for (int e = threadIdx.x; e < E; e += blockDim.x) {
      const int32_t total = static_cast<int32_t>(st.counts[e]);
      const int32_t pi = m.prob_index[e];
      const int32_t orig = m.log2phy[2 * e], copy = m.log2phy[2 * e + 1];
      const bool split = pi >= 0 && copy >= 0;
      double pr = split ? probs[pi] : 1.0;
      // The probs the Python layer's solve_probs returns are float32: round
      // the same way so run() equals solve_probs + map.
      if (m.float32_probs) pr = static_cast<double>(static_cast<float>(pr));
      const int32_t kept = split ? static_cast<int32_t>(lplb::detail::kept_tokens(pr, total)) : total;
      slots[e] = make_int4(total, kept, orig, split ? copy : orig);
      inv_total[e] = total > 0 ? 1.0 / total : 0.0;
    }
    return reinterpret_cast<int32_t*>(inv_total + E);
  }
  __device__ int32_t pick(int e, int32_t k) const {
    const int4 s = slots[e];
    if (s.y >= s.x) return s.z;  // not split: every token stays, no 1/T read
    return stays_on_original_fast(k, s.y, s.x, inv_total[e]) ? s.z : s.w;
  }
};

}  // namespace

void configure_map_kernels() {
  configure_map_kernel<int32_t, MatchKind::kMatchAny, LplbPick>();
  configure_map_kernel<int32_t, MatchKind::kBallot, LplbPick>();
  configure_map_kernel<int64_t, MatchKind::kMatchAny, LplbPick>();
  configure_map_kernel<int64_t, MatchKind::kBallot, LplbPick>();
}

template <typename Id>
void launch_map(const Id* ids, Id* out, const Tiling& t, const MapTables& tables,
                const double* probs, const CountState& st, ErrorState* err,
                cudaStream_t stream, MatchKind match) {
  const size_t smem = static_cast<size_t>(tables.num_experts) * (sizeof(int4) + sizeof(double)) +
                      static_cast<size_t>(t.warps) * tables.num_experts * sizeof(int32_t);
  launch_map_kernel(ids, out, t, tables.num_experts, LplbPick{tables, probs, nullptr, nullptr},
                    smem, st, err, stream, match);
}

template void launch_map<int32_t>(const int32_t*, int32_t*, const Tiling&, const MapTables&,
                                  const double*, const CountState&, ErrorState*, cudaStream_t,
                                  MatchKind);
template void launch_map<int64_t>(const int64_t*, int64_t*, const Tiling&, const MapTables&,
                                  const double*, const CountState&, ErrorState*, cudaStream_t,
                                  MatchKind);

}  // namespace lplb::cuda::detail
