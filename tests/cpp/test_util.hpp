// Shared helpers for the C++ tests: random topologies and workloads.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "lplb/errors.hpp"
#include "lplb/topology.hpp"

namespace lplb::test {

// A uniformly random derangement of 0..n-1 (rejection sampling).
inline std::vector<int32_t> random_derangement(int64_t n, std::mt19937_64& rng) {
  std::vector<int32_t> p(n);
  for (;;) {
    std::iota(p.begin(), p.end(), 0);
    std::shuffle(p.begin(), p.end(), rng);
    bool ok = true;
    for (int64_t i = 0; i < n && ok; ++i) ok = p[i] != i;
    if (ok) return p;
  }
}

// A random valid topology: each column an independent derangement.
inline Topology random_topology(int64_t S, int64_t D, std::mt19937_64& rng) {
  std::vector<int32_t> r2o(S * D);
  for (int64_t d = 0; d < D; ++d) {
    const auto col = random_derangement(S, rng);
    for (int64_t i = 0; i < S; ++i) r2o[i * D + d] = col[i];
  }
  return Topology(S, D, std::move(r2o), "random");
}

enum class Skew { kUniform, kZipf, kOneHot, kSparse, kZero };

// n non-negative integer-valued loads with roughly `total` tokens.
inline std::vector<double> random_loads(int64_t n, Skew skew, double total, std::mt19937_64& rng) {
  std::vector<double> w(n, 0.0);
  if (skew == Skew::kZero || n == 0) return w;
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (int64_t i = 0; i < n; ++i) {
    switch (skew) {
      case Skew::kUniform: w[i] = u(rng); break;
      case Skew::kZipf: w[i] = 1.0 / std::pow(static_cast<double>(i + 1), 1.2) * (0.5 + u(rng)); break;
      case Skew::kOneHot: w[i] = u(rng); break;
      case Skew::kSparse: w[i] = u(rng) < 0.7 ? 0.0 : u(rng); break;
      default: break;
    }
  }
  if (skew == Skew::kZipf) std::shuffle(w.begin(), w.end(), rng);
  double sum = std::accumulate(w.begin(), w.end(), 0.0);
  if (skew == Skew::kOneHot) {  // one entry holds half the tokens
    w[std::uniform_int_distribution<int64_t>(0, n - 1)(rng)] += sum;
    sum *= 2;
  }
  if (sum <= 0) return w;
  for (double& x : w) x = std::floor(x / sum * total);
  return w;
}

inline double total_of(const std::vector<double>& v) {
  return std::accumulate(v.begin(), v.end(), 0.0);
}

// f() must throw InvalidArgument whose message contains `needle`.
template <typename F>
void expect_invalid_argument(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "expected InvalidArgument containing '" << needle << "'";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

}  // namespace lplb::test
