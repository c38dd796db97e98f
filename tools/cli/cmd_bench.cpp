// `lplb bench`: solver and kernel micro-benchmarks on this machine's CPU.
// (GPU figures come from bench/ programs run on the device; see RESULTS.md.)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <numeric>
#include <random>
#include <string>

#include "cli/commands.hpp"
#include "cli/json_io.hpp"
#include "lplb/eplb.hpp"
#include "lplb/lp.hpp"
#include "lplb/planner.hpp"

namespace lplb::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct BenchArgs {
  int repeats = 2000;
  uint64_t seed = 1;
  std::string json;
};

Topology random_topology(int64_t S, int64_t D, std::mt19937_64& rng) {
  std::vector<int32_t> r2o(S * D);
  for (int64_t d = 0; d < D; ++d) {
    std::vector<int32_t> p(S);
    bool ok = false;
    while (!ok) {  // rejection-sample a derangement
      std::iota(p.begin(), p.end(), 0);
      std::shuffle(p.begin(), p.end(), rng);
      ok = true;
      for (int64_t i = 0; i < S; ++i) ok = ok && p[i] != i;
    }
    for (int64_t i = 0; i < S; ++i) r2o[i * D + d] = p[i];
  }
  return Topology(S, D, std::move(r2o), "random:" + std::to_string(S) + "x" + std::to_string(D));
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Skewed per-rank loads: fixed and block tokens for `n` random instances.
struct Instances {
  std::vector<std::vector<double>> fixed, block;
};
Instances make_instances(const Topology& t, int n, std::mt19937_64& rng) {
  Instances in;
  std::lognormal_distribution<double> ln(0.0, 0.6);
  for (int k = 0; k < n; ++k) {
    std::vector<double> f(t.group_size()), b(t.group_size() * t.slots());
    for (double& x : f) x = std::floor(4096 * 6 * ln(rng));
    for (double& x : b) x = std::floor(4096 * ln(rng));
    in.fixed.push_back(std::move(f));
    in.block.push_back(std::move(b));
  }
  return in;
}

nlohmann::json bench_solvers(const BenchArgs& a, std::mt19937_64& rng) {
  std::vector<Topology> topologies = {Topology::named("cube"), Topology::named("hypercube"),
                                      Topology::named("ring:8"), Topology::named("torus:8x4"),
                                      random_topology(64, 4, rng)};
  nlohmann::json out = nlohmann::json::array();
  std::printf("%-14s %10s %10s %8s %14s\n", "topology", "exact_us", "ipm_us", "ratio",
              "ipm_gap_mean");
  for (const Topology& t : topologies) {
    const int n = std::max(50, a.repeats / static_cast<int>(t.group_size() / 8 + 1));
    const Instances in = make_instances(t, n, rng);
    std::vector<double> probs(t.group_size() * t.slots()), load(t.group_size());
    double times[2] = {0, 0}, gap = 0;
    for (int kind = 0; kind < 2; ++kind) {
      const SolverKind sk = kind == 0 ? SolverKind::kExact : SolverKind::kIpm;
      std::vector<double> us;
      for (int k = 0; k < n; ++k) {
        const auto t0 = Clock::now();
        const LpResult r = solve_group(t, sk, in.fixed[k].data(), in.block[k].data(), probs.data());
        us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        if (sk == SolverKind::kIpm) {
          const LpResult e = solve_group(t, SolverKind::kExact, in.fixed[k].data(),
                                         in.block[k].data(), probs.data());
          gap += (r.max_load - e.max_load) / std::max(1.0, e.max_load) / n;
        }
      }
      times[kind] = median(us);
    }
    std::printf("%-14s %10.2f %10.2f %8.1f %13.4f%%\n", t.name().c_str(), times[0], times[1],
                times[1] / times[0], 100 * gap);
    out.push_back({{"topology", t.name()}, {"S", t.group_size()}, {"D", t.slots()},
                   {"exact_us_median", times[0]}, {"ipm_us_median", times[1]},
                   {"ipm_over_exact", times[1] / times[0]}, {"ipm_gap_mean", gap}});
  }
  return out;
}

nlohmann::json bench_count_map(std::mt19937_64& rng) {
  PlannerOptions o;
  o.num_experts = 256;
  o.ep_size = 32;
  o.redundant_per_rank = 2;
  Planner planner(Topology::named("cube"), o);
  const int64_t n = 131072 * 8;  // top-8 of 131072 tokens
  std::vector<int32_t> ids(n), out(n);
  for (auto& id : ids) id = static_cast<int32_t>(rng() % 256);
  const auto t0 = Clock::now();
  const auto counts = planner.count(std::span<const int32_t>(ids));
  const auto t1 = Clock::now();
  std::vector<double> w(counts.begin(), counts.end());
  const SolveOutput plan = planner.solve(w);
  const auto t2 = Clock::now();
  planner.map(ids, plan.probs, out);
  const auto t3 = Clock::now();
  const double count_us = std::chrono::duration<double, std::micro>(t1 - t0).count();
  const double map_us = std::chrono::duration<double, std::micro>(t3 - t2).count();
  std::printf("\ncount on %lld ids: %.0f us (%.0f M ids/s); map: %.0f us (%.0f M ids/s)\n",
              static_cast<long long>(n), count_us, n / count_us, map_us, n / map_us);
  return {{"ids", n}, {"count_us", count_us}, {"map_us", map_us}};
}

nlohmann::json bench_eplb(std::mt19937_64& rng) {
  const int64_t L = 58, E = 256;
  std::vector<double> w(L * E);
  std::uniform_real_distribution<double> u(1, 1000);
  for (double& x : w) x = u(rng);
  std::vector<double> us;
  for (int k = 0; k < 5; ++k) {
    const auto t0 = Clock::now();
    rebalance_experts(w.data(), L, E, 288, 8, 4, 32);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  std::printf("EPLB 58 layers x 256 experts -> 288 replicas (8 groups, 4 nodes, 32 GPUs): %.0f us\n",
              median(us));
  return {{"eplb_58x256_us", median(us)}};
}

void run_bench(const BenchArgs& a) {
  std::mt19937_64 rng(a.seed);
  std::printf("Per-group LP solve, median over random skewed instances (CPU, one thread)\n");
  nlohmann::json out;
  out["solvers"] = bench_solvers(a, rng);
  out["count_map"] = bench_count_map(rng);
  out["eplb"] = bench_eplb(rng);
  if (!a.json.empty()) write_json(out, a.json);
}

void setup_bench(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand("bench", "Solver, count/map and EPLB micro-benchmarks (CPU)");
  cmd->add_option("--repeats", args->repeats, "LP instances per topology")
      ->check(CLI::Range(10, 1000000))
      ->capture_default_str();
  cmd->add_option("--seed", args->seed, "random seed")->capture_default_str();
  cmd->add_option("--json", args->json, "also write the figures as JSON to this file");
  cmd->callback([args] { run_bench(*args); });
}

}  // namespace

LPLB_REGISTER_COMMAND("bench", setup_bench);

}  // namespace lplb::cli
