// solve() of CudaPlacementPlanner: one block per layer. The block loads the
// placement's LP graph into shared memory, sums the item weights and fixed
// rank loads of workload[E] in the CPU backend's order (so the LP input is
// bit-identical), solves the LP (placement_pulse.cuh, or the CPU's
// common/placement_lp.hpp on one thread), and writes the shares with the
// CPU's formula: an item's arc flow over what it routed, split evenly among
// an expert's present slots on that rank.
#include <cuda_runtime.h>
#include <limits.h>

#include <algorithm>

#include "common/placement_lp.hpp"
#include "common/placement_pulse.hpp"
#include "cuda/cuda_check.cuh"
#include "cuda/group_load.cuh"  // load_value, report_bad_workload
#include "cuda/placement_device.cuh"
#include "lplb/cuda/placement_planner_cuda.hpp"

namespace lplb::cuda::detail {
namespace {

__host__ __device__ constexpr size_t align8(size_t n) { return (n + 7) / 8 * 8; }

// Shared-memory carve-up for sizes E, P, S slots, I items, nnz arcs: the
// kernel carves with the current sizes, the host sizes the launch with the
// worst case (nnz <= S), from the same function.
struct SolveCarve {
  size_t item_offset, item_rank, rank_offset, rank_arc, arc_item;  // the LP graph
  size_t phy2log, slot_mult, slot_arc, slot_offset;                // per slot / expert
  size_t item_expert_offset, item_expert, fixed_offset, fixed_expert;
  size_t rank_item;                   // [nnz] arc_item[rank_arc[k]] (kSolveRankItem)
  size_t wl, weight, fixed, contrib;  // doubles: workload [E], [I], [P], per-slot load [S]
  size_t solver;                      // the solver's arrays from here
  size_t bytes;
};
// bulk_ints > 0: the tables are the verbatim placement block (bulk_ints
// ints, worst-case offsets) at the start instead of one array each.
__host__ __device__ inline SolveCarve solve_carve(int64_t E, int64_t P, int64_t S, int64_t I,
                                                  int64_t nnz, bool serial, size_t bulk_ints) {
  SolveCarve c{};
  size_t at = bulk_ints > 0 ? (bulk_ints * 4 + 15) / 16 * 16 : 0;
  auto ints = [&at](int64_t n) {
    const size_t here = at;
    at += static_cast<size_t>(n) * 4;
    return here;
  };
  auto doubles = [&at](int64_t n) {
    at = align8(at);
    const size_t here = at;
    at += static_cast<size_t>(n) * 8;
    return here;
  };
  if (bulk_ints == 0) {
    c.item_offset = ints(I + 1);
    c.item_rank = ints(nnz);
    c.rank_offset = ints(P + 1);
    c.rank_arc = ints(nnz);
    c.arc_item = ints(nnz);
    c.phy2log = ints(S);
    c.slot_mult = ints(S);
    c.slot_arc = ints(S);
    c.slot_offset = ints(E + 1);
    c.item_expert_offset = ints(I + 1);
    c.item_expert = ints(E);
    c.fixed_offset = ints(P + 1);
    c.fixed_expert = ints(E);
  }
  c.rank_item = ints(nnz);
  c.wl = doubles(E);
  c.weight = doubles(I);
  c.fixed = doubles(P);
  c.contrib = doubles(S);
  c.solver = align8(at);
  const size_t pulse = align8(static_cast<size_t>(3 * nnz + (I + P) + P + 64) * 8) +
                       align8(static_cast<size_t>(2 * (I + P) + 32) * 4);
  const size_t dinic = lplb::detail::placement_workspace_bytes(
                           static_cast<int>(P), static_cast<int>(I), static_cast<int>(nnz)) +
                       32 * 8;
  c.bytes = c.solver + (serial ? dinic : pulse);
  return c;
}

__device__ __forceinline__ void load_ints(int32_t* dst, const int32_t* __restrict__ src, int n) {
  for (int k = threadIdx.x; k < n; k += blockDim.x) dst[k] = src[k];
}

// n ints from a 16-byte aligned src: 16-byte loads, kDepth per thread issued
// before any store, so the whole copy waits on one memory latency (the
// per-array loops above wait on one each).
__device__ __forceinline__ void copy_block(int32_t* dst, const int32_t* __restrict__ src, int n) {
  constexpr int kDepth = 8;
  const int n4 = n / 4;
  const int4* s4 = reinterpret_cast<const int4*>(src);
  int4* d4 = reinterpret_cast<int4*>(dst);
  for (int base = 0; base < n4; base += kDepth * static_cast<int>(blockDim.x)) {
    int4 r[kDepth];
#pragma unroll
    for (int j = 0; j < kDepth; ++j) {
      const int k = base + j * static_cast<int>(blockDim.x) + static_cast<int>(threadIdx.x);
      if (k < n4) r[j] = __ldg(s4 + k);
    }
#pragma unroll
    for (int j = 0; j < kDepth; ++j) {
      const int k = base + j * static_cast<int>(blockDim.x) + static_cast<int>(threadIdx.x);
      if (k < n4) d4[k] = r[j];
    }
  }
  for (int k = 4 * n4 + static_cast<int>(threadIdx.x); k < n; k += blockDim.x) dst[k] = src[k];
}

// kSerial is a template argument so that the block-parallel kernel carries
// none of the serial solver's code (a smaller kernel, fewer registers).
template <typename W, bool kSerial>
__global__ void placement_solve_kernel(PlacementTables t, const W* __restrict__ workload,
                                       double* __restrict__ shares_out, int64_t shares_stride,
                                       PlacementResult* results, ErrorState* err, int features) {
  constexpr bool serial = kSerial;
  const bool bulk = (features & kSolveBulkLoad) != 0;
  extern __shared__ __align__(16) unsigned char smem[];
  __shared__ int32_t bad;
  __shared__ double red[32];
  const int layer = blockIdx.x;
  const int E = t.E, P = t.P;
  const W* w = workload + int64_t{layer} * E;
  double* shares = shares_out + int64_t{layer} * shares_stride;
  const int block_ints = bulk ? static_cast<int>(placement_block_ints(E, P, t.max_physical,
                                                                     t.max_items))
                              : 0;
  // Bulk: the workload's first entries and the whole block are loaded
  // before anything waits (the header included, so no dependent load).
  constexpr int kWlDepth = 4;
  W wv[kWlDepth];
  if (bulk) {
    if (threadIdx.x == 0) bad = INT_MAX;
#pragma unroll
    for (int j = 0; j < kWlDepth; ++j) {
      const int e = static_cast<int>(threadIdx.x) + j * static_cast<int>(blockDim.x);
      if (e < E) wv[j] = w[e];
    }
    copy_block(reinterpret_cast<int32_t*>(smem), t.header, block_ints);
    __syncthreads();
    t = placement_tables(reinterpret_cast<int32_t*>(smem), E, P, t.max_physical, t.max_items,
                         t.max_replicas);
  }
  const int S = t.header[kHdrNumPhysical], n_local = t.header[kHdrNLocal];
  const int I = t.header[kHdrNumItems], nnz = t.header[kHdrNnz];

  // Everything the solve reads goes to shared memory first, in independent
  // coalesced loads (dependent global loads per slot or expert cost more
  // than the whole flow on typical inputs).
  const SolveCarve c = solve_carve(E, P, S, I, nnz, serial, block_ints);
  auto ints_at = [&](size_t off) { return reinterpret_cast<int32_t*>(smem + off); };
  auto doubles_at = [&](size_t off) { return reinterpret_cast<double*>(smem + off); };
  // Bulk: the views into the copied block (const_cast: the block is this
  // kernel's own shared copy; only the per-array load below writes them).
  auto pick = [&](size_t off, const int32_t* in_block) {
    return bulk ? const_cast<int32_t*>(in_block) : ints_at(off);
  };
  int32_t* item_offset = pick(c.item_offset, t.item_offset);
  int32_t* item_rank = pick(c.item_rank, t.item_rank);
  int32_t* rank_offset = pick(c.rank_offset, t.rank_offset);
  int32_t* rank_arc = pick(c.rank_arc, t.rank_arc);
  int32_t* arc_item = pick(c.arc_item, t.arc_item);
  int32_t* phy2log = pick(c.phy2log, t.phy2log);
  int32_t* slot_mult = pick(c.slot_mult, t.slot_mult);
  int32_t* slot_arc = pick(c.slot_arc, t.slot_arc);
  int32_t* slot_offset = pick(c.slot_offset, t.slot_offset);
  int32_t* item_expert_offset = pick(c.item_expert_offset, t.item_expert_offset);
  int32_t* item_expert = pick(c.item_expert, t.item_expert);
  int32_t* fixed_offset = pick(c.fixed_offset, t.fixed_offset);
  int32_t* fixed_expert = pick(c.fixed_expert, t.fixed_expert);
  int32_t* rank_item = ints_at(c.rank_item);
  double* wl = doubles_at(c.wl);
  double* weight = doubles_at(c.weight);
  double* fixed = doubles_at(c.fixed);
  double* contrib = doubles_at(c.contrib);
  unsigned char* rest = smem + c.solver;

  if (bulk) {
#pragma unroll
    for (int j = 0; j < kWlDepth; ++j) {
      const int e = static_cast<int>(threadIdx.x) + j * static_cast<int>(blockDim.x);
      if (e < E) {
        bool ok;
        wl[e] = load_value(wv[j], ok);
        if (!ok) atomicMin(&bad, e);
      }
    }
    for (int e = threadIdx.x + kWlDepth * blockDim.x; e < E; e += blockDim.x) {
      bool ok;
      wl[e] = load_value(w[e], ok);
      if (!ok) atomicMin(&bad, e);
    }
  } else {
    if (threadIdx.x == 0) bad = INT_MAX;
    __syncthreads();
    load_ints(item_offset, t.item_offset, I + 1);
    load_ints(item_rank, t.item_rank, nnz);
    load_ints(rank_offset, t.rank_offset, P + 1);
    load_ints(rank_arc, t.rank_arc, nnz);
    load_ints(arc_item, t.arc_item, nnz);
    load_ints(phy2log, t.phy2log, S);
    load_ints(slot_mult, t.slot_mult, S);
    load_ints(slot_arc, t.slot_arc, S);
    load_ints(slot_offset, t.slot_offset, E + 1);
    load_ints(item_expert_offset, t.item_expert_offset, I + 1);
    load_ints(item_expert, t.item_expert, E);
    load_ints(fixed_offset, t.fixed_offset, P + 1);
    load_ints(fixed_expert, t.fixed_expert, E);
    for (int e = threadIdx.x; e < E; e += blockDim.x) {
      bool ok;
      wl[e] = load_value(w[e], ok);
      if (!ok) atomicMin(&bad, e);
    }
  }
  __syncthreads();
  const bool use_rank_item = (features & kSolveRankItem) != 0 && !kSerial;
  if (use_rank_item)
    for (int k = threadIdx.x; k < nnz; k += blockDim.x) rank_item[k] = arc_item[rank_arc[k]];
  // Weights and fixed loads, each summed over ascending experts (as the CPU).
  for (int i = threadIdx.x; i < I; i += blockDim.x) {
    double sum = 0.0;
    for (int k = item_expert_offset[i]; k < item_expert_offset[i + 1]; ++k) sum += wl[item_expert[k]];
    weight[i] = sum;
  }
  for (int r = threadIdx.x; r < P; r += blockDim.x) {
    double sum = 0.0;
    for (int k = fixed_offset[r]; k < fixed_offset[r + 1]; ++k) sum += wl[fixed_expert[k]];
    fixed[r] = sum;
  }
  __syncthreads();

  PlacementResult res{};
  const double* flow = nullptr;
  const bool ok = bad == INT_MAX && (features & kSolveProfileNoLp) == 0;
  if (bad != INT_MAX) {
    if (threadIdx.x == 0) report_bad_workload(err, layer, E, bad);
  } else if (!ok) {
    // kSolveProfileNoLp: even split, no LP (times the fixed cost).
  } else if constexpr (serial) {
    const lplb::detail::PlacementGraph g{P, I, item_offset, item_rank, rank_offset, rank_arc,
                                         arc_item};
    const lplb::detail::PlacementWorkspace ws =
        lplb::detail::placement_workspace_bind(rest, P, I, nnz);
    double* info_out = reinterpret_cast<double*>(
        rest + lplb::detail::placement_workspace_bytes(P, I, nnz));
    if (threadIdx.x == 0) {
      const lplb::detail::PlacementInfo info = lplb::detail::placement_solve(g, ws, weight, fixed);
      info_out[0] = info.bound;
      info_out[1] = info.leftover;
      info_out[2] = info.rounds;
    }
    __syncthreads();
    res.optimum = info_out[0];
    res.leftover = info_out[1];
    res.rounds = static_cast<int32_t>(info_out[2]);
    flow = ws.flow;
  } else {
    lplb::detail::PulseState st{};
    st.I = I;
    st.P = P;
    st.item_offset = item_offset;
    st.item_rank = item_rank;
    st.rank_offset = rank_offset;
    st.rank_arc = rank_arc;
    st.arc_item = arc_item;
    st.weight = weight;
    st.fixed = fixed;
    st.early_exit = (features & kSolveEarlyExit) != 0;
    st.fused_stats = (features & kSolveFusedStats) != 0;
    st.rank_item = use_rank_item ? rank_item : nullptr;
    st.bfs_early_stop = (features & kSolveBfsEarlyStop) != 0;
    double* d = reinterpret_cast<double*>(rest);
    st.flow = d;
    st.pfwd = d + nnz;
    st.pback = d + 2 * nnz;
    st.excess = d + 3 * nnz;
    st.sink_res = st.excess + (I + P);
    st.scratch = st.sink_res + P;
    int32_t* li = reinterpret_cast<int32_t*>(
        rest + align8(static_cast<size_t>(3 * nnz + (I + P) + P + 64) * 8));
    st.lab0 = li;
    st.lab1 = li + (I + P);
    st.iscratch = li + 2 * (I + P);
    const lplb::detail::PulseInfo info = lplb::detail::pulse_solve(st);
    res.optimum = info.bound;
    res.leftover = info.leftover;
    res.rounds = info.rounds;
    res.pulses = info.pulses;
    res.relabels = info.relabels;
    res.code = info.code;
    flow = st.flow;
  }
  __syncthreads();

  // Shares (the CPU's formula), and each slot's load for the realised max.
  for (int s = threadIdx.x; s < S; s += blockDim.x) {
    const int mult = slot_mult[s];
    const int e = phy2log[s];
    double share = 0.0;  // absent
    if (mult > 0) {
      const double count = static_cast<double>(slot_offset[e + 1] - slot_offset[e]);
      const int a = slot_arc[s];
      share = 1.0 / count;
      if (ok && a >= 0) {
        const int item = arc_item[a];
        double r = 0.0;
        for (int b = item_offset[item]; b < item_offset[item + 1]; ++b) r += flow[b];
        if (r > 0.0) share = flow[a] / r / mult;
      }
    }
    shares[s] = share;
    contrib[s] = ok ? wl[e] * share : 0.0;
  }
  __syncthreads();
  double my_max = 0.0;
  for (int r = threadIdx.x; r < P; r += blockDim.x) {
    double load = 0.0;
    for (int s = r * n_local; s < (r + 1) * n_local; ++s) load += contrib[s];
    my_max = fmax(my_max, load);
  }
  res.max_load = lplb::detail::pulse_max(my_max, red);
  if (!ok) res.optimum = res.max_load;
  if (threadIdx.x == 0 && results != nullptr) results[layer] = res;
}

}  // namespace

size_t placement_solve_smem(int64_t E, int64_t P, int64_t S, int64_t I, bool serial) {
  // Enough for either load path.
  return std::max(solve_carve(E, P, S, I, S, serial, 0).bytes,
                  solve_carve(E, P, S, I, S, serial, placement_block_ints(E, P, S, I)).bytes);
}

void configure_placement_kernels() {
  int device = 0, optin = 0;
  LPLB_CUDA_CHECK(cudaGetDevice(&device));
  LPLB_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  const void* kernels[] = {
      reinterpret_cast<const void*>(placement_solve_kernel<int64_t, false>),
      reinterpret_cast<const void*>(placement_solve_kernel<int64_t, true>),
      reinterpret_cast<const void*>(placement_solve_kernel<double, false>),
      reinterpret_cast<const void*>(placement_solve_kernel<double, true>),
  };
  for (const void* k : kernels)
    LPLB_CUDA_CHECK(
        cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, optin - 1024));
}

template <typename W>
void launch_placement_solve(const PlacementTables& t, const W* workload, int64_t num_layers,
                            double* shares, int64_t shares_stride, void* results,
                            ErrorState* err, const PlacementSolveConfig& cfg,
                            cudaStream_t stream) {
  if (num_layers <= 0) return;
  const auto kernel = cfg.serial ? placement_solve_kernel<W, true> : placement_solve_kernel<W, false>;
  kernel<<<static_cast<unsigned>(num_layers), cfg.threads, cfg.smem, stream>>>(
      t, workload, shares, shares_stride, static_cast<PlacementResult*>(results), err,
      cfg.features);
  LPLB_CUDA_CHECK_LAUNCH();
}

template void launch_placement_solve<int64_t>(const PlacementTables&, const int64_t*, int64_t,
                                              double*, int64_t, void*, ErrorState*,
                                              const PlacementSolveConfig&, cudaStream_t);
template void launch_placement_solve<double>(const PlacementTables&, const double*, int64_t,
                                             double*, int64_t, void*, ErrorState*,
                                             const PlacementSolveConfig&, cudaStream_t);

}  // namespace lplb::cuda::detail
