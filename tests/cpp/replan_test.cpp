// lplb::replan (lplb/replan.hpp): the move budget, determinism, the copy
// sources, K = 0, bad input, and that a large budget approaches a full
// re-design (design_placement) on the LP objective.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "lplb/placement.hpp"
#include "lplb/placement_design.hpp"
#include "lplb/replan.hpp"
#include "test_util.hpp"

namespace lplb {
namespace {

constexpr int64_t kE = 64, kP = 8, kSlots = 80, kNode = 4;

// steps rows of noisy counts around a Zipf popularity drawn from seed.
std::vector<double> history(uint64_t seed, int64_t steps) {
  std::mt19937_64 rng(seed);
  const std::vector<double> pop = test::random_loads(kE, test::Skew::kZipf, 1e5, rng);
  std::lognormal_distribution<double> noise(0.0, 0.3);
  std::vector<double> out;
  for (int64_t t = 0; t < steps; ++t)
    for (int64_t e = 0; e < kE; ++e) out.push_back(std::floor((pop[e] + 10.0) * noise(rng)));
  return out;
}

std::vector<int32_t> designed(uint64_t seed) {
  std::mt19937_64 rng(seed);
  const std::vector<double> pop = test::random_loads(kE, test::Skew::kZipf, 1e5, rng);
  PlacementDesignOptions o;
  o.slots_per_rank = kSlots / kP;
  return design_placement(pop, {}, kP, {}, o).phy2log;
}

double lp_imbalance(const std::vector<int32_t>& phy2log, const std::vector<double>& w) {
  const PlacementPlanner planner(std::span<const int32_t>(phy2log), kE, kP);
  return planner.solve(w).optimum / (test::total_of(w) / kP);
}

TEST(Replan, RespectsTheBudgetAndKeepsEveryExpert) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const std::vector<int32_t> before = designed(seed);
    const std::vector<double> h = history(seed + 100, 30);
    for (int64_t k : {1, 2, 4, 8}) {
      const ReplanResult r = replan(before, h, 30, kE, kP, kNode, k);
      ASSERT_EQ(r.phy2log.size(), before.size());
      int64_t changed = 0;
      for (size_t s = 0; s < before.size(); ++s) changed += before[s] != r.phy2log[s];
      EXPECT_LE(changed, k);
      EXPECT_EQ(changed, static_cast<int64_t>(r.moves.size()));
      EXPECT_LE(r.objective_after, r.objective_before);
      std::vector<int> seen(kE, 0);
      for (int32_t e : r.phy2log) seen[e] = 1;
      EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), kE);
      for (const ReplanMove& m : r.moves) {
        EXPECT_EQ(r.phy2log[m.slot], m.expert);
        EXPECT_EQ(before[m.slot], m.previous);
        // The source holds the expert before and after, on a slot not rewritten.
        bool holder = false, local_exists = false;
        for (size_t s = 0; s < before.size(); ++s) {
          const bool keeps = before[s] == m.expert && r.phy2log[s] == m.expert;
          const int64_t rank = static_cast<int64_t>(s) / (kSlots / kP);
          holder |= keeps && rank == m.source_rank;
          local_exists |= keeps && rank / kNode == m.slot / (kSlots / kP) / kNode;
        }
        EXPECT_TRUE(holder) << "seed " << seed << " slot " << m.slot;
        if (local_exists) EXPECT_EQ(m.source_rank / kNode, m.slot / (kSlots / kP) / kNode);
      }
    }
  }
}

TEST(Replan, ZeroBudgetKeepsThePlacement) {
  const std::vector<int32_t> before = designed(3);
  const ReplanResult r = replan(before, history(4, 10), 10, kE, kP, kNode, 0);
  EXPECT_EQ(r.phy2log, before);
  EXPECT_TRUE(r.moves.empty());
}

TEST(Replan, DeterministicAndIdTypeIndependent) {
  const std::vector<int32_t> before = designed(5);
  const std::vector<int64_t> before64(before.begin(), before.end());
  const std::vector<double> h = history(6, 20);
  const ReplanResult a = replan(before, h, 20, kE, kP, kNode, 6);
  const ReplanResult b = replan(before, h, 20, kE, kP, kNode, 6);
  const ReplanResult c = replan(before64, h, 20, kE, kP, kNode, 6);
  EXPECT_EQ(a.phy2log, b.phy2log);
  EXPECT_EQ(a.phy2log, c.phy2log);
  ASSERT_EQ(a.moves.size(), c.moves.size());
  for (size_t k = 0; k < a.moves.size(); ++k) {
    EXPECT_EQ(a.moves[k].slot, c.moves[k].slot);
    EXPECT_EQ(a.moves[k].source_rank, c.moves[k].source_rank);
  }
}

// From a placement designed for other traffic, a large budget gets close to
// a fresh design for the new traffic (on the mean workload's LP).
TEST(Replan, LargeBudgetApproachesAFullRedesign) {
  double replanned = 0, fresh = 0, stale = 0;
  for (uint64_t seed = 0; seed < 10; ++seed) {
    const std::vector<int32_t> before = designed(seed);
    std::mt19937_64 rng(seed + 50);
    const std::vector<double> pop = test::random_loads(kE, test::Skew::kZipf, 1e5, rng);
    PlacementDesignOptions o;
    o.slots_per_rank = kSlots / kP;
    const std::vector<int32_t> redesigned = design_placement(pop, {}, kP, {}, o).phy2log;
    const ReplanResult r = replan(before, pop, 1, kE, kP, kNode, kSlots);
    replanned += lp_imbalance(r.phy2log, pop);
    fresh += lp_imbalance(redesigned, pop);
    stale += lp_imbalance(before, pop);
  }
  EXPECT_LT(replanned, stale);
  EXPECT_LE(replanned, fresh * 1.02) << "replanned " << replanned / 10 << " fresh " << fresh / 10;
}

// The noise threshold only ever refuses changes: a stricter one applies a
// prefix of the moves a laxer one applies (the greedy stops at the first
// refusal), and the objective still never rises.
TEST(Replan, NoiseThresholdKeepsAPrefixOfTheMoves) {
  for (uint64_t seed = 0; seed < 10; ++seed) {
    const std::vector<int32_t> before = designed(seed);
    const std::vector<double> h = history(seed + 300, 20);
    const ReplanResult lax = replan(before, h, 20, kE, kP, kNode, 6);
    for (double z : {0.5, 1.0, 4.0, 1e9}) {
      ReplanOptions o;
      o.noise_deviations = z;
      const ReplanResult strict = replan(before, h, 20, kE, kP, kNode, 6, o);
      ASSERT_LE(strict.moves.size(), lax.moves.size());
      for (size_t k = 0; k < strict.moves.size(); ++k) {
        EXPECT_EQ(strict.moves[k].slot, lax.moves[k].slot);
        EXPECT_EQ(strict.moves[k].expert, lax.moves[k].expert);
      }
      EXPECT_LE(strict.objective_after, strict.objective_before);
    }
  }
}

TEST(Replan, RejectsBadInput) {
  const std::vector<int32_t> p = designed(1);
  const std::vector<double> h = history(2, 3);
  using test::expect_invalid_argument;
  expect_invalid_argument([&] { replan(p, h, 3, kE, kP, kNode, -1); }, "budget");
  expect_invalid_argument([&] { replan(p, h, 3, kE, kP, 0, 1); }, "gpus_per_node");
  expect_invalid_argument([&] { replan(p, h, 0, kE, kP, kNode, 1); }, "steps");
  expect_invalid_argument([&] { replan(p, h, 4, kE, kP, kNode, 1); }, "steps");
  expect_invalid_argument([&] { replan(p, std::vector<double>(h.begin(), h.end() - 1), 3, kE, kP, kNode, 1); },
                          "history");
  std::vector<double> bad = h;
  bad[5] = -1;
  expect_invalid_argument([&] { replan(p, bad, 3, kE, kP, kNode, 1); }, "history");
  bad[5] = NAN;
  expect_invalid_argument([&] { replan(p, bad, 3, kE, kP, kNode, 1); }, "history");
  std::vector<int32_t> q = p;
  q[0] = static_cast<int32_t>(kE);
  expect_invalid_argument([&] { replan(q, h, 3, kE, kP, kNode, 1); }, "phy2log");
  expect_invalid_argument([&] { replan(p, h, 3, kE, 7, kNode, 1); }, "phy2log");
  ReplanOptions o;
  o.hedge_weight = 2;
  expect_invalid_argument([&] { replan(p, h, 3, kE, kP, kNode, 1, o); }, "options");
  o = {};
  o.noise_deviations = -1;
  expect_invalid_argument([&] { replan(p, h, 3, kE, kP, kNode, 1, o); }, "options");
  o.noise_deviations = NAN;
  expect_invalid_argument([&] { replan(p, h, 3, kE, kP, kNode, 1, o); }, "options");
  // No load at all: nothing to balance, nothing moves.
  EXPECT_TRUE(replan(p, std::vector<double>(h.size(), 0.0), 3, kE, kP, kNode, 4).moves.empty());
}

}  // namespace
}  // namespace lplb
