// PlacementPlanner (lplb/placement.hpp): the exact LP over any replica
// placement against CLP, the k-replica token split, and input validation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "common/placement_split.hpp"
#include "lplb/eplb.hpp"
#include "lplb/errors.hpp"
#include "lplb/placement.hpp"
#include "lplb/placement_design.hpp"
#include "lplb/planner.hpp"
#include "placement_oracle.hpp"
#include "placement_random.hpp"
#include "test_util.hpp"

namespace lplb {
namespace {

using test::Skew;

using test::random_placement;
using test::random_workload;
using test::RandomPlacement;

double total_of(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0); }
double max_of(const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); }

// Feasibility and self-consistency of one solve.
void check_solution(const PlacementPlanner& planner, const std::vector<double>& w,
                    const PlacementSolveOutput& out) {
  const double total = total_of(w), tol = 1e-9 * std::max(1.0, total);
  ASSERT_EQ(static_cast<int64_t>(out.shares.size()), planner.num_physical());
  std::vector<double> sum(planner.num_experts(), 0.0);
  for (size_t s = 0; s < out.shares.size(); ++s) {
    ASSERT_TRUE(std::isfinite(out.shares[s]));
    ASSERT_GE(out.shares[s], 0.0);
    sum[planner.phy2log()[s]] += out.shares[s];
  }
  for (double s : sum) ASSERT_NEAR(s, 1.0, 1e-9);
  EXPECT_NEAR(total_of(out.load_after), total, tol);
  EXPECT_NEAR(total_of(out.load_before), total, tol);
  // The optimum is a lower bound that the returned shares reach.
  EXPECT_NEAR(max_of(out.load_after), out.optimum, tol);
  EXPECT_LE(max_of(out.load_after), max_of(out.load_before) + tol);
}

TEST(PlacementPlanner, MatchesClpOnRandomPlacements) {
#ifndef LPLB_HAVE_CLP
  GTEST_SKIP() << "CLP not found";
#else
  std::mt19937_64 rng(20240610);
  int checked = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    const RandomPlacement rp = random_placement(rng);
    const PlacementPlanner planner(std::span<const int32_t>(rp.phy2log), rp.E, rp.P);
    const std::vector<double> w = random_workload(rp.E, rng, trial % 3 != 0);
    const PlacementSolveOutput out = planner.solve(w);
    check_solution(planner, w, out);
    const double oracle = test::placement_lp_oracle(rp.phy2log, rp.E, rp.P, w);
    ASSERT_GE(oracle, 0.0) << "CLP failed, trial " << trial;
    EXPECT_LE(std::abs(out.optimum - oracle), 1e-6 * std::max(1.0, oracle))
        << "trial " << trial << " P=" << rp.P << " E=" << rp.E;
    ++checked;
  }
  EXPECT_EQ(checked, 3000);
#endif
}

TEST(PlacementPlanner, MatchesClpOnEplbPlacementsAtScale) {
#ifndef LPLB_HAVE_CLP
  GTEST_SKIP() << "CLP not found";
#else
  // DeepSeek-V3-like sizes: E = 256, P = 32, 288 and 320 physical slots.
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 60; ++trial) {
    const int64_t E = 256, P = 32, slots = trial % 2 ? 288 : 320;
    const std::vector<double> history = test::random_loads(E, Skew::kZipf, 1e6, rng);
    const EplbResult r = rebalance_experts(history, 1, slots, 8, 4, P);
    const PlacementPlanner planner(std::span<const int64_t>(r.phy2log), E, P);
    const std::vector<double> w = random_workload(E, rng);
    const PlacementSolveOutput out = planner.solve(w);
    check_solution(planner, w, out);
    const std::vector<int32_t> p32(r.phy2log.begin(), r.phy2log.end());
    const double oracle = test::placement_lp_oracle(p32, E, P, w);
    EXPECT_LE(std::abs(out.optimum - oracle), 1e-6 * std::max(1.0, oracle)) << trial;
  }
#endif
}

// Decode-style layouts: one or two experts per GPU, more redundant slots per
// rank than experts per rank (R > E/P), E not a multiple of P (DeepSeek-V3
// decode: 256 experts on 320 GPUs, one slot each). design_placement builds
// them and the planner's optimum matches the LP oracle.
TEST(PlacementPlanner, DecodeStyleLayoutsMatchClp) {
#ifndef LPLB_HAVE_CLP
  GTEST_SKIP() << "CLP not found";
#else
  struct Shape {
    int64_t E, P, n_local;
  };
  static constexpr Shape kShapes[] = {{256, 320, 1}, {256, 256, 2}, {256, 144, 2},
                                      {64, 64, 3},   {32, 48, 1},   {16, 8, 5}};
  std::mt19937_64 rng(320);
  for (const Shape& sh : kShapes) {
    for (int trial = 0; trial < 10; ++trial) {
      const std::vector<double> predicted =
          test::random_loads(sh.E, trial % 2 ? Skew::kZipf : Skew::kUniform, 1e6, rng);
      PlacementDesignOptions o;
      o.slots_per_rank = sh.n_local;
      const PlacementDesign d = design_placement(predicted, {}, sh.P, {}, o);
      ASSERT_EQ(static_cast<int64_t>(d.phy2log.size()), sh.P * sh.n_local);
      const PlacementPlanner planner(std::span<const int32_t>(d.phy2log), sh.E, sh.P);
      const std::vector<double> w = random_workload(sh.E, rng);
      const PlacementSolveOutput out = planner.solve(w);
      check_solution(planner, w, out);
      const double oracle = test::placement_lp_oracle(d.phy2log, sh.E, sh.P, w);
      ASSERT_GE(oracle, 0.0);
      EXPECT_LE(std::abs(out.optimum - oracle), 1e-6 * std::max(1.0, oracle))
          << "E=" << sh.E << " P=" << sh.P << " n_local=" << sh.n_local << " trial " << trial;
    }
  }
#endif
}

// Unequal slots per rank (e.g. decode layouts where some GPUs hold one
// expert and others two): padding each short rank with second copies of its
// own experts gives a planner whose optimum is the LP optimum of the
// unpadded placement (CLP on the real slot-to-rank map).
TEST(PlacementPlanner, PaddedUnequalSlotsMatchClp) {
#ifndef LPLB_HAVE_CLP
  GTEST_SKIP() << "CLP not found";
#else
  std::mt19937_64 rng(2);
  for (int trial = 0; trial < 300; ++trial) {
    const int64_t P = std::uniform_int_distribution<int64_t>(2, 24)(rng);
    const int64_t max_slots = std::uniform_int_distribution<int64_t>(1, 4)(rng);
    std::vector<std::vector<int32_t>> ranks(P);
    int64_t total = 0;
    for (auto& r : ranks) {
      r.resize(std::uniform_int_distribution<int64_t>(1, max_slots)(rng));
      total += static_cast<int64_t>(r.size());
    }
    const int64_t E = std::uniform_int_distribution<int64_t>(1, total)(rng);
    // Every expert at least once, the other slots random.
    std::vector<int32_t> flat(total);
    for (int64_t s = 0; s < total; ++s)
      flat[s] = static_cast<int32_t>(s < E ? s : std::uniform_int_distribution<int64_t>(0, E - 1)(rng));
    std::shuffle(flat.begin(), flat.end(), rng);
    std::vector<int32_t> real, rank_of, padded;
    int64_t k = 0;
    for (int64_t r = 0; r < P; ++r) {
      for (auto& e : ranks[r]) {
        e = flat[k++];
        real.push_back(e);
        rank_of.push_back(static_cast<int32_t>(r));
      }
      for (int64_t j = 0; j < max_slots; ++j)  // pad with copies of the rank's own experts
        padded.push_back(ranks[r][j % static_cast<int64_t>(ranks[r].size())]);
    }
    const PlacementPlanner planner(std::span<const int32_t>(padded), E, P);
    const std::vector<double> w = random_workload(E, rng, trial % 2 == 0);
    const PlacementSolveOutput out = planner.solve(w);
    check_solution(planner, w, out);
    const double oracle = test::placement_lp_oracle_ranks(real, rank_of, E, P, w);
    ASSERT_GE(oracle, 0.0);
    EXPECT_LE(std::abs(out.optimum - oracle), 1e-6 * std::max(1.0, oracle))
        << "trial " << trial << " P=" << P << " E=" << E;
  }
#endif
}

TEST(PlacementPlanner, AgreesWithLplbOnItsLayout) {
  // On LPLB's layout with one expert per block (C = 1) the per-expert LP is
  // LPLB's LP; with C > 1 it can only be better (no shared fraction).
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 100; ++trial) {
    PlannerOptions opt;
    opt.num_experts = 256;
    opt.ep_size = 32;
    opt.redundant_per_rank = trial % 2 ? 2 : 4;
    Planner lplb(Topology::named(trial % 3 ? "cube" : "hypercube"), opt);
    lplb.update_redundancy_mapping(test::random_loads(256, Skew::kZipf, 1e5, rng));
    const PlacementPlanner planner(std::span<const int32_t>(lplb.mapping().phy2log), 256, 32);
    const std::vector<double> w = random_workload(256, rng);
    const double ours = planner.solve(w).optimum;
    const double theirs = max_of(lplb.solve(w).load_after);
    const double tol = 1e-9 * std::max(1.0, theirs);
    if (opt.redundant_per_rank == 2)
      EXPECT_NEAR(ours, theirs, tol) << trial;
    else
      EXPECT_LE(ours, theirs + tol) << trial;
  }
}

TEST(PlacementPlanner, HandComputedCases) {
  // 2 ranks, expert 0 on both, expert 1 on rank 0 only, expert 2 on rank 1.
  const std::vector<int32_t> p = {0, 1, 0, 2};
  const PlacementPlanner planner(std::span<const int32_t>(p), 3, 2);
  auto out = planner.solve(std::vector<double>{10, 4, 0});
  EXPECT_DOUBLE_EQ(out.optimum, 7.0);
  EXPECT_DOUBLE_EQ(out.shares[0], 0.3);
  EXPECT_DOUBLE_EQ(out.shares[2], 0.7);
  // Fixed load dominates: the bound is max F.
  out = planner.solve(std::vector<double>{1, 9, 0});
  EXPECT_DOUBLE_EQ(out.optimum, 9.0);
  EXPECT_DOUBLE_EQ(out.load_after[0], 9.0);
  EXPECT_DOUBLE_EQ(out.load_after[1], 1.0);
  // Zero workload: even shares, zero loads.
  out = planner.solve(std::vector<double>{0, 0, 0});
  EXPECT_DOUBLE_EQ(out.optimum, 0.0);
  EXPECT_DOUBLE_EQ(out.shares[0], 0.5);
  // Three replicas of one expert on two ranks (two on rank 1): the rank's
  // part is split evenly between its slots.
  const std::vector<int32_t> q = {0, 1, 0, 0};
  const PlacementPlanner dup(std::span<const int32_t>(q), 2, 2);
  out = dup.solve(std::vector<double>{12, 2});
  EXPECT_DOUBLE_EQ(out.optimum, 7.0);
  EXPECT_DOUBLE_EQ(out.shares[0], 5.0 / 12.0);
  EXPECT_DOUBLE_EQ(out.shares[2], 3.5 / 12.0);
  EXPECT_DOUBLE_EQ(out.shares[3], 3.5 / 12.0);
  EXPECT_EQ(dup.max_count(), 3);
  EXPECT_EQ(dup.logcnt(), (std::vector<int32_t>{3, 1}));
  EXPECT_EQ(dup.log2phy(), (std::vector<int32_t>{0, 2, 3, 1, -1, -1}));
}

TEST(PlacementPlanner, DeterministicAndInputTypeIndependent) {
  std::mt19937_64 rng(3);
  for (int trial = 0; trial < 200; ++trial) {
    const RandomPlacement rp = random_placement(rng);
    const PlacementPlanner a(std::span<const int32_t>(rp.phy2log), rp.E, rp.P);
    const std::vector<int64_t> p64(rp.phy2log.begin(), rp.phy2log.end());
    const PlacementPlanner b(std::span<const int64_t>(p64), rp.E, rp.P);
    const std::vector<double> w = random_workload(rp.E, rng);
    std::vector<int64_t> wi(w.begin(), w.end());
    const auto x = a.solve(w), y = b.solve(wi), z = a.solve(w);
    EXPECT_EQ(x.shares, y.shares);
    EXPECT_EQ(x.shares, z.shares);
    EXPECT_EQ(x.load_after, z.load_after);
  }
}

TEST(PlacementSplit, CountsAreLargestRemainderRounding) {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (int trial = 0; trial < 20000; ++trial) {
    const int32_t k = std::uniform_int_distribution<int32_t>(1, 6)(rng);
    const int64_t T = std::uniform_int_distribution<int64_t>(0, trial % 2 ? 20 : 100000)(rng);
    std::vector<double> s(k), rest(k);
    for (double& x : s) x = u(rng) < 0.2 ? 0.0 : u(rng);
    std::vector<int64_t> c(k);
    detail::split_counts(s.data(), k, T, c.data(), rest.data());
    const double sum = std::accumulate(s.begin(), s.end(), 0.0);
    EXPECT_EQ(std::accumulate(c.begin(), c.end(), int64_t{0}), T);
    for (int32_t j = 0; j < k; ++j) {
      const double quota = sum > 0 ? s[j] / sum * T : static_cast<double>(T) / k;
      EXPECT_LT(std::abs(static_cast<double>(c[j]) - quota), 1.0 + 1e-9);
      if (s[j] == 0.0 && sum > 0) EXPECT_EQ(c[j], 0);
    }
  }
}

TEST(PlacementSplit, PickInterleavesEvenlyAndMatchesTwoReplicaRule) {
  std::mt19937_64 rng(9);
  for (int trial = 0; trial < 3000; ++trial) {
    const int32_t k = std::uniform_int_distribution<int32_t>(1, 5)(rng);
    const int64_t T = std::uniform_int_distribution<int64_t>(1, 300)(rng);
    std::vector<int64_t> c(k, 0);
    for (int64_t t = 0; t < T; ++t) ++c[std::uniform_int_distribution<int32_t>(0, k - 1)(rng)];
    std::vector<int64_t> got(k, 0), prefix0(T + 1, 0);
    for (int64_t t = 0; t < T; ++t) {
      const int32_t j = detail::split_pick(t, c.data(), k, T);
      ASSERT_GE(j, 0);
      ASSERT_LT(j, k);
      ++got[j];
      prefix0[t + 1] = prefix0[t] + (j == 0);
      if (k == 2) EXPECT_EQ(j == 0, detail::stays_on_original(t, c[0], T));
    }
    EXPECT_EQ(got, c);
    // Replica 0's tokens are spread evenly: any prefix holds floor(m c0 / T).
    for (int64_t m = 0; m <= T; ++m) EXPECT_EQ(prefix0[m], m * c[0] / T);
  }
}

TEST(PlacementPlanner, MapFollowsSharesExactly) {
  std::mt19937_64 rng(13);
  for (int trial = 0; trial < 300; ++trial) {
    const RandomPlacement rp = random_placement(rng, 16, 8);
    const PlacementPlanner planner(std::span<const int32_t>(rp.phy2log), rp.E, rp.P);
    const int64_t n_tokens = std::uniform_int_distribution<int64_t>(0, 5000)(rng);
    std::vector<int64_t> ids(n_tokens);
    const std::vector<double> pop = test::random_loads(rp.E, Skew::kZipf, 1000, rng);
    std::discrete_distribution<int64_t> pick(pop.begin(), pop.end());
    for (auto& id : ids) id = std::uniform_int_distribution<int>(0, 9)(rng) == 0 ? -1 : pick(rng);
    std::vector<int64_t> out(n_tokens), again(n_tokens);
    const PlacementSolveOutput plan = planner.run(std::span<const int64_t>(ids), out);
    planner.map(std::span<const int64_t>(ids), plan.shares, again);
    EXPECT_EQ(out, again);  // deterministic
    const auto counts = planner.count(std::span<const int64_t>(ids));
    std::vector<int64_t> per_slot(planner.num_physical(), 0);
    std::vector<double> realised(rp.P, 0.0);
    for (int64_t t = 0; t < n_tokens; ++t) {
      if (ids[t] < 0) {
        EXPECT_EQ(out[t], -1);
        continue;
      }
      ASSERT_GE(out[t], 0);
      ASSERT_LT(out[t], planner.num_physical());
      EXPECT_EQ(planner.phy2log()[out[t]], ids[t]);  // a replica of its expert
      ++per_slot[out[t]];
      realised[out[t] / planner.n_local()] += 1.0;
    }
    // Per replica: within one token of share * T.
    for (int64_t s = 0; s < planner.num_physical(); ++s)
      EXPECT_LT(std::abs(per_slot[s] - plan.shares[s] * counts[planner.phy2log()[s]]), 1.0 + 1e-9);
    for (int64_t r = 0; r < rp.P; ++r)
      EXPECT_LT(std::abs(realised[r] - plan.load_after[r]), planner.n_local() + 1e-6);
  }
}

TEST(PlacementPlanner, Int32AndInt64MapAgree) {
  const std::vector<int32_t> p = {0, 1, 2, 0, 0, 3, 1, 2};
  const PlacementPlanner planner(std::span<const int32_t>(p), 4, 2);
  std::vector<int32_t> ids32 = {0, 0, 1, -1, 2, 0, 3, 0, 0, 1};
  std::vector<int64_t> ids64(ids32.begin(), ids32.end());
  std::vector<int32_t> out32(ids32.size());
  std::vector<int64_t> out64(ids64.size());
  const auto plan = planner.run(std::span<const int32_t>(ids32), out32);
  planner.map(std::span<const int64_t>(ids64), plan.shares, out64);
  for (size_t t = 0; t < ids32.size(); ++t) EXPECT_EQ(out32[t], out64[t]);
  EXPECT_EQ(out32[3], -1);
}

template <typename F>
void expect_invalid(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "expected InvalidArgument containing '" << needle << "'";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(PlacementPlanner, RejectsBadInput) {
  using V32 = std::vector<int32_t>;
  auto make = [](V32 p, int64_t E, int64_t P) {
    return PlacementPlanner(std::span<const int32_t>(p), E, P);
  };
  expect_invalid([&] { make({0, 1, 2}, 3, 2); }, "phy2log: length 3 is not a multiple");
  expect_invalid([&] { make({}, 3, 2); }, "phy2log: is empty");
  expect_invalid([&] { make({0, 1, 3, 2}, 3, 2); }, "slot 2 holds expert 3");
  expect_invalid([&] { make({0, -1, 1, 2}, 3, 2); }, "slot 1 holds expert -1");
  expect_invalid([&] { make({0, 0, 1, 1}, 3, 2); }, "expert 2 has no replica");
  expect_invalid([&] { make({0, 1}, 0, 2); }, "num_experts: must be > 0");
  expect_invalid([&] { make({0, 1}, 2, 0); }, "ep_size: must be > 0");
  const PlacementPlanner planner = make({0, 1, 0, 2}, 3, 2);
  const double nan = std::nan(""), inf = INFINITY;
  expect_invalid([&] { planner.solve(std::vector<double>{1, 2}); }, "workload: expected 3");
  expect_invalid([&] { planner.solve(std::vector<double>{1, nan, 2}); }, "entry 1 is not finite");
  expect_invalid([&] { planner.solve(std::vector<double>{1, inf, 2}); }, "entry 1 is not finite");
  expect_invalid([&] { planner.solve(std::vector<double>{1, 2, -1}); }, "entry 2 is negative");
  expect_invalid([&] { planner.solve(std::vector<int64_t>{1, -2, 3}); }, "entry 1 is negative");
  expect_invalid([&] { planner.solve(std::vector<double>{1e300, 1e300, 1}); }, "2^53");
  std::vector<int32_t> ids = {0, 1, 5}, out(3);
  expect_invalid([&] { planner.run(std::span<const int32_t>(ids), out); },
                 "ids: entry 2 = 5 is outside [-1, 3)");
  ids = {0, 1, -2};
  expect_invalid([&] { planner.count(std::span<const int32_t>(ids)); }, "entry 2 = -2");
  ids = {0, 1, 2};
  const std::vector<double> shares = planner.even_shares();
  std::vector<int32_t> short_out(2);
  expect_invalid([&] { planner.map(std::span<const int32_t>(ids), shares, short_out); },
                 "out: expected 3");
  expect_invalid([&] { planner.map(std::span<const int32_t>(ids), std::vector<double>{1, 1}, out); },
                 "shares: expected 4");
  expect_invalid(
      [&] { planner.map(std::span<const int32_t>(ids), std::vector<double>{1, 1, nan, 1}, out); },
      "shares: entry 2");
  expect_invalid(
      [&] { planner.rank_loads(std::vector<double>{1, 1, 1}, std::vector<double>{1, -1, 1, 1}); },
      "shares: entry 1");
}

TEST(PlacementPlanner, ZeroSharesSplitEvenlyInMap) {
  const std::vector<int32_t> p = {0, 1, 0, 1};
  const PlacementPlanner planner(std::span<const int32_t>(p), 2, 2);
  std::vector<int32_t> ids = {0, 0, 0, 0, 1, 1}, out(6);
  planner.map(std::span<const int32_t>(ids), std::vector<double>{0, 0, 0, 1}, out);
  EXPECT_EQ(out, (std::vector<int32_t>{2, 0, 2, 0, 3, 3}));
}

}  // namespace
}  // namespace lplb
