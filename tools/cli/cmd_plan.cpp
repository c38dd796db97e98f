// `lplb plan`: one batch through the planner, JSON out (docs/ARCHITECTURE.md).
#include <memory>
#include <cstdio>
#include <string>

#include "cli/commands.hpp"
#include "cli/json_io.hpp"
#include "cli/plan_placement.hpp"
#include "lplb/errors.hpp"
#include "lplb/planner.hpp"
#include "sim/cost_model_json.hpp"

namespace lplb::cli {
namespace {

struct PlanArgs {
  std::string topology, history, workload, output, solver = "exact", placement;
  int64_t experts = 0, ep = 0, redundant = 0, gpus_per_node = 8, layer = -1;
  // Modelled time and fewest moves (lplb/objective.hpp).
  std::string objective = "tokens", cost_model;
  bool min_moves = false;
  double move_tolerance = 0;
};

nlohmann::json nest(const std::vector<double>& flat, int64_t a, int64_t b, int64_t c) {
  nlohmann::json out = nlohmann::json::array();
  for (int64_t i = 0; i < a; ++i) {
    nlohmann::json mid = nlohmann::json::array();
    for (int64_t j = 0; j < b; ++j)
      mid.push_back(std::vector<double>(flat.begin() + (i * b + j) * c,
                                        flat.begin() + (i * b + j + 1) * c));
    out.push_back(std::move(mid));
  }
  return out;
}

void run_plan(const PlanArgs& a) {
  PlannerOptions opt;
  opt.num_experts = a.experts;
  opt.ep_size = a.ep;
  opt.redundant_per_rank = a.redundant;
  opt.gpus_per_node = a.gpus_per_node;
  opt.solver = parse_solver(a.solver);
  check_arg(a.objective == "tokens" || a.objective == "time", "--objective",
            "expected 'tokens' or 'time', got '" + a.objective + "'");
  opt.objective.kind = parse_objective(a.objective);
  opt.objective.min_moves = a.min_moves;
  opt.objective.move_tolerance = a.move_tolerance;
  if (!a.cost_model.empty()) {
    opt.objective.model = sim::read_cost_model(a.cost_model, "--cost-model");
    validate_cost_model(opt.objective.model, a.ep, "--cost-model");
  }
  // Sizes and topology first (cheap: the planner caps E and P), then files.
  Planner planner(Topology::parse(a.topology), opt);
  if (!a.history.empty()) {
    const auto history = read_vector(a.history, "--history");
    check_arg(static_cast<int64_t>(history.size()) == a.experts, "--history",
              "expected " + std::to_string(a.experts) + " entries, got " +
                  std::to_string(history.size()));
    planner.update_redundancy_mapping(history);
  }
  const auto workload = read_vector(a.workload, "--workload");
  check_arg(static_cast<int64_t>(workload.size()) == a.experts, "--workload",
            "expected " + std::to_string(a.experts) + " entries, got " +
                std::to_string(workload.size()));
  const SolveOutput plan = planner.solve(workload);
  const Mapping& m = planner.mapping();
  const int64_t S = planner.topology().group_size(), D = planner.topology().slots();

  nlohmann::json log2phy = nlohmann::json::array();
  for (int64_t e = 0; e < a.experts; ++e) log2phy.push_back({m.log2phy[e * 2], m.log2phy[e * 2 + 1]});
  nlohmann::json out;
  out["r2o"] = planner.topology().r2o_rows();
  out["n_group"] = planner.num_groups();
  out["phy2log"] = m.phy2log;
  out["log2phy"] = log2phy;
  out["logcnt"] = m.logcnt;
  out["probs"] = nest(plan.probs, planner.num_groups(), S, D);
  out["load_before"] = plan.load_before;
  out["load_after"] = plan.load_after;
  out["imbalance_before"] = imbalance(plan.load_before);
  out["imbalance_after"] = imbalance(plan.load_after);
  out["solver"] = solver_name(opt.solver);
  out["solve_us"] = plan.solve_us;
  if (opt.solver == SolverKind::kIpm) out["ipm_fallbacks"] = plan.ipm_fallbacks;
  out["objective"] = a.objective;
  out["min_moves"] = a.min_moves;
  out["tokens_moved"] = plan.tokens_moved;
  out["tokens_cross_node"] = plan.tokens_cross_node;
  out["time_before"] = plan.time_before;  // modelled GEMM us per rank
  out["time_after"] = plan.time_after;
  write_json(out, a.output);
}

void setup_plan(CLI::App& app) {
  auto args = std::make_shared<PlanArgs>();
  CLI::App* cmd = app.add_subcommand("plan", "Solve one batch: placement, probs and loads (JSON)");
  CLI::Option* topology =
      cmd->add_option("--topology", args->topology, "cube, hypercube, ring[:S], torus:MxN or r2o.json");
  CLI::Option* experts = cmd->add_option("--experts", args->experts, "logical experts E");
  CLI::Option* ep = cmd->add_option("--ep", args->ep, "EP ranks P");
  CLI::Option* redundant =
      cmd->add_option("--redundant", args->redundant, "redundant experts per rank R");
  cmd->add_option("--workload", args->workload, "JSON array[E]: this batch's tokens per expert")
      ->required();
  CLI::Option* history = cmd->add_option("--history", args->history,
                                         "JSON array[E]: popularity history (reorders experts)");
  cmd->add_option("--placement", args->placement,
                  "JSON phy2log, [P*n_local] (with --ep) or [P][n_local], or the output of "
                  "lplb eplb (with --layer) or lplb design: any replica placement, "
                  "each expert split by the exact LP (instead of --topology/--redundant)")
      ->excludes(topology)
      ->excludes(redundant)
      ->excludes(history);
  CLI::Option* layer = cmd->add_option(
      "--layer", args->layer, "with --placement of lplb eplb's output: the layer to plan");
  cmd->add_option("--gpus-per-node", args->gpus_per_node,
                  "GPUs per node: the EPLB reorder, cross-node moves")
      ->capture_default_str();
  CLI::Option* objective = cmd->add_option(
      "--objective", args->objective,
      "tokens | time: minimise the largest rank's tokens or modelled GEMM time");
  objective->capture_default_str();
  CLI::Option* min_moves = cmd->add_flag(
      "--min-moves", args->min_moves,
      "among optimal splits, move the fewest tokens across nodes, then in all");
  CLI::Option* tolerance = cmd->add_option("--move-tolerance", args->move_tolerance,
                  "with --min-moves: allow max <= (1 + this) * optimum")
      ->capture_default_str();
  CLI::Option* cost_model = cmd->add_option(
      "--cost-model", args->cost_model,
      "JSON {a_us, b_us_per_token, c_us_per_expert, speed[P], extra_us[P]} or a "
      "scripts/measure_gemm.py table (default: the H200 fit)");
  cmd->add_option("--solver", args->solver, "exact | ipm")->capture_default_str();
  cmd->add_option("-o,--output", args->output, "write JSON here instead of stdout");
  cmd->callback([=] {
    if (tolerance->count() > 0 && min_moves->count() == 0)
      std::fprintf(stderr, "note: --move-tolerance has no effect without --min-moves\n");
    check_arg(layer->count() == 0 || !args->placement.empty(), "--layer",
              "only with --placement (lplb eplb's output)");
    if (!args->placement.empty()) {
      check_arg(args->solver == "exact", "--solver", "only 'exact' is available with --placement");
      for (CLI::Option* o : {objective, min_moves, cost_model})
        check_arg(o->count() == 0, o->get_name().c_str(), "not available with --placement");
      run_plan_placement(
          {args->placement, args->workload, args->output, args->experts, args->ep, args->layer});
      return;
    }
    for (CLI::Option* o : {topology, experts, ep, redundant})
      check_arg(o->count() > 0, o->get_name().c_str(), "required (or give --placement FILE.json)");
    run_plan(*args);
  });
}

}  // namespace

LPLB_REGISTER_COMMAND("plan", setup_plan);

}  // namespace lplb::cli
