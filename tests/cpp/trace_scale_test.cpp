// simulate --trace --tokens: every (step, layer) row rescaled to an exact
// total by largest-remainder rounding, deterministically.
#include "sim/trace_scale.hpp"

#include <gtest/gtest.h>

#include <numeric>
#include <random>

namespace lplb::sim {
namespace {

Trace random_trace(std::mt19937_64& rng, int64_t steps, int64_t layers, int64_t experts) {
  Trace t;
  t.num_steps = steps;
  t.num_layers = layers;
  t.num_experts = experts;
  t.counts.resize(steps * layers * experts);
  for (auto& c : t.counts) c = rng() % 4 == 0 ? 0 : static_cast<int64_t>(rng() % 3000);
  return t;
}

TEST(TraceScale, RowsHitTheTotalWithLargestRemainders) {
  std::mt19937_64 rng(21);
  for (int trial = 0; trial < 50; ++trial) {
    const Trace before = random_trace(rng, 1 + rng() % 4, 1 + rng() % 3, 1 + rng() % 70);
    const int64_t total = 1 + static_cast<int64_t>(rng() % 1000000);
    Trace after = before;
    scale_trace(after, total);
    const int64_t E = before.num_experts;
    for (int64_t row = 0; row < before.num_steps * before.num_layers; ++row) {
      const int64_t* b = before.counts.data() + row * E;
      const int64_t* a = after.counts.data() + row * E;
      const int64_t sum = std::accumulate(b, b + E, int64_t{0});
      if (sum == 0) {
        for (int64_t e = 0; e < E; ++e) EXPECT_EQ(a[e], 0);
        continue;
      }
      EXPECT_EQ(std::accumulate(a, a + E, int64_t{0}), total);
      // Each entry is the floor or the ceiling of its exact share, and every
      // rounded-up entry has a remainder at least that of every rounded-down one.
      __int128 min_up = -1, max_down = -1;
      for (int64_t e = 0; e < E; ++e) {
        const __int128 exact = static_cast<__int128>(b[e]) * total;
        const int64_t floor = static_cast<int64_t>(exact / sum);
        ASSERT_TRUE(a[e] == floor || a[e] == floor + 1);
        const __int128 rem = exact % sum;
        if (a[e] == floor + 1) {
          ASSERT_GT(rem, 0);
          min_up = min_up < 0 ? rem : std::min(min_up, rem);
        } else {
          max_down = std::max(max_down, rem);
        }
      }
      if (min_up >= 0) {
        EXPECT_TRUE(min_up >= max_down);
      }
    }
    Trace again = before;
    scale_trace(again, total);
    EXPECT_EQ(again.counts, after.counts);
  }
}

TEST(TraceScale, TiesGoToTheLowerExpert) {
  Trace t;
  t.num_steps = t.num_layers = 1;
  t.num_experts = 3;
  t.counts = {1, 1, 1};
  scale_trace(t, 4);  // 4/3 each: one extra unit, to expert 0
  EXPECT_EQ(t.counts, (std::vector<int64_t>{2, 1, 1}));
}

}  // namespace
}  // namespace lplb::sim
