// Runs LPLB_CLI_PATH (cli_runner.hpp). The `lplb` command behaves like its neighbours: usage without arguments,
// --version with the build's backends and commit, `-` for stdin/stdout in
// every file argument (gzip detected by content), --pretty, clean JSON on
// stdout from simulate --format json, and `lplb design` feeding
// `lplb plan --placement`.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "cli_runner.hpp"

namespace lplb::test {
namespace {

class CliConventions : public ::testing::Test {
 protected:
  CliScratch dir_{"conventions"};
  std::string w16_;
  void SetUp() override {
    std::string w = "[";
    for (int e = 0; e < 16; ++e) w += std::to_string((e * 37) % 101) + (e < 15 ? "," : "]");
    dir_.write("w16.json", w);
    w16_ = dir_.path("w16.json");
    std::system(("gzip -c '" + w16_ + "' > '" + dir_.path("w16.bin") + "'").c_str());
  }
  std::string plan_args(const std::string& workload) const {
    return "plan --topology cube --experts 16 --ep 8 --redundant 2 --workload " + workload;
  }
};

TEST_F(CliConventions, NoArgumentsPrintsUsage) {
  const CliRun r = dir_.run("");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("Usage: lplb"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("design"), std::string::npos);
}

TEST_F(CliConventions, VersionNamesBackendsAndCommit) {
  for (const std::string args : {"--version", "eplb --version"}) {
    const CliRun r = dir_.run(args);
    EXPECT_EQ(r.status, 0) << args;
    EXPECT_EQ(r.out.rfind("lplb ", 0), 0u) << r.out;
    EXPECT_NE(r.out.find("(commit "), std::string::npos) << r.out;
    for (const char* backend : {"CUDA o", "MPI o", "NCCL o"})
      EXPECT_NE(r.out.find(backend), std::string::npos) << r.out;
  }
}

TEST_F(CliConventions, DashReadsStdinAndWritesStdout) {
  const CliRun want = dir_.run(plan_args("'" + w16_ + "'"));
  ASSERT_EQ(want.status, 0) << want.err;
  const CliRun from_stdin = dir_.run(plan_args("-") + " -o -", w16_);
  ASSERT_EQ(from_stdin.status, 0) << from_stdin.err;
  const CliRun gz_stdin = dir_.run(plan_args("-"), dir_.path("w16.bin"));
  ASSERT_EQ(gz_stdin.status, 0) << gz_stdin.err;
  const auto strip = [](std::string s) {
    auto j = nlohmann::json::parse(s);
    j.erase("solve_us");
    return j;
  };
  EXPECT_EQ(strip(from_stdin.out), strip(want.out));
  EXPECT_EQ(strip(gz_stdin.out), strip(want.out));
  const CliRun twice = dir_.run("plan --placement - --workload -", w16_);
  EXPECT_EQ(twice.status, 2);
  EXPECT_NE(twice.err.find("'-' (stdin) is already read by"), std::string::npos) << twice.err;
}

TEST_F(CliConventions, PrettyIndents) {
  const CliRun compact = dir_.run(plan_args("'" + w16_ + "'"));
  const CliRun pretty = dir_.run(plan_args("'" + w16_ + "'") + " --pretty");
  ASSERT_EQ(pretty.status, 0) << pretty.err;
  EXPECT_EQ(compact.out.find("\n  \""), std::string::npos);
  EXPECT_NE(pretty.out.find("\n  \""), std::string::npos);
  EXPECT_NO_THROW(nlohmann::json::parse(pretty.out));
}

TEST_F(CliConventions, SimulateFormatJsonIsCleanJson) {
  const std::string sim =
      "simulate --experts 64 --ep 16 --topk 4 --tokens 64 --steps 12 --refresh 5 "
      "--methods none,lplb_exact ";
  CliRun r = dir_.run(sim + "--format json");
  ASSERT_EQ(r.status, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);  // nothing but the document
  EXPECT_EQ(j["num_steps"], 12);
  r = dir_.run(sim + "--json -");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["num_steps"], 12);
  EXPECT_NE(r.err.find("LPLB (exact)"), std::string::npos);  // the table moved to stderr
  r = dir_.run(sim + "--plot -");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("error: --plot: needs a file name"), std::string::npos) << r.err;
}

TEST_F(CliConventions, TraceReplayAtAChosenBatchSize) {
  // 3 steps x 1 layer x 4 experts, top-2 recorded in the config.
  dir_.write("t.json",
             "{\"config\": {\"topk\": 2}, \"counts\": [[[10, 0, 5, 5]], [[1, 2, 3, 4]], [[0, 0, 0, 9]]]}");
  const std::string sim = "simulate --trace '" + dir_.path("t.json") +
                          "' --experts 4 --ep 2 --redundant 1 --topology ring --methods none "
                          "--refresh 1 --format json ";
  const CliRun r = dir_.run(sim + "--tokens 50");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["config"]["trace_tokens_per_rank"], 50);
  EXPECT_EQ(j["config"]["trace_topk"], 2);
  const CliRun plain = dir_.run(sim);
  ASSERT_EQ(plain.status, 0) << plain.err;
  EXPECT_FALSE(nlohmann::json::parse(plain.out)["config"].contains("trace_tokens_per_rank"));
  const CliRun bad = dir_.run(sim + "--tokens 0");
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.err.find("--tokens"), std::string::npos) << bad.err;
}

TEST_F(CliConventions, DesignFeedsPlanPlacement) {
  const CliRun d = dir_.run("design --predicted '" + w16_ + "' --ep 4 --slots 6 -o '" +
                            dir_.path("design.json") + "'");
  ASSERT_EQ(d.status, 0) << d.err;
  const auto placed = nlohmann::json::parse(CliScratch::slurp(dir_.path("design.json")));
  EXPECT_EQ(placed["ep"], 4);
  EXPECT_EQ(placed["phy2log"].size(), 24u);
  const CliRun p = dir_.run("plan --placement - --workload '" + w16_ + "'", dir_.path("design.json"));
  ASSERT_EQ(p.status, 0) << p.err;
  const auto j = nlohmann::json::parse(p.out);
  EXPECT_EQ(j["ep"], 4);
  EXPECT_EQ(j["phy2log"], placed["phy2log"]);
  const CliRun bad = dir_.run("design --predicted '" + w16_ + "' --ep 4 --slots 3");
  EXPECT_EQ(bad.status, 2);
  EXPECT_EQ(bad.err.rfind("error: --slots:", 0), 0u) << bad.err;
}

}  // namespace
}  // namespace lplb::test
