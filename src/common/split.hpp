// The deterministic token split shared by the CPU and CUDA mappers.
//
// An expert with a copy receives T tokens in this batch; round(p * T) of them
// stay on the original slot. Tokens are numbered k = 0..T-1 in input order
// and the originals are spread evenly (Bresenham): token k stays iff
// floor((k+1) * n / T) > floor(k * n / T). Callers keep T < 2^31.
#pragma once

#include <cstdint>

#include "common/hd.hpp"

namespace lplb::detail {

// round(clamp(p, 0, 1) * T), half away from zero; NaN counts as 1.
LPLB_HD int64_t kept_tokens(double p, int64_t total) {
  const double q = p >= 0.0 ? (p <= 1.0 ? p : 1.0) : (p < 0.0 ? 0.0 : 1.0);
  return static_cast<int64_t>(q * static_cast<double>(total) + 0.5);
}

LPLB_HD bool stays_on_original(int64_t k, int64_t kept, int64_t total) {
  return ((k + 1) * kept) / total > (k * kept) / total;
}

}  // namespace lplb::detail
