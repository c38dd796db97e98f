// `lplb simulate`: runs a stream of MoE batches (synthetic or a recorded
// trace) through several balancers and measures per-step rank imbalance
// (max rank load / mean rank load) and the modelled step time.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "sim/balancer.hpp"

namespace lplb::sim {

// What the user asked for; unset optionals take their defaults (below) or
// come from the trace / --base file.
struct SimOptions {
  std::optional<int64_t> experts;  // E; default 256, or the trace's / --base's length
  int64_t topk = 8;
  int64_t ep = 32;                 // P
  std::string topology = "cube";
  int64_t redundant = 2;           // R
  int64_t gpus_per_node = 8;       // LPLB's EPLB reorder
  int64_t eplb_groups = 1;         // EPLB baseline policy (1 group, 1 node: global)
  int64_t eplb_nodes = 1;
  int64_t tokens_per_rank = 4096;
  std::optional<int64_t> steps;    // default 500; with a trace, all its steps
  double skew = 0.4;               // Zipf exponent of the synthetic base popularity
  double drift = 0.02;             // per-step sd of the log-popularity random walk
  double batch_noise = 0.3;        // sd of each batch's log-popularity perturbation
  uint64_t seed = 0;
  std::string base_path;           // JSON [E]: measured popularity (synthetic base)
  std::string trace_path;          // replay this trace instead of the synthetic stream
  std::optional<int64_t> layer;    // trace layer to replay (default: all, one stream each)
  // With a trace: rescale every step to this many tokens per rank
  // (sim/trace_scale.hpp); unset: replay the recorded counts.
  std::optional<int64_t> trace_tokens_per_rank;
  int64_t window = 100;            // history = moving sum of the last `window` steps
  int64_t refresh = 100;           // placements are refreshed every `refresh` steps
  int64_t warmup = 0;              // first steps left out of the summary figures
  std::vector<std::string> methods;  // default: all (none always runs: the baseline)
  int threads = 0;                 // sampling threads (0: all cores); results do not depend on it
  bool gpu = false;                // the placement LP methods solve on the GPU (CUDA builds)
  // online_lp: slots rewritten per layer per refresh (default 4) and steps a
  // rewritten slot serves nothing; every method: MB per expert copy.
  std::optional<int64_t> move_budget;
  int64_t move_steps = 1;
  double expert_mb = 88;
  // Cost model: every method's modelled GEMM time, and lplb_time's objective
  // (default: the H200 fit of lplb/objective.hpp).
  CostModel cost_model;
};

struct MethodResult {
  std::string name, label;
  std::vector<double> imbalance;   // [steps][streams], step-major
  std::vector<double> max_load;    // [steps][streams]: the slowest rank's tokens
  double solve_us_total = 0;
  int64_t ipm_fallbacks = 0;
  // Summary over all (step, stream) pairs after the warm-up steps.
  double imbalance_mean = 0, imbalance_p50 = 0, imbalance_p99 = 0, imbalance_max = 0;
  double step_time_rel = 1;        // sum of max_load / the same for `none`
  double solve_us_mean = 0;
  // Cost model: the slowest rank's modelled GEMM time (SimOptions::cost_model)
  // [steps][streams]; its mean and its sum relative to `none` after the
  // warm-up; tokens served off their expert's home rank / node per (step,
  // stream), mean after the warm-up.
  std::vector<double> max_time_us;
  double time_us_mean = 0, time_rel = 1;
  double tokens_moved_mean = 0, tokens_cross_node_mean = 0;
  double tokens_moved_total = 0, tokens_cross_node_total = 0;
  // Weight traffic of the refreshes after the warm-up (Balancer::traffic):
  // whether the method counts it, slot changes and those without a copy
  // source on the slot's node, totals over all layers and per layer per 100
  // steps, and MB per layer per 100 steps (SimOptions::expert_mb per copy).
  bool counts_traffic = false;
  int64_t slot_changes = 0, slot_changes_cross_node = 0;
  double changes_per_100 = 0, cross_node_per_100 = 0, traffic_mb_per_100 = 0;
};

struct SimResult {
  nlohmann::json config;            // resolved configuration
  int64_t num_steps = 0;
  int64_t num_streams = 0;          // 1 synthetic; trace layers replayed
  std::vector<MethodResult> methods;  // methods[0] is `none`
  double wall_s = 0;
};

// One balancer's result for one (step, stream): for tests and custom reports.
struct StepRecord {
  int64_t step, stream;
  const Balancer& balancer;
  std::span<const int64_t> counts;  // [E]
  const StepLoads& loads;
};

struct SimHooks {
  std::function<void(int64_t done, int64_t total)> progress;  // after each step
  std::function<void(const StepRecord&)> observer;
};

// Validates everything first (throws InvalidArgument naming the flag), then runs.
SimResult run_simulation(const SimOptions& options, const SimHooks& hooks = {});

// p in [0, 1], linear interpolation between order statistics (numpy's default).
double percentile(std::vector<double> values, double p);

}  // namespace lplb::sim
