// Exact placement-LP solve times (lplb/placement.hpp) at DeepSeek-V3 sizes:
// E = 256 experts, P = 32 ranks, one layer per solve.
//
//   cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DLPLB_BENCH=ON
//   cmake --build build-bench --target placement_bench && build-bench/bench/placement_bench
//
// Placements: EPLB (rebalance_experts, global policy) and design_placement
// (the `hybrid_lp` layout) with 288 and 320 physical slots built from a Zipf
// popularity, LPLB's cube layout (320 slots), and a random placement of 320
// slots (up to 4 copies per expert, duplicates on a rank allowed). Workloads: 256 batches of 131072
// token-slots drawn from the popularity with per-batch noise (the regime of
// a real router). `PlacementSolve` is the whole PlacementPlanner::solve
// (validation, loads before/after, shares); the `solve_us` counter is the LP
// part alone as the planner reports it.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "lplb/eplb.hpp"
#include "lplb/placement.hpp"
#include "lplb/placement_design.hpp"
#include "lplb/planner.hpp"
#include "test_util.hpp"

namespace {

constexpr int64_t kExperts = 256, kRanks = 32, kBatches = 256;
constexpr double kTokens = 131072;

std::vector<double> popularity(uint64_t seed) {
  std::mt19937_64 rng(seed);
  return lplb::test::random_loads(kExperts, lplb::test::Skew::kZipf, 1e6, rng);
}

std::vector<std::vector<double>> batches(const std::vector<double>& pop, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> noise(0.0, 0.3);
  std::vector<std::vector<double>> out;
  for (int64_t b = 0; b < kBatches; ++b) {
    std::vector<double> p(kExperts);
    double sum = 0;
    for (int64_t e = 0; e < kExperts; ++e) sum += p[e] = (pop[e] + 1.0) * noise(rng);
    std::vector<double> w(kExperts);
    for (int64_t e = 0; e < kExperts; ++e) {
      std::poisson_distribution<int64_t> draw(p[e] / sum * kTokens);
      w[e] = static_cast<double>(draw(rng));
    }
    out.push_back(std::move(w));
  }
  return out;
}

std::vector<int64_t> eplb_placement(int64_t slots, const std::vector<double>& pop) {
  return lplb::rebalance_experts(pop, 1, slots, 1, 1, kRanks).phy2log;
}

std::vector<int64_t> cube_placement(const std::vector<double>& pop) {
  lplb::PlannerOptions opt;
  opt.num_experts = kExperts;
  opt.ep_size = kRanks;
  opt.redundant_per_rank = 2;
  lplb::Planner planner(lplb::Topology::named("cube"), opt);
  const auto& p = planner.update_redundancy_mapping(pop).phy2log;
  return {p.begin(), p.end()};
}

std::vector<int64_t> random_placement(int64_t slots, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> count(kExperts, 1);
  for (int64_t left = slots - kExperts; left > 0;) {
    const int64_t e = std::uniform_int_distribution<int64_t>(0, kExperts - 1)(rng);
    if (count[e] < 4) {
      ++count[e];
      --left;
    }
  }
  std::vector<int64_t> p;
  for (int64_t e = 0; e < kExperts; ++e) p.insert(p.end(), count[e], e);
  std::shuffle(p.begin(), p.end(), rng);
  return p;
}

void run(benchmark::State& state, const std::vector<int64_t>& phy2log) {
  const std::vector<double> pop = popularity(1);
  const auto work = batches(pop, 2);
  const lplb::PlacementPlanner planner(std::span<const int64_t>(phy2log), kExperts, kRanks);
  size_t k = 0;
  double solve_us = 0, rounds = 0, gain = 0;
  int64_t n = 0;
  for (auto _ : state) {
    const lplb::PlacementSolveOutput out = planner.solve(work[k]);
    benchmark::DoNotOptimize(out.shares.data());
    solve_us += out.solve_us;
    rounds += out.rounds;
    gain += lplb::imbalance(out.load_before) - lplb::imbalance(out.load_after);
    ++n;
    k = (k + 1) % work.size();
  }
  state.counters["solve_us"] = solve_us / static_cast<double>(n);
  state.counters["rounds"] = rounds / static_cast<double>(n);
  state.counters["imb_gain"] = gain / static_cast<double>(n);
  state.counters["groups"] = static_cast<double>(planner.num_movable_groups());
}

std::vector<int64_t> designed_placement(int64_t slots, const std::vector<double>& pop) {
  lplb::PlacementDesignOptions o;
  o.slots_per_rank = slots / kRanks;
  const auto d = lplb::design_placement(pop, {}, kRanks, {}, o);
  return {d.phy2log.begin(), d.phy2log.end()};
}

void PlacementSolve_Eplb288(benchmark::State& s) { run(s, eplb_placement(288, popularity(1))); }
void PlacementSolve_Designed288(benchmark::State& s) {
  run(s, designed_placement(288, popularity(1)));
}
void PlacementSolve_Designed320(benchmark::State& s) {
  run(s, designed_placement(320, popularity(1)));
}
void PlacementSolve_Eplb320(benchmark::State& s) { run(s, eplb_placement(320, popularity(1))); }
void PlacementSolve_Cube320(benchmark::State& s) { run(s, cube_placement(popularity(1))); }
void PlacementSolve_Random320(benchmark::State& s) { run(s, random_placement(320, 3)); }

BENCHMARK(PlacementSolve_Eplb288)->Unit(benchmark::kMicrosecond);
BENCHMARK(PlacementSolve_Eplb320)->Unit(benchmark::kMicrosecond);
BENCHMARK(PlacementSolve_Designed288)->Unit(benchmark::kMicrosecond);
BENCHMARK(PlacementSolve_Designed320)->Unit(benchmark::kMicrosecond);
BENCHMARK(PlacementSolve_Cube320)->Unit(benchmark::kMicrosecond);
BENCHMARK(PlacementSolve_Random320)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
