#include "sim/report.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace lplb::sim {
namespace {

nlohmann::json series(const std::vector<double>& flat, int64_t steps, int64_t streams) {
  if (streams == 1) return flat;
  nlohmann::json out = nlohmann::json::array();
  for (int64_t s = 0; s < steps; ++s)
    out.push_back(std::vector<double>(flat.begin() + s * streams, flat.begin() + (s + 1) * streams));
  return out;
}

std::string describe_source(const nlohmann::json& c) {
  if (c["source"] == "trace") {
    const auto& layers = c["layers"];
    const std::string which =
        layers.size() == 1 ? fmt::format("layer {}", layers[0].get<int64_t>())
                           : fmt::format("{} layers as separate streams", layers.size());
    return fmt::format("trace {} ({}), E={}", c["trace"].get<std::string>(), which,
                       c["experts"].get<int64_t>());
  }
  std::string base = c.contains("base") ? fmt::format(", base {}", c["base"].get<std::string>())
                                        : fmt::format(", Zipf skew {:g}", c["skew"].get<double>());
  return fmt::format("synthetic, E={} topk={}, {} tokens/rank{}, drift {:g}, batch noise {:g}, seed {}",
                     c["experts"].get<int64_t>(), c["topk"].get<int64_t>(),
                     c["tokens_per_rank"].get<int64_t>(), base, c["drift"].get<double>(),
                     c["batch_noise"].get<double>(), c["seed"].get<uint64_t>());
}

}  // namespace

nlohmann::json to_json(const SimResult& r) {
  nlohmann::json out;
  out["config"] = r.config;
  out["num_steps"] = r.num_steps;
  out["num_streams"] = r.num_streams;
  out["wall_s"] = r.wall_s;
  nlohmann::json methods = nlohmann::json::object();
  for (const MethodResult& m : r.methods) {
    nlohmann::json j;
    j["label"] = m.label;
    j["imbalance_mean"] = m.imbalance_mean;
    j["imbalance_p50"] = m.imbalance_p50;
    j["imbalance_p99"] = m.imbalance_p99;
    j["imbalance_max"] = m.imbalance_max;
    j["step_time_rel"] = m.step_time_rel;
    j["solve_us_mean"] = m.solve_us_mean;
    j["ipm_fallbacks"] = m.ipm_fallbacks;
    j["time_us_mean"] = m.time_us_mean;
    j["time_rel"] = m.time_rel;
    j["tokens_moved_mean"] = m.tokens_moved_mean;
    j["tokens_cross_node_mean"] = m.tokens_cross_node_mean;
    if (m.counts_traffic) {
      j["slot_changes"] = m.slot_changes;
      j["slot_changes_cross_node"] = m.slot_changes_cross_node;
      j["slot_changes_per_100_steps"] = m.changes_per_100;
      j["cross_node_changes_per_100_steps"] = m.cross_node_per_100;
      j["weight_traffic_mb_per_100_steps"] = m.traffic_mb_per_100;
    }
    j["max_time_us"] = series(m.max_time_us, r.num_steps, r.num_streams);
    j["imbalance"] = series(m.imbalance, r.num_steps, r.num_streams);
    j["max_load"] = series(m.max_load, r.num_steps, r.num_streams);
    methods[m.name] = std::move(j);
  }
  out["methods"] = std::move(methods);
  return out;
}

namespace {

// The weight-traffic table of the methods that count it ("" if none does).
std::string format_traffic(const SimResult& r, size_t width) {
  std::string rows;
  for (const MethodResult& m : r.methods)
    if (m.counts_traffic)
      rows += fmt::format("{:<{}} {:>13.1f} {:>13.1f} {:>12.2f}\n", m.label, width,
                          m.changes_per_100, m.cross_node_per_100, m.traffic_mb_per_100 / 1000.0);
  if (rows.empty()) return "";
  const nlohmann::json& c = r.config;
  return fmt::format(
             "\nweight traffic of the placement refreshes per layer per 100 steps (slots "
             "rewritten; those with no copy source on their node; GB at {} MB per expert; the "
             "first placement not counted; online_lp: budget {} slots per refresh, rewritten "
             "slots absent {} step(s)):\n",
             c["expert_mb"].get<double>(), c["move_budget"].get<int64_t>(),
             c["move_steps"].get<int64_t>()) +
         fmt::format("{:<{}} {:>13} {:>13} {:>12}\n", "method", width, "slot changes",
                     "cross-node", "GB") +
         rows;
}

}  // namespace

std::string format_table(const SimResult& r) {
  const nlohmann::json& c = r.config;
  std::string out = fmt::format("lplb simulate: {}\n", describe_source(c));
  const int64_t warmup = c["warmup"].get<int64_t>();
  out += fmt::format(
      "P={} ranks, topology {}, R={} redundant/rank; {} steps{}; history window {}, refresh every {}{}\n\n",
      c["ep"].get<int64_t>(), c["topology"].get<std::string>(), c["redundant"].get<int64_t>(),
      r.num_steps, r.num_streams > 1 ? fmt::format(" x {} layers", r.num_streams) : "",
      c["window"].get<int64_t>(), c["refresh"].get<int64_t>(),
      warmup > 0 ? fmt::format("; figures from step {}", warmup) : "");
  size_t width = 14;
  for (const MethodResult& m : r.methods) width = std::max(width, m.label.size());
  out += fmt::format("{:<{}} {:>9} {:>7} {:>7} {:>7} {:>11} {:>10}\n", "method", width,
                     "imb mean", "p50", "p99", "max", "max tokens", "solve us");
  for (const MethodResult& m : r.methods)
    out += fmt::format("{:<{}} {:>9.3f} {:>7.3f} {:>7.3f} {:>7.3f} {:>11.3f} {:>10.1f}\n", m.label,
                       width, m.imbalance_mean, m.imbalance_p50, m.imbalance_p99, m.imbalance_max,
                       m.step_time_rel, m.solve_us_mean);
  out += "\nimbalance = max rank load / mean rank load per step (loads in tokens); max tokens =\n"
         "the slowest rank's tokens summed over steps, relative to none (the step time if a rank's\n"
         "time were proportional to its tokens); solve us = LP time per step (all groups).\n";
  const nlohmann::json& cm = c["cost_model"];
  out += fmt::format(
      "\nmodelled GEMM time of the slowest rank (time_r = {:.3g} + {:.4g} us/token + {:.3g} us/active "
      "expert{}) and tokens served off their expert's home rank / node (nodes of {} ranks), per "
      "step:\n",
      cm["a_us"].get<double>(), cm["b_us_per_token"].get<double>(),
      cm["c_us_per_expert"].get<double>(),
      cm["speed"].empty() && cm["extra_us"].empty() ? "" : ", per-rank speed/extra",
      c["gpus_per_node"].get<int64_t>());
  out += fmt::format("{:<{}} {:>10} {:>9} {:>11} {:>11}\n", "method", width, "gemm us", "gemm rel",
                     "moved", "cross-node");
  for (const MethodResult& m : r.methods)
    out += fmt::format("{:<{}} {:>10.1f} {:>9.3f} {:>11.1f} {:>11.1f}\n", m.label, width,
                       m.time_us_mean, m.time_rel, m.tokens_moved_mean, m.tokens_cross_node_mean);
  out += format_traffic(r, width);
  for (const MethodResult& m : r.methods)
    if (m.ipm_fallbacks > 0)
      out += fmt::format("{}: {} group solves fell back to p = 0.5 (reference behaviour)\n",
                         m.label, m.ipm_fallbacks);
  return out;
}

}  // namespace lplb::sim
