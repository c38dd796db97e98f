// Pieces shared by the per-group LP solvers (lp_exact.hpp, lp_ipm.hpp) on the
// host and in CUDA kernels: status codes, size limits, the load formula.
//
// Layouts (one redundancy group, S ranks, D slots; all row-major, no padding):
//   r2o[i*D+d], o2r[i*D+d]  int32, the topology (see lplb/topology.hpp)
//   fixed[i]                tokens on rank i that cannot move, >= 0, finite
//   block[i*D+d]            tokens of block (i, d), >= 0, finite
//   probs[i*D+d]            share of block (i, d) kept on rank i
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/hd.hpp"

namespace lplb::detail {

// Largest group the CUDA kernels are sized for. The host solvers take any
// S and D for the exact solver; the reference IPM is limited to these.
constexpr int kMaxGroupSize = 64;
constexpr int kMaxSlots = 4;

// Mirrors lplb::LpStatus (lp.hpp), which is not usable from device code.
enum class LpCode : int32_t {
  kOptimal = 0,
  kIpmConverged = 1,
  kIpmFallback = 2,
  kTrivial = 3,
};

// clamp(p, 0, 1); NaN counts as 1 (keep everything), as in split.hpp.
LPLB_HD double clamp_prob(double p) {
  return p >= 0.0 ? (p <= 1.0 ? p : 1.0) : (p < 0.0 ? 0.0 : 1.0);
}

LPLB_HD bool is_finite(double v) { return v - v == 0.0; }

// load(i) = fixed[i] + sum_d p[i,d] block[i,d] + sum_d (1 - p[j,d]) block[j,d],
// j = r2o(i, d), p clamped to [0, 1]. Fixed summation order (deterministic).
LPLB_HD double group_rank_load(int i, int D, const int32_t* r2o, const double* fixed,
                               const double* block, const double* probs) {
  double sum = fixed[i];
  for (int d = 0; d < D; ++d) sum += clamp_prob(probs[i * D + d]) * block[i * D + d];
  for (int d = 0; d < D; ++d) {
    const int e = r2o[i * D + d] * D + d;
    sum += (1.0 - clamp_prob(probs[e])) * block[e];
  }
  return sum;
}

// load[i] for every rank of the group.
LPLB_HD void group_loads_hd(int S, int D, const int32_t* r2o, const double* fixed,
                            const double* block, const double* probs, double* load) {
  for (int i = 0; i < S; ++i) load[i] = group_rank_load(i, D, r2o, fixed, block, probs);
}

// max_i load(i), without a load array.
LPLB_HD double group_max_load_hd(int S, int D, const int32_t* r2o, const double* fixed,
                                 const double* block, const double* probs) {
  double best = 0.0;
  for (int i = 0; i < S; ++i) {
    const double sum = group_rank_load(i, D, r2o, fixed, block, probs);
    if (i == 0 || sum > best) best = sum;
  }
  return best;
}

// Bytes needed to carve `count` objects of `size` bytes, 8-byte aligned.
LPLB_HD constexpr size_t aligned_bytes(size_t count, size_t size) {
  return (count * size + 7) / 8 * 8;
}

}  // namespace lplb::detail
