// Random placements and workloads for the placement planner tests (CPU and
// CUDA backends).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "test_util.hpp"

namespace lplb::test {

// A random placement: P ranks x n_local slots, E experts with 1..max_copies
// replicas each (duplicates on one rank allowed), slots shuffled.
struct RandomPlacement {
  int64_t E = 0, P = 0;
  std::vector<int32_t> phy2log;
};

inline RandomPlacement random_placement(std::mt19937_64& rng, int64_t max_p = 40, int64_t max_local = 12,
                                 int64_t max_copies = 4) {
  RandomPlacement rp;
  rp.P = std::uniform_int_distribution<int64_t>(1, max_p)(rng);
  const int64_t n_local = std::uniform_int_distribution<int64_t>(1, max_local)(rng);
  const int64_t n = rp.P * n_local;
  const int64_t min_e = (n + max_copies - 1) / max_copies;
  rp.E = std::uniform_int_distribution<int64_t>(min_e, n)(rng);
  std::vector<int64_t> count(rp.E, 1);
  int64_t left = n - rp.E;
  std::uniform_int_distribution<int64_t> pick(0, rp.E - 1);
  while (left > 0) {
    const int64_t e = pick(rng);
    if (count[e] < max_copies) {
      ++count[e];
      --left;
    }
  }
  for (int64_t e = 0; e < rp.E; ++e)
    for (int64_t k = 0; k < count[e]; ++k) rp.phy2log.push_back(static_cast<int32_t>(e));
  std::shuffle(rp.phy2log.begin(), rp.phy2log.end(), rng);
  return rp;
}

// A random absent mask (up to half the slots) that leaves every expert at
// least one present slot.
inline std::vector<uint8_t> random_absent(const RandomPlacement& rp, std::mt19937_64& rng) {
  const size_t n = rp.phy2log.size();
  std::vector<uint8_t> absent(n, 0);
  std::vector<int32_t> present(rp.E, 0);
  for (int32_t e : rp.phy2log) ++present[e];
  std::vector<size_t> order(n);
  for (size_t s = 0; s < n; ++s) order[s] = s;
  std::shuffle(order.begin(), order.end(), rng);
  const double frac = std::uniform_real_distribution<double>(0.0, 0.5)(rng);
  for (size_t s : order)
    if (std::uniform_real_distribution<double>(0.0, 1.0)(rng) < frac &&
        present[rp.phy2log[s]] > 1) {
      absent[s] = 1;
      --present[rp.phy2log[s]];
    }
  return absent;
}

inline std::vector<double> random_workload(int64_t E, std::mt19937_64& rng, bool integral = true) {
  static constexpr Skew kSkews[] = {Skew::kUniform, Skew::kZipf, Skew::kOneHot, Skew::kSparse,
                                    Skew::kZero};
  const Skew skew = kSkews[std::uniform_int_distribution<int>(0, 9)(rng) % 5];
  const double total = std::pow(10.0, std::uniform_real_distribution<double>(0.0, 6.0)(rng));
  std::vector<double> w = random_loads(E, skew, total, rng);
  if (!integral)
    for (double& x : w) x *= std::uniform_real_distribution<double>(0.5, 1.5)(rng);
  return w;
}

}  // namespace lplb::test
