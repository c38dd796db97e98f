// The GPU placement solver's algorithm (common/placement_pulse.hpp, the
// block-parallel push-relabel of CudaPlacementPlanner) run on the host as a
// block of one thread, against the CPU PlacementPlanner: same optimum within
// 1e-6, flows that route every item's weight and reach it, on random
// placements (1-8 copies, duplicates on one rank, zero and one-hot
// workloads), EPLB's at DeepSeek-V3 sizes, P = 256, and absent slots.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "common/placement_lp.hpp"
#include "common/placement_pulse.hpp"
#include "core/placement_layout.hpp"
#include "lplb/eplb.hpp"
#include "lplb/placement.hpp"
#include "placement_layout_solve.hpp"
#include "placement_random.hpp"
#include "test_util.hpp"

namespace lplb {
namespace {

struct PulseRun {
  detail::PulseInfo info;
  std::vector<double> flow;
};

PulseRun run_pulse(const detail::PlacementLayout& L, const std::vector<double>& w,
                   bool early_exit = true, bool bfs_early_stop = true) {
  const int P = static_cast<int>(L.ep_size), I = static_cast<int>(L.num_items);
  const size_t nnz = static_cast<size_t>(L.nnz());
  std::vector<double> fixed(P, 0.0), weight(I, 0.0);
  for (int i = 0; i < I; ++i)
    for (int k = L.item_expert_offset[i]; k < L.item_expert_offset[i + 1]; ++k)
      weight[i] += w[L.item_expert[k]];
  for (int r = 0; r < P; ++r)
    for (int k = L.fixed_offset[r]; k < L.fixed_offset[r + 1]; ++k) fixed[r] += w[L.fixed_expert[k]];
  std::vector<double> flow(nnz), pfwd(nnz), pback(nnz), excess(I + P), sink_res(P), scratch(64);
  std::vector<int32_t> lab0(I + P), lab1(I + P), iscratch(32);
  detail::PulseState s{};
  s.I = I;
  s.P = P;
  s.item_offset = L.item_offset.data();
  s.item_rank = L.item_rank.data();
  s.rank_offset = L.rank_offset.data();
  s.rank_arc = L.rank_arc.data();
  s.arc_item = L.arc_item.data();
  s.weight = weight.data();
  s.fixed = fixed.data();
  s.flow = flow.data();
  s.pfwd = pfwd.data();
  s.pback = pback.data();
  s.excess = excess.data();
  s.sink_res = sink_res.data();
  s.lab0 = lab0.data();
  s.lab1 = lab1.data();
  s.scratch = scratch.data();
  s.iscratch = iscratch.data();
  s.early_exit = early_exit;
  s.bfs_early_stop = bfs_early_stop;
  PulseRun run;
  run.info = detail::pulse_solve(s);
  run.flow = flow;

  // Flows route every item's weight and keep every rank at the bound.
  const double total = std::accumulate(w.begin(), w.end(), 0.0);
  const double tol = 1e-9 * std::max(1.0, total);
  std::vector<double> load(fixed);
  for (int i = 0; i < I; ++i) {
    double routed = 0.0;
    for (int a = L.item_offset[i]; a < L.item_offset[i + 1]; ++a) {
      EXPECT_GE(flow[a], 0.0);
      routed += flow[a];
      load[L.item_rank[a]] += flow[a];
    }
    EXPECT_NEAR(routed, weight[i], tol) << "item " << i;
  }
  for (int r = 0; r < P; ++r) EXPECT_LE(load[r], run.info.bound + tol) << "rank " << r;
  EXPECT_EQ(run.info.code, 0);
  return run;
}


void expect_same_optimum(const detail::PlacementLayout& L, const std::vector<double>& w,
                         int trial) {
  const double want = test::layout_optimum(L, w);
  const PulseRun got = run_pulse(L, w);
  EXPECT_NEAR(got.info.bound, want, 1e-6 * std::max(1.0, want)) << "trial " << trial;
}

TEST(PlacementPulse, RandomPlacementsMatchCpu) {
  std::mt19937_64 rng(4321);
  for (int trial = 0; trial < 3000; ++trial) {
    const test::RandomPlacement rp = test::random_placement(rng, 40, 12, 1 + trial % 8);
    const detail::PlacementLayout L = detail::build_placement_layout(rp.phy2log, rp.E, rp.P);
    expect_same_optimum(L, test::random_workload(rp.E, rng, trial % 3 != 0), trial);
    // And the planner itself agrees with the layout's solve.
    if (trial % 100 == 0) {
      const PlacementPlanner cpu(std::span<const int32_t>(rp.phy2log), rp.E, rp.P);
      const std::vector<double> w = test::random_workload(rp.E, rng);
      EXPECT_DOUBLE_EQ(cpu.solve(w).optimum, test::layout_optimum(L, w));
    }
    if (HasFailure()) return;
  }
}

// The early exit (even split already under the trivial bound) and the
// relabel's early stop return what the full path returns: the same bound and
// the same flow.
TEST(PlacementPulse, EarlyExitChangesNothing) {
  std::mt19937_64 rng(99);
  int exits = 0;
  for (int trial = 0; trial < 1000; ++trial) {
    const test::RandomPlacement rp = test::random_placement(rng, 40, 12, 1 + trial % 8);
    const detail::PlacementLayout L = detail::build_placement_layout(rp.phy2log, rp.E, rp.P);
    // Uniform workloads make the even split fit often; random ones rarely.
    std::vector<double> w = test::random_workload(rp.E, rng, trial % 3 != 0);
    if (trial % 2 == 0) std::fill(w.begin(), w.end(), static_cast<double>(1 + trial % 5));
    const PulseRun fast = run_pulse(L, w, true);
    const PulseRun full = run_pulse(L, w, false, trial % 4 < 2);
    EXPECT_EQ(fast.info.bound, full.info.bound) << "trial " << trial;
    EXPECT_EQ(fast.info.leftover, full.info.leftover) << "trial " << trial;
    EXPECT_EQ(fast.flow, full.flow) << "trial " << trial;
    exits += fast.info.relabels == 0 && full.info.relabels > 0;
    if (HasFailure()) return;
  }
  EXPECT_GT(exits, 0);  // the path was taken
}

TEST(PlacementPulse, EplbAndLargePlacementsMatchCpu) {
  std::mt19937_64 rng(8);
  int max_pulses = 0;
  for (int trial = 0; trial < 200; ++trial) {
    const int64_t E = 256, P = trial % 4 == 3 ? 256 : 32;
    const int64_t slots = P == 256 ? 512 : (trial % 2 ? 288 : 320);
    const std::vector<double> history = test::random_loads(E, test::Skew::kZipf, 1e6, rng);
    const EplbResult r = rebalance_experts(history, 1, slots, P == 256 ? 1 : 8, 1, P);
    const std::vector<int32_t> p(r.phy2log.begin(), r.phy2log.end());
    const detail::PlacementLayout L = detail::build_placement_layout(p, E, P);
    const std::vector<double> w = trial % 5 == 0
                                      ? test::random_loads(E, test::Skew::kOneHot, 32768, rng)
                                      : test::random_workload(E, rng);
    const double want = test::layout_optimum(L, w);
    const PulseRun got = run_pulse(L, w);
    EXPECT_NEAR(got.info.bound, want, 1e-6 * std::max(1.0, want)) << "trial " << trial;
    max_pulses = std::max(max_pulses, got.info.pulses);
    if (HasFailure()) return;
  }
  std::printf("most pulses: %d\n", max_pulses);
}

TEST(PlacementPulse, AbsentSlotsMatchCpu) {
  std::mt19937_64 rng(55);
  for (int trial = 0; trial < 1000; ++trial) {
    const test::RandomPlacement rp = test::random_placement(rng, 40, 10, 1 + trial % 8);
    std::vector<uint8_t> absent(rp.phy2log.size(), 0);
    std::vector<int32_t> present(rp.E, 0);
    for (int32_t e : rp.phy2log) ++present[e];
    for (size_t s = 0; s < absent.size(); ++s)
      if (rng() % 3 == 0 && present[rp.phy2log[s]] > 1) {
        absent[s] = 1;
        --present[rp.phy2log[s]];
      }
    const detail::PlacementLayout L = detail::build_placement_layout(
        rp.phy2log, rp.E, rp.P, std::span<const uint8_t>(absent));
    for (size_t s = 0; s < absent.size(); ++s) {
      if (!absent[s]) continue;
      EXPECT_EQ(L.slot_mult[s], 0);
      EXPECT_EQ(L.slot_arc[s], -1);
    }
    expect_same_optimum(L, test::random_workload(rp.E, rng), trial);
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace lplb
