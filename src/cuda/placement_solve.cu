// solve() of CudaPlacementPlanner: one block per layer. The block loads the
// placement's LP graph into shared memory, sums the item weights and fixed
// rank loads of workload[E] in the CPU backend's order (so the LP input is
// bit-identical), solves the LP (placement_pulse.cuh, or the CPU's
// common/placement_lp.hpp on one thread), and writes the shares with the
// CPU's formula: an item's arc flow over what it routed, split evenly among
// an expert's present slots on that rank.
#include <cuda_runtime.h>
#include <limits.h>

#include "common/placement_lp.hpp"
#include "common/placement_pulse.hpp"
#include "cuda/cuda_check.cuh"
#include "cuda/group_load.cuh"  // load_value, report_bad_workload
#include "cuda/placement_device.cuh"
#include "lplb/cuda/placement_planner_cuda.hpp"

namespace lplb::cuda::detail {
namespace {

__host__ __device__ constexpr size_t align8(size_t n) { return (n + 7) / 8 * 8; }

// Shared-memory carve-up; the same function sizes it on the host.
struct SolveLayout {
  size_t graph_ints;  // item_offset, item_rank, rank_offset, rank_arc, arc_item
  size_t doubles;     // weight, fixed, then the solver's arrays
  size_t bytes;
};
inline SolveLayout solve_layout(int64_t P, int64_t S, int64_t I, bool serial) {
  SolveLayout l{};
  l.graph_ints = static_cast<size_t>((I + 1) + S + (P + 1) + S + S);
  const size_t head = align8(l.graph_ints * 4) + align8(static_cast<size_t>(I + P) * 8);
  const size_t pulse = align8(static_cast<size_t>(3 * S + (I + P) + P + 32) * 8) +
                       align8(static_cast<size_t>(2 * (I + P) + 32) * 4);
  const size_t dinic = lplb::detail::placement_workspace_bytes(static_cast<int>(P),
                                                               static_cast<int>(I),
                                                               static_cast<int>(S)) + 32 * 8;
  l.bytes = head + (serial ? dinic : pulse);
  return l;
}

template <typename W>
__global__ void placement_solve_kernel(PlacementTables t, const W* __restrict__ workload,
                                       double* __restrict__ shares_out, int64_t shares_stride,
                                       PlacementResult* results, ErrorState* err, bool serial) {
  extern __shared__ __align__(16) unsigned char smem[];
  __shared__ int32_t bad;
  const int layer = blockIdx.x;
  const int E = t.E, P = t.P;
  const int S = t.header[kHdrNumPhysical], n_local = t.header[kHdrNLocal];
  const int I = t.header[kHdrNumItems], nnz = t.header[kHdrNnz];
  const W* w = workload + int64_t{layer} * E;
  double* shares = shares_out + int64_t{layer} * shares_stride;

  // Carve shared memory for the current sizes (<= the worst case sized at launch).
  int32_t* item_offset = reinterpret_cast<int32_t*>(smem);
  int32_t* item_rank = item_offset + (I + 1);
  int32_t* rank_offset = item_rank + nnz;
  int32_t* rank_arc = rank_offset + (P + 1);
  int32_t* arc_item = rank_arc + nnz;
  const size_t ints = static_cast<size_t>((I + 1) + nnz + (P + 1) + nnz + nnz);
  double* weight = reinterpret_cast<double*>(smem + align8(ints * 4));
  double* fixed = weight + I;
  unsigned char* rest = reinterpret_cast<unsigned char*>(fixed + P);

  if (threadIdx.x == 0) bad = INT_MAX;
  for (int k = threadIdx.x; k <= I; k += blockDim.x) item_offset[k] = t.item_offset[k];
  for (int k = threadIdx.x; k <= P; k += blockDim.x) rank_offset[k] = t.rank_offset[k];
  for (int k = threadIdx.x; k < nnz; k += blockDim.x) {
    item_rank[k] = t.item_rank[k];
    rank_arc[k] = t.rank_arc[k];
    arc_item[k] = t.arc_item[k];
  }
  __syncthreads();
  // Weights and fixed loads, each summed over ascending experts (as the CPU).
  for (int i = threadIdx.x; i < I; i += blockDim.x) {
    double sum = 0.0;
    for (int k = t.item_expert_offset[i]; k < t.item_expert_offset[i + 1]; ++k) {
      const int e = t.item_expert[k];
      bool ok;
      const double v = load_value(w[e], ok);
      if (!ok) atomicMin(&bad, e);
      sum += v;
    }
    weight[i] = sum;
  }
  for (int r = threadIdx.x; r < P; r += blockDim.x) {
    double sum = 0.0;
    for (int k = t.fixed_offset[r]; k < t.fixed_offset[r + 1]; ++k) {
      const int e = t.fixed_expert[k];
      bool ok;
      const double v = load_value(w[e], ok);
      if (!ok) atomicMin(&bad, e);
      sum += v;
    }
    fixed[r] = sum;
  }
  __syncthreads();

  PlacementResult res{};
  const double* flow = nullptr;
  const bool ok = bad == INT_MAX;
  if (!ok) {
    if (threadIdx.x == 0) report_bad_workload(err, layer, E, bad);
  } else if (serial) {
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
    double* d = reinterpret_cast<double*>(rest);
    st.flow = d;
    st.pfwd = d + nnz;
    st.pback = d + 2 * nnz;
    st.excess = d + 3 * nnz;
    st.sink_res = st.excess + (I + P);
    st.scratch = st.sink_res + P;
    int32_t* li = reinterpret_cast<int32_t*>(
        rest + align8(static_cast<size_t>(3 * nnz + (I + P) + P + 32) * 8));
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
  // Shares (the CPU's formula) and the realised max rank load.
  auto share_of = [&](int s) -> double {
    const int mult = t.slot_mult[s];
    if (mult == 0) return 0.0;  // absent
    const int e = t.phy2log[s];
    const double count = static_cast<double>(t.slot_offset[e + 1] - t.slot_offset[e]);
    const int a = t.slot_arc[s];
    if (!ok || a < 0) return 1.0 / count;
    const int item = arc_item[a];
    double r = 0.0;
    for (int b = item_offset[item]; b < item_offset[item + 1]; ++b) r += flow[b];
    return r > 0.0 ? flow[a] / r / mult : 1.0 / count;
  };
  for (int s = threadIdx.x; s < S; s += blockDim.x) shares[s] = share_of(s);
  double my_max = 0.0;
  for (int r = threadIdx.x; r < P; r += blockDim.x) {
    double load = 0.0;
    for (int s = r * n_local; s < (r + 1) * n_local; ++s) {
      bool fine;
      const double v = load_value(w[t.phy2log[s]], fine);
      load += fine ? v * share_of(s) : 0.0;
    }
    my_max = fmax(my_max, load);
  }
  __shared__ double red[32];
  res.max_load = lplb::detail::pulse_max(my_max, red);
  if (!ok) res.optimum = res.max_load;
  if (threadIdx.x == 0 && results != nullptr) results[layer] = res;
}

}  // namespace

size_t placement_solve_smem(int64_t P, int64_t S, int64_t I, bool serial) {
  return solve_layout(P, S, I, serial).bytes;
}

void configure_placement_kernels() {
  int device = 0, optin = 0;
  LPLB_CUDA_CHECK(cudaGetDevice(&device));
  LPLB_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  LPLB_CUDA_CHECK(cudaFuncSetAttribute(placement_solve_kernel<int64_t>,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize, optin - 1024));
  LPLB_CUDA_CHECK(cudaFuncSetAttribute(placement_solve_kernel<double>,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize, optin - 1024));
}

template <typename W>
void launch_placement_solve(const PlacementTables& t, const W* workload, int64_t num_layers,
                            double* shares, int64_t shares_stride, void* results,
                            ErrorState* err, const PlacementSolveConfig& cfg,
                            cudaStream_t stream) {
  if (num_layers <= 0) return;
  placement_solve_kernel<W><<<static_cast<unsigned>(num_layers), cfg.threads, cfg.smem, stream>>>(
      t, workload, shares, shares_stride, static_cast<PlacementResult*>(results), err, cfg.serial);
  LPLB_CUDA_CHECK_LAUNCH();
}

template void launch_placement_solve<int64_t>(const PlacementTables&, const int64_t*, int64_t,
                                              double*, int64_t, void*, ErrorState*,
                                              const PlacementSolveConfig&, cudaStream_t);
template void launch_placement_solve<double>(const PlacementTables&, const double*, int64_t,
                                             double*, int64_t, void*, ErrorState*,
                                             const PlacementSolveConfig&, cudaStream_t);

}  // namespace lplb::cuda::detail
