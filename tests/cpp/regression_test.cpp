// Regression tests for bugs the fuzzers and sanitizers found (the log with
// dates and reproductions is in docs/RELIABILITY.md). Each test names the
// target that found the bug; the crashing input itself is in
// fuzz/corpus/<target>/ as well, replayed by fuzz_corpus_test.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "cli/json_io.hpp"
#include "lplb/errors.hpp"
#include "lplb/planner.hpp"
#include "lplb/topology.hpp"
#include "sim/trace.hpp"

namespace lplb {
namespace {

// Expects InvalidArgument whose message starts with "<arg>: " and contains `part`.
template <typename Fn>
void expect_invalid(Fn&& fn, const std::string& arg, const std::string& part) {
  try {
    fn();
    ADD_FAILURE() << "no exception; expected InvalidArgument naming " << arg;
  } catch (const InvalidArgument& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind(arg + ": ", 0), 0u) << what;
    EXPECT_NE(what.find(part), std::string::npos) << what;
  }
}

std::string temp_file(const std::string& name, const std::string& text) {
  const std::string path =
      ::testing::TempDir() + "lplb_regression_" + std::to_string(::getpid()) + "_" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// topology_fuzz: "torus:4294967296x4294967296" overflowed M * N (signed
// overflow, UB) to 0, passed the size check and wrote past a 0-byte vector.
TEST(Regression, TorusDimensionsOverflow) {
  expect_invalid([] { Topology::named("torus:4294967296x4294967296"); }, "topology",
                 "torus dimensions");
  expect_invalid([] { Topology::named("torus:3037000500x3037000500"); }, "topology",
                 "torus dimensions");
  expect_invalid([] { Topology::named("torus:2x9223372036854775807"); }, "topology",
                 "torus dimensions");
  expect_invalid([] { Topology::named("torus:65537x2"); }, "topology", "torus dimensions");
  EXPECT_EQ(Topology::named("torus:256x256").group_size(), 65536);
}

// json_loaders_fuzz: a number too large for a double (1e400) is valid JSON
// syntax, so nlohmann throws out_of_range, not parse_error; it escaped the
// loaders as a non-InvalidArgument exception (CLI exit 1, no argument named).
TEST(Regression, JsonNumberOverflow) {
  expect_invalid([] { Topology::from_json_text("[[1e400],[0]]"); }, "topology", "JSON parse error");
  const std::string path = temp_file("overflow.json", "[1, 1e400]");
  expect_invalid([&] { cli::read_json_file(path, "--workload"); }, "--workload", "1e400");
  std::remove(path.c_str());
}

// json_loaders_fuzz: an unsigned entry above INT64_MAX in a topology file
// wrapped to a negative number in get<int64_t>() and was reported as such.
TEST(Regression, TopologyEntryAboveInt64) {
  expect_invalid([] { Topology::from_json_text("[[18446744073709551615],[0]]"); }, "topology",
                 "18446744073709551615");
  expect_invalid([] { Topology::from_json_text("[[4294967297],[0]]"); }, "topology", "4294967297");
}

// count_map_fuzz: with ep_size 5 and gpus_per_node 2, the EPLB reorder ran
// with 2 nodes for 5 GPUs and failed with "num_gpus: must be a multiple of
// num_nodes" -- an argument the caller never passed.
// Nodes that do not divide the redundancy groups send the reference's EPLB to
// its global policy (one group, one node); the planner must accept it too.
TEST(Regression, HistoryWithUnevenNodes) {
  PlannerOptions o;
  o.num_experts = 10;
  o.ep_size = 5;
  o.redundant_per_rank = 1;
  o.gpus_per_node = 2;  // 2 "nodes" for 1 group: global policy
  Planner p(Topology::named("ring:5"), o);
  const std::vector<double> history = {9, 1, 8, 2, 7, 3, 6, 4, 5, 0};
  const Mapping uneven = p.update_redundancy_mapping(history);
  o.gpus_per_node = 5;  // one whole node: the same global policy
  Planner q(Topology::named("ring:5"), o);
  EXPECT_EQ(q.update_redundancy_mapping(history).phy2log, uneven.phy2log);
}

// Found while writing docs/RELIABILITY.md: JSON nested a million levels deep
// ("[[[[...]]]]") parsed fine, but the error message's dump() (and nlohmann's
// copies) recurse once per level: stack overflow, SIGSEGV in the CLI. The
// fuzzers' 4 KiB inputs could not nest deep enough to show it.
TEST(Regression, DeeplyNestedJson) {
  const std::string deep = std::string(1000000, '[') + std::string(1000000, ']');
  const std::string path = temp_file("deep.json", deep);
  expect_invalid([&] { cli::read_json_file(path, "--workload"); }, "--workload", "deeper than 64");
  expect_invalid([&] { sim::load_trace(path, "--trace"); }, "--trace", "deeper than 64");
  expect_invalid([&] { Topology::from_json_text(deep); }, "topology", "deeper than 64");
  expect_invalid([&] { Topology::from_json_text("{\"r2o\": " + deep + "}"); }, "topology",
                 "deeper than 64");
  std::remove(path.c_str());
  // Brackets inside strings do not count; 64 levels are fine.
  const std::string ok = std::string(63, '[') + "\"[[[[\\\"[[\"" + std::string(63, ']');
  const std::string ok_path = temp_file("ok.json", ok);
  EXPECT_NO_THROW(cli::read_json_file(ok_path, "--workload"));
  std::remove(ok_path.c_str());
}

}  // namespace
}  // namespace lplb
