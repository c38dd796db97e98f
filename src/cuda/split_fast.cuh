// The token split of common/split.hpp, evaluated without 64-bit division.
//
// Token k (0-based, input order) of an expert with `total` tokens, `kept` of
// which stay, stays iff floor((k+1) kept / total) > floor(k kept / total).
// With k kept = q total + r (0 <= r < total) that is r + kept >= total. q is
// estimated in double from a precomputed 1/total: for k, kept, total < 2^31
// the estimate is within 1 of floor(k kept / total) (relative error ~3.4e-16
// on a quotient < 2^31), so one correction step gives the exact r.
#pragma once

#include <stdint.h>

namespace lplb::cuda::detail {

__device__ __forceinline__ bool stays_on_original_fast(int32_t k, int32_t kept, int32_t total,
                                                       double inv_total) {
  if (kept >= total) return true;
  const unsigned long long prod =
      static_cast<unsigned long long>(static_cast<uint32_t>(k)) * static_cast<uint32_t>(kept);
  const unsigned long long q =
      static_cast<unsigned long long>(__ull2double_rn(prod) * inv_total);
  long long r = static_cast<long long>(prod - q * static_cast<unsigned long long>(total));
  if (r < 0) r += total;
  else if (r >= total) r -= total;
  return r + kept >= total;
}

}  // namespace lplb::cuda::detail
