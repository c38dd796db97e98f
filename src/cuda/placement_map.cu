// map() of CudaPlacementPlanner through the shared map kernel
// (map_kernel.cuh): each block first splits every expert's local token count
// over its present slots with the CPU's largest-remainder rule
// (common/placement_split.hpp, split_counts), then the k-th token of expert
// e goes to its replica split_pick(k, counts, ...), as PlacementPlanner::map.
#include <cuda_runtime.h>

#include "common/placement_split.hpp"
#include "cuda/map_kernel.cuh"
#include "cuda/placement_device.cuh"

namespace lplb::cuda::detail {
namespace {

// Shared memory: per expert {first present slot index, replicas, tokens};
// per present slot (expert order) its token count, share, scratch and slot.
// setup() has a barrier (every thread of the block calls it).
struct PlacementPick {
  PlacementTables t;
  const double* shares;
  int4* table;
  int64_t* counts;
  int32_t* slots;

  __device__ int32_t* setup(unsigned char* smem, const CountState& st) {
    const int E = t.E, S = t.max_physical;
    table = reinterpret_cast<int4*>(smem);
    counts = reinterpret_cast<int64_t*>(table + E);
    double* share = reinterpret_cast<double*>(counts + S);
    double* rest = share + S;
    slots = reinterpret_cast<int32_t*>(rest + S);
    // Gather the present slots and their shares first (independent loads),
    // then split each expert's count in shared memory.
    const int present = t.slot_offset[E];
    for (int q = threadIdx.x; q < present; q += blockDim.x) {
      const int32_t s = t.slots[q];
      slots[q] = s;
      share[q] = shares[s];
    }
    for (int e = threadIdx.x; e < E; e += blockDim.x) {
      const int first = t.slot_offset[e], k = t.slot_offset[e + 1] - first;
      table[e] = make_int4(first, k, static_cast<int32_t>(st.counts[e]), 0);
    }
    __syncthreads();
    for (int e = threadIdx.x; e < E; e += blockDim.x) {
      const int4 x = table[e];
      lplb::detail::split_counts(share + x.x, x.y, x.z, counts + x.x, rest + x.x);
    }
    return slots + S;
  }
  __device__ int32_t pick(int e, int32_t k) const {
    const int4 x = table[e];
    return slots[x.x + lplb::detail::split_pick(k, counts + x.x, x.y, x.z)];
  }
};

}  // namespace

size_t placement_map_smem(int64_t E, int64_t S, int32_t warps) {
  return static_cast<size_t>(E * 16 + S * (8 + 8 + 8 + 4) + int64_t{warps} * E * 4);
}

void configure_placement_map_kernels() {
  configure_map_kernel<int32_t, MatchKind::kMatchAny, PlacementPick>();
  configure_map_kernel<int64_t, MatchKind::kMatchAny, PlacementPick>();
}

template <typename Id>
void launch_placement_map(const Id* ids, Id* out, const Tiling& t, const PlacementTables& tables,
                          const double* shares, const CountState& st, ErrorState* err,
                          cudaStream_t stream) {
  launch_map_kernel(ids, out, t, tables.E, PlacementPick{tables, shares, nullptr, nullptr, nullptr},
                    placement_map_smem(tables.E, tables.max_physical, t.warps), st, err, stream,
                    MatchKind::kMatchAny);
}

template void launch_placement_map<int32_t>(const int32_t*, int32_t*, const Tiling&,
                                            const PlacementTables&, const double*,
                                            const CountState&, ErrorState*, cudaStream_t);
template void launch_placement_map<int64_t>(const int64_t*, int64_t*, const Tiling&,
                                            const PlacementTables&, const double*,
                                            const CountState&, ErrorState*, cudaStream_t);

}  // namespace lplb::cuda::detail
