#include "sim/cost_model_json.hpp"

#include <nlohmann/json.hpp>

#include "cli/json_io.hpp"
#include "lplb/errors.hpp"

namespace lplb::sim {
namespace {

double number(const nlohmann::json& j, const char* key, const char* arg) {
  check_arg(j[key].is_number(), arg, std::string("\"") + key + "\" must be a number");
  return j[key].get<double>();
}

}  // namespace

CostModel read_cost_model(const std::string& path, const char* arg) {
  nlohmann::json j = cli::read_json_file(path, arg);
  if (j.is_object() && j.contains("fits")) {  // a measure_gemm.py table
    check_arg(j.contains("default_method") && j["default_method"].is_string() &&
                  j["fits"].contains(j["default_method"].get<std::string>()),
              arg, "a measured table needs \"default_method\" naming one of its \"fits\"");
    j = j["fits"][j["default_method"].get<std::string>()];
  }
  check_arg(j.is_object(), arg, "expected a JSON object with a_us, b_us_per_token, c_us_per_expert");
  CostModel m;
  for (const auto& [key, value] : j.items()) {
    if (key == "a_us") m.a_us = number(j, "a_us", arg);
    else if (key == "b_us_per_token") m.b_us_per_token = number(j, "b_us_per_token", arg);
    else if (key == "c_us_per_expert") m.c_us_per_expert = number(j, "c_us_per_expert", arg);
    else if (key == "speed") m.speed = cli::to_vector(value, arg);
    else if (key == "extra_us") m.extra_us = cli::to_vector(value, arg);
    else if (key == "fit_error" || key == "holdout_error") continue;  // a table's fit entry
    else check_arg(false, arg, "unknown key \"" + key + "\"");
  }
  return m;
}

}  // namespace lplb::sim
