// `lplb eplb`: EPLB static placement from a JSON weight matrix (docs/EPLB.md).
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.hpp"
#include "cli/json_io.hpp"
#include "cli/json_numbers.hpp"
#include "cli/option_names.hpp"
#include "lplb/eplb.hpp"
#include "lplb/errors.hpp"

namespace lplb::cli {
namespace {

struct EplbArgs {
  std::string weights, output;
  int64_t replicas = 0, groups = 0, nodes = 0, gpus = 0;
  bool spread = false;
};

// [a][b] (or [a][b][c] when c > 0) nested arrays from a flat row-major vector.
nlohmann::json nest(const std::vector<int64_t>& flat, int64_t a, int64_t b, int64_t c = 0) {
  const int64_t inner = c > 0 ? c : 1;
  nlohmann::json out = nlohmann::json::array();
  for (int64_t i = 0; i < a; ++i) {
    nlohmann::json mid = nlohmann::json::array();
    for (int64_t j = 0; j < b; ++j) {
      const auto first = flat.begin() + (i * b + j) * inner;
      if (c > 0)
        mid.push_back(std::vector<int64_t>(first, first + c));
      else
        mid.push_back(*first);
    }
    out.push_back(std::move(mid));
  }
  return out;
}

constexpr OptionNames kOptionNames = {
    {"weight", "--weights"},        {"num_logical", "--weights"}, {"num_layers", "--weights"},
    {"num_replicas", "--replicas"}, {"num_groups", "--groups"},   {"num_nodes", "--nodes"},
    {"num_gpus", "--gpus"}};

void run_eplb(const EplbArgs& a) {
  const auto rows = read_matrix(a.weights, "--weights", true);
  const auto layers = static_cast<int64_t>(rows.size());
  const auto experts = static_cast<int64_t>(rows[0].size());
  std::vector<double> weight;
  weight.reserve(layers * experts);
  for (const auto& r : rows) weight.insert(weight.end(), r.begin(), r.end());
  EplbResult r;
  try {
    r = rebalance_experts(weight.data(), layers, experts, a.replicas, a.groups, a.nodes, a.gpus,
                          EplbOptions{.spread_replicas = a.spread});
  } catch (const InvalidArgument& e) {
    rethrow_with_option_name(e, kOptionNames);
  }
  // The reference silently packs globally when groups do not divide into
  // nodes; say so, since the node-local layout was probably intended.
  const bool hierarchical = a.groups % a.nodes == 0;
  if (!hierarchical)
    std::fprintf(stderr,
                 "note: --groups %lld is not a multiple of --nodes %lld: EPLB falls back to the "
                 "global policy (replicas packed across all GPUs, ignoring groups and nodes)\n",
                 static_cast<long long>(a.groups), static_cast<long long>(a.nodes));
  const char* policy = hierarchical ? "hierarchical" : "global";
  if (!is_pretty()) {  // compact: written directly, the same text as nlohmann's dump
    const int64_t p2l_shape[] = {layers, a.replicas}, l2p_shape[] = {layers, experts, r.max_count},
                  cnt_shape[] = {layers, experts};
    std::string text = "{\"gpus\":" + std::to_string(a.gpus) + ",\"log2phy\":";
    text.reserve(8 * (r.phy2log.size() + r.log2phy.size() + r.logcnt.size()));
    append_int_array(text, r.log2phy, l2p_shape);
    text += ",\"logcnt\":";
    append_int_array(text, r.logcnt, cnt_shape);
    text += ",\"phy2log\":";
    append_int_array(text, r.phy2log, p2l_shape);
    text += std::string(",\"policy\":\"") + policy + "\"}";
    write_text(text, a.output);
    return;
  }
  nlohmann::json out;
  out["policy"] = policy;
  out["gpus"] = a.gpus;
  out["phy2log"] = nest(r.phy2log, layers, a.replicas);
  out["log2phy"] = nest(r.log2phy, layers, experts, r.max_count);
  out["logcnt"] = nest(r.logcnt, layers, experts);
  write_json(out, a.output);
}

void register_eplb(CLI::App& app) {
  auto args = std::make_shared<EplbArgs>();
  CLI::App* cmd = app.add_subcommand(
      "eplb", "EPLB static placement: replicate heavy experts and pack them onto GPUs (JSON)");
  cmd->add_option("--weights", args->weights,
                  "JSON array [layers][experts] (or [experts]) of expert loads")
      ->required();
  cmd->add_option("--replicas", args->replicas, "physical experts per layer (multiple of --gpus)")
      ->required();
  cmd->add_option("--groups", args->groups, "expert groups (divides the experts)")->required();
  cmd->add_option("--nodes", args->nodes, "server nodes (hierarchical policy when it divides --groups)")
      ->required();
  cmd->add_option("--gpus", args->gpus, "GPUs (multiple of --nodes)")->required();
  cmd->add_flag("--spread-replicas", args->spread,
                "never put two replicas of one expert on one GPU when possible");
  cmd->add_option("-o,--output", args->output, "output file (default: stdout)");
  cmd->callback([args] { run_eplb(*args); });
}

}  // namespace

LPLB_REGISTER_COMMAND("eplb", register_eplb);

}  // namespace lplb::cli
