// PlacementPlanner with absent slots (slots being refilled): the LP optimum
// against CLP with those slots forced to zero, shares and map() never
// touching an absent slot, the even split over present slots only, and the
// mask's validation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "lplb/errors.hpp"
#include "lplb/placement.hpp"
#include "placement_oracle.hpp"
#include "placement_random.hpp"
#include "test_util.hpp"

namespace lplb {
namespace {

using test::random_absent;
using test::random_placement;
using test::random_workload;
using test::RandomPlacement;

double max_of(const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); }

TEST(PlacementAbsent, MatchesClpWithAbsentSlotsForcedToZero) {
#ifndef LPLB_HAVE_CLP
  GTEST_SKIP() << "CLP not found";
#else
  std::mt19937_64 rng(77001);
  for (int trial = 0; trial < 1500; ++trial) {
    const RandomPlacement rp = random_placement(rng);
    const std::vector<uint8_t> absent = random_absent(rp, rng);
    const PlacementPlanner planner(std::span<const int32_t>(rp.phy2log), rp.E, rp.P,
                                   std::span<const uint8_t>(absent));
    const std::vector<double> w = random_workload(rp.E, rng, trial % 3 != 0);
    const PlacementSolveOutput out = planner.solve(w);
    const double oracle = test::placement_lp_oracle(rp.phy2log, rp.E, rp.P, w, absent);
    ASSERT_GE(oracle, 0.0) << "CLP failed, trial " << trial;
    EXPECT_LE(std::abs(out.optimum - oracle), 1e-6 * std::max(1.0, oracle)) << trial;
    const double total = std::max(1.0, test::total_of(w));
    EXPECT_NEAR(max_of(out.load_after), out.optimum, 1e-9 * total) << trial;
    // Shares: 0 on absent slots, each expert's sum 1.
    std::vector<double> sum(rp.E, 0.0);
    for (size_t s = 0; s < absent.size(); ++s) {
      if (absent[s]) {
        EXPECT_EQ(out.shares[s], 0.0) << trial;
      }
      sum[rp.phy2log[s]] += out.shares[s];
    }
    for (double x : sum) ASSERT_NEAR(x, 1.0, 1e-9) << trial;
  }
#endif
}

TEST(PlacementAbsent, MapAndCountsNeverUseAnAbsentSlot) {
  std::mt19937_64 rng(77002);
  for (int trial = 0; trial < 300; ++trial) {
    const RandomPlacement rp = random_placement(rng);
    const std::vector<uint8_t> absent = random_absent(rp, rng);
    const PlacementPlanner planner(std::span<const int32_t>(rp.phy2log), rp.E, rp.P,
                                   std::span<const uint8_t>(absent));
    std::vector<int32_t> ids(2000);
    std::uniform_int_distribution<int32_t> pick(-1, static_cast<int32_t>(rp.E - 1));
    for (int32_t& id : ids) id = pick(rng);
    std::vector<int32_t> out(ids.size());
    const PlacementSolveOutput plan = planner.run(ids, out);
    for (size_t t = 0; t < ids.size(); ++t) {
      if (ids[t] < 0) {
        EXPECT_EQ(out[t], -1);
        continue;
      }
      ASSERT_GE(out[t], 0);
      EXPECT_EQ(rp.phy2log[out[t]], ids[t]);
      EXPECT_EQ(absent[out[t]], 0) << "trial " << trial << " slot " << out[t];
    }
    // The even split and slot_counts use present slots only.
    const std::vector<double> even = planner.even_shares();
    const std::vector<int64_t> counts = planner.count(ids);
    const std::vector<int64_t> per_slot = planner.slot_counts(counts, plan.shares);
    for (size_t s = 0; s < absent.size(); ++s)
      if (absent[s]) {
        EXPECT_EQ(even[s], 0.0);
        EXPECT_EQ(per_slot[s], 0);
      }
    const std::vector<int32_t> cnt = planner.logcnt();
    std::vector<int32_t> present(rp.E, 0);
    for (size_t s = 0; s < absent.size(); ++s)
      if (!absent[s]) ++present[rp.phy2log[s]];
    EXPECT_EQ(cnt, present);
  }
}

TEST(PlacementAbsent, HandCase) {
  // Two ranks, expert 0 on both, expert 1 on rank 0; rank 1's copy of 0 is
  // absent, so expert 0 cannot move off rank 0.
  const std::vector<int32_t> phy2log = {0, 1, 0, 1};
  const std::vector<uint8_t> absent = {0, 0, 1, 0};
  const PlacementPlanner planner(std::span<const int32_t>(phy2log), 2, 2,
                                 std::span<const uint8_t>(absent));
  const PlacementSolveOutput out = planner.solve(std::vector<double>{10.0, 2.0});
  // Expert 1 may still go to rank 1 entirely: loads {10, 2}.
  EXPECT_DOUBLE_EQ(out.optimum, 10.0);
  EXPECT_EQ(out.shares[2], 0.0);
  EXPECT_DOUBLE_EQ(out.shares[0], 1.0);
}

TEST(PlacementAbsent, RejectsBadMasks) {
  const std::vector<int32_t> phy2log = {0, 1, 0, 1};
  const auto make = [&](std::vector<uint8_t> absent) {
    return PlacementPlanner(std::span<const int32_t>(phy2log), 2, 2,
                            std::span<const uint8_t>(absent));
  };
  EXPECT_NO_THROW(make({}));
  EXPECT_NO_THROW(make({1, 0, 0, 1}));
  test::expect_invalid_argument([&] { make({0, 0, 0}); }, "absent");
  test::expect_invalid_argument([&] { make({1, 0, 1, 0}); }, "absent");  // expert 0 has none
}

}  // namespace
}  // namespace lplb
