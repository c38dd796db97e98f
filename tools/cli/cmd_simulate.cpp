// `lplb simulate`: compares no balancing, EPLB, LPLB-IPM and LPLB-exact on a
// stream of MoE batches (docs/SIMULATOR.md). Table on stdout, optional JSON and
// plot; progress on stderr for long runs.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "cli/commands.hpp"
#include "cli/json_io.hpp"
#include "lplb/errors.hpp"
#include "sim/cost_model_json.hpp"
#include "sim/plot.hpp"
#include "sim/progress.hpp"
#include "sim/report.hpp"
#include "sim/simulator.hpp"
#include "sim/sweep_moves.hpp"

namespace lplb::cli {
namespace {

struct SimulateArgs {
  sim::SimOptions options;
  int64_t experts = 256, steps = 500, layer = 0, move_budget = 4;
  std::string json, plot, cost_model, format = "table";
  bool quiet = false, sweep_moves = false;
};

void setup_simulate(CLI::App& app) {
  auto a = std::make_shared<SimulateArgs>();
  sim::SimOptions& o = a->options;
  CLI::App* cmd = app.add_subcommand(
      "simulate",
      "Compare balancers (none, EPLB, LPLB, the placement LP methods) on a stream of MoE "
      "batches (default: a DeepSeek-V3-like layer, 500 steps; docs/SIMULATOR.md)");
  auto* experts = cmd->add_option("--experts", a->experts, "logical experts E (default 256; from the trace or --base)");
  auto* topk = cmd->add_option("--topk", o.topk, "distinct experts per token")->capture_default_str();
  cmd->add_option("--ep", o.ep, "EP ranks P")->capture_default_str();
  cmd->add_option("--topology", o.topology, "cube, hypercube, ring[:S], torus:MxN or r2o.json")
      ->capture_default_str();
  cmd->add_option("--redundant", o.redundant, "redundant experts per rank R")->capture_default_str();
  auto* tokens = cmd->add_option("--tokens", o.tokens_per_rank,
                                 "tokens per rank per step (with --trace: rescale every step to "
                                 "this many, largest-remainder rounding)")
                     ->capture_default_str();
  auto* steps = cmd->add_option("--steps", a->steps, "steps (default 500; with --trace, all of its steps)");
  auto* skew = cmd->add_option("--skew", o.skew, "Zipf exponent of the synthetic popularity")
                   ->capture_default_str();
  auto* drift = cmd->add_option("--drift", o.drift, "per-step sd of the log-popularity drift")
                    ->capture_default_str();
  auto* noise = cmd->add_option("--batch-noise", o.batch_noise,
                                "sd of each batch's log-popularity perturbation")
                    ->capture_default_str();
  auto* seed = cmd->add_option("--seed", o.seed, "random seed")->capture_default_str();
  auto* base = cmd->add_option("--base", o.base_path, "JSON [E]: measured popularity as the synthetic base");
  cmd->add_option("--window", o.window, "history: moving sum of this many previous steps")
      ->capture_default_str();
  cmd->add_option("--refresh", o.refresh, "rebuild every method's placement every K steps (1: before every step)")
      ->capture_default_str();
  cmd->add_option("--warmup", o.warmup, "leave the first N steps out of the figures (not the series)")
      ->capture_default_str();
  auto* trace = cmd->add_option("--trace", o.trace_path,
                                "replay counts[steps][layers][experts] from a JSON(.gz) trace");
  auto* layer = cmd->add_option("--layer", a->layer, "with --trace: replay only this layer");
  cmd->add_option("--methods", o.methods, "comma-separated subset of none,eplb,lplb_ipm,lplb_exact,lplb_moves,"
                  "lplb_time,eplb_lp,lplb_lp,hybrid_lp,hybrid_node_lp,online_lp (default: all; with "
                  "R > E/P all but lplb_*)")
      ->delimiter(',');
  cmd->add_option("--gpus-per-node", o.gpus_per_node, "GPUs per node: LPLB's EPLB reorder, cross-node traffic")
      ->capture_default_str();
  cmd->add_option("--eplb-groups", o.eplb_groups, "EPLB baseline: expert groups")->capture_default_str();
  cmd->add_option("--eplb-nodes", o.eplb_nodes, "EPLB baseline: nodes")->capture_default_str();
  cmd->add_option("--threads", o.threads, "sampling threads (0: all cores)")->capture_default_str();
  cmd->add_option("--json", a->json, "write all figures and per-step series here ('-': stdout)");
  cmd->add_option("--format", a->format,
                  "table (stdout, default) | json: the --json document on stdout, no table")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  cmd->add_option("--plot", a->plot, "draw imbalance per step and its distribution (.png/.svg/.pdf)");
  auto* budget = cmd->add_option("--move-budget", a->move_budget,
                                 "online_lp: slots rewritten per layer per refresh (default 4)");
  cmd->add_option("--move-steps", o.move_steps,
                  "online_lp: steps a rewritten slot serves nothing while its copy lands")
      ->capture_default_str();
  cmd->add_option("--expert-mb", o.expert_mb, "MB copied per rewritten slot (weight traffic)")
      ->capture_default_str();
  cmd->add_flag("--sweep-moves", a->sweep_moves,
                "print quality vs weight traffic: online_lp over budgets {1,2,4,8,16} x refresh "
                "{5,10,50} and hybrid_lp refreshed every {5,10,50,100,500} steps");
  cmd->add_flag("-q,--quiet", a->quiet, "no progress bar");
  cmd->add_flag("--gpu", o.gpu,
                "solve the placement LP methods (eplb_lp, lplb_lp, hybrid_lp) on the GPU "
                "(CudaPlacementPlanner; CUDA builds only)");
  cmd->add_option("--cost-model", a->cost_model,
                  "JSON {a_us, b_us_per_token, c_us_per_expert, speed[P], extra_us[P]} or a "
                  "scripts/measure_gemm.py table: the modelled GEMM time (default: the H200 fit)");
  // The synthetic stream's knobs mean nothing for a replayed trace.
  for (CLI::Option* opt : {topk, skew, drift, noise, seed, base}) opt->excludes(trace);

  cmd->callback([a, experts, steps, layer, tokens, trace, budget] {
    sim::SimOptions opt = a->options;
    if (budget->count() > 0) opt.move_budget = a->move_budget;
    if (experts->count() > 0) opt.experts = a->experts;
    if (steps->count() > 0) opt.steps = a->steps;
    if (layer->count() > 0) opt.layer = a->layer;
    if (tokens->count() > 0 && trace->count() > 0) opt.trace_tokens_per_rank = opt.tokens_per_rank;
    if (!a->cost_model.empty()) opt.cost_model = sim::read_cost_model(a->cost_model, "--cost-model");
    // Fail before a long run, not after it.
    check_arg(a->plot != "-", "--plot", "needs a file name (its extension picks the format)");
    if (!a->plot.empty()) sim::check_plot_target(a->plot);
    const bool json_stdout = a->format == "json" || a->json == "-";
    check_arg(a->format != "json" || a->json.empty() || a->json == "-", "--json",
              "--format json already writes the document to stdout");
    if (!a->json.empty() && a->json != "-") {
      const std::filesystem::path dir = std::filesystem::path(a->json).parent_path();
      check_arg(dir.empty() || std::filesystem::is_directory(dir), "--json",
                "directory '" + dir.string() + "' does not exist");
    }
    sim::ProgressBar bar("simulate", !a->quiet && sim::ProgressBar::stderr_is_terminal());
    sim::SimHooks hooks;
    hooks.progress = [&bar](int64_t done, int64_t total) { bar.update(done, total); };
    if (a->sweep_moves) {
      check_arg(a->json.empty() && a->plot.empty(), "--sweep-moves",
                "prints a table only; cannot be combined with --json or --plot");
      const std::string table = sim::sweep_moves(opt, hooks);
      bar.finish();
      std::fputs(table.c_str(), stdout);
      return;
    }
    const sim::SimResult result = sim::run_simulation(opt, hooks);
    bar.finish();
    if (result.num_steps <= opt.refresh)
      std::fprintf(stderr,
                   "note: %lld steps, not more than --refresh %lld: placements are built once "
                   "and never refreshed\n",
                   static_cast<long long>(result.num_steps), static_cast<long long>(opt.refresh));
    // stdout carries exactly one thing: the table, or the JSON document.
    if (a->format == "table") {
      std::fputs(sim::format_table(result).c_str(), json_stdout ? stderr : stdout);
      std::fflush(json_stdout ? stderr : stdout);
    }
    if (json_stdout || !a->json.empty() || !a->plot.empty()) {
      const nlohmann::json doc = sim::to_json(result);
      if (json_stdout) write_json(doc, "-", "--json");
      else if (!a->json.empty()) write_json(doc, a->json, "--json");
      if (!a->plot.empty()) sim::write_plot(doc, a->plot);
    }
  });
}

}  // namespace

LPLB_REGISTER_COMMAND("simulate", setup_simulate);

}  // namespace lplb::cli
