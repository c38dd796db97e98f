// CostModel, its validation and the objective names (lplb/objective.hpp).
#include "lplb/objective.hpp"

#include <cmath>
#include <string>

#include "core/input_checks.hpp"
#include "lplb/errors.hpp"

namespace lplb {
namespace {

bool finite(double v) { return std::isfinite(v); }

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
    detail::check_entries(*v, (a + "." + name).c_str(),
                          is_speed ? detail::Bound::kPositive : detail::Bound::kNonNegative);
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
  throw_arg("objective", "unknown objective '" + std::string(name) +
                             "' (expected 'tokens' or 'time')");
}

}  // namespace lplb
