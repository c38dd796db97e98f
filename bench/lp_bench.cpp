// Per-group LP solve times: the exact solver, the reference IPM and CLP
// (dual simplex, when built with it) on the same instances, then a table of
// the IPM's objective gap to the exact optimum.
//
//   cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DLPLB_BENCH=ON
//   cmake --build build-bench --target lp_bench && build-bench/bench/lp_bench
//
// Instances model a real group: every rank holds 8 logical experts with
// per-expert token counts (half the instances uniform, half Zipf-skewed, 1e6
// tokens per group); the 2 (C = 1) or D hottest-first experts form the
// blocks, the rest are fixed. The IPM normaliser is the largest per-expert
// count, as in the reference.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "lp_oracle.hpp"
#include "lplb/lp.hpp"
#include "test_util.hpp"

namespace {

using lplb::LpResult;
using lplb::LpStatus;
using lplb::SolverKind;
using lplb::Topology;

constexpr int kExpertsPerRank = 8;
constexpr int kInstances = 256;

struct Instance {
  std::vector<double> fixed, block;
  double expert_max = 0;  // the reference's normaliser
};

struct Pool {
  Topology topology;
  std::vector<Instance> instances;
};

Pool make_pool(Topology topology, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const int64_t S = topology.group_size(), D = topology.slots();
  Pool pool{std::move(topology), {}};
  for (int k = 0; k < kInstances; ++k) {
    const auto skew = k % 2 == 0 ? lplb::test::Skew::kUniform : lplb::test::Skew::kZipf;
    const std::vector<double> w = lplb::test::random_loads(S * kExpertsPerRank, skew, 1e6, rng);
    Instance in;
    in.fixed.assign(S, 0.0);
    in.block.assign(S * D, 0.0);
    for (int64_t i = 0; i < S; ++i)
      for (int l = 0; l < kExpertsPerRank; ++l) {
        const double v = w[i * kExpertsPerRank + l];
        (l < D ? in.block[i * D + l] : in.fixed[i]) += v;
        in.expert_max = std::max(in.expert_max, v);
      }
    pool.instances.push_back(std::move(in));
  }
  return pool;
}

const std::vector<std::pair<std::string, Pool>>& pools() {
  static const auto* all = [] {
    auto* v = new std::vector<std::pair<std::string, Pool>>();
    for (const char* name : {"cube", "hypercube", "torus:8x4", "ring:8"})
      v->emplace_back(name, make_pool(Topology::named(name), 7));
    std::mt19937_64 rng(99);
    v->emplace_back("random:64x4", make_pool(lplb::test::random_topology(64, 4, rng), 8));
    return v;
  }();
  return *all;
}

void bm_solver(benchmark::State& state, int pool_idx, SolverKind kind) {
  const Pool& pool = pools()[pool_idx].second;
  std::vector<double> probs(pool.topology.group_size() * pool.topology.slots());
  size_t k = 0;
  for (auto _ : state) {
    const Instance& in = pool.instances[k++ % pool.instances.size()];
    const LpResult r = kind == SolverKind::kExact
                           ? lplb::solve_group(pool.topology, kind, in.fixed.data(), in.block.data(), probs.data())
                           : lplb::solve_group_ipm(pool.topology, in.fixed.data(), in.block.data(),
                                                   probs.data(), in.expert_max);
    benchmark::DoNotOptimize(r.max_load);
  }
}

#ifdef LPLB_HAVE_CLP
void bm_clp(benchmark::State& state, int pool_idx) {
  const Pool& pool = pools()[pool_idx].second;
  std::vector<lplb::test::ClpOracle> oracles;
  for (const Instance& in : pool.instances)
    oracles.emplace_back(pool.topology, in.fixed.data(), in.block.data());
  size_t k = 0;
  for (auto _ : state) {
    const auto out = oracles[k++ % oracles.size()].solve();
    benchmark::DoNotOptimize(out.objective);
  }
}
#endif

void register_all() {
  for (int p = 0; p < static_cast<int>(pools().size()); ++p) {
    const std::string& name = pools()[p].first;
    auto opts = [](benchmark::internal::Benchmark* b) {
      b->Unit(benchmark::kMicrosecond)->Repetitions(5)->ReportAggregatesOnly(true);
    };
    opts(benchmark::RegisterBenchmark(("exact/" + name).c_str(),
                                      [p](benchmark::State& s) { bm_solver(s, p, SolverKind::kExact); }));
#ifdef LPLB_HAVE_CLP
    opts(benchmark::RegisterBenchmark(("clp/" + name).c_str(),
                                      [p](benchmark::State& s) { bm_clp(s, p); }));
#endif
    opts(benchmark::RegisterBenchmark(("ipm/" + name).c_str(),
                                      [p](benchmark::State& s) { bm_solver(s, p, SolverKind::kIpm); }));
  }
}

// IPM objective vs the exact optimum on every pool. Normalisers: the largest
// expert (the reference's, for a one-group batch), solve_group's own (the
// largest fixed/block entry), and the largest expert divided by 4, 10, 30
// (a group whose blocks and fixed parts combine more experts, relative to
// the batch's largest one): the IPM then stops converging in 5 steps.
void print_gaps() {
  std::printf("\nIPM max load vs exact optimum (%d instances each, probs clamped; the last\n"
              "columns count instances that fell back / returned raw probs outside [0, 1])\n",
              kInstances);
  std::printf("%-13s %-10s %10s %10s %10s %10s %9s %9s\n", "topology", "normaliser", "mean gap",
              "median", "p90", "max gap", "fallback", "p<0|p>1");
  const char* const names[] = {"expert", "group", "expert/4", "expert/10", "expert/30"};
  const double factors[] = {1, 0, 4, 10, 30};
  for (const auto& [name, pool] : pools()) {
    for (int mode = 0; mode < 5; ++mode) {
      if (mode >= 2 && pool.topology.group_size() > 32) continue;
      std::vector<double> gaps;
      int fallbacks = 0, outside = 0;
      const int64_t n = pool.topology.group_size() * pool.topology.slots();
      std::vector<double> p(n), q(n);
      for (const Instance& in : pool.instances) {
        const LpResult e = lplb::solve_group(pool.topology, SolverKind::kExact, in.fixed.data(),
                                             in.block.data(), q.data());
        const LpResult r =
            mode == 1 ? lplb::solve_group(pool.topology, SolverKind::kIpm, in.fixed.data(),
                                          in.block.data(), p.data())
                      : lplb::solve_group_ipm(pool.topology, in.fixed.data(), in.block.data(),
                                              p.data(), in.expert_max / factors[mode]);
        fallbacks += r.status == LpStatus::kIpmFallback;
        outside += std::any_of(p.begin(), p.end(), [](double x) { return x < 0 || x > 1; });
        gaps.push_back(r.max_load / e.max_load - 1);
      }
      std::sort(gaps.begin(), gaps.end());
      double mean = 0;
      for (double g : gaps) mean += g;
      mean /= gaps.size();
      std::printf("%-13s %-10s %9.2f%% %9.2f%% %9.2f%% %9.2f%% %9d %9d\n", name.c_str(),
                  names[mode], 100 * mean, 100 * gaps[gaps.size() / 2],
                  100 * gaps[gaps.size() * 9 / 10], 100 * gaps.back(), fallbacks, outside);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  print_gaps();
  return 0;
}
