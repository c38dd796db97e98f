// Runs LPLB_CLI_PATH (cli_runner.hpp). Silent fallbacks and ignored options print a `note:` on stderr (the run
// still succeeds): EPLB's global-policy fallback (also the output's
// `policy`), --move-tolerance without --min-moves, a simulation too short for
// any --refresh.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "cli_runner.hpp"

namespace lplb::test {
namespace {

class CliNotices : public ::testing::Test {
 protected:
  CliScratch dir_{"notices"};
  void SetUp() override {
    dir_.write("w.json", "[[5, 1, 9, 2, 7, 3, 8, 4], [1, 1, 1, 1, 9, 9, 9, 9]]");
    std::string w = "[";
    for (int e = 0; e < 32; ++e) w += std::to_string(e * 7 % 13) + (e < 31 ? "," : "]");
    dir_.write("w32.json", w);
  }
};

TEST_F(CliNotices, EplbGlobalFallbackIsAnnounced) {
  const std::string w = "eplb --weights '" + dir_.path("w.json") + "' --replicas 12 --gpus 4 ";
  CliRun r = dir_.run(w + "--groups 4 --nodes 2");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["policy"], "hierarchical");
  EXPECT_EQ(j["gpus"], 4);
  r = dir_.run(w + "--groups 2 --nodes 4");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("note: --groups 2 is not a multiple of --nodes 4"), std::string::npos)
      << r.err;
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["policy"], "global");
}

TEST_F(CliNotices, MoveToleranceWithoutMinMoves) {
  const std::string plan = "plan --topology cube --experts 32 --ep 8 --redundant 2 --workload '" +
                           dir_.path("w32.json") + "' ";
  CliRun r = dir_.run(plan + "--move-tolerance 0.1");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("note: --move-tolerance has no effect without --min-moves"),
            std::string::npos);
  r = dir_.run(plan + "--move-tolerance 0.1 --min-moves");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
}

TEST_F(CliNotices, SimulationShorterThanRefresh) {
  const std::string sim = "simulate --experts 64 --ep 16 --topk 4 --tokens 64 --methods none,eplb ";
  CliRun r = dir_.run(sim + "--steps 10 --refresh 10");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("note: 10 steps, not more than --refresh 10"), std::string::npos) << r.err;
  r = dir_.run(sim + "--steps 11 --refresh 10");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
}

}  // namespace
}  // namespace lplb::test
