// Online re-placement time (lplb/replan.hpp) for one layer at DeepSeek-V3
// sizes: E = 256 experts, P = 32 ranks, 320 slots, 8 GPUs per node.
//
//   cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DLPLB_BENCH=ON
//   cmake --build build-bench --target replan_bench && build-bench/bench/replan_bench
//
// The current placement is design_placement's for one Zipf popularity; the
// history is 100 steps of 131072 token-slots drawn from a different one
// (the traffic drifted since the placement was made), so every round finds
// a move. Counters: moves made, LP objective evaluations, and the objective
// (expected LP optimum / mean rank load) before and after.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "lplb/placement_design.hpp"
#include "lplb/replan.hpp"
#include "test_util.hpp"

namespace {

constexpr int64_t kExperts = 256, kRanks = 32, kSlots = 320, kSteps = 100, kGpusPerNode = 8;
constexpr double kTokens = 131072;

std::vector<double> popularity(uint64_t seed) {
  std::mt19937_64 rng(seed);
  return lplb::test::random_loads(kExperts, lplb::test::Skew::kZipf, 1e6, rng);
}

// kSteps rows of per-expert counts around `pop`, with per-step noise.
std::vector<double> history(const std::vector<double>& pop, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> noise(0.0, 0.3);
  std::vector<double> out;
  std::vector<double> p(kExperts);
  for (int64_t t = 0; t < kSteps; ++t) {
    double sum = 0;
    for (int64_t e = 0; e < kExperts; ++e) sum += p[e] = (pop[e] + 1.0) * noise(rng);
    for (int64_t e = 0; e < kExperts; ++e) {
      std::poisson_distribution<int64_t> draw(p[e] / sum * kTokens);
      out.push_back(static_cast<double>(draw(rng)));
    }
  }
  return out;
}

void Replan(benchmark::State& state) {
  const int64_t budget = state.range(0);
  lplb::PlacementDesignOptions o;
  o.slots_per_rank = kSlots / kRanks;
  const std::vector<int32_t> placed =
      lplb::design_placement(popularity(1), {}, kRanks, {}, o).phy2log;
  // Several drifted histories, cycled.
  std::vector<std::vector<double>> windows;
  for (uint64_t seed = 2; seed < 10; ++seed) windows.push_back(history(popularity(seed), seed));
  size_t k = 0;
  double moves = 0, evals = 0, before = 0, after = 0;
  int64_t n = 0;
  for (auto _ : state) {
    const lplb::ReplanResult r =
        lplb::replan(placed, windows[k], kSteps, kExperts, kRanks, kGpusPerNode, budget);
    benchmark::DoNotOptimize(r.phy2log.data());
    moves += static_cast<double>(r.moves.size());
    evals += static_cast<double>(r.evaluations);
    before += r.objective_before;
    after += r.objective_after;
    ++n;
    k = (k + 1) % windows.size();
  }
  const double d = static_cast<double>(n);
  state.counters["moves"] = moves / d;
  state.counters["evals"] = evals / d;
  state.counters["obj_before"] = before / d;
  state.counters["obj_after"] = after / d;
}

}  // namespace

BENCHMARK(Replan)->Arg(1)->Arg(4)->Arg(16)->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
