#include "core/planner_objective.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "common/lp_common.hpp"
#include "lplb/errors.hpp"

namespace lplb::detail {
namespace {

bool is_default(const Objective& o) { return o.kind == ObjectiveKind::kTokens && !o.min_moves; }

// Largest objective value of a group's split: tokens, or modelled time when
// weights are given (offset + load / weight).
double group_objective(const Topology& t, const double* fixed, const double* block,
                       const double* probs, const std::vector<double>& weight,
                       const std::vector<double>& offset) {
  const int64_t S = t.group_size();
  std::vector<double> load(S);
  group_loads(t, fixed, block, probs, load.data());
  double best = 0;
  for (int64_t i = 0; i < S; ++i) {
    const double v = weight.empty() ? load[i] : offset[i] + load[i] / weight[i];
    best = i == 0 || v > best ? v : best;
  }
  return best;
}

}  // namespace

void validate_objective(const PlannerOptions& o) {
  validate_cost_model(o.objective.model, o.ep_size, "objective");
  check_arg(std::isfinite(o.objective.move_tolerance) && o.objective.move_tolerance >= 0,
            "objective", "move_tolerance must be finite and >= 0, got " +
                             std::to_string(o.objective.move_tolerance));
  check_arg(is_default(o.objective) || o.solver == SolverKind::kExact, "objective",
            std::string("the '") + objective_name(o.objective.kind) + "' objective" +
                (o.objective.min_moves ? " with min_moves" : "") + " needs the exact solver, not '" +
                solver_name(o.solver) + "'");
}

std::vector<int64_t> placement_active(const Planner& planner, std::span<const double> workload) {
  const int64_t P = planner.options().ep_size, n_loc = planner.n_local();
  const auto& phy2log = planner.mapping().phy2log;
  std::vector<int64_t> active(P, 0);
  for (int64_t r = 0; r < P; ++r)
    for (int64_t l = 0; l < n_loc; ++l) active[r] += workload[phy2log[r * n_loc + l]] > 0;
  return active;
}

LpResult solve_group_objective(const Topology& t, const PlannerOptions& options, int64_t group,
                               const double* fixed, const double* block, const int64_t* active,
                               double* probs) {
  const Objective& obj = options.objective;
  const CostModel& m = obj.model;
  const int64_t S = t.group_size(), D = t.slots(), first = group * S;
  std::vector<double> weight, offset;
  LpResult r;
  if (obj.kind == ObjectiveKind::kTime) {
    // time = offset + tokens / weight with weight = speed / b (tokens per us).
    weight.resize(S);
    offset.resize(S);
    for (int64_t i = 0; i < S; ++i) {
      const double s = m.speed.empty() ? 1.0 : m.speed[first + i];
      const double x = m.extra_us.empty() ? 0.0 : m.extra_us[first + i];
      weight[i] = s / m.b_us_per_token;
      offset[i] = x + (m.a_us + m.c_us_per_expert * static_cast<double>(active[i])) / s;
    }
    r = solve_group_weighted(t, fixed, block, weight.data(), offset.data(), probs);
  } else {
    r = solve_group(t, SolverKind::kExact, fixed, block, probs);
  }
  if (!obj.min_moves || r.status == LpStatus::kTrivial) return r;

  // Caps at the optimum (the realised maximum, which is feasible by
  // construction) or within the tolerance above it.
  const double level = std::max(r.max_load, r.lower_bound * (1.0 + obj.move_tolerance));
  std::vector<double> cap(S);
  for (int64_t i = 0; i < S; ++i) cap[i] = weight.empty() ? level : weight[i] * (level - offset[i]);
  const std::vector<uint8_t> cross = cross_node_blocks(t, group, options.gpus_per_node);
  std::vector<double> moved(S * D);
  const MoveResult mv = solve_group_min_moves(t, fixed, block, cap.data(), cross.data(), moved.data());
  if (!mv.feasible) return r;  // rounding only: keep the primary split
  std::copy(moved.begin(), moved.end(), probs);
  r.max_load = group_objective(t, fixed, block, probs, weight, offset);
  return r;
}

void report_objective(const Planner& planner, std::span<const double> w, SolveOutput& out) {
  const Topology& t = planner.topology();
  const PlannerOptions& o = planner.options();
  const CostModel& model = o.objective.model;
  const int64_t P = o.ep_size, S = t.group_size(), D = t.slots();
  const int64_t n_ll = planner.n_local_logical(), n_loc = planner.n_local();
  const int64_t CD = planner.combined() * D;
  const auto& phy2log = planner.mapping().phy2log;

  std::vector<double> block(P * D, 0.0);
  std::vector<int64_t> active_before(P, 0), active_after(P, 0);
  for (int64_t r = 0; r < P; ++r) {
    const int64_t g = r / S, i = r % S;
    for (int64_t l = 0; l < n_ll; ++l) {
      const double x = w[phy2log[r * n_loc + l]];
      if (!(x > 0)) continue;
      ++active_before[r];
      if (l >= CD) {
        ++active_after[r];
        continue;
      }
      block[r * D + l % D] += x;
      // Active after the split when it keeps a token (map() rounds p * T).
      active_after[r] += clamp_prob(out.probs[r * D + l % D]) * x >= 0.5;
    }
    for (int64_t l = 0; l < CD; ++l) {  // copies of rank r2o(i, d)'s blocks
      const int64_t d = l % D, src = g * S + t.r2o(i, d);
      const double x = w[phy2log[src * n_loc + l]];
      active_after[r] += x > 0 && (1.0 - clamp_prob(out.probs[src * D + d])) * x > 0.5;
    }
  }
  out.tokens_moved = out.tokens_cross_node = 0;
  for (int64_t g = 0; g < P / S; ++g) {
    const std::vector<uint8_t> cross = cross_node_blocks(t, g, o.gpus_per_node);
    const MoveResult m = group_moves(t, &block[g * S * D], &out.probs[g * S * D], cross.data());
    out.tokens_moved += m.tokens_moved;
    out.tokens_cross_node += m.tokens_cross_node;
  }
  out.time_before.resize(P);
  out.time_after.resize(P);
  for (int64_t r = 0; r < P; ++r) {
    out.time_before[r] = model.time_us(r, out.load_before[r], static_cast<double>(active_before[r]));
    out.time_after[r] = model.time_us(r, out.load_after[r], static_cast<double>(active_after[r]));
  }
}

}  // namespace lplb::detail
