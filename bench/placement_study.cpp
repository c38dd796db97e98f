// The placement study's table: simulator balancers replayed on recorded traces with
// its protocol, mean and p99 rank imbalance (max / mean rank load).
//
//   cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DLPLB_BENCH=ON
//   cmake --build build-bench --target placement_study
//   build-bench/bench/placement_study /work/shared/traces/dev_trace_balanced.json.gz \
//       /work/shared/traces/dev_trace_skewed.json.gz
//
// Protocol (per trace, per layer, each layer its own balancers): steps
// from - window .. to - 1 run through every balancer in order; at every
// evaluated step s (from, from + every, ..., < to) the balancers are first
// refreshed with the sum of the previous `window` steps' counts, then step s
// is measured. Defaults: from 500, to 1000, every 25, window 100, all layers,
// E = trace width, P = 32, R = 2 extra slots per rank (320 physical experts),
// LPLB topology cube, EPLB global policy. This is `lplb simulate --refresh 25
// --window 100` restricted to the evaluated steps.
//
// Options: --methods a,b,c (default: all the simulator's), --from, --to,
// --every, --window, --ep, --redundant, --topology, --eplb-groups,
// --eplb-nodes, --json FILE (per-step figures).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string>
#include <vector>

#include "lplb/errors.hpp"
#include "lplb/planner.hpp"
#include "sim/balancer.hpp"
#include "sim/simulator.hpp"
#include "sim/trace.hpp"

namespace {

using lplb::sim::Balancer;
using lplb::sim::BalancerContext;

struct Args {
  std::vector<std::string> traces, methods;
  int64_t from = 500, to = 1000, every = 25, window = 100, ep = 32, redundant = 2;
  int64_t eplb_groups = 1, eplb_nodes = 1;
  std::string topology = "cube", json;
};

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t end = std::min(s.find(',', start), s.size());
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto value = [&]() -> std::string {
      lplb::check_arg(i + 1 < argc, k.c_str(), "needs a value");
      return argv[++i];
    };
    if (k == "--methods") a.methods = split_list(value());
    else if (k == "--from") a.from = std::stoll(value());
    else if (k == "--to") a.to = std::stoll(value());
    else if (k == "--every") a.every = std::stoll(value());
    else if (k == "--window") a.window = std::stoll(value());
    else if (k == "--ep") a.ep = std::stoll(value());
    else if (k == "--redundant") a.redundant = std::stoll(value());
    else if (k == "--topology") a.topology = value();
    else if (k == "--eplb-groups") a.eplb_groups = std::stoll(value());
    else if (k == "--eplb-nodes") a.eplb_nodes = std::stoll(value());
    else if (k == "--json") a.json = value();
    else if (k.starts_with("--")) lplb::check_arg(false, k.c_str(), "unknown option");
    else a.traces.push_back(k);
  }
  lplb::check_arg(!a.traces.empty(), "trace", "give at least one trace file");
  lplb::check_arg(a.every > 0 && a.window > 0 && a.from >= a.window && a.to > a.from, "--from",
                  "need window <= from < to and every > 0");
  if (a.methods.empty()) a.methods = lplb::sim::balancer_names();
  return a;
}

struct Column {
  std::string name, label;
  std::vector<double> imbalance;  // [layer][evaluated step]
  double solve_us = 0;
  int64_t solves = 0;
};

}  // namespace

int main(int argc, char** argv) try {
  const Args a = parse(argc, argv);
  nlohmann::json report = nlohmann::json::object();
  std::printf("| trace | method | mean | p99 | max | solve us/batch | wall s |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  for (const std::string& path : a.traces) {
    const lplb::sim::Trace trace = lplb::sim::load_trace(path);
    lplb::check_arg(trace.num_steps >= a.to, "--to", "the trace has only " +
                                                         std::to_string(trace.num_steps) + " steps");
    BalancerContext ctx;
    ctx.num_experts = trace.num_experts;
    ctx.ep_size = a.ep;
    ctx.redundant_per_rank = a.redundant;
    ctx.topology = lplb::Topology::parse(a.topology);
    ctx.eplb_groups = a.eplb_groups;
    ctx.eplb_nodes = a.eplb_nodes;
    lplb::sim::validate_context(ctx, true);
    const int64_t E = trace.num_experts;
    std::string name = path.substr(path.find_last_of('/') + 1);
    name = name.substr(0, name.find('.'));
    for (const std::string& method : a.methods) {
      Column col;
      const auto t0 = std::chrono::steady_clock::now();
      lplb::sim::StepLoads loads;
      for (int64_t layer = 0; layer < trace.num_layers; ++layer) {
        std::unique_ptr<Balancer> b = lplb::sim::make_balancer(method, ctx);
        col.name = b->name();
        col.label = b->label();
        std::vector<double> history(E, 0.0);
        for (int64_t s = a.from - a.window; s < a.to; ++s) {
          const int64_t* c = trace.at(s, layer);
          const bool measured = s >= a.from && (s - a.from) % a.every == 0;
          if (measured) {
            std::fill(history.begin(), history.end(), 0.0);
            for (int64_t t = s - a.window; t < s; ++t)
              for (int64_t e = 0; e < E; ++e) history[e] += static_cast<double>(trace.at(t, layer)[e]);
            b->refresh(history);
          }
          b->step(std::span<const int64_t>(c, E), loads);
          if (measured) {
            col.imbalance.push_back(lplb::imbalance(loads.rank_loads));
            col.solve_us += loads.solve_us;
            ++col.solves;
          }
        }
      }
      const double wall =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const auto& x = col.imbalance;
      const double mean = std::accumulate(x.begin(), x.end(), 0.0) / static_cast<double>(x.size());
      std::printf("| %s | %s | %.3f | %.3f | %.3f | %.1f | %.1f |\n", name.c_str(),
                  col.label.c_str(), mean, lplb::sim::percentile(x, 0.99),
                  *std::max_element(x.begin(), x.end()),
                  col.solve_us / static_cast<double>(col.solves), wall);
      std::fflush(stdout);
      report[name][col.name] = {{"label", col.label}, {"mean", mean},
                                {"p99", lplb::sim::percentile(x, 0.99)}, {"imbalance", x}};
    }
  }
  if (!a.json.empty()) std::ofstream(a.json) << report.dump(1) << "\n";
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 2;
}
