// map(): logical -> physical ids with the deterministic split of
// common/split.hpp: the k-th token (input order) of an expert with a copy
// stays on the original iff stays_on_original(k, round(p T), T).
//
// Same tiling as count() (block b maps tile b). A block first counts each warp's ids per expert
// (shared counters), turns them into the warp's starting k per expert from
// count()'s per-tile offsets, then each warp walks its ids in input order
// (chunks of 32 lanes x kIdsPerLane, j-major), ranking equal experts among
// the lanes with a warp match, and writes the physical ids. k is therefore
// the exact occurrence index, independent of the launch configuration.
#include <cuda_runtime.h>

#include "common/split.hpp"
#include "cuda/cuda_check.cuh"
#include "cuda/id_access.cuh"
#include "cuda/launch.cuh"
#include "cuda/split_fast.cuh"

namespace lplb::cuda::detail {
namespace {

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

// Per expert, in shared memory: x = T (tokens), y = kept, z = original
// slot, w = copy slot (the original when there is none).
struct ExpertTable {
  int4* slots;
  double* inv_total;
};

template <typename Id, MatchKind kMatch>
__global__ void __launch_bounds__(kMaxWarps * 32, kTilesPerSm)
    map_kernel(const Id* __restrict__ ids, Id* __restrict__ out, Tiling t, MapTables m,
               const double* __restrict__ probs, CountState st, ErrorState* err) {
  extern __shared__ int4 smem[];
  const int32_t E = m.num_experts;
  ExpertTable table{smem, reinterpret_cast<double*>(smem + E)};
  int32_t* counters = reinterpret_cast<int32_t*>(table.inv_total + E);  // [warps][E]
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

  if (blockIdx.x == 0 && threadIdx.x == 0 && *st.counted_n != t.n)
    atomicOr(&err->bits, kStaleCountBit);
  for (int e = threadIdx.x; e < E; e += blockDim.x) {
    const int32_t total = static_cast<int32_t>(st.counts[e]);
    const int32_t pi = m.prob_index[e];
    const int32_t orig = m.log2phy[2 * e], copy = m.log2phy[2 * e + 1];
    const bool split = pi >= 0 && copy >= 0;
    double pr = split ? probs[pi] : 1.0;
    if (m.float32_probs) pr = static_cast<double>(static_cast<float>(pr));
    const int32_t kept = split ? static_cast<int32_t>(lplb::detail::kept_tokens(pr, total)) : total;
    table.slots[e] = make_int4(total, kept, orig, split ? copy : orig);
    table.inv_total[e] = total > 0 ? 1.0 / total : 0.0;
  }
  for (int k = threadIdx.x; k < t.warps * E; k += blockDim.x) counters[k] = 0;
  __syncthreads();

  // Phase A: tokens per expert in each warp's range.
  int32_t* mine = counters + warp * E;
  const WarpRange range = warp_range(t, blockIdx.x, warp);
  for_each_id_unordered(ids, range.begin, range.end, lane, [&](Id e, int64_t) {
    if (e >= 0 && e < E) atomicAdd(mine + e, 1);
  });
  __syncthreads();
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
      if (valid) {
        const int4 s = table.slots[key];
        const int32_t k = base + __popc(same & lower_lanes);
        phys = stays_on_original_fast(k, s.y, s.x, table.inv_total[key]) ? s.z : s.w;
      }
      if (pos < range.end) out[pos] = phys;
      __syncwarp();
    }
  }
}

template <typename Id, MatchKind kMatch>
void configure_one() {
  LPLB_CUDA_CHECK(cudaFuncSetAttribute(map_kernel<Id, kMatch>,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       kMapSharedBytes));
}

}  // namespace

void configure_map_kernels() {
  configure_one<int32_t, MatchKind::kMatchAny>();
  configure_one<int32_t, MatchKind::kBallot>();
  configure_one<int64_t, MatchKind::kMatchAny>();
  configure_one<int64_t, MatchKind::kBallot>();
}

template <typename Id>
void launch_map(const Id* ids, Id* out, const Tiling& t, const MapTables& tables,
                const double* probs, const CountState& st, ErrorState* err,
                cudaStream_t stream, MatchKind match) {
  const size_t smem = static_cast<size_t>(tables.num_experts) * (sizeof(int4) + sizeof(double)) +
                      static_cast<size_t>(t.warps) * tables.num_experts * sizeof(int32_t);
  if (match == MatchKind::kMatchAny)
    map_kernel<Id, MatchKind::kMatchAny>
        <<<t.num_tiles, t.warps * 32, smem, stream>>>(ids, out, t, tables, probs, st, err);
  else
    map_kernel<Id, MatchKind::kBallot>
        <<<t.num_tiles, t.warps * 32, smem, stream>>>(ids, out, t, tables, probs, st, err);
  LPLB_CUDA_CHECK_LAUNCH();
}

template void launch_map<int32_t>(const int32_t*, int32_t*, const Tiling&, const MapTables&,
                                  const double*, const CountState&, ErrorState*, cudaStream_t,
                                  MatchKind);
template void launch_map<int64_t>(const int64_t*, int64_t*, const Tiling&, const MapTables&,
                                  const double*, const CountState&, ErrorState*, cudaStream_t,
                                  MatchKind);

}  // namespace lplb::cuda::detail
