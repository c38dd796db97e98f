// design_placement (lplb/placement_design.hpp): validity of the placements,
// the replication rule, the spread of copies, the local search's contract.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <set>
#include <vector>

#include "lplb/errors.hpp"
#include "lplb/placement.hpp"
#include "lplb/placement_design.hpp"
#include "lplb/planner.hpp"
#include "test_util.hpp"

namespace lplb {
namespace {

using test::Skew;

std::vector<int32_t> counts_of(const std::vector<int32_t>& phy2log, int64_t E) {
  std::vector<int32_t> c(E, 0);
  for (int32_t e : phy2log) ++c[e];
  return c;
}

TEST(DesignPlacement, ValidOnRandomInputs) {
  std::mt19937_64 rng(1);
  static constexpr Skew kSkews[] = {Skew::kUniform, Skew::kZipf, Skew::kOneHot, Skew::kSparse,
                                    Skew::kZero};
  for (int trial = 0; trial < 400; ++trial) {
    const int64_t P = std::uniform_int_distribution<int64_t>(1, 40)(rng);
    const int64_t E = std::uniform_int_distribution<int64_t>(1, 300)(rng);
    const int64_t n_local = (E + P - 1) / P + std::uniform_int_distribution<int64_t>(0, 4)(rng);
    const auto predicted = test::random_loads(E, kSkews[trial % 5], 1e5, rng);
    std::vector<double> deviation;
    if (trial % 2) deviation = test::random_loads(E, Skew::kUniform, 1e4, rng);
    PlacementDesignOptions o;
    o.slots_per_rank = n_local;
    o.max_copies = trial % 3 == 0 ? 0 : std::max<int64_t>(1, (P * n_local + E - 1) / E);
    const PlacementDesign d = design_placement(predicted, deviation, P, {}, o);
    ASSERT_EQ(static_cast<int64_t>(d.phy2log.size()), P * n_local);
    const auto c = counts_of(d.phy2log, E);
    const int64_t cap =
        o.max_copies > 0 ? o.max_copies : std::max(P, (P * n_local + E - 1) / E);
    for (int64_t e = 0; e < E; ++e) {
      EXPECT_GE(c[e], 1) << e;
      EXPECT_LE(c[e], cap) << e;
    }
    // A placement the planner accepts; no expert twice on a rank unless it
    // has more copies than there are ranks.
    const PlacementPlanner planner(std::span<const int32_t>(d.phy2log), E, P);
    for (int64_t r = 0; r < P; ++r) {
      std::set<int32_t> seen;
      for (int64_t k = 0; k < n_local; ++k) {
        const int32_t e = d.phy2log[r * n_local + k];
        if (c[e] <= P) EXPECT_TRUE(seen.insert(e).second) << "rank " << r << " expert " << e;
      }
    }
    EXPECT_EQ(d.phy2log, design_placement(predicted, deviation, P, {}, o).phy2log);
  }
}

TEST(DesignPlacement, CountsFollowEplbRuleOnRiskAdjustedLoad) {
  PlacementDesignOptions o;
  o.slots_per_rank = 2;
  const std::vector<double> w = {10, 1, 1, 1}, burst = {0, 0, 0, 4};
  // 3 ranks x 2 slots, 4 experts: both extra copies go to expert 0 (10/2 and
  // 10/3 > 1), on three different ranks.
  auto d = design_placement(w, {}, 3, {}, o);
  EXPECT_EQ(counts_of(d.phy2log, 4), (std::vector<int32_t>{3, 1, 1, 1}));
  EXPECT_TRUE(d.phy2log[0] == 0 || d.phy2log[1] == 0);
  EXPECT_TRUE(d.phy2log[2] == 0 || d.phy2log[3] == 0);
  EXPECT_TRUE(d.phy2log[4] == 0 || d.phy2log[5] == 0);
  // A large deviation moves a copy to the bursty expert 3 (10 + 0 vs 1 + 2 * 4).
  d = design_placement(w, burst, 3, {}, o);
  EXPECT_EQ(counts_of(d.phy2log, 4), (std::vector<int32_t>{2, 1, 1, 2}));
  o.count_deviations = 0;
  d = design_placement(w, burst, 3, {}, o);
  EXPECT_EQ(counts_of(d.phy2log, 4), (std::vector<int32_t>{3, 1, 1, 1}));
  // At most one copy per rank by default: 2 ranks cap expert 0 at 2 copies.
  o.slots_per_rank = 3;
  d = design_placement(w, {}, 2, {}, o);
  EXPECT_EQ(counts_of(d.phy2log, 4), (std::vector<int32_t>{2, 2, 1, 1}));
  // No history at all: copies spread over distinct experts.
  d = design_placement(std::vector<double>(4, 0.0), {}, 2, {}, o);
  EXPECT_EQ(counts_of(d.phy2log, 4), (std::vector<int32_t>{2, 2, 1, 1}));
}

TEST(DesignPlacement, CopiesAreSpreadAndConnected) {
  // DeepSeek-V3 sizes, near-uniform popularity: 64 experts get a second copy;
  // every rank holds 4 of those 128 replicas, and the 64 two-copy experts
  // link 32 ranks into one connected graph.
  std::mt19937_64 rng(2);
  const int64_t E = 256, P = 32, n_local = 10;
  const auto predicted = test::random_loads(E, Skew::kUniform, 1e6, rng);
  PlacementDesignOptions o;
  o.slots_per_rank = n_local;
  const PlacementDesign d = design_placement(predicted, {}, P, {}, o);
  const auto c = counts_of(d.phy2log, E);
  std::vector<int32_t> parent(P);
  std::iota(parent.begin(), parent.end(), 0);
  auto find = [&](int32_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  };
  std::vector<std::vector<int32_t>> ranks(E);
  for (int64_t r = 0; r < P; ++r) {
    int flex = 0;
    for (int64_t k = 0; k < n_local; ++k) {
      const int32_t e = d.phy2log[r * n_local + k];
      flex += c[e] >= 2;
      ranks[e].push_back(static_cast<int32_t>(r));
    }
    EXPECT_EQ(flex, 4) << "rank " << r;
  }
  for (const auto& rs : ranks)
    for (size_t k = 1; k < rs.size(); ++k) parent[find(rs[k])] = find(rs[0]);
  for (int32_t r = 0; r < P; ++r) EXPECT_EQ(find(r), find(0));
}

TEST(DesignPlacement, ClairvoyantPlacementIsNearlyBalanced) {
  // Knowing the batch, design + LP must balance a Zipf batch almost exactly.
  std::mt19937_64 rng(3);
  for (int trial = 0; trial < 20; ++trial) {
    const int64_t E = 256, P = 32;
    const auto w = test::random_loads(E, Skew::kZipf, 131072, rng);
    PlacementDesignOptions o;
    o.slots_per_rank = 10;
    const PlacementDesign d = design_placement(w, {}, P, {}, o);
    const PlacementPlanner planner(std::span<const int32_t>(d.phy2log), E, P);
    EXPECT_LT(imbalance(planner.solve(w).load_after), 1.01) << trial;
  }
}

TEST(DesignPlacement, LocalSearchNeverWorsensTheSampleObjective) {
  std::mt19937_64 rng(4);
  for (int trial = 0; trial < 6; ++trial) {
    const int64_t E = 64, P = 8;
    const auto base = test::random_loads(E, trial % 2 ? Skew::kZipf : Skew::kUniform, 1e4, rng);
    std::vector<double> samples;
    std::lognormal_distribution<double> noise(0.0, 0.4);
    for (int k = 0; k < 8; ++k)
      for (int64_t e = 0; e < E; ++e) samples.push_back(std::floor(base[e] * noise(rng)));
    PlacementDesignOptions o;
    o.slots_per_rank = 10;
    o.search_moves = 150;
    o.seed = static_cast<uint64_t>(trial);
    const PlacementDesign d = design_placement(base, {}, P, samples, o);
    EXPECT_GT(d.sample_imbalance_before, 0.99);
    EXPECT_LE(d.sample_imbalance_after, d.sample_imbalance_before);
    const auto c = counts_of(d.phy2log, E);
    for (int32_t x : c) EXPECT_GE(x, 1);
    EXPECT_EQ(std::accumulate(c.begin(), c.end(), 0), P * 10);
    // The reported figure is the planner's exact optimum, averaged.
    const PlacementPlanner planner(std::span<const int32_t>(d.phy2log), E, P);
    double sum = 0;
    for (int k = 0; k < 8; ++k) {
      const std::vector<double> w(samples.begin() + k * E, samples.begin() + (k + 1) * E);
      const auto out = planner.solve(w);
      sum += out.optimum / (std::accumulate(w.begin(), w.end(), 0.0) / P);
    }
    EXPECT_NEAR(sum / 8, d.sample_imbalance_after, 1e-9);
    EXPECT_EQ(d.phy2log, design_placement(base, {}, P, samples, o).phy2log);
  }
}

TEST(DesignPlacement, NodeLocalKeepsEveryReplicaOnItsNode) {
  std::mt19937_64 rng(5);
  for (int trial = 0; trial < 60; ++trial) {
    const int64_t N = std::uniform_int_distribution<int64_t>(1, 4)(rng);
    const int64_t P = N * std::uniform_int_distribution<int64_t>(1, 8)(rng);
    const int64_t G = N * std::uniform_int_distribution<int64_t>(1, 4)(rng);
    const int64_t E = G * std::uniform_int_distribution<int64_t>(1, 8)(rng);
    const int64_t n_local = (E + P - 1) / P + std::uniform_int_distribution<int64_t>(0, 3)(rng);
    if ((P / N) * n_local < E / N) continue;
    const auto predicted = test::random_loads(E, trial % 2 ? Skew::kZipf : Skew::kOneHot, 1e5, rng);
    PlacementDesignOptions o;
    o.slots_per_rank = n_local;
    o.num_groups = G;
    o.num_nodes = N;
    std::vector<double> samples;  // every third trial: the local search must stay node-local too
    if (trial % 3 == 0) {
      o.search_moves = 60;
      for (int k = 0; k < 4; ++k)
        for (int64_t e = 0; e < E; ++e)
          samples.push_back(std::floor(predicted[e] * std::uniform_real_distribution<double>(0.5, 1.5)(rng)));
    }
    const PlacementDesign d = design_placement(predicted, {}, P, samples, o);
    ASSERT_EQ(static_cast<int64_t>(d.phy2log.size()), P * n_local);
    std::vector<int32_t> node(E, -1), per_node(N, 0);
    const int64_t slots_per_node = (P / N) * n_local;
    for (int64_t s = 0; s < P * n_local; ++s) {
      const int32_t e = d.phy2log[s], k = static_cast<int32_t>(s / slots_per_node);
      if (node[e] < 0) {
        node[e] = k;
        ++per_node[k];
      }
      EXPECT_EQ(node[e], k) << "expert " << e << " on two nodes";
    }
    for (int64_t e = 0; e < E; ++e) EXPECT_GE(node[e], 0);
    for (int64_t k = 0; k < N; ++k) EXPECT_EQ(per_node[k], E / N);
    // Groups stay whole.
    for (int64_t e = 0; e < E; ++e) EXPECT_EQ(node[e], node[e / (E / G) * (E / G)]);
  }
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

TEST(DesignPlacement, RejectsBadInput) {
  const std::vector<double> w = {1, 2, 3, 4};
  PlacementDesignOptions o;
  o.slots_per_rank = 3;
  expect_invalid([&] { design_placement({}, {}, 2, {}, o); }, "predicted: is empty");
  expect_invalid([&] { design_placement(w, {}, 0, {}, o); }, "ep_size: must be > 0");
  expect_invalid([&] { design_placement(w, {}, 1, {}, o); }, "slots_per_rank: 1 ranks x 3");
  expect_invalid([&] { design_placement(std::vector<double>{1, NAN, 1, 1}, {}, 2, {}, o); },
                 "predicted: entry 1");
  expect_invalid([&] { design_placement(w, std::vector<double>{1, 1}, 2, {}, o); },
                 "deviation: expected 4");
  expect_invalid([&] { design_placement(w, std::vector<double>{1, 1, -1, 1}, 2, {}, o); },
                 "deviation: entry 2");
  expect_invalid([&] { design_placement(w, {}, 2, std::vector<double>{1, 2, 3}, o); },
                 "samples: length 3");
  o.max_copies = 1;
  expect_invalid([&] { design_placement(w, {}, 2, {}, o); }, "max_copies");
  o.max_copies = 0;
  o.slots_per_rank = 0;
  expect_invalid([&] { design_placement(w, {}, 2, {}, o); }, "slots_per_rank: must be > 0");
  o.slots_per_rank = 3;
  o.count_deviations = -1;
  expect_invalid([&] { design_placement(w, {}, 2, {}, o); }, "count_deviations");
  o.count_deviations = 0;
  o.num_nodes = 3;
  expect_invalid([&] { design_placement(w, {}, 2, {}, o); }, "num_nodes: must be > 0 and divide");
  o.num_nodes = 2;
  o.num_groups = 3;
  expect_invalid([&] { design_placement(w, {}, 2, {}, o); }, "num_groups: must be > 0 and divide");
  o.num_groups = 1;
  expect_invalid([&] { design_placement(w, {}, 2, {}, o); }, "cannot be shared evenly by 2 nodes");
}

}  // namespace
}  // namespace lplb
