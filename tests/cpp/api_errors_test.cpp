// Bad input at the C++ API (docs/RELIABILITY.md): every case must throw
// lplb::InvalidArgument whose message starts with "<argument>: ". The table
// is the C++ part of docs/RELIABILITY.md; with LPLB_ERROR_TABLE=1 in the
// environment the test prints it as Markdown rows (entry | input | message).
#include <gtest/gtest.h>

#include <cfloat>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

#include "lplb/eplb.hpp"
#include "lplb/errors.hpp"
#include "lplb/lp.hpp"
#include "lplb/placement.hpp"
#include "lplb/planner.hpp"
#include "lplb/topology.hpp"

namespace lplb {
namespace {

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

struct Case {
  const char* entry;  // the API called
  const char* input;  // what is wrong with the input
  const char* arg;    // the argument the message must start with
  std::function<void()> call;
};

PlannerOptions options(int64_t E, int64_t P, int64_t R, int64_t gpus_per_node = 8) {
  PlannerOptions o;
  o.num_experts = E;
  o.ep_size = P;
  o.redundant_per_rank = R;
  o.gpus_per_node = gpus_per_node;
  return o;
}

const Planner& cube_planner() {  // E=32, P=8, R=2: 16 probs
  static const Planner p(Topology::named("cube"), options(32, 8, 2));
  return p;
}

std::vector<double> w32(double bad = -1, size_t at = 0) {
  std::vector<double> w(32, 10.0);
  if (bad != -1) w[at] = bad;
  return w;
}

void eplb(std::vector<double> w, int64_t L, int64_t E, int64_t N, int64_t G, int64_t nodes,
          int64_t gpus) {
  rebalance_experts(w.data(), L, E, N, G, nodes, gpus);
}

std::vector<Case> cases() {
  const auto& pl = cube_planner();
  std::vector<Case> c = {
      // Topology
      {"Topology(S, D, r2o)", "S = 1", "topology", [] { Topology(1, 1, {0}); }},
      {"Topology(S, D, r2o)", "D = 0", "topology", [] { Topology(2, 0, {}); }},
      {"Topology(S, D, r2o)", "D = 65", "topology",
       [] { Topology(2, 65, std::vector<int32_t>(130, 1)); }},
      {"Topology(S, D, r2o)", "r2o has S*D - 1 entries", "topology",
       [] {
         Topology(3, 1, {1, 2});
       }},
      {"Topology(S, D, r2o)", "entry outside [0, S)", "topology",
       [] {
         Topology(2, 1, {1, 2});
       }},
      {"Topology(S, D, r2o)", "negative entry", "topology",
       [] {
         Topology(2, 1, {1, -1});
       }},
      {"Topology(S, D, r2o)", "fixed point r2o[i][d] = i", "topology",
       [] {
         Topology(2, 1, {0, 1});
       }},
      {"Topology(S, D, r2o)", "column not a permutation", "topology",
       [] {
         Topology(3, 1, {1, 0, 1});
       }},
      {"Topology::from_rows", "no rows", "topology", [] { Topology::from_rows({}); }},
      {"Topology::from_rows", "ragged rows", "topology",
       [] {
         Topology::from_rows({{1, 2}, {0}});
       }},
      {"Topology::from_rows", "entry beyond int32", "topology",
       [] {
         Topology::from_rows({{int64_t{1} << 40}, {0}});
       }},
      {"Topology::named", "unknown name", "topology", [] { Topology::named("cubez"); }},
      {"Topology::named", "ring:1", "topology", [] { Topology::named("ring:1"); }},
      {"Topology::named", "ring:abc", "topology", [] { Topology::named("ring:abc"); }},
      {"Topology::named", "ring:65537", "topology", [] { Topology::named("ring:65537"); }},
      {"Topology::named", "torus:4x", "topology", [] { Topology::named("torus:4x"); }},
      {"Topology::named", "torus:1x4", "topology", [] { Topology::named("torus:1x4"); }},
      {"Topology::named", "torus:4294967296x4294967296 (M*N overflows)", "topology",
       [] { Topology::named("torus:4294967296x4294967296"); }},
      {"Topology::from_json_text", "not JSON", "topology",
       [] { Topology::from_json_text("[[1],"); }},
      {"Topology::from_json_text", "number overflow 1e400", "topology",
       [] { Topology::from_json_text("[[1e400],[0]]"); }},
      {"Topology::from_json_text", "non-integer entry", "topology",
       [] { Topology::from_json_text("[[1.5],[0]]"); }},
      {"Topology::from_json_text", "entry 2^64-1", "topology",
       [] { Topology::from_json_text("[[18446744073709551615],[0]]"); }},
      {"Topology::from_json_text", "object without r2o", "topology",
       [] { Topology::from_json_text("{\"x\": 1}"); }},
      {"Topology::from_json_text", "1-D array", "topology",
       [] { Topology::from_json_text("[1, 0]"); }},
      {"Topology::from_file", "missing file", "topology",
       [] { Topology::from_file("/nonexistent/r2o.json"); }},
      {"Topology::parse", "missing .json file", "topology",
       [] { Topology::parse("no_such_topology.json"); }},
      // Planner construction
      {"Planner(topology, options)", "num_experts = 0", "num_experts",
       [] { Planner(Topology::named("cube"), options(0, 8, 2)); }},
      {"Planner(topology, options)", "ep_size = -8", "ep_size",
       [] { Planner(Topology::named("cube"), options(32, -8, 2)); }},
      {"Planner(topology, options)", "E % P != 0", "num_experts",
       [] { Planner(Topology::named("cube"), options(30, 8, 2)); }},
      {"Planner(topology, options)", "P % S != 0", "ep_size",
       [] { Planner(Topology::named("cube"), options(32, 4, 2)); }},
      {"Planner(topology, options)", "R = 0", "redundant_per_rank",
       [] { Planner(Topology::named("cube"), options(32, 8, 0)); }},
      {"Planner(topology, options)", "R % D != 0", "redundant_per_rank",
       [] { Planner(Topology::named("cube"), options(32, 8, 3)); }},
      {"Planner(topology, options)", "R > E / P", "redundant_per_rank",
       [] { Planner(Topology::named("cube"), options(32, 8, 6)); }},
      {"Planner(topology, options)", "gpus_per_node = 0", "gpus_per_node",
       [] { Planner(Topology::named("cube"), options(32, 8, 2, 0)); }},
      {"Planner(topology, options)", "E > 2^31 / 4", "num_experts",
       [] { Planner(Topology::named("cube"), options(int64_t{1} << 40, 8, 2)); }},
      // Planner methods
      {"Planner::update_redundancy_mapping", "history of E - 1 entries", "history",
       [&] {
         Planner p = pl;
         p.update_redundancy_mapping(std::vector<double>(31, 1.0));
       }},
      {"Planner::update_redundancy_mapping", "NaN in history", "history",
       [&] {
         Planner p = pl;
         p.update_redundancy_mapping(w32(kNan, 3));
       }},
      {"Planner::update_redundancy_mapping", "negative history", "history",
       [&] {
         Planner p = pl;
         p.update_redundancy_mapping(w32(-5, 3));
       }},
      {"Planner::count", "id = E", "ids",
       [&] {
         pl.count(std::vector<int32_t>{0, 32});
       }},
      {"Planner::count", "id = -2", "ids", [&] { pl.count(std::vector<int64_t>{-2}); }},
      {"Planner::count", "id = INT64_MIN", "ids",
       [&] { pl.count(std::vector<int64_t>{std::numeric_limits<int64_t>::min()}); }},
      {"Planner::solve", "workload of E + 1 entries", "workload",
       [&] { pl.solve(std::vector<double>(33, 1.0)); }},
      {"Planner::solve", "NaN", "workload", [&] { pl.solve(w32(kNan, 5)); }},
      {"Planner::solve", "+inf", "workload", [&] { pl.solve(w32(kInf, 5)); }},
      {"Planner::solve", "negative", "workload", [&] { pl.solve(w32(-1e-300, 5)); }},
      {"Planner::solve", "total > 2^53", "workload",
       [&] { pl.solve(std::vector<double>(32, 1e300)); }},
      {"Planner::solve (int64)", "negative count", "workload",
       [&] {
         std::vector<int64_t> w(32, 1);
         w[2] = -1;
         pl.solve(w);
       }},
      {"Planner::solve (int64)", "sum overflows int64", "workload",
       [&] { pl.solve(std::vector<int64_t>(32, std::numeric_limits<int64_t>::max())); }},
      {"Planner::map", "out shorter than ids", "out",
       [&] {
         std::vector<int32_t> ids{0, 1}, out(1);
         pl.map(ids, std::vector<double>(16, 1.0), out);
       }},
      {"Planner::map", "probs of wrong length", "probs",
       [&] {
         std::vector<int32_t> ids{0}, out(1);
         pl.map(ids, std::vector<double>(15, 1.0), out);
       }},
      {"Planner::map", "NaN prob", "probs",
       [&] {
         std::vector<double> probs(16, 1.0);
         probs[4] = kNan;
         std::vector<int32_t> ids{0}, out(1);
         pl.map(ids, probs, out);
       }},
      {"Planner::map", "id outside [-1, E)", "ids",
       [&] {
         std::vector<int32_t> ids{40}, out(1);
         pl.map(ids, std::vector<double>(16, 1.0), out);
       }},
      {"Planner::run", "id outside [-1, E)", "ids",
       [&] {
         std::vector<int64_t> ids{-3}, out(1);
         pl.run(std::span<const int64_t>(ids), std::span<int64_t>(out));
       }},
      {"Planner::rank_loads", "probs of wrong length", "probs",
       [&] { pl.rank_loads(w32(), std::vector<double>(3, 1.0)); }},
      // LP solvers
      {"solve_group", "negative fixed load", "fixed",
       [] {
         const Topology t = Topology::named("ring:2");
         const double fixed[2] = {-1, 0}, block[2] = {1, 1};
         double probs[2];
         solve_group(t, SolverKind::kExact, fixed, block, probs);
       }},
      {"solve_group", "NaN block load", "block",
       [] {
         const Topology t = Topology::named("ring:2");
         const double fixed[2] = {1, 0}, block[2] = {kNan, 1};
         double probs[2];
         solve_group(t, SolverKind::kExact, fixed, block, probs);
       }},
      {"solve_group (ipm)", "group larger than the IPM's 64 x 4", "topology",
       [] {
         const Topology t = Topology::named("ring:65");
         std::vector<double> fixed(65, 1), block(65, 1), probs(65);
         solve_group(t, SolverKind::kIpm, fixed.data(), block.data(), probs.data());
       }},
      {"parse_solver", "\"simplex\"", "solver", [] { parse_solver("simplex"); }},
      // EPLB
      {"rebalance_experts", "num_layers = 0", "num_layers", [] { eplb({}, 0, 4, 4, 1, 1, 1); }},
      {"rebalance_experts", "num_replicas < num_logical", "num_replicas",
       [] { eplb(std::vector<double>(12, 1), 1, 12, 8, 4, 2, 8); }},
      {"rebalance_experts", "num_replicas % num_gpus != 0", "num_replicas",
       [] { eplb(std::vector<double>(12, 1), 1, 12, 18, 4, 2, 8); }},
      {"rebalance_experts", "num_gpus % num_nodes != 0 (hierarchical)", "num_gpus",
       [] { eplb(std::vector<double>(12, 1), 1, 12, 18, 4, 2, 3); }},
      {"rebalance_experts", "num_logical % num_groups != 0 (hierarchical)", "num_groups",
       [] { eplb(std::vector<double>(12, 1), 1, 12, 16, 5, 1, 8); }},
      {"rebalance_experts", "num_groups = 0", "num_groups",
       [] { eplb(std::vector<double>(12, 1), 1, 12, 16, 0, 1, 8); }},
      {"rebalance_experts", "output of 2^58 replicas", "num_replicas",
       [] { eplb(std::vector<double>(12, 1), 1, 12, int64_t{1} << 58, 4, 2, 8); }},
      {"rebalance_experts", "weight = nullptr", "weight",
       [] { rebalance_experts(nullptr, 1, 4, 4, 1, 1, 1); }},
      {"rebalance_experts", "NaN weight", "weight",
       [] {
         eplb({1, kNan, 1, 1}, 1, 4, 4, 1, 1, 1);
       }},
      {"rebalance_experts", "-inf weight", "weight",
       [] {
         eplb({1, -kInf, 1, 1}, 1, 4, 4, 1, 1, 1);
       }},
      {"rebalance_experts", "negative weight", "weight",
       [] {
         eplb({1, -1, 1, 1}, 1, 4, 4, 1, 1, 1);
       }},
      {"rebalance_experts", "weight > FLT_MAX", "weight",
       [] {
         eplb({1, 1e39, 1, 1}, 1, 4, 4, 1, 1, 1);
       }},
      // PlacementPlanner
      {"PlacementPlanner", "phy2log length not a multiple of ep_size", "phy2log",
       [] {
         PlacementPlanner(std::vector<int64_t>{0, 1, 2}, 3, 2);
       }},
      {"PlacementPlanner", "an expert without a replica", "phy2log",
       [] {
         PlacementPlanner(std::vector<int64_t>{0, 0, 1, 1}, 3, 2);
       }},
      {"PlacementPlanner", "slot holds expert -1", "phy2log",
       [] {
         PlacementPlanner(std::vector<int64_t>{0, -1, 1, 2}, 3, 2);
       }},
      {"PlacementPlanner::solve", "NaN workload", "workload",
       [] {
         PlacementPlanner(std::vector<int64_t>{0, 1, 2, 0}, 3, 2)
             .solve(std::vector<double>{1, kNan, 1});
       }},
      {"PlacementPlanner::map", "negative share", "shares",
       [] {
         PlacementPlanner p(std::vector<int64_t>{0, 1, 2, 0}, 3, 2);
         std::vector<int64_t> ids{0}, out(1);
         p.map(ids, std::vector<double>{1, 1, 1, -1}, out);
       }},
  };
  return c;
}

TEST(ApiErrors, EveryBadInputThrowsInvalidArgumentNamingTheArgument) {
  const bool print = std::getenv("LPLB_ERROR_TABLE") != nullptr;
  for (const Case& c : cases()) {
    SCOPED_TRACE(std::string(c.entry) + ": " + c.input);
    std::string message;
    try {
      c.call();
      ADD_FAILURE() << "no exception";
      continue;
    } catch (const InvalidArgument& e) {
      message = e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not an InvalidArgument: " << e.what();
      continue;
    }
    EXPECT_EQ(message.rfind(std::string(c.arg) + ": ", 0), 0u) << message;
    if (print) std::cout << "| `" << c.entry << "` | " << c.input << " | `" << message << "` |\n";
  }
}

}  // namespace
}  // namespace lplb
