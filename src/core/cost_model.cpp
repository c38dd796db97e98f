// CostModel, the weighted per-group LP and the move statistics
// (lplb/cost_model.hpp). The weighted solver is lp_exact.hpp's, given rank
// weights and offsets; the min-cost flow lives in min_moves.cpp.
#include "lplb/cost_model.hpp"

#include <cmath>
#include <string>
#include <vector>

#include "common/lp_exact.hpp"
#include "lplb/errors.hpp"

namespace lplb {
namespace {

bool finite(double v) { return std::isfinite(v); }

void check_values(const double* v, int64_t n, const char* arg, bool positive, bool nonnegative) {
  check_arg(v != nullptr || n == 0, arg, "is null");
  for (int64_t k = 0; k < n; ++k) {
    const bool ok = finite(v[k]) && (!positive || v[k] > 0) && (!nonnegative || v[k] >= 0);
    if (!ok)
      check_arg(false, arg,
                "entry " + std::to_string(k) + " = " + std::to_string(v[k]) + " is " +
                    (positive ? "not finite and > 0" : nonnegative ? "negative or not finite"
                                                                   : "not finite"));
  }
}

LpStatus to_status(detail::LpCode code) {
  switch (code) {
    case detail::LpCode::kOptimal: return LpStatus::kOptimal;
    case detail::LpCode::kIpmConverged: return LpStatus::kIpmConverged;
    case detail::LpCode::kIpmFallback: return LpStatus::kIpmFallback;
    case detail::LpCode::kTrivial: return LpStatus::kTrivial;
  }
  return LpStatus::kTrivial;
}

}  // namespace

double CostModel::time_us(int64_t rank, double tokens, double active) const {
  const double s = speed.empty() ? 1.0 : speed.at(rank);
  const double x = extra_us.empty() ? 0.0 : extra_us.at(rank);
  return x + (a_us + b_us_per_token * tokens + c_us_per_expert * active) / s;
}

void validate_cost_model(const CostModel& m, int64_t num_ranks, const char* arg) {
  const std::string a(arg);
  check_arg(finite(m.a_us) && m.a_us >= 0, arg, "a_us must be finite and >= 0, got " + std::to_string(m.a_us));
  check_arg(finite(m.b_us_per_token) && m.b_us_per_token > 0, arg,
            "b_us_per_token must be finite and > 0, got " + std::to_string(m.b_us_per_token));
  check_arg(finite(m.c_us_per_expert) && m.c_us_per_expert >= 0, arg,
            "c_us_per_expert must be finite and >= 0, got " + std::to_string(m.c_us_per_expert));
  for (const auto* v : {&m.speed, &m.extra_us}) {
    const bool is_speed = v == &m.speed;
    const char* name = is_speed ? "speed" : "extra_us";
    check_arg(v->empty() || static_cast<int64_t>(v->size()) == num_ranks, arg,
              std::string(name) + " has " + std::to_string(v->size()) + " entries, expected " +
                  std::to_string(num_ranks) + " (one per rank) or none");
    check_values(v->data(), static_cast<int64_t>(v->size()), (a + "." + name).c_str(), is_speed,
                 !is_speed);
  }
}

const char* objective_name(ObjectiveKind kind) {
  switch (kind) {
    case ObjectiveKind::kTokens: return "tokens";
    case ObjectiveKind::kTime: return "time";
  }
  return "unknown";
}

ObjectiveKind parse_objective(std::string_view name) {
  if (name == "tokens") return ObjectiveKind::kTokens;
  if (name == "time") return ObjectiveKind::kTime;
  throw InvalidArgument("objective: unknown objective '" + std::string(name) +
                        "' (expected 'tokens' or 'time')");
}

LpResult solve_group_weighted(const Topology& topology, const double* fixed, const double* block,
                              const double* weight, const double* offset, double* probs) {
  const int S = static_cast<int>(topology.group_size()), D = static_cast<int>(topology.slots());
  check_values(fixed, S, "fixed", false, true);
  check_values(block, int64_t{S} * D, "block", false, true);
  check_values(weight, S, "weight", true, false);
  check_values(offset, S, "offset", false, false);
  check_arg(probs != nullptr, "probs", "is null");
  const detail::ExactProblem pb{S,     D,     topology.r2o_data().data(), topology.o2r_data().data(),
                                fixed, block, weight,                     offset};
  std::vector<uint64_t> buffer((detail::exact_workspace_bytes(S, D) + 7) / 8);
  const detail::ExactInfo info =
      detail::exact_solve(pb, detail::exact_workspace_bind(buffer.data(), S, D), probs);
  LpResult result;
  result.status = to_status(info.code);
  result.max_load = info.max_load;
  result.iterations = info.rounds;
  result.lower_bound = info.bound;
  return result;
}

MoveResult group_moves(const Topology& topology, const double* block, const double* probs,
                       const uint8_t* cross) {
  const int64_t SD = topology.group_size() * topology.slots();
  MoveResult r;
  for (int64_t e = 0; e < SD; ++e) {
    const double moved = (1.0 - detail::clamp_prob(probs[e])) * block[e];
    r.tokens_moved += moved;
    if (cross != nullptr && cross[e] != 0) r.tokens_cross_node += moved;
  }
  return r;
}

std::vector<uint8_t> cross_node_blocks(const Topology& topology, int64_t group,
                                       int64_t gpus_per_node) {
  check_arg(gpus_per_node > 0, "gpus_per_node", "must be > 0, got " + std::to_string(gpus_per_node));
  check_arg(group >= 0, "group", "must be >= 0, got " + std::to_string(group));
  const int64_t S = topology.group_size(), D = topology.slots(), first = group * S;
  std::vector<uint8_t> cross(S * D);
  for (int64_t i = 0; i < S; ++i)
    for (int64_t d = 0; d < D; ++d)
      cross[i * D + d] = (first + i) / gpus_per_node != (first + topology.o2r(i, d)) / gpus_per_node;
  return cross;
}

}  // namespace lplb
