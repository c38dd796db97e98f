// Loading one redundancy group's LP into shared memory: the topology and the
// per-rank fixed / per-block loads of a workload[E], summed in the same order
// as the CPU backend (Planner::split_workload), so the inputs are
// bit-identical to the CPU's. Bad entries (negative, NaN, inf) are recorded,
// not trusted.
#pragma once

#include <limits.h>
#include <stdint.h>

#include "common/lp_common.hpp"
#include "cuda/device_types.cuh"
#include "cuda/id_access.cuh"
#include "lplb/cuda/planner_cuda.hpp"

namespace lplb::cuda::detail {

constexpr int kMaxSD = lplb::detail::kMaxGroupSize * lplb::detail::kMaxSlots;

struct GroupShared {
  int32_t r2o[kMaxSD];
  int32_t o2r[kMaxSD];
  double fixed[lplb::detail::kMaxGroupSize];
  double block[kMaxSD];
  double probs[kMaxSD];
  int32_t bad;  // smallest bad expert id of this group, INT_MAX if none
  // Bits of the layer's largest valid workload entry (load_group with
  // need_scale): the reference IPM's normaliser. Non-negative doubles order
  // like their bit patterns, so an integer atomicMax finds it.
  unsigned long long scale_bits;
};

// One workload entry as double; ok = finite and >= 0 (the placement solve
// reads typed arrays, the LPLB solve any type through WorkloadRef below).
__device__ __forceinline__ double load_value(int64_t v, bool& ok) {
  ok = v >= 0;
  return static_cast<double>(v);
}
__device__ __forceinline__ double load_value(double v, bool& ok) {
  ok = v >= 0.0 && lplb::detail::is_finite(v);
  return v;
}

// Entry i of a workload of any element type, through the typed rules above.
__device__ __forceinline__ double load_value(const WorkloadRef& w, int64_t i, bool& ok) {
  switch (w.type) {
    case WorkloadType::kInt32: return load_value(int64_t{static_cast<const int32_t*>(w.data)[i]}, ok);
    case WorkloadType::kInt64: return load_value(static_cast<const int64_t*>(w.data)[i], ok);
    case WorkloadType::kFloat32: return load_value(double{static_cast<const float*>(w.data)[i]}, ok);
    default: return load_value(static_cast<const double*>(w.data)[i], ok);
  }
}

// The workload of one layer.
__device__ __forceinline__ WorkloadRef layer_of(const WorkloadRef& w, int layer, int E) {
  const int64_t size = w.type == WorkloadType::kInt32 || w.type == WorkloadType::kFloat32 ? 4 : 8;
  return {static_cast<const unsigned char*>(w.data) + int64_t{layer} * E * size, w.type};
}

// A barrier over the threads of a block (kWarp: of one warp).
template <bool kWarp>
__device__ __forceinline__ void sync_group() {
  if constexpr (kWarp)
    __syncwarp();
  else
    __syncthreads();
}

// All threads of the block (kWarp: of one warp, which then owns `sh`); ends
// with a barrier (a warp barrier).
template <bool kWarp = false>
__device__ __forceinline__ void load_group(const SolveParams& p, const WorkloadRef& w, int g,
                                           GroupShared& sh, bool need_scale = false) {
  const int tid = kWarp ? threadIdx.x % 32 : threadIdx.x;
  const int nt = kWarp ? 32 : blockDim.x;
  const int S = p.S, D = p.D, SD = S * D;
  if (tid == 0) {
    sh.bad = INT_MAX;
    sh.scale_bits = 0;
  }
  for (int t = tid; t < SD; t += nt) {
    sh.r2o[t] = p.r2o[t];
    sh.o2r[t] = p.o2r[t];
  }
  sync_group<kWarp>();
  for (int t = tid; t < SD; t += nt) {
    const int d = t % D;
    const int32_t* slots = p.phy2log + (int64_t{g} * S + t / D) * p.n_local;
    double sum = 0.0;
    for (int l = d; l < p.replicated; l += D) {
      const int32_t e = slots[l];
      bool ok;
      const double v = load_value(w, e, ok);
      if (!ok) atomicMin(&sh.bad, e);
      sum += v;
    }
    sh.block[t] = sum;
  }
  for (int i = tid; i < S; i += nt) {
    const int32_t* slots = p.phy2log + (int64_t{g} * S + i) * p.n_local;
    double sum = 0.0;
    for (int l = p.replicated; l < p.n_local_logical; ++l) {
      const int32_t e = slots[l];
      bool ok;
      const double v = load_value(w, e, ok);
      if (!ok) atomicMin(&sh.bad, e);
      sum += v;
    }
    sh.fixed[i] = sum;
  }
  if (need_scale) {
    double m = 0.0;
    for (int e = tid; e < p.E; e += nt) {
      bool ok;
      const double v = load_value(w, e, ok);
      if (ok && v > m) m = v;
    }
    atomicMax(&sh.scale_bits, static_cast<unsigned long long>(__double_as_longlong(m)));
  }
  sync_group<kWarp>();
}

// The end of every solve kernel: thread 0 stores the group's result and
// counts a feasible group; every thread writes its share of the probs (and
// of the optional float32 copies of the probs and, in layer 0, of the
// workload). Call with sh_probs final and visible to the whole block
// (kWarp: to the one warp that owns the group).
template <bool kWarp = false>
__device__ __forceinline__ void write_group(const SolveParams& p, const WorkloadRef& w, int layer,
                                            int g, const double* sh_probs, const GroupResult& r) {
  const int tid = kWarp ? threadIdx.x % 32 : threadIdx.x;
  const int nt = kWarp ? 32 : blockDim.x;
  if (tid == 0) {
    if (p.results != nullptr) static_cast<GroupResult*>(p.results)[int64_t{layer} * p.G + g] = r;
    if (p.counter != nullptr && r.code != static_cast<int32_t>(lplb::detail::LpCode::kIpmFallback)) {
      if (p.counter_int64)
        atomicAdd(static_cast<unsigned long long*>(p.counter), 1ull);
      else
        atomicAdd(static_cast<int*>(p.counter), 1);
    }
  }
  const int SD = p.S * p.D;
  const int64_t base = (int64_t{layer} * p.G + g) * SD;
  for (int k = tid; k < SD; k += nt) {
    p.probs[base + k] = sh_probs[k];
    if (p.probs_f32 != nullptr) p.probs_f32[base + k] = static_cast<float>(sh_probs[k]);
  }
  if (p.workload_f32 != nullptr && layer == 0)
    for (int e = g * nt + tid; e < p.E; e += p.G * nt) {
      bool ok;
      p.workload_f32[e] = static_cast<float>(load_value(w, e, ok));
    }
}

// Records a bad workload entry (layer, expert) in the error word.
__device__ __forceinline__ void report_bad_workload(ErrorState* err, int layer, int E, int e) {
  atomicOr(&err->bits, kBadWorkloadBit);
  atomicMin(&err->first_bad_workload,
            static_cast<unsigned long long>(layer) * static_cast<unsigned long long>(E) + e);
}

}  // namespace lplb::cuda::detail
