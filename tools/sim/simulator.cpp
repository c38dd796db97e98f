#include "sim/simulator.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <iostream>
#include <numeric>

#include "lplb/errors.hpp"
#include "lplb/planner.hpp"
#include "sim/count_source.hpp"
#include "sim/traffic.hpp"

namespace lplb::sim {
namespace {

// Per-step series are kept for every (step, stream): bound their memory.
constexpr int64_t kMaxRecords = 100'000'000;

// Moving sum of the last `window` steps' counts of one stream.
class History {
 public:
  History(int64_t window, int64_t E) : ring_(window, std::vector<int64_t>(E, 0)), sum_(E, 0) {}
  void push(const std::vector<int64_t>& counts) {
    std::vector<int64_t>& slot = ring_[next_];
    for (size_t e = 0; e < sum_.size(); ++e) sum_[e] += counts[e] - slot[e];
    slot = counts;
    next_ = (next_ + 1) % ring_.size();
    filled_ = std::min(filled_ + 1, ring_.size());
  }
  std::vector<double> sum() const {
    if (filled_ == 0) return {};
    return std::vector<double>(sum_.begin(), sum_.end());
  }

 private:
  std::vector<std::vector<int64_t>> ring_;
  std::vector<int64_t> sum_;
  size_t next_ = 0, filled_ = 0;
};

// Topology::parse names its argument "topology"; here it is the flag.
Topology parse_topology(const std::string& spec) {
  try {
    return Topology::parse(spec);
  } catch (const InvalidArgument& e) {
    std::string msg = e.what();
    if (msg.starts_with("topology:")) msg = msg.substr(9);
    else msg = " " + msg;
    throw InvalidArgument("--topology:" + msg);
  }
}

void check_positive(int64_t v, const char* arg) {
  check_arg(v > 0, arg, "must be > 0, got " + std::to_string(v));
}

std::vector<std::string> resolve_methods(const std::vector<std::string>& asked) {
  std::vector<std::string> names = asked.empty() ? balancer_names() : asked;
  const auto known = balancer_names();
  for (const auto& n : names)
    check_arg(std::find(known.begin(), known.end(), n) != known.end(), "--methods",
              "unknown method '" + n + "'");
  // `none` is the baseline of step_time_rel: always first, never twice.
  names.erase(std::remove(names.begin(), names.end(), "none"), names.end());
  std::vector<std::string> out{"none"};
  for (const auto& n : names)
    if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
  return out;
}

// Summary figures over the series from index `first` on.
void summarise(MethodResult& m, size_t first, double none_time, double none_modelled,
               double expert_mb) {
  const std::vector<double> x(m.imbalance.begin() + first, m.imbalance.end());
  m.imbalance_mean = std::accumulate(x.begin(), x.end(), 0.0) / static_cast<double>(x.size());
  m.imbalance_p50 = percentile(x, 0.5);
  m.imbalance_p99 = percentile(x, 0.99);
  m.imbalance_max = *std::max_element(x.begin(), x.end());
  const double time = std::accumulate(m.max_load.begin() + first, m.max_load.end(), 0.0);
  m.step_time_rel = none_time > 0 ? time / none_time : 1.0;
  m.solve_us_mean = m.solve_us_total / static_cast<double>(x.size());
  const double modelled = std::accumulate(m.max_time_us.begin() + first, m.max_time_us.end(), 0.0);
  m.time_us_mean = modelled / static_cast<double>(x.size());
  m.time_rel = none_modelled > 0 ? modelled / none_modelled : 1.0;
  m.tokens_moved_mean = m.tokens_moved_total / static_cast<double>(x.size());
  m.tokens_cross_node_mean = m.tokens_cross_node_total / static_cast<double>(x.size());
  // Per layer per 100 steps: x holds one entry per (step, layer).
  m.changes_per_100 = 100.0 * static_cast<double>(m.slot_changes) / static_cast<double>(x.size());
  m.cross_node_per_100 =
      100.0 * static_cast<double>(m.slot_changes_cross_node) / static_cast<double>(x.size());
  m.traffic_mb_per_100 = m.changes_per_100 * expert_mb;
}

// Refreshes every method's placement of one stream, counting the weight
// traffic of refreshes after the warm-up.
void refresh_stream(std::vector<std::unique_ptr<Balancer>>& balancers,
                    const std::vector<double>& history, bool counted,
                    std::vector<MethodResult>& methods) {
  for (size_t k = 0; k < balancers.size(); ++k) {
    Balancer& b = *balancers[k];
    const std::optional<WeightTraffic> before = b.traffic();
    b.refresh(history);
    const std::optional<WeightTraffic> after = b.traffic();
    MethodResult& m = methods[k];
    m.counts_traffic = after.has_value();
    if (counted && before && after) {
      m.slot_changes += after->slot_changes - before->slot_changes;
      m.slot_changes_cross_node += after->cross_node - before->cross_node;
    }
  }
}

// One batch of one stream through every method, recorded.
void step_stream(std::vector<std::unique_ptr<Balancer>>& balancers, int64_t s, int64_t l,
                 const std::vector<int64_t>& counts, const SimOptions& o, const SimHooks& hooks,
                 StepLoads& loads, std::vector<MethodResult>& methods) {
  const bool counted = s >= o.warmup;
  for (size_t k = 0; k < balancers.size(); ++k) {
    Balancer& b = *balancers[k];
    b.step(counts, loads);
    MethodResult& m = methods[k];
    m.imbalance.push_back(imbalance(loads.rank_loads));
    m.max_load.push_back(*std::max_element(loads.rank_loads.begin(), loads.rank_loads.end()));
    m.max_time_us.push_back(max_modelled_time(o.cost_model, loads));
    if (counted) {
      m.solve_us_total += loads.solve_us;
      m.ipm_fallbacks += loads.ipm_fallbacks;
      m.tokens_moved_total += loads.tokens_moved;
      m.tokens_cross_node_total += loads.tokens_cross_node;
    }
    if (hooks.observer) hooks.observer(StepRecord{s, l, b, counts, loads});
  }
}

}  // namespace

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = p * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

SimResult run_simulation(const SimOptions& o, const SimHooks& hooks) {
  const auto t0 = std::chrono::steady_clock::now();
  // --- Validate and resolve sizes, the source, and the balancers. ---
  if (o.steps) check_positive(*o.steps, "--steps");
  check_positive(o.window, "--window");
  check_positive(o.refresh, "--refresh");
  check_arg(o.warmup >= 0, "--warmup", "must be >= 0, got " + std::to_string(o.warmup));
  check_arg(o.trace_path.empty() || o.base_path.empty(), "--base",
            "cannot be combined with --trace (a trace replaces the synthetic stream)");
  check_arg(!o.layer || !o.trace_path.empty(), "--layer", "only applies with --trace");
  check_positive(o.ep, "--ep");
  const Topology topology = parse_topology(o.topology);
  std::vector<std::string> names = resolve_methods(o.methods);

  nlohmann::json config;
  OpenedSource opened = open_source(o, config);
  const int64_t E = opened.num_experts, steps = opened.num_steps;
  const std::vector<int64_t>& layers = opened.layers;
  CountSource& source = *opened.source;

  validate_cost_model(o.cost_model, o.ep, "--cost-model");
  BalancerContext ctx{E, o.ep, o.redundant, topology, o.gpus_per_node, o.eplb_groups, o.eplb_nodes};
  ctx.cost_model = o.cost_model;
  ctx.gpu = o.gpu;
  if (o.move_budget) check_arg(*o.move_budget >= 0, "--move-budget", "must be >= 0, got " + std::to_string(*o.move_budget));
  check_arg(o.move_steps >= 0, "--move-steps", "must be >= 0, got " + std::to_string(o.move_steps));
  check_arg(std::isfinite(o.expert_mb) && o.expert_mb >= 0, "--expert-mb", "must be finite and >= 0");
  ctx.move_budget = o.move_budget.value_or(ctx.move_budget);
  ctx.move_steps = o.move_steps;
  const auto is_lplb = [](const std::string& n) { return n.starts_with("lplb"); };
  if (o.methods.empty() && o.redundant > E / o.ep) {
    // Decode-style layouts (one or two experts per GPU, R > E/P) suit only the
    // placement methods: the default set drops LPLB's layout, with a notice.
    names.erase(std::remove_if(names.begin(), names.end(), is_lplb), names.end());
    std::cerr << "note: the lplb_* methods are skipped: " << lplb_layout_problem(ctx) << "\n";
  }
  const bool needs_lplb = std::any_of(names.begin(), names.end(), is_lplb);
  validate_context(ctx, needs_lplb);

  const int64_t streams = static_cast<int64_t>(layers.size());
  check_arg(steps * streams <= kMaxRecords, "--steps",
            std::to_string(steps) + " steps x " + std::to_string(streams) +
                " streams exceed the limit of 10^8 (step, stream) pairs");
  check_arg(o.warmup < steps, "--warmup",
            std::to_string(o.warmup) + " leaves no step to report (" + std::to_string(steps) +
                " steps)");
  config["experts"] = E;
  config["ep"] = o.ep;
  config["topology"] = o.topology;
  config["redundant"] = o.redundant;
  config["gpus_per_node"] = o.gpus_per_node;
  config["eplb_groups"] = o.eplb_groups;
  config["eplb_nodes"] = o.eplb_nodes;
  config["steps"] = steps;
  config["window"] = o.window;
  config["refresh"] = o.refresh;
  config["warmup"] = o.warmup;
  config["gpu"] = o.gpu;
  config["move_budget"] = ctx.move_budget;
  config["move_steps"] = o.move_steps;
  config["expert_mb"] = o.expert_mb;
  config["layers"] = layers;
  config["methods"] = names;
  config["cost_model"] = {{"a_us", o.cost_model.a_us},
                          {"b_us_per_token", o.cost_model.b_us_per_token},
                          {"c_us_per_expert", o.cost_model.c_us_per_expert},
                          {"speed", o.cost_model.speed},
                          {"extra_us", o.cost_model.extra_us}};

  // balancers[stream][method]: each stream (trace layer) has its own placements.
  std::vector<std::vector<std::unique_ptr<Balancer>>> balancers(streams);
  for (auto& per_stream : balancers)
    for (const auto& n : names) per_stream.push_back(make_balancer(n, ctx));
  // A window longer than the run holds every step anyway.
  std::vector<History> history(streams, History(std::min(o.window, steps), E));

  SimResult result;
  result.num_steps = steps;
  result.num_streams = streams;
  for (const auto& b : balancers[0]) {
    MethodResult m;
    m.name = b->name();
    m.label = b->label();
    m.imbalance.reserve(steps * streams);
    m.max_load.reserve(steps * streams);
    m.max_time_us.reserve(steps * streams);
    result.methods.push_back(std::move(m));
  }

  // --- Run. ---
  std::vector<std::vector<int64_t>> counts(streams, std::vector<int64_t>(E, 0));
  StepLoads loads;
  for (int64_t s = 0; s < steps; ++s) {
    source.next(s, counts);
    for (int64_t l = 0; l < streams; ++l) {
      if (s > 0 && s % o.refresh == 0)
        refresh_stream(balancers[l], history[l].sum(), s >= o.warmup, result.methods);
      step_stream(balancers[l], s, l, counts[l], o, hooks, loads, result.methods);
      history[l].push(counts[l]);
    }
    if (hooks.progress) hooks.progress(s + 1, steps);
  }

  const size_t first = static_cast<size_t>(o.warmup * streams);
  const auto& none_max = result.methods[0].max_load;
  const double none_time = std::accumulate(none_max.begin() + first, none_max.end(), 0.0);
  const auto& none_modelled = result.methods[0].max_time_us;
  const double none_us = std::accumulate(none_modelled.begin() + first, none_modelled.end(), 0.0);
  for (auto& m : result.methods) summarise(m, first, none_time, none_us, o.expert_mb);
  result.config = std::move(config);
  result.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace lplb::sim
