#include "lplb/topology.hpp"

#include <gtest/gtest.h>

#include <random>

#include "lplb/errors.hpp"
#include "test_util.hpp"

namespace lplb {
namespace {

std::string nlohmann_like_dump(const Topology& t) {
  std::string s = "[";
  const auto rows = t.r2o_rows();
  for (size_t i = 0; i < rows.size(); ++i) {
    s += i ? ",[" : "[";
    for (size_t d = 0; d < rows[i].size(); ++d) s += (d ? "," : "") + std::to_string(rows[i][d]);
    s += "]";
  }
  return s + "]";
}

void expect_inverse(const Topology& t) {
  for (int64_t d = 0; d < t.slots(); ++d)
    for (int64_t i = 0; i < t.group_size(); ++i) {
      EXPECT_EQ(t.o2r(t.r2o(i, d), d), i);
      EXPECT_NE(t.r2o(i, d), i);
    }
}

TEST(Topology, NamedMatchSpec) {
  const Topology cube = Topology::named("cube");
  EXPECT_EQ(cube.group_size(), 8);
  EXPECT_EQ(cube.slots(), 2);
  const int c0[] = {3, 0, 1, 2, 7, 4, 5, 6}, c1[] = {6, 7, 4, 5, 0, 1, 2, 3};
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(cube.r2o(i, 0), c0[i]);
    EXPECT_EQ(cube.r2o(i, 1), c1[i]);
  }
  const Topology hyper = Topology::named("hypercube");
  EXPECT_EQ(hyper.group_size(), 16);
  EXPECT_EQ(hyper.r2o(0, 0), 3);
  EXPECT_EQ(hyper.r2o(0, 1), 12);
  EXPECT_EQ(hyper.r2o(15, 0), 14);
  EXPECT_EQ(hyper.r2o(15, 1), 11);
  const Topology ring = Topology::named("ring");
  EXPECT_EQ(ring.group_size(), 8);
  EXPECT_EQ(ring.slots(), 1);
  EXPECT_EQ(ring.r2o(7, 0), 0);
  const Topology ring5 = Topology::named("ring:5");
  EXPECT_EQ(ring5.group_size(), 5);
  EXPECT_EQ(ring5.r2o(4, 0), 0);
  const Topology torus = Topology::named("torus:8x4");
  EXPECT_EQ(torus.group_size(), 32);
  EXPECT_EQ(torus.slots(), 2);
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 4; ++j) {
      EXPECT_EQ(torus.r2o(i * 4 + j, 0), ((i + 1) % 8) * 4 + j);
      EXPECT_EQ(torus.r2o(i * 4 + j, 1), i * 4 + (j + 1) % 4);
    }
  for (const char* n : {"cube", "hypercube", "ring", "ring:2", "ring:64", "torus:2x2", "torus:8x4",
                        "torus:3x5"})
    expect_inverse(Topology::named(n));
}

TEST(Topology, RandomValidAndJson) {
  std::mt19937_64 rng(1234);
  for (int trial = 0; trial < 200; ++trial) {
    const int64_t S = 2 + rng() % 63, D = 1 + rng() % 4;
    const Topology t = test::random_topology(S, D, rng);
    expect_inverse(t);
    const Topology back = Topology::from_json_text(nlohmann_like_dump(t));
    EXPECT_EQ(back.r2o_data(), t.r2o_data());
  }
}

TEST(Topology, RejectsBadMatrices) {
  auto msg = [](auto&& f) {
    try {
      f();
    } catch (const InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(msg([] { Topology(3, 1, {0, 2, 1}); }).find("fixed point"), std::string::npos);
  EXPECT_NE(msg([] { Topology(3, 1, {1, 2, 1}); }).find("not a permutation"), std::string::npos);
  EXPECT_NE(msg([] { Topology(3, 1, {1, 2, 3}); }).find("outside"), std::string::npos);
  EXPECT_NE(msg([] { Topology(3, 1, {1, 2}); }).find("entries"), std::string::npos);
  EXPECT_NE(msg([] { Topology(1, 1, {0}); }).find("group size"), std::string::npos);
  EXPECT_NE(msg([] { Topology::named("tree"); }).find("unknown name"), std::string::npos);
  EXPECT_NE(msg([] { Topology::named("ring:x"); }).find("integer"), std::string::npos);
  EXPECT_NE(msg([] { Topology::named("ring:1"); }).find("ring size"), std::string::npos);
  EXPECT_NE(msg([] { Topology::named("torus:4"); }).find("MxN"), std::string::npos);
  EXPECT_NE(msg([] { Topology::named("torus:1x4"); }).find(">= 2"), std::string::npos);
  EXPECT_NE(msg([] { Topology::from_json_text("[[1],[0"); }).find("parse error"), std::string::npos);
  EXPECT_NE(msg([] { Topology::from_json_text("[[1],[0,1]]"); }).find("ragged"), std::string::npos);
  EXPECT_NE(msg([] { Topology::from_json_text("[[1.5],[0]]"); }).find("integers"), std::string::npos);
  EXPECT_NE(msg([] { Topology::from_json_text("[]"); }).find("non-empty"), std::string::npos);
  EXPECT_NE(msg([] { Topology::from_json_text("{\"x\": 1}"); }).find("r2o"), std::string::npos);
  EXPECT_NE(msg([] { Topology::from_file("/nonexistent/t.json"); }).find("cannot open"),
            std::string::npos);
  // Every message names the argument.
  EXPECT_EQ(msg([] { Topology(3, 1, {0, 2, 1}); }).rfind("topology:", 0), 0u);
}

TEST(Topology, ObjectFormAndParse) {
  const Topology t = Topology::from_json_text(R"({"r2o": [[1],[2],[0]]})");
  EXPECT_EQ(t.group_size(), 3);
  EXPECT_EQ(t.o2r(0, 0), 2);
  EXPECT_EQ(Topology::parse("torus:2x4").group_size(), 8);
}

}  // namespace
}  // namespace lplb
