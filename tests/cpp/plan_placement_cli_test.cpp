// `lplb plan --placement FILE.json`: output fields and values, both placement
// shapes, and clear errors (exit 2, `error: ...` on stderr, nothing on stdout).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

struct Result {
  int status = -1;
  std::string out, err;
};

class PlanPlacementCli : public ::testing::Test {
 protected:
  static fs::path dir_;

  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("lplb_plan_placement_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    // 2 ranks x 3 slots; expert 0 on both ranks.
    write("p2.json", "[[0, 1, 2], [0, 3, 4]]");
    write("p1.json", "[0, 1, 2, 0, 3, 4]");
    write("w.json", "[10, 4, 3, 1, 0]");
    write("out_of_range.json", "[[0, 1, 2], [0, 3, 7]]");
    write("missing.json", "[[0, 1, 2], [0, 3, 3]]");
    write("ragged.json", "[[0, 1, 2], [0, 3]]");
    write("float.json", "[[0, 1, 2], [0, 3, 1.5]]");
    write("object.json", "{\"phy2log\": [0, 1]}");
    // lplb eplb's output: [layers][replicas] packed for 2 GPUs; layer 0 is p1.
    write("eplb.json",
          "{\"gpus\": 2, \"policy\": \"hierarchical\", \"phy2log\": [[0, 1, 2, 0, 3, 4], "
          "[4, 3, 2, 1, 0, 0]], \"log2phy\": [], \"logcnt\": []}");
    write("eplb_old.json", "{\"phy2log\": [[0, 1, 2, 0, 3, 4]], \"log2phy\": [], \"logcnt\": []}");
    write("one_row.json", "[[0, 1, 2, 0, 3, 4]]");
    write("design.json", "{\"ep\": 2, \"phy2log\": [0, 1, 2, 0, 3, 4]}");
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  static void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  static std::string path(const std::string& name) { return "'" + (dir_ / name).string() + "'"; }

  static std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  static Result run(const std::string& args) {
    const fs::path out = dir_ / "stdout.txt", err = dir_ / "stderr.txt";
    const std::string cmd = std::string("'") + LPLB_CLI_PATH + "' plan " + args + " >'" +
                            out.string() + "' 2>'" + err.string() + "'";
    const int raw = std::system(cmd.c_str());
    return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, slurp(out), slurp(err)};
  }
  static void expect_bad(const std::string& args, const std::string& fragment) {
    SCOPED_TRACE("lplb plan " + args);
    const Result r = run(args);
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(fragment), std::string::npos) << r.err;
  }
};

fs::path PlanPlacementCli::dir_;

TEST_F(PlanPlacementCli, SolvesAndReportsEveryField) {
  for (const std::string args : {"--placement " + path("p2.json") + " --workload " + path("w.json"),
                                 "--placement " + path("p1.json") + " --ep 2 --workload " +
                                     path("w.json")}) {
    const Result r = run(args);
    ASSERT_EQ(r.status, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["phy2log"], nlohmann::json::parse("[0, 1, 2, 0, 3, 4]"));
    EXPECT_EQ(j["logcnt"], nlohmann::json::parse("[2, 1, 1, 1, 1]"));
    EXPECT_EQ(j["log2phy"][0], nlohmann::json::parse("[0, 3]"));
    EXPECT_EQ(j["log2phy"][1], nlohmann::json::parse("[1, -1]"));
    // Rank 0 holds 4 + 3 fixed tokens, rank 1 holds 1: expert 0's 10 tokens
    // split 2 / 8 gives 9 and 9.
    EXPECT_DOUBLE_EQ(j["shares"][0].get<double>(), 0.2);
    EXPECT_DOUBLE_EQ(j["shares"][3].get<double>(), 0.8);
    EXPECT_EQ(j["load_before"], nlohmann::json::parse("[12.0, 6.0]"));
    EXPECT_EQ(j["load_after"], nlohmann::json::parse("[9.0, 9.0]"));
    EXPECT_DOUBLE_EQ(j["imbalance_before"].get<double>(), 12.0 / 9.0);
    EXPECT_DOUBLE_EQ(j["imbalance_after"].get<double>(), 1.0);
    EXPECT_DOUBLE_EQ(j["optimum"].get<double>(), 9.0);
    EXPECT_EQ(j["solver"], "exact");
    EXPECT_TRUE(j["solve_us"].is_number());
  }
}

TEST_F(PlanPlacementCli, ClearErrors) {
  const std::string w = " --workload " + path("w.json");
  expect_bad("--placement " + path("p1.json") + w, "--ep: required with a 1-D --placement");
  expect_bad("--placement " + path("p2.json") + w + " --ep 3", "--ep: 3 does not match");
  expect_bad("--placement " + path("p2.json") + w + " --experts 6", "--experts: 6 does not match");
  expect_bad("--placement " + path("p2.json") + w + " --topology cube", "excludes");
  expect_bad("--placement " + path("p2.json") + w + " --solver ipm", "--solver: only 'exact'");
  expect_bad("--placement " + path("out_of_range.json") + w, "--placement: slot 5 holds expert 7");
  expect_bad("--placement " + path("missing.json") + w, "--placement: expert 4 has no replica");
  expect_bad("--placement " + path("ragged.json") + w, "--placement: row 1 has 2 slots");
  expect_bad("--placement " + path("float.json") + w, "--placement: entry [1][2] is not an integer");
  expect_bad("--placement " + path("object.json") + w, "--ep: required: the placement object has no ep");
  expect_bad("--placement " + path("p2.json") + w + " --layer 0", "--layer: only for lplb eplb");
  expect_bad("--placement " + path("nope.json") + w, "--placement");
  expect_bad(w + " --experts 5", "--topology: required (or give --placement");
}

// lplb eplb's output used to be read as [ranks][slots]: one layer became one
// rank and the plan reported imbalance 1 with exit 0.
TEST_F(PlanPlacementCli, ReadsEplbOutputByLayer) {
  const std::string w = " --workload " + path("w.json");
  for (const std::string args : {"--placement " + path("eplb.json") + " --layer 0" + w,
                                 "--placement " + path("eplb_old.json") + " --ep 2" + w,
                                 "--placement " + path("one_row.json") + " --ep 2" + w,
                                 "--placement " + path("design.json") + w}) {
    SCOPED_TRACE(args);
    const Result r = run(args);
    ASSERT_EQ(r.status, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["ep"], 2);
    EXPECT_EQ(j["load_after"], nlohmann::json::parse("[9.0, 9.0]"));
  }
  const Result r1 = run("--placement " + path("eplb.json") + " --layer 1" + w);
  ASSERT_EQ(r1.status, 0) << r1.err;
  EXPECT_EQ(nlohmann::json::parse(r1.out)["phy2log"],
            nlohmann::json::parse("[4, 3, 2, 1, 0, 0]"));
  expect_bad("--placement " + path("eplb.json") + w, "--layer: required: the placement file holds 2 layers");
  expect_bad("--placement " + path("eplb.json") + " --layer 2" + w, "--layer: 2 is outside [0, 2)");
  expect_bad("--placement " + path("eplb.json") + " --layer 0 --ep 4" + w,
             "--ep: 4 does not match the 2 GPUs");
  expect_bad("--placement " + path("eplb_old.json") + w, "--ep: required");
  expect_bad("--placement " + path("one_row.json") + w, "a 2-D array with one row reads as ONE rank");
  expect_bad("--layer 0 --topology cube --experts 5 --ep 2 --redundant 2" + w, "--layer: only with --placement");
}

}  // namespace
