// Bad input at the CLI (docs/RELIABILITY.md): every case must exit with status 2,
// print nothing on stdout, and print one `error: ...` line on stderr that
// names the argument at fault. The table here is the CLI part of
// docs/RELIABILITY.md; keep the two in step.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

struct Result {
  int status = -1;  // exit status, or -1 when killed by a signal
  std::string out, err;
};

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class CliErrors : public ::testing::Test {
 protected:
  static fs::path dir_;

  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("lplb_cli_errors_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    std::string w32 = "[";  // a valid 32-expert workload
    for (int e = 0; e < 32; ++e) w32 += (e ? "," : "") + std::to_string(100 + 7 * e);
    w32 += "]";
    write("w32.json", w32);
    write("w31.json",
          "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31]");
    write("empty.json", "");
    write("invalid.json", "[1, 2,");
    write("ragged.json", "[[1, 2], [3]]");
    write("negative.json", "[1, -2, 3]");
    write("string.json", "[1, \"two\", 3]");
    write("overflow.json", "[1e400, 1]");
    write("object.json", "{\"w\": [1, 2]}");
    write("not_gzip.json.gz", "[1, 2, 3]");
    write("fixed_point.json", "[[0], [1]]");
    write("not_perm.json", "[[1], [0], [0]]");  // rank 0 appears twice
    write("float_topo.json", "[[1.5], [0]]");
    write("w16.json",
          "[[9,8,7,6,5,4,3,2,1,1,2,3,4,5,6,7],[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]]");
    write("w3d.json", "[[[1, 2]]]");
    write("weights_ragged.json", "[[1, 2, 3, 4], [1, 2, 3]]");
    write("weights_negative.json", "[[1, 2, -3, 4]]");
    write("deep.json", std::string(1000000, '[') + std::string(1000000, ']'));
    write("unreadable.json", "[1]");
    fs::permissions(dir_ / "unreadable.json", fs::perms::none);
    fs::create_directories(dir_ / "a_directory.json");
  }

  static void TearDownTestSuite() {
    std::error_code ec;
    fs::permissions(dir_ / "unreadable.json", fs::perms::owner_all, ec);
    fs::remove_all(dir_, ec);
  }

  static void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }

  static std::string path(const std::string& name) { return (dir_ / name).string(); }

  // Runs `lplb <args>` with stdout and stderr captured to files.
  static Result run(const std::string& args) {
    const fs::path out = dir_ / "stdout.txt", err = dir_ / "stderr.txt";
    const std::string cmd = std::string("'") + LPLB_CLI_PATH + "' " + args + " >'" + out.string() +
                            "' 2>'" + err.string() + "'";
    const int raw = std::system(cmd.c_str());
    Result r;
    r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
  }

  // The contract for bad input: exit 2, empty stdout, "error: " then every
  // expected fragment on stderr.
  static void expect_bad_input(const std::string& args, const std::vector<std::string>& fragments) {
    SCOPED_TRACE("lplb " + args);
    const Result r = run(args);
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
    EXPECT_EQ(r.err.find("Assertion"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("runtime error"), std::string::npos) << r.err;  // UBSan
    for (const auto& f : fragments)
      EXPECT_NE(r.err.find(f), std::string::npos) << "want '" << f << "' in: " << r.err;
    if (std::getenv("LPLB_ERROR_TABLE") != nullptr) {  // a row of docs/RELIABILITY.md
      std::string shown = args, line = r.err.substr(0, r.err.find('\n'));
      for (std::string* s : {&shown, &line})
        for (size_t at; (at = s->find(dir_.string())) != std::string::npos;)
          s->replace(at, dir_.string().size(), "D");
      const char* test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
      std::cout << "| " << test << " | `lplb " << shown << "` | " << r.status << " | `" << line
                << "` |\n";
    }
  }

  // `lplb plan` with a valid base; `extra` replaces or adds options.
  static std::string plan(const std::string& workload, const std::string& extra = "",
                          const std::string& topology = "cube",
                          const std::string& sizes = "--experts 32 --ep 8 --redundant 2") {
    return "plan --topology '" + topology + "' " + sizes + " --workload '" + workload + "' " +
           extra;
  }

  static std::string eplb(
      const std::string& weights,
      const std::string& sizes = "--replicas 24 --groups 4 --nodes 2 --gpus 4") {
    return "eplb --weights '" + weights + "' " + sizes;
  }
};

fs::path CliErrors::dir_;

TEST_F(CliErrors, ValidBaseCasesSucceed) {
  // The bases the other cases break must themselves work.
  Result r = run(plan(path("w32.json")));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("\"probs\""), std::string::npos);
  r = run(eplb(path("w16.json")));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("\"phy2log\""), std::string::npos);
}

// ---- lplb plan: files -------------------------------------------------------

TEST_F(CliErrors, PlanWorkloadMissingFile) {
  expect_bad_input(plan(path("nope.json")), {"--workload", "cannot open file"});
}

TEST_F(CliErrors, PlanWorkloadUnreadable) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads files whatever their mode";
  expect_bad_input(plan(path("unreadable.json")), {"--workload", "cannot open file"});
}

TEST_F(CliErrors, PlanWorkloadIsADirectory) {
  expect_bad_input(plan(path("a_directory.json")), {"--workload"});
}

TEST_F(CliErrors, PlanWorkloadEmpty) {
  expect_bad_input(plan(path("empty.json")), {"--workload", "is empty"});
}

TEST_F(CliErrors, PlanWorkloadInvalidJson) {
  expect_bad_input(plan(path("invalid.json")), {"--workload", "JSON parse error"});
}

TEST_F(CliErrors, PlanWorkloadNotGzip) {
  expect_bad_input(plan(path("not_gzip.json.gz")), {"--workload"});
}

TEST_F(CliErrors, PlanWorkloadNumberOverflow) {
  // 1e400 is valid JSON syntax but not a double: nlohmann throws out_of_range.
  expect_bad_input(plan(path("overflow.json")), {"--workload", "1e400"});
}

TEST_F(CliErrors, PlanWorkloadDeeplyNested) {
  // Used to overflow the stack (SIGSEGV) in the error message's dump().
  expect_bad_input(plan(path("deep.json")), {"--workload", "deeper than 64 levels"});
  expect_bad_input(plan(path("w32.json"), "", path("deep.json")),
                   {"topology", "deeper than 64 levels"});
}

// ---- lplb plan: values ------------------------------------------------------

TEST_F(CliErrors, PlanWorkloadRagged) {
  expect_bad_input(plan(path("ragged.json")), {"--workload", "expected a number"});
}

TEST_F(CliErrors, PlanWorkloadNegative) {
  expect_bad_input(plan(path("negative.json")), {"--workload", "negative"});
}

TEST_F(CliErrors, PlanWorkloadNonNumber) {
  expect_bad_input(plan(path("string.json")), {"--workload", "expected a number", "\"two\""});
}

TEST_F(CliErrors, PlanWorkloadObject) {
  expect_bad_input(plan(path("object.json")), {"--workload", "expected a 1-D array"});
}

TEST_F(CliErrors, PlanWorkloadWrongLength) {
  expect_bad_input(plan(path("w31.json")), {"--workload", "expected 32 entries, got 31"});
}

TEST_F(CliErrors, PlanHistoryWrongLength) {
  expect_bad_input(plan(path("w32.json"), "--history '" + path("w31.json") + "'"),
                   {"--history", "expected 32 entries, got 31"});
}

TEST_F(CliErrors, PlanHistoryNegative) {
  expect_bad_input(plan(path("w32.json"), "--history '" + path("negative.json") + "'"),
                   {"--history", "negative"});
}

// ---- lplb plan: topology ----------------------------------------------------

TEST_F(CliErrors, PlanTopologyUnknownName) {
  expect_bad_input(plan(path("w32.json"), "", "cubez"), {"topology", "unknown name 'cubez'"});
}

TEST_F(CliErrors, PlanTopologyBadRing) {
  expect_bad_input(plan(path("w32.json"), "", "ring:1"), {"topology", "ring size"});
  expect_bad_input(plan(path("w32.json"), "", "ring:x"), {"topology", "expected an integer"});
}

TEST_F(CliErrors, PlanTopologyTorusOverflow) {
  // M * N overflowed int64 before the size check (found by topology_fuzz).
  expect_bad_input(plan(path("w32.json"), "", "torus:4294967296x4294967296"),
                   {"topology", "torus dimensions"});
}

TEST_F(CliErrors, PlanTopologyMissingFile) {
  expect_bad_input(plan(path("w32.json"), "", path("no_topology.json")),
                   {"topology", "cannot open file"});
}

TEST_F(CliErrors, PlanTopologyFixedPoint) {
  expect_bad_input(
      plan(path("w32.json"), "", path("fixed_point.json"), "--experts 4 --ep 2 --redundant 1"),
      {"topology", "fixed point"});
}

TEST_F(CliErrors, PlanTopologyNotPermutation) {
  expect_bad_input(
      plan(path("w32.json"), "", path("not_perm.json"), "--experts 6 --ep 3 --redundant 1"),
      {"topology", "not a permutation"});
}

TEST_F(CliErrors, PlanTopologyNonInteger) {
  expect_bad_input(
      plan(path("w32.json"), "", path("float_topo.json"), "--experts 4 --ep 2 --redundant 1"),
      {"topology", "integers"});
}

TEST_F(CliErrors, PlanTopologyInvalidJson) {
  expect_bad_input(plan(path("w32.json"), "", path("invalid.json")),
                   {"topology", "JSON parse error"});
}

// ---- lplb plan: sizes and options ------------------------------------------

TEST_F(CliErrors, PlanExpertsNotMultipleOfEp) {
  expect_bad_input(plan(path("w32.json"), "", "cube", "--experts 30 --ep 8 --redundant 2"),
                   {"num_experts", "not a multiple of ep_size 8"});
}

TEST_F(CliErrors, PlanEpNotMultipleOfGroup) {
  expect_bad_input(plan(path("w32.json"), "", "cube", "--experts 32 --ep 4 --redundant 2"),
                   {"ep_size", "group size 8"});
}

TEST_F(CliErrors, PlanRedundantNotMultipleOfSlots) {
  expect_bad_input(plan(path("w32.json"), "", "cube", "--experts 32 --ep 8 --redundant 3"),
                   {"redundant_per_rank", "slots per rank 2"});
}

TEST_F(CliErrors, PlanRedundantTooLarge) {
  expect_bad_input(plan(path("w32.json"), "", "cube", "--experts 32 --ep 8 --redundant 6"),
                   {"redundant_per_rank", "exceeds"});
}

TEST_F(CliErrors, PlanNonPositiveSizes) {
  expect_bad_input(plan(path("w32.json"), "", "cube", "--experts 0 --ep 8 --redundant 2"),
                   {"num_experts", "> 0"});
  expect_bad_input(plan(path("w32.json"), "", "cube", "--experts 32 --ep -8 --redundant 2"),
                   {"ep_size", "> 0"});
  expect_bad_input(plan(path("w32.json"), "", "cube", "--experts 32 --ep 8 --redundant 0"),
                   {"redundant_per_rank", "> 0"});
  expect_bad_input(plan(path("w32.json"), "--gpus-per-node 0"), {"gpus_per_node"});
}

TEST_F(CliErrors, PlanNonIntegerSize) {
  expect_bad_input(plan(path("w32.json"), "", "cube", "--experts abc --ep 8 --redundant 2"),
                   {"--experts"});
  // CLI11 saturates an out-of-range integer to INT64_MAX; it is still refused.
  expect_bad_input(
      plan(path("w32.json"), "", "cube", "--experts 99999999999999999999 --ep 8 --redundant 2"),
      {"experts"});
}

TEST_F(CliErrors, PlanHugeExperts) {
  // Refused at once (the planner caps E), not after building a huge mapping.
  expect_bad_input(plan(path("w32.json"), "", "cube", "--experts 536870904 --ep 8 --redundant 2"),
                   {"num_experts"});
}

TEST_F(CliErrors, PlanUnknownSolver) {
  expect_bad_input(plan(path("w32.json"), "--solver simplex"), {"solver", "simplex"});
}

TEST_F(CliErrors, PlanMissingRequiredOption) {
  expect_bad_input("plan --topology cube --experts 32 --ep 8 --redundant 2",
                   {"--workload", "required"});
  expect_bad_input("plan --experts 32 --ep 8 --redundant 2 --workload '" + path("w32.json") + "'",
                   {"--topology", "required"});
}

TEST_F(CliErrors, PlanUnknownOption) {
  expect_bad_input(plan(path("w32.json"), "--bogus 1"), {"--bogus"});
}

TEST_F(CliErrors, PlanUnwritableOutput) {
  expect_bad_input(plan(path("w32.json"), "-o '" + path("no_such_dir/out.json") + "'"),
                   {"-o", "cannot open"});
}

// Options but no subcommand (no arguments at all prints the usage instead).
TEST_F(CliErrors, NoSubcommand) { expect_bad_input("--pretty", {"subcommand"}); }

TEST_F(CliErrors, UnknownSubcommand) { expect_bad_input("frobnicate", {"subcommand"}); }

// ---- lplb eplb --------------------------------------------------------------

TEST_F(CliErrors, EplbWeightsMissingFile) {
  expect_bad_input(eplb(path("nope.json")), {"--weights", "cannot open file"});
}

TEST_F(CliErrors, EplbWeightsUnreadable) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads files whatever their mode";
  expect_bad_input(eplb(path("unreadable.json")), {"--weights", "cannot open file"});
}

TEST_F(CliErrors, EplbWeightsEmpty) {
  expect_bad_input(eplb(path("empty.json")), {"--weights", "is empty"});
}

TEST_F(CliErrors, EplbWeightsInvalidJson) {
  expect_bad_input(eplb(path("invalid.json")), {"--weights", "JSON parse error"});
}

TEST_F(CliErrors, EplbWeightsNumberOverflow) {
  expect_bad_input(eplb(path("overflow.json")), {"--weights", "1e400"});
}

TEST_F(CliErrors, EplbWeightsRagged) {
  expect_bad_input(eplb(path("weights_ragged.json")), {"--weights", "ragged"});
}

TEST_F(CliErrors, EplbWeightsNegative) {
  expect_bad_input(eplb(path("weights_negative.json")), {"--weights", "negative"});
}

TEST_F(CliErrors, EplbWeightsNonNumber) {
  expect_bad_input(eplb(path("string.json")), {"--weights", "expected a number"});
}

TEST_F(CliErrors, EplbWeightsThreeDimensional) {
  expect_bad_input(eplb(path("w3d.json")), {"--weights", "expected a number"});
}

TEST_F(CliErrors, EplbReplicasNotMultipleOfGpus) {
  expect_bad_input(eplb(path("w16.json"), "--replicas 18 --groups 4 --nodes 2 --gpus 4"),
                   {"--replicas", "multiple"});
}

TEST_F(CliErrors, EplbReplicasFewerThanExperts) {
  expect_bad_input(eplb(path("w16.json"), "--replicas 8 --groups 4 --nodes 2 --gpus 4"),
                   {"--replicas"});
}

TEST_F(CliErrors, EplbGpusNotMultipleOfNodes) {
  expect_bad_input(eplb(path("w16.json"), "--replicas 24 --groups 4 --nodes 2 --gpus 3"),
                   {"--gpus", "multiple"});
}

TEST_F(CliErrors, EplbGroupsDoNotDivideExperts) {
  expect_bad_input(eplb(path("w16.json"), "--replicas 24 --groups 5 --nodes 1 --gpus 4"),
                   {"--groups"});
}

TEST_F(CliErrors, EplbNonPositiveSizes) {
  expect_bad_input(eplb(path("w16.json"), "--replicas 24 --groups 0 --nodes 2 --gpus 4"),
                   {"--groups"});
  expect_bad_input(eplb(path("w16.json"), "--replicas 24 --groups 4 --nodes -2 --gpus 4"),
                   {"--nodes"});
  expect_bad_input(eplb(path("w16.json"), "--replicas 24 --groups 4 --nodes 2 --gpus 0"),
                   {"--gpus"});
}

TEST_F(CliErrors, EplbMissingRequiredOption) {
  expect_bad_input("eplb --weights '" + path("w16.json") + "' --replicas 24 --groups 4 --nodes 2",
                   {"--gpus", "required"});
  expect_bad_input("eplb --replicas 24 --groups 4 --nodes 2 --gpus 4", {"--weights", "required"});
}

TEST_F(CliErrors, EplbNonIntegerSize) {
  expect_bad_input(eplb(path("w16.json"), "--replicas 2.5 --groups 4 --nodes 2 --gpus 4"),
                   {"--replicas"});
}

}  // namespace
