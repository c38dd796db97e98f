// The reference solver of deepseek-ai/LPLB (lplb/resources/csrc-tmpl/
// minilp.cu, kernel_solve), reproduced as shipped, in float32, header-only
// so CUDA kernels can run it too. See docs/SOLVERS.md.
//
// The LP in standard form A x = b, x >= 0, min c^T x, with NC = S + S*D rows
// and NV = 2*S*D + S + 2 columns:
//   columns [0, SD)        x_orig(i,d): share of block (i,d) kept on rank i
//   columns [SD, 2SD)      x_rep(j,d):  share of block (j,d) sent to its copy
//   columns [2SD, 2SD+S)   slack(i)
//   column  2SD+S          z, the max load (cost 1)
//   column  NV-1           Big-M column (cost 1000), chosen so A 1 = b
//   row i < S:      sum_d w(i,d) x_orig(i,d) + sum_d w(j,d) x_rep(j,d)
//                   + slack(i) - z = -f(i),  j = r2o(i,d)
//   row S + k:      x_orig(k) + x_rep(k) = 1
// with w, f the group's loads divided by a normaliser (the reference: the
// largest per-expert count of the whole batch).
// From x = 1 it takes exactly 5 affine-scaling steps:
//   y = (A X^2 A^T)^-1 A X^2 c   (dense Cholesky, float)
//   d = X (c - A^T y),  x <- x (1 - alpha d),  alpha = 0.999 / d_max
// Quirk kept: the kernel writes `d_max = d[j] = ...` inside each warp lane's
// strided loop, so d_max is the maximum over only the last element each of
// the 32 lanes visited (0 for idle lanes): with NV >= 32 that is
// max(d[NV-32 .. NV-1]). Variables outside that window can overshoot, so
// returned probs may leave [0, 1] (the token mapping clamps them).
// Convergence test: d_max < 0.1, 0 <= x[NV-1] < 1e-4 and max |A x - b| <
// 0.05; otherwise every prob is 0.5.
//
// Sums run in increasing column (or row) order as a dense loop would; the
// structurally zero entries of A are skipped, which leaves float sums
// unchanged. One deviation: if the test passes but a returned prob is not
// finite (NaN/inf from a breakdown), we also fall back to 0.5.
#pragma once

#include <math.h>

#include "common/lp_common.hpp"

namespace lplb::detail {

constexpr int kIpmSteps = 5;

// Dot product of two sparse rows given as sorted column indices and values,
// in index order (the CPU and the block-parallel GPU IPM share this order).
LPLB_HD float sparse_row_dot(const int32_t* ci, const float* ai, int ni, const int32_t* ck,
                             const float* ak, int nk) {
  float s = 0.0f;
  for (int p = 0, q = 0; p < ni && q < nk;) {
    if (ci[p] < ck[q]) {
      ++p;
    } else if (ci[p] > ck[q]) {
      ++q;
    } else {
      s += ai[p++] * ak[q++];
    }
  }
  return s;
}

LPLB_HD constexpr int ipm_rows(int S, int D) { return S + S * D; }             // NC
LPLB_HD constexpr int ipm_cols(int S, int D) { return 2 * S * D + S + 2; }     // NV
LPLB_HD constexpr int ipm_row_nnz(int D) { return 2 * D + 3; }                 // per row, max

// Views into one caller buffer of ipm_workspace_bytes(S, D) bytes, 8-byte
// aligned (ipm_workspace_bind). A is kept as sparse rows, columns increasing.
struct IpmWorkspace {
  int32_t* nnz;   // [NC] entries per row
  int32_t* col;   // [NC * R] column indices, R = ipm_row_nnz(D)
  float* val;     // [NC * R] a(i, col)
  float* ax2;     // [NC * R] a(i, col) * x(col) * x(col)
  float* b;       // [NC]
  float* y;       // [NC] A X^2 c, then the solve's result
  float* c;       // [NV]
  float* x;       // [NV]
  float* r;       // [NV] A^T y
  float* d;       // [NV]
  float* m;       // [NC * NC] A X^2 A^T (lower triangle), then its Cholesky factor
};

LPLB_HD constexpr size_t ipm_workspace_bytes(int S, int D) {
  const size_t nc = size_t(ipm_rows(S, D)), nv = size_t(ipm_cols(S, D));
  const size_t nz = nc * size_t(ipm_row_nnz(D));
  return aligned_bytes(nc, 4) + aligned_bytes(nz, 4) * 3 + aligned_bytes(nc, 4) * 2 +
         aligned_bytes(nv, 4) * 4 + aligned_bytes(nc * nc, 4);
}

constexpr size_t kIpmWorkspaceMaxBytes = ipm_workspace_bytes(kMaxGroupSize, kMaxSlots);

LPLB_HD IpmWorkspace ipm_workspace_bind(void* buffer, int S, int D) {
  const size_t nc = size_t(ipm_rows(S, D)), nv = size_t(ipm_cols(S, D));
  const size_t nz = nc * size_t(ipm_row_nnz(D));
  unsigned char* p = static_cast<unsigned char*>(buffer);
  IpmWorkspace ws;
  ws.nnz = reinterpret_cast<int32_t*>(p);
  p += aligned_bytes(nc, 4);
  ws.col = reinterpret_cast<int32_t*>(p);
  p += aligned_bytes(nz, 4);
  ws.val = reinterpret_cast<float*>(p);
  p += aligned_bytes(nz, 4);
  ws.ax2 = reinterpret_cast<float*>(p);
  p += aligned_bytes(nz, 4);
  ws.b = reinterpret_cast<float*>(p);
  p += aligned_bytes(nc, 4);
  ws.y = reinterpret_cast<float*>(p);
  p += aligned_bytes(nc, 4);
  ws.c = reinterpret_cast<float*>(p);
  p += aligned_bytes(nv, 4);
  ws.x = reinterpret_cast<float*>(p);
  p += aligned_bytes(nv, 4);
  ws.r = reinterpret_cast<float*>(p);
  p += aligned_bytes(nv, 4);
  ws.d = reinterpret_cast<float*>(p);
  p += aligned_bytes(nv, 4);
  ws.m = reinterpret_cast<float*>(p);
  return ws;
}

struct IpmInfo {
  LpCode code = LpCode::kIpmFallback;
  float d_max = 0;         // the (quirky) d_max of the last step
  float big_m = 0;         // x[NV-1], the Big-M variable
  float max_residual = 0;  // max_i |(A x - b)_i|
};

// CUDA's fmaxf: a NaN operand loses.
LPLB_HD float ref_fmaxf(float a, float b) {
  if (a != a) return b;
  if (b != b) return a;
  return a > b ? a : b;
}

// Builds A, b, c for the normalised group. w (S*D) and f (S) are the
// normalised block and fixed loads in float.
LPLB_HD void ipm_build(int S, int D, const int32_t* r2o, const float* w, const float* f,
                       const IpmWorkspace& ws) {
  const int NC = ipm_rows(S, D), NV = ipm_cols(S, D), R = ipm_row_nnz(D);
  const int SD = S * D;
  for (int i = 0; i < S; ++i) {
    int32_t* col = ws.col + i * R;
    float* val = ws.val + i * R;
    int n = 0;
    for (int d = 0; d < D; ++d) {  // x_orig(i, d)
      col[n] = i * D + d;
      val[n++] = w[i * D + d];
    }
    const int first_rep = n;
    for (int d = 0; d < D; ++d) {  // x_rep(j, d), j = r2o(i, d); insertion-sorted by column
      const int j = r2o[i * D + d];
      int k = n++;
      while (k > first_rep && col[k - 1] > SD + j * D + d) {
        col[k] = col[k - 1];
        val[k] = val[k - 1];
        --k;
      }
      col[k] = SD + j * D + d;
      val[k] = w[j * D + d];
    }
    col[n] = 2 * SD + i;  // slack
    val[n++] = 1.0f;
    col[n] = 2 * SD + S;  // z
    val[n++] = -1.0f;
    ws.b[i] = 0.0f - f[i];
    float big = ws.b[i];  // Big-M entry: b minus the row sum, left to right
    for (int k = 0; k < n; ++k) big -= val[k];
    col[n] = NV - 1;
    val[n++] = big;
    ws.nnz[i] = n;
  }
  for (int k = 0; k < SD; ++k) {
    const int row = S + k;
    int32_t* col = ws.col + row * R;
    float* val = ws.val + row * R;
    col[0] = k;
    val[0] = 1.0f;
    col[1] = SD + k;
    val[1] = 1.0f;
    ws.b[row] = 1.0f;
    col[2] = NV - 1;
    val[2] = (1.0f - 1.0f) - 1.0f;
    ws.nnz[row] = 3;
  }
  for (int j = 0; j < NV; ++j) ws.c[j] = 0.0f;
  ws.c[NV - 2] = 1.0f;
  ws.c[NV - 1] = 1000.0f;
  (void)NC;
}

// Dense Cholesky (lower, left-looking by columns) of the NC x NC matrix in
// ws.m, then ws.y <- m^-1 ws.y. A non-positive pivot gives NaN, which the
// convergence test turns into the 0.5 fallback.
LPLB_HD void ipm_cholesky_solve(int NC, const IpmWorkspace& ws) {
  float* m = ws.m;
  for (int j = 0; j < NC; ++j) {
    float s = m[j * NC + j];
    for (int k = 0; k < j; ++k) s -= m[j * NC + k] * m[j * NC + k];
    const float pivot = sqrtf(s);
    m[j * NC + j] = pivot;
    for (int i = j + 1; i < NC; ++i) {
      float t = m[i * NC + j];
      for (int k = 0; k < j; ++k) t -= m[i * NC + k] * m[j * NC + k];
      m[i * NC + j] = t / pivot;
    }
  }
  float* y = ws.y;
  for (int i = 0; i < NC; ++i) {  // L z = y
    float t = y[i];
    for (int k = 0; k < i; ++k) t -= m[i * NC + k] * y[k];
    y[i] = t / m[i * NC + i];
  }
  for (int i = NC - 1; i >= 0; --i) {  // L^T x = z
    float t = y[i];
    for (int k = i + 1; k < NC; ++k) t -= m[k * NC + i] * y[k];
    y[i] = t / m[i * NC + i];
  }
}

// The reference's d_max, quirk kept (see the top of this file): a warp max
// in which lane t holds only the last d[j] it wrote, j = t + 32 k < NV.
// One home for the CPU solver and the CUDA kernels (bit-identity).
LPLB_HD float ipm_reference_d_max(const float* d, int NV) {
  float lane[32];
  for (int t = 0; t < 32; ++t) {
    lane[t] = 0.0f;
    for (int j = t; j < NV; j += 32) lane[t] = d[j];
  }
  for (int offset = 16; offset > 0; offset >>= 1) {
    float next[32];
    for (int t = 0; t < 32; ++t) next[t] = ref_fmaxf(lane[t], lane[t ^ offset]);
    for (int t = 0; t < 32; ++t) lane[t] = next[t];
  }
  return lane[0];
}

// The reference's step length for that d_max (computed in double, as it does).
LPLB_HD float ipm_step_alpha(float d_max) {
  return static_cast<float>(0.999 / static_cast<double>(d_max));
}

// After the last step: max |A x - b| (NaN entries are ignored by fmaxf, as
// on the GPU) and the reference's convergence test, plus finite probs.
struct IpmVerdict {
  float max_residual;
  bool converged;
};
LPLB_HD IpmVerdict ipm_verdict(int S, int D, const IpmWorkspace& ws, float d_max) {
  const int NC = ipm_rows(S, D), NV = ipm_cols(S, D), R = ipm_row_nnz(D);
  float max_residual = 0.0f;
  for (int i = 0; i < NC; ++i) {
    float s = 0.0f;
    for (int k = 0; k < ws.nnz[i]; ++k) s += ws.val[i * R + k] * ws.x[ws.col[i * R + k]];
    max_residual = ref_fmaxf(max_residual, fabsf(s - ws.b[i]));
  }
  bool ok = static_cast<double>(d_max) < 0.1 && 0.0f <= ws.x[NV - 1] &&
            static_cast<double>(ws.x[NV - 1]) < 1e-4 && static_cast<double>(max_residual) < 0.05;
  for (int k = 0; ok && k < S * D; ++k) ok = is_finite(ws.x[k]);
  return {max_residual, ok};
}

// Runs the reference IPM on the built problem; writes probs (S*D, raw x or
// the 0.5 fallback).
LPLB_HD IpmInfo ipm_iterate(int S, int D, const IpmWorkspace& ws, double* probs) {
  const int NC = ipm_rows(S, D), NV = ipm_cols(S, D), R = ipm_row_nnz(D);
  for (int j = 0; j < NV; ++j) ws.x[j] = 1.0f;
  float d_max = 0.0f;
  for (int step = 0; step < kIpmSteps; ++step) {
    for (int i = 0; i < NC; ++i)
      for (int k = 0; k < ws.nnz[i]; ++k) {
        const float xj = ws.x[ws.col[i * R + k]];
        ws.ax2[i * R + k] = ws.val[i * R + k] * xj * xj;
      }
    // m = A X^2 A^T, lower triangle: m(i, k) = sum_j ax2(i, j) a(k, j).
    for (int i = 0; i < NC; ++i) {
      const int32_t* ci = ws.col + i * R;
      const float* ai = ws.ax2 + i * R;
      const int ni = ws.nnz[i];
      for (int k = 0; k <= i; ++k) {
        const int32_t* ck = ws.col + k * R;
        const float* ak = ws.val + k * R;
        const int nk = ws.nnz[k];
        ws.m[i * NC + k] = sparse_row_dot(ci, ai, ni, ck, ak, nk);
      }
    }
    // y = A X^2 c
    for (int i = 0; i < NC; ++i) {
      float s = 0.0f;
      for (int k = 0; k < ws.nnz[i]; ++k) {
        const float cj = ws.c[ws.col[i * R + k]];
        if (cj != 0.0f) s += ws.ax2[i * R + k] * cj;
      }
      ws.y[i] = s;
    }
    ipm_cholesky_solve(NC, ws);
    // r = y^T A, rows in increasing order.
    for (int j = 0; j < NV; ++j) ws.r[j] = 0.0f;
    for (int i = 0; i < NC; ++i)
      for (int k = 0; k < ws.nnz[i]; ++k) ws.r[ws.col[i * R + k]] += ws.y[i] * ws.val[i * R + k];
    for (int j = 0; j < NV; ++j) ws.d[j] = ws.x[j] * (ws.c[j] - ws.r[j]);
    d_max = ipm_reference_d_max(ws.d, NV);
    const float alpha = ipm_step_alpha(d_max);
    for (int j = 0; j < NV; ++j) ws.x[j] *= 1.0f - alpha * ws.d[j];
  }

  const IpmVerdict verdict = ipm_verdict(S, D, ws, d_max);
  const bool ok = verdict.converged;
  IpmInfo info;
  info.d_max = d_max;
  info.big_m = ws.x[NV - 1];
  info.max_residual = verdict.max_residual;
  info.code = ok ? LpCode::kIpmConverged : LpCode::kIpmFallback;
  for (int k = 0; k < S * D; ++k) probs[k] = ok ? static_cast<double>(ws.x[k]) : 0.5;
  return info;
}

// Normalises a group by `scale` (the reference: the batch's largest
// per-expert count) and runs the IPM. w_scratch: S*D floats, f_scratch: S.
// scale must be > 0 and finite; a zero batch (scale 0) is the reference's
// 0/0: every prob 0.5, kIpmFallback.
LPLB_HD IpmInfo ipm_solve(int S, int D, const int32_t* r2o, const double* fixed,
                          const double* block, double scale, float* w_scratch,
                          float* f_scratch, const IpmWorkspace& ws, double* probs) {
  if (!(scale > 0.0) || !is_finite(scale)) {
    IpmInfo info;
    for (int k = 0; k < S * D; ++k) probs[k] = 0.5;
    return info;
  }
  for (int e = 0; e < S * D; ++e) w_scratch[e] = static_cast<float>(block[e] / scale);
  for (int i = 0; i < S; ++i) f_scratch[i] = static_cast<float>(fixed[i] / scale);
  ipm_build(S, D, r2o, w_scratch, f_scratch, ws);
  return ipm_iterate(S, D, ws, probs);
}

}  // namespace lplb::detail
