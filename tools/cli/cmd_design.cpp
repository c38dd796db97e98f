// `lplb design`: the hybrid replica placement (lplb/placement_design.hpp) for
// a predicted load, written so that `lplb plan --placement` reads it.
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/json_io.hpp"
#include "cli/option_names.hpp"
#include "lplb/errors.hpp"
#include "lplb/placement_design.hpp"

namespace lplb::cli {
namespace {

struct DesignArgs {
  std::string predicted, deviation, samples, output;
  int64_t ep = 0;
  PlacementDesignOptions options;
};

constexpr OptionNames kOptionNames = {
    {"predicted", "--predicted"},       {"deviation", "--deviation"},
    {"samples", "--samples"},           {"ep_size", "--ep"},
    {"slots_per_rank", "--slots"},      {"max_copies", "--max-copies"},
    {"tie_fraction", "--tie-fraction"}, {"count_deviations", "--count-deviations"},
    {"pack_deviations", "--pack-deviations"}, {"num_groups", "--groups"},
    {"num_nodes", "--nodes"},           {"search_moves", "--search-moves"}};

void run_design(const DesignArgs& a) {
  const std::vector<double> predicted =
      read_vector(a.predicted, "--predicted");
  std::vector<double> deviation, samples;
  if (!a.deviation.empty())
    deviation = read_vector(a.deviation, "--deviation");
  if (!a.samples.empty()) {
    for (const auto& row : read_matrix(a.samples, "--samples", false)) {
      check_arg(row.size() == predicted.size(), "--samples",
                "rows have " + std::to_string(row.size()) + " entries, --predicted has " +
                    std::to_string(predicted.size()));
      samples.insert(samples.end(), row.begin(), row.end());
    }
  }
  PlacementDesign d;
  try {
    d = design_placement(predicted, deviation, a.ep, samples, a.options);
  } catch (const InvalidArgument& e) {
    rethrow_with_option_name(e, kOptionNames);
  }
  std::vector<int64_t> logcnt(predicted.size(), 0);
  for (const int32_t e : d.phy2log) ++logcnt[e];
  nlohmann::json out;
  out["ep"] = a.ep;
  out["n_local"] = a.options.slots_per_rank;
  out["phy2log"] = d.phy2log;
  out["logcnt"] = logcnt;
  out["sample_imbalance_before"] = d.sample_imbalance_before;
  out["sample_imbalance_after"] = d.sample_imbalance_after;
  out["moves_accepted"] = d.moves_accepted;
  write_json(out, a.output);
}

void register_design(CLI::App& app) {
  auto a = std::make_shared<DesignArgs>();
  PlacementDesignOptions& o = a->options;
  CLI::App* cmd = app.add_subcommand(
      "design",
      "Hybrid replica placement for the per-batch LP (JSON phy2log for plan --placement)");
  cmd->add_option("--predicted", a->predicted, "JSON [E]: expected tokens per expert")->required();
  cmd->add_option("--ep", a->ep, "EP ranks P")->required();
  cmd->add_option("--slots", o.slots_per_rank, "physical slots per rank (P * slots >= E)")
      ->required();
  cmd->add_option("--deviation", a->deviation, "JSON [E]: batch-to-batch deviation per expert");
  cmd->add_option("--samples", a->samples,
                  "JSON [batches][E]: sample batches for --search-moves and the sample imbalance");
  cmd->add_option("--max-copies", o.max_copies, "most replicas of one expert (0: automatic)")
      ->capture_default_str();
  cmd->add_option("--tie-fraction", o.tie_fraction, "packing: loads this close count as equal")
      ->capture_default_str();
  cmd->add_option("--count-deviations", o.count_deviations,
                  "replica counts follow predicted + this * deviation")
      ->capture_default_str();
  cmd->add_option("--pack-deviations", o.pack_deviations,
                  "packing balances predicted + this * deviation")
      ->capture_default_str();
  cmd->add_option("--groups", o.num_groups, "expert groups (node-local placement with --nodes)")
      ->capture_default_str();
  cmd->add_option("--nodes", o.num_nodes, "nodes: every replica stays on its group's node")
      ->capture_default_str();
  cmd->add_option("--search-moves", o.search_moves, "local-search moves over --samples (0: none)")
      ->capture_default_str();
  cmd->add_option("--seed", o.seed, "local search seed")->capture_default_str();
  cmd->add_option("-o,--output", a->output, "output file (default: stdout)");
  cmd->callback([a] { run_design(*a); });
}

}  // namespace

LPLB_REGISTER_COMMAND("design", register_design);

}  // namespace lplb::cli
