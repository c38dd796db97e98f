// The deterministic token split over k replicas, shared by the CPU and CUDA
// mappers of lplb/placement.hpp; for k = 2 it is exactly the rule of
// split.hpp (the first replica keeps round(p * T) tokens, spread evenly).
//
// An expert receives T tokens in this batch and has k replicas with shares
// s_0..s_{k-1}. Counts: largest-remainder rounding of s_j / sum(s) * T, so the
// counts sum to T exactly and each differs from its quota by less than one
// (ties go to the lower replica index). Which tokens: tokens are numbered
// 0..T-1 in input order; replica 0 takes its n_0 tokens spread evenly over
// 0..T-1 (Bresenham, as split.hpp); replica 1 takes its n_1 spread evenly over
// the T - n_0 tokens left, and so on. A token's replica is a pure function of
// (its number, counts), so tokens can be mapped in parallel.
#pragma once

#include <stdint.h>

#include "common/hd.hpp"
#include "common/split.hpp"

namespace lplb::detail {

// counts[0..k) from shares[0..k) for `total` tokens. Shares below zero or NaN
// count as zero; all-zero shares split evenly. k >= 1, total >= 0. `rest`
// is scratch of k doubles.
LPLB_HD void split_counts(const double* shares, int32_t k, int64_t total, int64_t* counts,
                          double* rest) {
  double sum = 0.0;
  for (int32_t j = 0; j < k; ++j) sum += shares[j] > 0.0 ? shares[j] : 0.0;
  const bool even = !(sum > 0.0);
  int64_t assigned = 0;
  for (int32_t j = 0; j < k; ++j) {
    const double s = even ? 1.0 : (shares[j] > 0.0 ? shares[j] : 0.0);
    const double quota = s / (even ? static_cast<double>(k) : sum) * static_cast<double>(total);
    int64_t n = static_cast<int64_t>(quota);  // quota >= 0: truncation is floor
    if (n > total) n = total;
    counts[j] = n;
    rest[j] = quota - static_cast<double>(n);
    assigned += n;
  }
  // Hand out the missing tokens by largest remainder (lowest index on ties);
  // take back any excess (rounding only) by smallest remainder.
  while (assigned < total) {
    int32_t best = -1;
    for (int32_t j = 0; j < k; ++j)
      if (rest[j] >= 0.0 && (best < 0 || rest[j] > rest[best])) best = j;
    if (best < 0) {  // every replica already got one more: start again
      for (int32_t j = 0; j < k; ++j) rest[j] += 1.0;
      continue;
    }
    ++counts[best];
    rest[best] -= 1.0;  // never picked again in this pass
    ++assigned;
  }
  while (assigned > total) {
    int32_t best = -1;
    for (int32_t j = 0; j < k; ++j)
      if (counts[j] > 0 && (best < 0 || rest[j] < rest[best])) best = j;
    --counts[best];
    rest[best] += 1.0;
    --assigned;
  }
}

// The replica (0..k-1) of token number `index` (0 <= index < total) given
// counts that sum to total.
LPLB_HD int32_t split_pick(int64_t index, const int64_t* counts, int32_t k, int64_t total) {
  int64_t left = total;
  for (int32_t j = 0; j + 1 < k; ++j) {
    const int64_t n = counts[j];
    if (n > 0 && stays_on_original(index, n, left)) return j;
    index -= (index * n) / left;  // tokens before it that replica j took
    left -= n;
  }
  return k - 1;
}

}  // namespace lplb::detail
