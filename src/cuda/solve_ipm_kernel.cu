// solve() with the reference IPM (common/lp_ipm.hpp): every group in one
// launch, one block per (layer, group).
//
// Two variants with bit-identical results (this file is compiled with
// --fmad=false so float expressions round exactly as on the CPU backend):
//  - kIpm: one thread runs lplb::detail::ipm_solve, the CPU backend's code.
//  - kIpmBlock: the same arithmetic spread over the block. Only independent
//    outputs are computed in parallel, and every sum keeps the serial order:
//    the Cholesky factorisation is right-looking (entry (i,j) still receives
//    its updates k = 0, 1, ..., j-1 in order), the forward solve is
//    column-oriented (same order), A^T y walks each column's rows in
//    increasing order; the backward solve stays serial.
// Normalisation follows lplb::Planner::solve (the reference): the layer's
// largest per-expert workload; an empty layer fails the IPM (probs 0.5).
#include <cuda_runtime.h>

#include "common/lp_ipm.hpp"
#include "cuda/cuda_check.cuh"
#include "cuda/group_load.cuh"
#include "cuda/launch.cuh"
#include "lplb/cuda/planner_cuda.hpp"

namespace lplb::cuda::detail {
namespace {

namespace ld = lplb::detail;

constexpr int kIpmThreads = 64;
constexpr int kIpmBlockThreads = 256;
// Dynamic shared memory used for the workspace when it fits.
constexpr size_t kIpmSharedLimit = 96 * 1024;

// Column-major copy of A (rows increasing within a column), for A^T y.
struct Csc {
  int32_t* start;  // [NV + 1]
  int32_t* row;    // [nnz]
  float* val;      // [nnz]
};

LPLB_HD size_t csc_bytes(int S, int D) {
  const size_t nv = ld::ipm_cols(S, D), nz = size_t(ld::ipm_rows(S, D)) * ld::ipm_row_nnz(D);
  return ld::aligned_bytes(nv + 1, 4) + ld::aligned_bytes(nz, 4) * 2;
}

size_t workspace_bytes(int S, int D, SolveKind kind) {
  return ld::ipm_workspace_bytes(S, D) + (kind == SolveKind::kIpmBlock ? csc_bytes(S, D) : 0);
}

__device__ Csc csc_bind(unsigned char* p, int S, int D) {
  const size_t nv = ld::ipm_cols(S, D), nz = size_t(ld::ipm_rows(S, D)) * ld::ipm_row_nnz(D);
  Csc c;
  c.start = reinterpret_cast<int32_t*>(p);
  p += ld::aligned_bytes(nv + 1, 4);
  c.row = reinterpret_cast<int32_t*>(p);
  p += ld::aligned_bytes(nz, 4);
  c.val = reinterpret_cast<float*>(p);
  return c;
}

__device__ unsigned char* group_workspace(const SolveParams& p, unsigned char* shared) {
  return p.ipm_stride == 0 ? shared : p.ipm_workspace + int64_t{blockIdx.x} * p.ipm_stride;
}

// lplb::Planner::solve's normaliser: the layer's largest workload entry.
__device__ double group_scale(const GroupShared& sh) {
  return __longlong_as_double(static_cast<long long>(sh.scale_bits));
}

// Thread 0's r is the one stored (write_group).
__device__ void write_out(const SolveParams& p, const WorkloadRef& w, int layer, int g,
                          const GroupShared& sh, const GroupResult& r) {
  write_group(p, w, layer, g, sh.probs, r);
}

__device__ GroupResult result_of(const SolveParams& p, const GroupShared& sh, ld::LpCode code) {
  GroupResult r{};
  r.max_load = ld::group_max_load_hd(p.S, p.D, sh.r2o, sh.fixed, sh.block, sh.probs);
  r.code = static_cast<int32_t>(code);
  r.rounds = ld::kIpmSteps;
  return r;
}

// Thread 0: a bad group gets probs 1 and the error word. Returns true if bad.
__device__ bool handle_bad(const SolveParams& p, int layer, GroupShared& sh) {
  if (sh.bad == INT_MAX) return false;
  if (threadIdx.x == 0) {
    report_bad_workload(p.error, layer, p.E, sh.bad);
    for (int k = 0; k < p.S * p.D; ++k) sh.probs[k] = 1.0;
  }
  return true;
}

__global__ void __launch_bounds__(kIpmThreads)
    solve_ipm_kernel(SolveParams p, WorkloadRef workload) {
  __shared__ GroupShared sh;
  __shared__ float w_scratch[kMaxSD], f_scratch[ld::kMaxGroupSize];
  extern __shared__ __align__(16) unsigned char dyn[];
  const int layer = blockIdx.x / p.G, g = blockIdx.x % p.G;
  const int S = p.S, D = p.D;
  const WorkloadRef w = layer_of(workload, layer, p.E);
  load_group(p, w, g, sh, true);
  __shared__ GroupResult result;
  if (handle_bad(p, layer, sh)) {
    if (threadIdx.x == 0) result = GroupResult{0.0, 0.0, int32_t(ld::LpCode::kTrivial), 0, 0, 0};
  } else if (threadIdx.x == 0) {
    const ld::IpmWorkspace ws = ld::ipm_workspace_bind(group_workspace(p, dyn), S, D);
    const ld::IpmInfo info = ld::ipm_solve(S, D, sh.r2o, sh.fixed, sh.block, group_scale(sh),
                                           w_scratch, f_scratch, ws, sh.probs);
    result = result_of(p, sh, info.code);
  }
  __syncthreads();
  write_out(p, w, layer, g, sh, result);
}

// ---- block-parallel variant ------------------------------------------------

// Right-looking Cholesky of ws.m (NC x NC, lower), then ws.y <- m^-1 ws.y;
// same rounding as ld::ipm_cholesky_solve.
__device__ void block_cholesky_solve(int NC, const ld::IpmWorkspace& ws) {
  float* m = ws.m;
  const int tid = threadIdx.x, nt = blockDim.x;
  for (int k = 0; k < NC; ++k) {
    const float pivot = sqrtf(m[k * NC + k]);
    for (int i = k + 1 + tid; i < NC; i += nt) m[i * NC + k] = m[i * NC + k] / pivot;
    __syncthreads();
    if (tid == 0) m[k * NC + k] = pivot;
    const int n = NC - k - 1;
    for (int idx = tid; idx < n * n; idx += nt) {
      const int i = k + 1 + idx / n, j = k + 1 + idx % n;
      if (j <= i) m[i * NC + j] -= m[i * NC + k] * m[j * NC + k];
    }
    __syncthreads();
  }
  // Forward solve, column-oriented, by warp 0.
  float* y = ws.y;
  if (tid < 32) {
    for (int k = 0; k < NC; ++k) {
      const float yk = y[k] / m[k * NC + k];
      __syncwarp();
      if (tid == 0) y[k] = yk;
      for (int i = k + 1 + tid; i < NC; i += 32) y[i] -= m[i * NC + k] * yk;
      __syncwarp();
    }
  }
  __syncthreads();
  if (tid == 0) {  // backward solve, serial order as the reference loop
    for (int i = NC - 1; i >= 0; --i) {
      float t = y[i];
      for (int k = i + 1; k < NC; ++k) t -= m[k * NC + i] * y[k];
      y[i] = t / m[i * NC + i];
    }
  }
  __syncthreads();
}

__global__ void __launch_bounds__(kIpmBlockThreads)
    solve_ipm_block_kernel(SolveParams p, WorkloadRef workload) {
  __shared__ GroupShared sh;
  __shared__ float w_scratch[kMaxSD], f_scratch[ld::kMaxGroupSize];
  __shared__ float alpha_shared, d_max_shared;
  extern __shared__ __align__(16) unsigned char dyn[];
  const int layer = blockIdx.x / p.G, g = blockIdx.x % p.G;
  const int S = p.S, D = p.D, SD = S * D;
  const int NC = ld::ipm_rows(S, D), NV = ld::ipm_cols(S, D), R = ld::ipm_row_nnz(D);
  const int tid = threadIdx.x, nt = blockDim.x;
  const WorkloadRef w = layer_of(workload, layer, p.E);
  load_group(p, w, g, sh, true);
  if (handle_bad(p, layer, sh)) {
    __syncthreads();
    write_out(p, w, layer, g, sh, GroupResult{0.0, 0.0, int32_t(ld::LpCode::kTrivial), 0, 0, 0});
    return;
  }
  const double scale = group_scale(sh);
  if (!(scale > 0.0) || !ld::is_finite(scale)) {  // as ld::ipm_solve: the reference's 0/0
    for (int k = tid; k < SD; k += nt) sh.probs[k] = 0.5;
    __syncthreads();
    GroupResult r{};
    if (tid == 0) r = result_of(p, sh, ld::LpCode::kIpmFallback);
    write_out(p, w, layer, g, sh, r);
    return;
  }
  unsigned char* buffer = group_workspace(p, dyn);
  const ld::IpmWorkspace ws = ld::ipm_workspace_bind(buffer, S, D);
  const Csc csc = csc_bind(buffer + ld::ipm_workspace_bytes(S, D), S, D);

  if (tid == 0) {  // build (as ld::ipm_solve) and the column copy of A
    for (int e = 0; e < SD; ++e) w_scratch[e] = static_cast<float>(sh.block[e] / scale);
    for (int i = 0; i < S; ++i) f_scratch[i] = static_cast<float>(sh.fixed[i] / scale);
    ld::ipm_build(S, D, sh.r2o, w_scratch, f_scratch, ws);
    for (int j = 0; j <= NV; ++j) csc.start[j] = 0;
    for (int i = 0; i < NC; ++i)
      for (int k = 0; k < ws.nnz[i]; ++k) ++csc.start[ws.col[i * R + k] + 1];
    for (int j = 0; j < NV; ++j) csc.start[j + 1] += csc.start[j];
    // Rows in increasing order keep each column sorted. ws.ax2 (rewritten
    // before its first use) holds the per-column cursors.
    int32_t* cursor = reinterpret_cast<int32_t*>(ws.ax2);
    for (int j = 0; j < NV; ++j) cursor[j] = csc.start[j];
    for (int i = 0; i < NC; ++i)
      for (int k = 0; k < ws.nnz[i]; ++k) {
        const int at = cursor[ws.col[i * R + k]]++;
        csc.row[at] = i;
        csc.val[at] = ws.val[i * R + k];
      }
  }
  __syncthreads();
  for (int j = tid; j < NV; j += nt) ws.x[j] = 1.0f;
  __syncthreads();

  float d_max = 0.0f;
  for (int step = 0; step < ld::kIpmSteps; ++step) {
    for (int i = tid; i < NC; i += nt)
      for (int k = 0; k < ws.nnz[i]; ++k) {
        const float xj = ws.x[ws.col[i * R + k]];
        ws.ax2[i * R + k] = ws.val[i * R + k] * xj * xj;
      }
    __syncthreads();
    for (int idx = tid; idx < NC * NC; idx += nt) {
      const int i = idx / NC, k = idx % NC;
      if (k > i) continue;
      const int32_t* ci = ws.col + i * R;
      const float* ai = ws.ax2 + i * R;
      const int ni = ws.nnz[i];
      const int32_t* ck = ws.col + k * R;
      const float* ak = ws.val + k * R;
      const int nk = ws.nnz[k];
      ws.m[i * NC + k] = ld::sparse_row_dot(ci, ai, ni, ck, ak, nk);
    }
    for (int i = tid; i < NC; i += nt) {
      float s = 0.0f;
      for (int k = 0; k < ws.nnz[i]; ++k) {
        const float cj = ws.c[ws.col[i * R + k]];
        if (cj != 0.0f) s += ws.ax2[i * R + k] * cj;
      }
      ws.y[i] = s;
    }
    __syncthreads();
    block_cholesky_solve(NC, ws);
    for (int j = tid; j < NV; j += nt) {
      float r = 0.0f;
      for (int q = csc.start[j]; q < csc.start[j + 1]; ++q) r += ws.y[csc.row[q]] * csc.val[q];
      ws.r[j] = r;
      ws.d[j] = ws.x[j] * (ws.c[j] - r);
    }
    __syncthreads();
    if (tid == 0) {  // the reference's quirky warp max (lp_ipm.hpp)
      d_max_shared = ld::ipm_reference_d_max(ws.d, NV);
      alpha_shared = ld::ipm_step_alpha(d_max_shared);
    }
    __syncthreads();
    d_max = d_max_shared;
    const float alpha = alpha_shared;
    for (int j = tid; j < NV; j += nt) ws.x[j] *= 1.0f - alpha * ws.d[j];
    __syncthreads();
  }

  if (tid == 0) {  // convergence test and output, as ld::ipm_iterate
    const bool ok = ld::ipm_verdict(S, D, ws, d_max).converged;
    for (int k = 0; k < SD; ++k) sh.probs[k] = ok ? static_cast<double>(ws.x[k]) : 0.5;
    alpha_shared = ok ? 1.0f : 0.0f;
  }
  __syncthreads();
  const ld::LpCode code = alpha_shared == 1.0f ? ld::LpCode::kIpmConverged : ld::LpCode::kIpmFallback;
  GroupResult r{};
  if (tid == 0) r = result_of(p, sh, code);
  write_out(p, w, layer, g, sh, r);
}

size_t shared_bytes(int S, int D, SolveKind kind) {
  const size_t bytes = workspace_bytes(S, D, kind);
  return bytes <= kIpmSharedLimit ? bytes : 0;
}

}  // namespace

void configure_solve_kernels() {
  for (auto f : {reinterpret_cast<const void*>(solve_ipm_kernel),
                 reinterpret_cast<const void*>(solve_ipm_block_kernel)})
    LPLB_CUDA_CHECK(cudaFuncSetAttribute(f, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         static_cast<int>(kIpmSharedLimit)));
}

int64_t ipm_global_stride(int S, int D, SolveKind kind) {
  if (kind == SolveKind::kExact || kind == SolveKind::kExactSerial || shared_bytes(S, D, kind) != 0)
    return 0;
  return static_cast<int64_t>((workspace_bytes(S, D, kind) + 255) / 256 * 256);
}

void launch_solve_ipm(const SolveParams& p, WorkloadRef workload, int64_t num_layers, SolveKind kind,
                      cudaStream_t stream) {
  const int64_t blocks = num_layers * p.G;
  if (blocks == 0) return;
  const size_t smem = shared_bytes(p.S, p.D, kind);
  if (kind == SolveKind::kIpmBlock)
    solve_ipm_block_kernel
        <<<static_cast<unsigned>(blocks), kIpmBlockThreads, smem, stream>>>(p, workload);
  else
    solve_ipm_kernel<<<static_cast<unsigned>(blocks), kIpmThreads, smem, stream>>>(p, workload);
  LPLB_CUDA_CHECK_LAUNCH();
}

}  // namespace lplb::cuda::detail
