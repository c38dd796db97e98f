// Output of `lplb simulate`: the summary table (stdout) and the JSON document
// ({"config", "methods": {name: {figures..., "imbalance": series}}}).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "sim/simulator.hpp"

namespace lplb::sim {

// Per method: imbalance_mean/p50/p99/max, step_time_rel, solve_us_mean,
// ipm_fallbacks, label, and the series "imbalance" and "max_load": [steps]
// for one stream, [steps][streams] for several (trace layers).
nlohmann::json to_json(const SimResult& result);

// The human-readable table, ending with a newline.
std::string format_table(const SimResult& result);

}  // namespace lplb::sim
