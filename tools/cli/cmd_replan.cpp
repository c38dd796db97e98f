// `lplb replan`: online re-placement with a move budget (lplb/replan.hpp):
// the current phy2log and the recent per-step loads in, a placement that
// differs in at most --budget slots and the copies to make out (JSON).
#include <cstdio>
#include <memory>
#include <string>
#include <utility>

#include "cli/commands.hpp"
#include "cli/json_io.hpp"
#include "lplb/errors.hpp"
#include "lplb/replan.hpp"

namespace lplb::cli {
namespace {

struct ReplanArgs {
  std::string placement, history, output;
  int64_t experts = 0, ep = 0, gpus_per_node = 8, budget = 4;
};

// The library names its parameters (ep_size: ...); name the options instead.
[[noreturn]] void rethrow_with_option_name(const InvalidArgument& e) {
  static const std::pair<std::string, std::string> kNames[] = {
      {"phy2log", "--placement"}, {"history", "--history"},   {"steps", "--history"},
      {"num_experts", "--experts"}, {"ep_size", "--ep"},     {"gpus_per_node", "--gpus-per-node"},
      {"budget", "--budget"}};
  const std::string what = e.what();
  for (const auto& [lib, opt] : kNames)
    if (what.rfind(lib + ": ", 0) == 0) throw InvalidArgument(opt + what.substr(lib.size()));
  throw e;
}

void run_replan(const ReplanArgs& a) {
  const std::vector<double> placed = to_vector(read_json_file(a.placement, "--placement"), "--placement");
  std::vector<int64_t> phy2log(placed.size());
  for (size_t s = 0; s < placed.size(); ++s) {
    check_arg(placed[s] == static_cast<double>(static_cast<int64_t>(placed[s])), "--placement",
              "entry " + std::to_string(s) + " is not an integer expert id");
    phy2log[s] = static_cast<int64_t>(placed[s]);
  }
  const auto rows = to_matrix(read_json_file(a.history, "--history"), "--history", true);
  const int64_t steps = static_cast<int64_t>(rows.size());
  const int64_t E = a.experts > 0 ? a.experts : static_cast<int64_t>(rows[0].size());
  std::vector<double> history;
  for (const auto& r : rows) history.insert(history.end(), r.begin(), r.end());
  ReplanResult r;
  try {
    r = replan(phy2log, history, steps, E, a.ep, a.gpus_per_node, a.budget);
  } catch (const InvalidArgument& e) {
    rethrow_with_option_name(e);
  }
  nlohmann::json moves = nlohmann::json::array();
  for (const ReplanMove& m : r.moves)
    moves.push_back({{"slot", m.slot},
                     {"expert", m.expert},
                     {"previous", m.previous},
                     {"source_rank", m.source_rank}});
  nlohmann::json out;
  out["phy2log"] = r.phy2log;
  out["moves"] = std::move(moves);
  out["objective_before"] = r.objective_before;
  out["objective_after"] = r.objective_after;
  write_json(out, a.output);
}

void register_replan(CLI::App& app) {
  auto args = std::make_shared<ReplanArgs>();
  CLI::App* cmd = app.add_subcommand(
      "replan",
      "Online re-placement: rewrite at most --budget slots of a placement for the recent load "
      "(JSON phy2log and copy list; docs/PLACEMENT.md)");
  cmd->add_option("--placement", args->placement, "JSON [P * n_local] current phy2log")
      ->required();
  cmd->add_option("--history", args->history,
                  "JSON [steps][experts] recent per-step loads, oldest first (or [experts]: a "
                  "prediction)")
      ->required();
  cmd->add_option("--ep", args->ep, "EP ranks P")->required();
  cmd->add_option("--experts", args->experts, "logical experts E (default: the history's width)");
  cmd->add_option("--gpus-per-node", args->gpus_per_node, "ranks per node (copy sources)")
      ->capture_default_str();
  cmd->add_option("--budget", args->budget, "most slots rewritten")->capture_default_str();
  cmd->add_option("-o,--output", args->output, "output file (default: stdout)");
  cmd->callback([args] { run_replan(*args); });
}

}  // namespace

LPLB_REGISTER_COMMAND("replan", register_replan);

}  // namespace lplb::cli
