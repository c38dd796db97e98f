// `lplb plan --placement FILE.json` (see plan_placement.hpp): reads a phy2log,
// solves the batch's placement LP exactly and prints per-slot shares and the
// rank loads before (even split over replicas) and after.
#include <string>
#include <vector>

#include "cli/json_io.hpp"
#include "cli/plan_placement.hpp"
#include "lplb/errors.hpp"
#include "lplb/placement.hpp"
#include "lplb/planner.hpp"

namespace lplb::cli {
namespace {

int64_t to_id(const nlohmann::json& v, const std::string& where) {
  check_arg(v.is_number_integer(), "--placement",
            where + " is not an integer expert id (got " + v.dump() + ")");
  return v.get<int64_t>();
}

// The rows of a 2-D array as one flat phy2log; sets rows.
std::vector<int64_t> flatten_rows(const nlohmann::json& j, int64_t& rows) {
  rows = static_cast<int64_t>(j.size());
  std::vector<int64_t> out;
  for (size_t r = 0; r < j.size(); ++r) {
    check_arg(j[r].is_array(), "--placement", "row " + std::to_string(r) + " is not an array");
    check_arg(j[r].size() == j[0].size(), "--placement",
              "row " + std::to_string(r) + " has " + std::to_string(j[r].size()) +
                  " slots, row 0 has " + std::to_string(j[0].size()));
    for (size_t k = 0; k < j[r].size(); ++k)
      out.push_back(to_id(j[r][k], "entry [" + std::to_string(r) + "][" + std::to_string(k) + "]"));
  }
  return out;
}

std::vector<int64_t> flatten_1d(const nlohmann::json& j) {
  std::vector<int64_t> out;
  for (size_t s = 0; s < j.size(); ++s) out.push_back(to_id(j[s], "entry " + std::to_string(s)));
  return out;
}

// `lplb eplb`'s output object: phy2log [layers][replicas]; one layer of it
// (--layer), over the ranks it was packed for ("gpus", or --ep).
std::vector<int64_t> read_eplb_layer(const nlohmann::json& j, int64_t layer, int64_t& ep) {
  const nlohmann::json& p2l = j["phy2log"];
  check_arg(p2l.is_array() && !p2l.empty() && p2l[0].is_array(), "--placement",
            "the object's phy2log is not a 2-D [layers][replicas] array");
  const int64_t layers = static_cast<int64_t>(p2l.size());
  check_arg(layer >= 0 || layers == 1, "--layer",
            "required: the placement file holds " + std::to_string(layers) +
                " layers (lplb eplb's [layers][replicas]); choose one in [0, " +
                std::to_string(layers) + ")");
  if (layer < 0) layer = 0;
  check_arg(layer < layers, "--layer",
            std::to_string(layer) + " is outside [0, " + std::to_string(layers) + ")");
  if (j.contains("gpus") && j["gpus"].is_number_integer()) {
    const int64_t gpus = j["gpus"].get<int64_t>();
    check_arg(ep == 0 || ep == gpus, "--ep",
              std::to_string(ep) + " does not match the " + std::to_string(gpus) +
                  " GPUs the placement was packed for");
    ep = gpus;
  }
  check_arg(ep > 0, "--ep",
            "required: the placement file does not say how many GPUs its replicas were packed "
            "for (give lplb eplb's --gpus)");
  int64_t rows = 0;
  const std::vector<int64_t> out = flatten_rows(p2l, rows);
  const size_t per_layer = p2l[0].size();
  return {out.begin() + layer * per_layer, out.begin() + (layer + 1) * per_layer};
}

}  // namespace

std::vector<int64_t> read_placement(const std::string& path, int64_t layer, int64_t& ep) {
  const nlohmann::json j = read_json_file(path, "--placement");
  if (j.is_object()) {  // lplb eplb / lplb design / lplb plan output
    check_arg(j.contains("phy2log"), "--placement",
              "a JSON object must have a phy2log (lplb eplb, design or plan output)");
    if (j.contains("log2phy") && j["phy2log"].is_array() && !j["phy2log"].empty() &&
        j["phy2log"][0].is_array())
      return read_eplb_layer(j, layer, ep);
    check_arg(layer <= 0, "--layer", "only for lplb eplb's [layers][replicas] output");
    if (j.contains("ep") && j["ep"].is_number_integer()) {
      const int64_t file_ep = j["ep"].get<int64_t>();
      check_arg(ep == 0 || ep == file_ep, "--ep",
                std::to_string(ep) + " does not match the placement's ep " +
                    std::to_string(file_ep));
      ep = file_ep;
    }
    const nlohmann::json& p2l = j["phy2log"];
    check_arg(p2l.is_array() && !p2l.empty() && !p2l[0].is_array(), "--placement",
              "the object's phy2log must be a non-empty 1-D [P * n_local] array");
    check_arg(ep > 0, "--ep", "required: the placement object has no ep");
    return flatten_1d(p2l);
  }
  check_arg(j.is_array() && !j.empty(), "--placement",
            "expected a non-empty JSON array: phy2log, 1-D [P * n_local] or 2-D [P][n_local], "
            "or lplb eplb's output object");
  check_arg(layer < 0, "--layer", "only for lplb eplb's output object");
  if (!j[0].is_array()) {
    check_arg(ep > 0, "--ep", "required with a 1-D --placement (or give it as [P][n_local])");
    return flatten_1d(j);
  }
  int64_t rows = 0;
  std::vector<int64_t> out = flatten_rows(j, rows);
  // One row read as one rank would plan nothing (imbalance 1 by definition);
  // it is almost always one layer of lplb eplb's [layers][replicas].
  if (rows == 1 && ep != 1) {
    check_arg(ep > 1, "--placement",
              "a 2-D array with one row reads as ONE rank ([P][n_local]); if it is a layer of "
              "lplb eplb's phy2log ([layers][replicas]), pass lplb eplb's output file with "
              "--layer L, or give --ep P to split the row into P ranks");
    return out;
  }
  check_arg(ep == 0 || ep == rows, "--ep",
            std::to_string(ep) + " does not match the placement's " + std::to_string(rows) +
                " rows (a 2-D placement is [P][n_local], one row per rank; for lplb eplb's "
                "[layers][replicas] pass its output file with --layer L)");
  ep = rows;
  return out;
}

namespace {
}  // namespace

void run_plan_placement(const PlanPlacementArgs& a) {
  const std::vector<double> workload = read_vector(a.workload, "--workload");
  const int64_t E = static_cast<int64_t>(workload.size());
  check_arg(a.experts == 0 || a.experts == E, "--experts",
            std::to_string(a.experts) + " does not match the workload's " + std::to_string(E) +
                " entries");
  int64_t ep = a.ep;
  const std::vector<int64_t> phy2log = read_placement(a.placement, a.layer, ep);
  auto planner = [&] {
    try {
      return PlacementPlanner(std::span<const int64_t>(phy2log), E, ep);
    } catch (const InvalidArgument& e) {  // name the CLI option, not the C++ parameter
      const std::string what = e.what();
      if (what.rfind("phy2log: ", 0) == 0) throw InvalidArgument("--placement: " + what.substr(9));
      if (what.rfind("ep_size: ", 0) == 0) throw InvalidArgument("--ep: " + what.substr(9));
      throw;
    }
  }();
  const PlacementSolveOutput plan = planner.solve(workload);

  nlohmann::json log2phy = nlohmann::json::array();
  const std::vector<int32_t> l2p = planner.log2phy();
  for (int64_t e = 0; e < E; ++e)
    log2phy.push_back(std::vector<int32_t>(l2p.begin() + e * planner.max_count(),
                                           l2p.begin() + (e + 1) * planner.max_count()));
  nlohmann::json out;
  out["ep"] = ep;
  out["n_local"] = planner.n_local();
  out["phy2log"] = planner.phy2log();
  out["log2phy"] = log2phy;
  out["logcnt"] = planner.logcnt();
  out["shares"] = plan.shares;
  out["load_before"] = plan.load_before;
  out["load_after"] = plan.load_after;
  out["imbalance_before"] = imbalance(plan.load_before);
  out["imbalance_after"] = imbalance(plan.load_after);
  out["optimum"] = plan.optimum;
  out["solver"] = "exact";
  out["solve_us"] = plan.solve_us;
  write_json(out, a.output);
}

}  // namespace lplb::cli
