#include "sim/trace.hpp"

#include <cctype>
#include <cmath>
#include <optional>
#include <string_view>

#include "cli/json_io.hpp"
#include "cli/json_numbers.hpp"
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

// Past one JSON value starting at t[p] (after whitespace): strings with
// escapes and nested brackets are skipped without being parsed.
bool skip_value(std::string_view t, size_t& p) {
  while (p < t.size() && std::isspace(static_cast<unsigned char>(t[p]))) ++p;
  int depth = 0;
  for (; p < t.size(); ++p) {
    const char c = t[p];
    if (c == '"') {
      for (++p; p < t.size() && t[p] != '"'; ++p)
        if (t[p] == '\\') ++p;
      if (p >= t.size()) return false;
    } else if (c == '[' || c == '{') {
      ++depth;
    } else if (c == ']' || c == '}') {
      if (depth == 0) return true;  // the enclosing container ends here
      if (--depth == 0) {
        ++p;
        return true;
      }
    } else if (depth == 0 && c == ',') {
      return true;
    }
  }
  return depth == 0;
}

// The trace without a JSON DOM for its counts: a bare 3-D array or an object
// whose "counts" is one, all non-negative integers up to 2^53. nullopt for
// anything else; load_trace then takes the full path and its errors.
std::optional<Trace> parse_trace_fast(std::string_view t) {
  auto ws = [&](size_t& p) {
    while (p < t.size() && std::isspace(static_cast<unsigned char>(t[p]))) ++p;
  };
  size_t p = 0;
  ws(p);
  std::optional<cli::NumberArray> counts;
  nlohmann::json config;
  if (p < t.size() && t[p] == '[') {
    counts = cli::scan_number_array(t, p, 3);
  } else if (p < t.size() && t[p] == '{') {
    ++p;
    for (;;) {
      ws(p);
      if (p >= t.size() || t[p] != '"') return std::nullopt;
      const size_t key_end = t.find('"', p + 1);
      if (key_end == std::string_view::npos) return std::nullopt;
      const std::string_view key = t.substr(p + 1, key_end - p - 1);
      if (key.find('\\') != std::string_view::npos) return std::nullopt;
      p = key_end + 1;
      ws(p);
      if (p >= t.size() || t[p] != ':') return std::nullopt;
      ++p;
      if (key == "counts") {
        if (counts) return std::nullopt;  // duplicate key: the full parser decides
        counts = cli::scan_number_array(t, p, 3);
        if (!counts) return std::nullopt;
      } else {
        ws(p);
        const size_t start = p;
        if (!skip_value(t, p)) return std::nullopt;
        if (key == "config") {
          try {
            config = nlohmann::json::parse(t.substr(start, p - start));
          } catch (const nlohmann::json::exception&) {
            return std::nullopt;
          }
        }
      }
      ws(p);
      if (p < t.size() && t[p] == ',') {
        ++p;
        continue;
      }
      if (p < t.size() && t[p] == '}') {
        ++p;
        break;
      }
      return std::nullopt;
    }
  }
  if (!counts) return std::nullopt;
  ws(p);
  if (p != t.size()) return std::nullopt;
  Trace tr;
  tr.num_steps = counts->shape[0];
  tr.num_layers = counts->shape[1];
  tr.num_experts = counts->shape[2];
  tr.counts.resize(counts->values.size());
  for (size_t k = 0; k < counts->values.size(); ++k) {
    const double x = counts->values[k];
    if (x != std::floor(x) || x > kMaxCount) return std::nullopt;
    tr.counts[k] = static_cast<int64_t>(x);
  }
  if (config.is_object()) tr.config = std::move(config);
  return tr;
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
  const std::string text = cli::read_json_text(path, arg);
  if (auto fast = parse_trace_fast(text)) return std::move(*fast);
  return parse_trace(cli::parse_json_text(text, path, arg), arg);
}

}  // namespace lplb::sim
