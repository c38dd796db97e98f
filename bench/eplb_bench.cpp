// EPLB placement time on DeepSeek-V3-like sizes: 58 layers x 256 experts ->
// 288 replicas, 8 groups, 4 nodes, 32 GPUs. The input is the golden case
// tests/data/eplb/v3_hierarchical_288.json (or $LPLB_EPLB_BENCH_INPUT), the
// same one bench/eplb_bench.py times the reference on. Counters give the
// balance (max GPU load / mean, averaged over layers) and the number of GPUs
// holding two replicas of one expert, with and without spread_replicas.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <vector>

#include "lplb/eplb.hpp"

namespace {

struct Input {
  std::vector<double> weight;
  int64_t layers = 0, experts = 0, replicas = 0, groups = 0, nodes = 0, gpus = 0;
};

const Input& input() {
  static const Input in = [] {
    const char* env = std::getenv("LPLB_EPLB_BENCH_INPUT");
    const auto root = std::filesystem::path(__FILE__).parent_path().parent_path();
    const auto path = env ? std::filesystem::path(env)
                          : root / "tests/data/eplb/v3_hierarchical_288.json";
    std::ifstream f(path);
    if (!f) throw std::runtime_error("cannot open " + path.string());
    const auto c = nlohmann::json::parse(f)["cases"][0];
    Input r;
    r.layers = static_cast<int64_t>(c["weight"].size());
    r.experts = static_cast<int64_t>(c["weight"][0].size());
    for (const auto& row : c["weight"])
      for (const auto& x : row) r.weight.push_back(x.get<double>());
    r.replicas = c["num_replicas"];
    r.groups = c["num_groups"];
    r.nodes = c["num_nodes"];
    r.gpus = c["num_gpus"];
    return r;
  }();
  return in;
}

// Mean over layers of max GPU load / mean GPU load, each replica carrying
// weight / count; and how many (layer, GPU) hold an expert twice.
std::pair<double, int64_t> balance(const Input& in, const lplb::EplbResult& r) {
  const int64_t per_gpu = in.replicas / in.gpus;
  double sum_ratio = 0;
  int64_t doubled = 0;
  for (int64_t l = 0; l < in.layers; ++l) {
    double max_load = 0, total = 0;
    for (int64_t g = 0; g < in.gpus; ++g) {
      double load = 0;
      std::map<int64_t, int> seen;
      for (int64_t k = 0; k < per_gpu; ++k) {
        const int64_t e = r.phy2log[l * in.replicas + g * per_gpu + k];
        load += in.weight[l * in.experts + e] / double(r.logcnt[l * in.experts + e]);
        if (++seen[e] == 2) ++doubled;
      }
      max_load = std::max(max_load, load);
      total += load;
    }
    sum_ratio += max_load / (total / double(in.gpus));
  }
  return {sum_ratio / double(in.layers), doubled};
}

void BM_rebalance_experts(benchmark::State& state) {
  const Input& in = input();
  const lplb::EplbOptions options{.spread_replicas = state.range(0) != 0};
  lplb::EplbResult r;
  for (auto _ : state) {
    r = lplb::rebalance_experts(in.weight.data(), in.layers, in.experts, in.replicas, in.groups,
                                in.nodes, in.gpus, options);
    benchmark::DoNotOptimize(r.phy2log.data());
  }
  const auto [ratio, doubled] = balance(in, r);
  state.counters["max_over_mean"] = ratio;
  state.counters["gpus_with_dup"] = double(doubled);
  state.SetLabel(options.spread_replicas ? "spread_replicas" : "default");
}
BENCHMARK(BM_rebalance_experts)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
