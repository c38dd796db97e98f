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

// phy2log from a 1-D [P * n_local] or 2-D [P][n_local] array; sets ep.
std::vector<int64_t> read_placement(const std::string& path, int64_t& ep) {
  const nlohmann::json j = read_json_file(path, "--placement");
  check_arg(j.is_array() && !j.empty(), "--placement",
            "expected a non-empty JSON array: phy2log, 1-D [P * n_local] or 2-D [P][n_local]");
  std::vector<int64_t> out;
  if (!j[0].is_array()) {
    check_arg(ep > 0, "--ep", "required with a 1-D --placement (or give it as [P][n_local])");
    for (size_t s = 0; s < j.size(); ++s) out.push_back(to_id(j[s], "entry " + std::to_string(s)));
    return out;
  }
  const int64_t rows = static_cast<int64_t>(j.size());
  check_arg(ep == 0 || ep == rows, "--ep",
            std::to_string(ep) + " does not match the placement's " + std::to_string(rows) +
                " rows (ranks)");
  ep = rows;
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

}  // namespace

void run_plan_placement(const PlanPlacementArgs& a) {
  const std::vector<double> workload = to_vector(read_json_file(a.workload, "--workload"),
                                                 "--workload");
  const int64_t E = static_cast<int64_t>(workload.size());
  check_arg(a.experts == 0 || a.experts == E, "--experts",
            std::to_string(a.experts) + " does not match the workload's " + std::to_string(E) +
                " entries");
  int64_t ep = a.ep;
  const std::vector<int64_t> phy2log = read_placement(a.placement, ep);
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
