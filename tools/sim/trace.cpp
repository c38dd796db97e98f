#include "sim/trace.hpp"

#include <cmath>

#include "cli/json_io.hpp"
#include "lplb/errors.hpp"

namespace lplb::sim {
namespace {

constexpr double kMaxCount = 9007199254740992.0;  // 2^53: sums stay exact

std::string where(int64_t s, int64_t l = -1, int64_t e = -1) {
  std::string w = "counts[" + std::to_string(s) + "]";
  if (l >= 0) w += "[" + std::to_string(l) + "]";
  if (e >= 0) w += "[" + std::to_string(e) + "]";
  return w;
}

int64_t to_count(const nlohmann::json& v, const char* arg, int64_t s, int64_t l, int64_t e) {
  if (v.is_number_unsigned()) {
    const uint64_t x = v.get<uint64_t>();
    check_arg(static_cast<double>(x) <= kMaxCount, arg, where(s, l, e) + " exceeds 2^53");
    return static_cast<int64_t>(x);
  }
  if (v.is_number_integer()) {
    const int64_t x = v.get<int64_t>();
    check_arg(x >= 0, arg, where(s, l, e) + " = " + std::to_string(x) + " is negative");
    return x;
  }
  check_arg(v.is_number(), arg, where(s, l, e) + " is not a number: " + v.dump());
  const double x = v.get<double>();
  check_arg(std::isfinite(x), arg, where(s, l, e) + " = " + v.dump() + " is not finite");
  check_arg(x >= 0, arg, where(s, l, e) + " = " + v.dump() + " is negative");
  check_arg(x == std::floor(x), arg, where(s, l, e) + " = " + v.dump() + " is not an integer");
  check_arg(x <= kMaxCount, arg, where(s, l, e) + " exceeds 2^53");
  return static_cast<int64_t>(x);
}

}  // namespace

Trace parse_trace(const nlohmann::json& j, const char* arg) {
  const nlohmann::json* counts = &j;
  Trace t;
  if (j.is_object()) {
    check_arg(j.contains("counts"), arg, "JSON object has no \"counts\" member");
    counts = &j["counts"];
    if (j.contains("config") && j["config"].is_object()) t.config = j["config"];
  }
  const std::string shape = "expected counts[steps][layers][experts] (a 3-D array)";
  check_arg(counts->is_array(), arg, shape + ", got " + std::string(counts->type_name()));
  check_arg(!counts->empty(), arg, "the trace has no steps");
  const nlohmann::json& first = (*counts)[0];
  check_arg(first.is_array(), arg, shape + ", got a 1-D array");
  check_arg(!first.empty(), arg, "counts[0] has no layers");
  check_arg(first[0].is_array(), arg, shape + ", got a 2-D array");
  check_arg(!first[0].empty(), arg, "counts[0][0] has no experts");

  t.num_steps = static_cast<int64_t>(counts->size());
  t.num_layers = static_cast<int64_t>(first.size());
  t.num_experts = static_cast<int64_t>(first[0].size());
  t.counts.reserve(t.num_steps * t.num_layers * t.num_experts);
  for (int64_t s = 0; s < t.num_steps; ++s) {
    const nlohmann::json& step = (*counts)[s];
    check_arg(step.is_array(), arg, where(s) + " is not an array (" + shape + ")");
    check_arg(static_cast<int64_t>(step.size()) == t.num_layers, arg,
              "ragged array: " + where(s) + " has " + std::to_string(step.size()) +
                  " layers, counts[0] has " + std::to_string(t.num_layers));
    for (int64_t l = 0; l < t.num_layers; ++l) {
      const nlohmann::json& layer = step[l];
      check_arg(layer.is_array(), arg, where(s, l) + " is not an array (" + shape + ")");
      check_arg(static_cast<int64_t>(layer.size()) == t.num_experts, arg,
                "ragged array: " + where(s, l) + " has " + std::to_string(layer.size()) +
                    " experts, counts[0][0] has " + std::to_string(t.num_experts));
      for (int64_t e = 0; e < t.num_experts; ++e) {
        check_arg(!layer[e].is_array(), arg,
                  where(s, l, e) + " is an array: " + shape + ", got more than 3 dimensions");
        t.counts.push_back(to_count(layer[e], arg, s, l, e));
      }
    }
  }
  return t;
}

Trace load_trace(const std::string& path, const char* arg) {
  return parse_trace(cli::read_json_file(path, arg), arg);
}

}  // namespace lplb::sim
