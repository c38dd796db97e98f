// sweep_moves: see sweep_moves.hpp.
#include "sim/sweep_moves.hpp"

#include <fmt/format.h>

#include <cstdint>
#include <vector>

namespace lplb::sim {
namespace {

constexpr int64_t kBudgets[] = {1, 2, 4, 8, 16};
constexpr int64_t kOnlineRefresh[] = {5, 10, 50};
constexpr int64_t kFullRefresh[] = {5, 10, 50, 100, 500};

std::string row(const char* method, int64_t refresh, const std::string& budget,
                const MethodResult& m) {
  return fmt::format("{:<10} {:>8} {:>7} {:>9.3f} {:>7.3f} {:>14.1f} {:>11.1f} {:>10.2f}\n", method,
                     refresh, budget, m.imbalance_mean, m.imbalance_p99, m.changes_per_100,
                     m.cross_node_per_100, m.traffic_mb_per_100 / 1000.0);
}

}  // namespace

std::string sweep_moves(const SimOptions& options, const SimHooks& hooks) {
  std::string out = fmt::format(
      "quality vs weight traffic (imbalance after the warm-up; slot changes, cross-node ones "
      "and GB at {} MB per expert, per layer per 100 steps; online_lp's rewritten slots absent "
      "{} step(s)):\n",
      options.expert_mb, options.move_steps);
  out += fmt::format("{:<10} {:>8} {:>7} {:>9} {:>7} {:>14} {:>11} {:>10}\n", "method", "refresh",
                     "budget", "imb mean", "p99", "slot changes", "cross-node", "GB");
  for (int64_t refresh : kFullRefresh) {
    SimOptions o = options;
    o.methods = {"hybrid_lp"};
    o.refresh = refresh;
    const SimResult r = run_simulation(o, hooks);
    out += row("hybrid_lp", refresh, "full", r.methods.back());
  }
  for (int64_t refresh : kOnlineRefresh)
    for (int64_t budget : kBudgets) {
      SimOptions o = options;
      o.methods = {"online_lp"};
      o.refresh = refresh;
      o.move_budget = budget;
      const SimResult r = run_simulation(o, hooks);
      out += row("online_lp", refresh, std::to_string(budget), r.methods.back());
    }
  return out;
}

}  // namespace lplb::sim
