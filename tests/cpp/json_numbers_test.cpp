// The CLI's fast JSON paths (plain numeric arrays, trace counts, integer
// output) agree with the nlohmann path they shortcut, on random documents
// in several layouts, and leave every irregular document to it.
#include "cli/json_numbers.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "cli/json_io.hpp"
#include "lplb/errors.hpp"
#include "sim/trace.hpp"

namespace lplb::cli {
namespace {

std::string temp_file(const std::string& name, const std::string& text) {
  const auto p = std::filesystem::temp_directory_path() /
                 ("lplb_json_numbers_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(p, std::ios::binary) << text;
  return p.string();
}

nlohmann::json random_matrix(std::mt19937_64& rng, int rows, int cols, bool fractions) {
  nlohmann::json m = nlohmann::json::array();
  for (int r = 0; r < rows; ++r) {
    nlohmann::json row = nlohmann::json::array();
    for (int c = 0; c < cols; ++c) {
      if (fractions && rng() % 3 == 0)
        row.push_back(std::ldexp(static_cast<double>(rng() % 100000), -static_cast<int>(rng() % 20)));
      else
        row.push_back(rng() % (rng() % 2 ? 1000 : (uint64_t{1} << 60)));
    }
    m.push_back(row);
  }
  return m;
}

TEST(JsonNumbers, MatrixAndVectorMatchTheFullParse) {
  std::mt19937_64 rng(5);
  for (int trial = 0; trial < 30; ++trial) {
    const nlohmann::json m = random_matrix(rng, 1 + rng() % 6, 1 + rng() % 40, trial % 2);
    for (const int indent : {-1, 0, 3}) {
      const std::string path = temp_file("m.json", m.dump(indent));
      EXPECT_EQ(read_matrix(path, "--weights", false), to_matrix(m, "--weights", false));
      const std::string vpath = temp_file("v.json", m[0].dump(indent));
      EXPECT_EQ(read_vector(vpath, "--workload"), to_vector(m[0], "--workload"));
    }
  }
}

TEST(JsonNumbers, IrregularInputTakesTheFullPath) {
  for (const char* text : {"[1, -2]", "[1, nan]", "[[1, 2], [3]]", "[1e400]", "[01]", "[1.]",
                           "[1, \"2\"]", "[]", "[[1], 2]", "[1] x", "[1,]"}) {
    SCOPED_TRACE(text);
    EXPECT_FALSE(parse_number_array(text, 2).has_value());
    const std::string path = temp_file("bad.json", text);
    EXPECT_THROW(read_matrix(path, "--weights", true), InvalidArgument);
  }
  EXPECT_TRUE(parse_number_array(" [ [ 1 , 2.5e1 ] ,\n[3,4] ] ", 2).has_value());
}

TEST(JsonNumbers, IntegerWriterMatchesDump) {
  std::mt19937_64 rng(9);
  std::vector<int64_t> v(2 * 3 * 4);
  for (auto& x : v) x = static_cast<int64_t>(rng() % 2000) - 1000;
  const int64_t shape[] = {2, 3, 4};
  std::string text;
  append_int_array(text, v, shape);
  nlohmann::json want = nlohmann::json::array();
  for (int a = 0; a < 2; ++a) {
    nlohmann::json mid = nlohmann::json::array();
    for (int b = 0; b < 3; ++b)
      mid.push_back(std::vector<int64_t>(v.begin() + (a * 3 + b) * 4, v.begin() + (a * 3 + b + 1) * 4));
    want.push_back(mid);
  }
  EXPECT_EQ(text, want.dump());
}

TEST(JsonNumbers, TraceFastPathMatchesTheFullParse) {
  std::mt19937_64 rng(13);
  nlohmann::json counts = nlohmann::json::array();
  for (int s = 0; s < 5; ++s) {
    nlohmann::json step = nlohmann::json::array();
    for (int l = 0; l < 3; ++l) {
      std::vector<int64_t> row(16);
      for (auto& x : row) x = static_cast<int64_t>(rng() % (l == 2 ? (uint64_t{1} << 53) : 5000));
      step.push_back(row);
    }
    counts.push_back(step);
  }
  nlohmann::json doc = {{"config", {{"experts", 16}, {"note", "a \"quoted\" ] string"}}},
                        {"counts", counts},
                        {"loss", {0.5, 0.25}}};
  for (const nlohmann::json& d : {doc, counts}) {
    for (const int indent : {-1, 2}) {
      const std::string path = temp_file("t.json", d.dump(indent));
      const sim::Trace fast = sim::load_trace(path);
      const sim::Trace full = sim::parse_trace(d);
      EXPECT_EQ(fast.counts, full.counts);
      EXPECT_EQ(fast.num_steps, full.num_steps);
      EXPECT_EQ(fast.num_layers, full.num_layers);
      EXPECT_EQ(fast.num_experts, full.num_experts);
      EXPECT_EQ(fast.config, full.config);
    }
  }
  // A fractional count goes to the full path and its error.
  counts[1][2][3] = 1.5;
  const std::string path = temp_file("frac.json", nlohmann::json{{"counts", counts}}.dump());
  try {
    sim::load_trace(path);
    FAIL() << "accepted a fractional count";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("counts[1][2][3] = 1.5 is not an integer"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace lplb::cli
