// Synthetic routing for one EP rank: `tokens` tokens, each picking `topk`
// distinct experts from a skewed popularity that all ranks share (drawn from
// `seed`) times a per-rank factor (drawn from seed and rank), so every rank
// has its own tokens. Portable: only std::mt19937_64's raw output is used
// (its sequence is fixed by the C++ standard), no std distributions.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "lplb/errors.hpp"

namespace lplb::example {

struct TokenOptions {
  int64_t experts = 0;  // E
  int64_t tokens = 0;   // tokens on this rank
  int64_t topk = 8;     // experts per token, distinct
  double skew = 1.0;    // Zipf exponent of the shared popularity
  double drop = 0.0;    // share of slots set to -1 ("no expert")
  uint64_t seed = 0;
};

inline double uniform01(std::mt19937_64& rng) {  // [0, 1), 53 random bits
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

inline uint64_t below(std::mt19937_64& rng, uint64_t n) {  // [0, n), n > 0
  return static_cast<uint64_t>(uniform01(rng) * static_cast<double>(n));
}

// ids[tokens * topk], in [-1, E), for `rank`.
inline std::vector<int64_t> synthetic_ids(const TokenOptions& o, int rank) {
  const int64_t E = o.experts;
  check_arg(E > 0, "--experts", "must be > 0");
  check_arg(o.tokens >= 0, "--tokens", "must be >= 0, got " + std::to_string(o.tokens));
  check_arg(o.topk >= 1 && o.topk <= E, "--topk",
            "must be in [1, " + std::to_string(E) + "], got " + std::to_string(o.topk));
  check_arg(std::isfinite(o.skew) && o.skew >= 0, "--skew", "must be finite and >= 0");
  check_arg(o.drop >= 0 && o.drop <= 1, "--drop", "must be in [0, 1]");

  // Shared popularity: Zipf weights on a seeded permutation of the experts.
  std::mt19937_64 shared(o.seed);
  std::vector<int64_t> perm(E);
  for (int64_t e = 0; e < E; ++e) perm[e] = e;
  for (int64_t i = E - 1; i > 0; --i)
    std::swap(perm[i], perm[below(shared, static_cast<uint64_t>(i) + 1)]);
  std::mt19937_64 rng(o.seed * 0x9e3779b97f4a7c15ull + static_cast<uint64_t>(rank) + 1);
  std::vector<double> cdf(E);
  double total = 0;
  for (int64_t i = 0; i < E; ++i) {
    const double w = std::pow(static_cast<double>(i + 1), -o.skew) * (0.5 + uniform01(rng));
    cdf[perm[i]] = w;
  }
  for (int64_t e = 0; e < E; ++e) cdf[e] = total += cdf[e];

  std::vector<int64_t> ids(static_cast<size_t>(o.tokens * o.topk));
  std::vector<int64_t> picked;
  for (int64_t t = 0; t < o.tokens; ++t) {
    picked.clear();
    for (int64_t k = 0; k < o.topk; ++k) {
      int64_t e = 0;
      for (int attempt = 0;; ++attempt) {
        e = std::upper_bound(cdf.begin(), cdf.end(), uniform01(rng) * total) - cdf.begin();
        e = std::min(e, E - 1);
        if (std::find(picked.begin(), picked.end(), e) == picked.end()) break;
        if (attempt == 64) {  // very skewed: take the next free expert
          while (std::find(picked.begin(), picked.end(), e) != picked.end()) e = (e + 1) % E;
          break;
        }
      }
      picked.push_back(e);
      ids[t * o.topk + k] = uniform01(rng) < o.drop ? -1 : e;
    }
  }
  return ids;
}

}  // namespace lplb::example
