// EPLB static placement: parity with deepseek-ai/EPLB (golden data from
// scripts/gen_eplb_golden.py), invariants on random inputs, the
// spread_replicas option, bad input (library and CLI).
#include "lplb/eplb.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <sys/wait.h>

#include "core/eplb_packing.hpp"
#include "lplb/errors.hpp"
#include "test_util.hpp"

namespace lplb {
namespace {

using Json = nlohmann::json;
namespace fs = std::filesystem;

struct Params {
  int64_t layers, experts, replicas, groups, nodes, gpus;
};

EplbResult run(const std::vector<double>& w, const Params& p, bool spread = false) {
  return rebalance_experts(w, p.layers, p.replicas, p.groups, p.nodes, p.gpus,
                           EplbOptions{.spread_replicas = spread});
}

std::vector<int64_t> row(const std::vector<int64_t>& v, int64_t i, int64_t n) {
  return {v.begin() + i * n, v.begin() + (i + 1) * n};
}

// log2phy[l][e] as a sorted list without padding.
std::vector<int64_t> replicas_of(const EplbResult& r, int64_t l, int64_t e) {
  auto v = row(r.log2phy, l * r.num_logical + e, r.max_count);
  v.erase(std::remove(v.begin(), v.end(), -1), v.end());
  std::sort(v.begin(), v.end());
  return v;
}

// Structural invariants every placement must satisfy.
void expect_consistent(const EplbResult& r, const std::vector<double>& w, const Params& p) {
  ASSERT_EQ(r.phy2log.size(), size_t(p.layers * p.replicas));
  ASSERT_EQ(r.logcnt.size(), size_t(p.layers * p.experts));
  ASSERT_EQ(r.log2phy.size(), size_t(p.layers * p.experts * r.max_count));
  const bool hierarchical = p.groups % p.nodes == 0;
  const int64_t nodes = hierarchical ? p.nodes : 1, groups = hierarchical ? p.groups : 1;
  const int64_t phy_per_node = p.replicas / nodes, group_size = p.experts / groups;
  int64_t max_count = 0;
  for (int64_t l = 0; l < p.layers; ++l) {
    std::vector<int64_t> seen(p.experts, 0), node_of_group(groups, -1);
    for (int64_t s = 0; s < p.replicas; ++s) {
      const int64_t e = r.phy2log[l * p.replicas + s];
      ASSERT_GE(e, 0);
      ASSERT_LT(e, p.experts);
      ++seen[e];
      // A group's experts (and all their replicas) stay on one node.
      int64_t& node = node_of_group[e / group_size];
      if (node < 0) node = s / phy_per_node;
      EXPECT_EQ(node, s / phy_per_node) << "group split across nodes, layer " << l;
    }
    // Each node holds log_per_node experts: as many groups as the others.
    std::vector<int64_t> groups_on_node(nodes, 0);
    for (int64_t node : node_of_group) ++groups_on_node[node];
    for (int64_t g : groups_on_node) EXPECT_EQ(g, groups / nodes);
    double max_load = 0, min_reducible = INFINITY;
    for (int64_t e = 0; e < p.experts; ++e) {
      const int64_t c = r.logcnt[l * p.experts + e];
      max_count = std::max(max_count, c);
      EXPECT_GE(c, 1);
      EXPECT_EQ(seen[e], c);
      const auto slots = row(r.log2phy, l * p.experts + e, r.max_count);
      for (int64_t k = 0; k < r.max_count; ++k) {
        if (k >= c) {
          EXPECT_EQ(slots[k], -1);
          continue;
        }
        ASSERT_GE(slots[k], 0);
        ASSERT_LT(slots[k], p.replicas);
        EXPECT_EQ(r.phy2log[l * p.replicas + slots[k]], e);
      }
      EXPECT_EQ(replicas_of(r, l, e).size(), size_t(c));  // distinct slots
      const double x = static_cast<float>(w[l * p.experts + e]);
      max_load = std::max(max_load, x / c);
      if (c > 1) min_reducible = std::min(min_reducible, x / (c - 1));
    }
    // With one node the greedy replication is min-max optimal: taking a
    // replica from any expert would load it at least as much as the maximum.
    if (nodes == 1) EXPECT_LE(max_load, min_reducible * (1 + 1e-6));
  }
  EXPECT_EQ(r.max_count, max_count);
}

// Largest number of replicas of one logical expert on a single GPU.
int64_t max_same_gpu(const EplbResult& r, const Params& p) {
  const int64_t per_gpu = p.replicas / p.gpus;
  int64_t worst = 0;
  for (int64_t l = 0; l < p.layers; ++l)
    for (int64_t g = 0; g < p.gpus; ++g) {
      std::map<int64_t, int64_t> n;
      for (int64_t k = 0; k < per_gpu; ++k)
        worst = std::max(worst, ++n[r.phy2log[l * p.replicas + g * per_gpu + k]]);
    }
  return worst;
}

// ---------------------------------------------------------------- parity

TEST(Eplb, ReadmeExample) {
  const std::vector<double> w = {90, 132, 40,  61,  104, 165, 39,  4,   73,  56,  183, 86,
                                 20, 107, 104, 64,  19,  197, 187, 157, 172, 86,  16,  27};
  const Params p{2, 12, 16, 4, 2, 8};
  const EplbResult r = run(w, p);
  const std::vector<int64_t> expected = {5, 6, 5, 7, 8, 4, 3, 4, 10, 9, 10, 2, 0, 1, 11, 1,
                                         7, 10, 6, 8, 6, 11, 8, 9, 2, 4, 5, 1, 5, 0, 3, 1};
  EXPECT_EQ(r.phy2log, expected);
  expect_consistent(r, w, p);
}

std::vector<int64_t> flatten(const Json& j) {
  std::vector<int64_t> out;
  if (!j.is_array()) return {j.get<int64_t>()};
  for (const auto& x : j) {
    const auto sub = flatten(x);
    out.insert(out.end(), sub.begin(), sub.end());
  }
  return out;
}

TEST(Eplb, MatchesReferenceGolden) {
  const fs::path dir = fs::path(LPLB_TEST_DATA_DIR) / "eplb";
  int files = 0, cases = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    ++files;
    std::ifstream in(entry.path());
    const Json doc = Json::parse(in);
    for (const Json& c : doc["cases"]) {
      ++cases;
      SCOPED_TRACE(entry.path().filename().string() + ": " + c["name"].get<std::string>());
      const Json& weight = c["weight"];
      const Params p{int64_t(weight.size()), int64_t(weight[0].size()), c["num_replicas"],
                     c["num_groups"], c["num_nodes"], c["num_gpus"]};
      std::vector<double> w;
      for (int64_t x : flatten(weight)) w.push_back(double(x));
      const bool tied = c["name"].get<std::string>().find("tied") != std::string::npos;
#ifndef __GLIBCXX__
      if (tied) continue;  // their tie order is libstdc++'s std::sort
#endif
      const EplbResult r = run(w, p);
      EXPECT_EQ(r.phy2log, flatten(c["phy2log"]));
      EXPECT_EQ(r.logcnt, flatten(c["logcnt"]));
      EXPECT_EQ(r.max_count, int64_t(c["log2phy"][0][0].size()));
      const auto ref_log2phy = flatten(c["log2phy"]);
      ASSERT_EQ(r.log2phy.size(), ref_log2phy.size());
      // Replicas of one expert tie on weight, so the order of an expert's
      // log2phy entries (and the "tied" cases) follow the sort's tie order:
      // the reference's (torch 1.13) is libstdc++'s std::sort, as is ours.
#ifdef __GLIBCXX__
      EXPECT_EQ(r.log2phy, ref_log2phy);
#endif
      if (tied) continue;
      for (int64_t l = 0; l < p.layers; ++l)
        for (int64_t e = 0; e < p.experts; ++e) {
          auto ref = row(ref_log2phy, l * p.experts + e, r.max_count);
          ref.erase(std::remove(ref.begin(), ref.end(), -1), ref.end());
          std::sort(ref.begin(), ref.end());
          ASSERT_EQ(replicas_of(r, l, e), ref) << "layer " << l << " expert " << e;
        }
      expect_consistent(r, w, p);
    }
  }
  EXPECT_GE(files, 2);
  EXPECT_GE(cases, 60);
}

// ------------------------------------------------------------ invariants

Params random_params(std::mt19937_64& rng) {
  auto pick = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  Params p;
  p.layers = pick(1, 4);
  p.nodes = pick(1, 4);
  p.gpus = p.nodes * pick(1, 4);
  p.groups = pick(1, 8);
  p.experts = p.groups * pick(1, 12);
  const int64_t per_gpu = (p.experts + p.gpus - 1) / p.gpus;
  p.replicas = p.gpus * (per_gpu + pick(0, 3));
  return p;
}

TEST(Eplb, InvariantsOnRandomInputs) {
  std::mt19937_64 rng(1234);
  const test::Skew skews[] = {test::Skew::kUniform, test::Skew::kZipf, test::Skew::kOneHot,
                              test::Skew::kSparse, test::Skew::kZero};
  for (int iter = 0; iter < 2000; ++iter) {
    const Params p = random_params(rng);
    std::vector<double> w;
    for (int64_t l = 0; l < p.layers; ++l) {
      const auto layer = test::random_loads(p.experts, skews[iter % 5], 1e6, rng);
      w.insert(w.end(), layer.begin(), layer.end());
    }
    if (iter % 7 == 0)  // non-integer loads too
      for (double& x : w) x *= 0.37;
    SCOPED_TRACE("iter " + std::to_string(iter));
    for (bool spread : {false, true}) {
      const EplbResult r = run(w, p, spread);
      expect_consistent(r, w, p);
      if (HasFatalFailure() || HasFailure()) return;
    }
  }
}

TEST(Eplb, DeterministicAndLayersIndependent) {
  std::mt19937_64 rng(7);
  const Params p{5, 64, 80, 8, 2, 16};
  std::vector<double> w;
  for (int64_t l = 0; l < p.layers; ++l) {
    const auto layer = test::random_loads(p.experts, test::Skew::kZipf, 1e5, rng);
    w.insert(w.end(), layer.begin(), layer.end());
  }
  const EplbResult all = run(w, p);
  EXPECT_EQ(run(w, p).phy2log, all.phy2log);
  const Params one{1, 64, 80, 8, 2, 16};
  for (int64_t l = 0; l < p.layers; ++l) {
    const std::vector<double> wl(w.begin() + l * 64, w.begin() + (l + 1) * 64);
    EXPECT_EQ(run(wl, one).phy2log, row(all.phy2log, l, p.replicas));
  }
}

// -------------------------------------------------------- spread_replicas

TEST(EplbSpread, NoTwoReplicasOnOneGpuWhenPossible) {
  std::mt19937_64 rng(99);
  int64_t default_dups = 0;
  for (int iter = 0; iter < 1500; ++iter) {
    Params p = random_params(rng);
    p.replicas += p.gpus * (iter % 3);  // more replication, more chances to collide
    std::vector<double> w;
    for (int64_t l = 0; l < p.layers; ++l) {
      const auto layer = test::random_loads(p.experts, test::Skew::kZipf, 1e6, rng);
      w.insert(w.end(), layer.begin(), layer.end());
    }
    const EplbResult plain = run(w, p), spread = run(w, p, true);
    SCOPED_TRACE("iter " + std::to_string(iter));
    expect_consistent(spread, w, p);
    // Same replication, only the GPU assignment within a node changes.
    EXPECT_EQ(spread.logcnt, plain.logcnt);
    const int64_t gpus_per_node = p.groups % p.nodes == 0 ? p.gpus / p.nodes : p.gpus;
    if (spread.max_count <= gpus_per_node) {
      EXPECT_EQ(max_same_gpu(spread, p), 1);
      default_dups += max_same_gpu(plain, p) > 1;
    }
  }
  EXPECT_GT(default_dups, 0);  // the option matters on these inputs
}

TEST(EplbSpread, GuardLooksAhead) {
  // Items A=10, C=4, D=3, B=2.5 and two replicas of X (1 each), two packs of
  // three. Greedy fills pack 1 with C, D, B and must put both X on pack 0;
  // the guard keeps a slot free in pack 1 for the second X.
  const std::vector<float> weight = {10, 2.5f, 4, 3, 1, 1};
  const std::vector<int64_t> expert = {0, 1, 2, 3, 4, 4};
  std::vector<int64_t> pack(6), rank(6);
  detail::balanced_packing(weight, 2, pack, rank);
  EXPECT_EQ(pack[4], pack[5]);
  detail::balanced_packing(weight, 2, pack, rank, expert, 5);
  EXPECT_NE(pack[4], pack[5]);
}

TEST(EplbSpread, PackingSpreadsRandomInstances) {
  // Any counts <= num_packs can be spread (Gale-Ryser): the guard must find it.
  std::mt19937_64 rng(5);
  for (int iter = 0; iter < 20000; ++iter) {
    const int64_t packs = std::uniform_int_distribution<int64_t>(2, 6)(rng);
    const int64_t capacity = std::uniform_int_distribution<int64_t>(2, 6)(rng);
    std::vector<int64_t> expert;
    std::vector<float> weight;
    for (int64_t e = 0; int64_t(expert.size()) < packs * capacity; ++e) {
      const int64_t left = packs * capacity - int64_t(expert.size());
      const int64_t c = std::min(left, std::uniform_int_distribution<int64_t>(1, packs)(rng));
      const float w = std::uniform_real_distribution<float>(0, 100)(rng);
      for (int64_t k = 0; k < c; ++k) {
        expert.push_back(e);
        weight.push_back(w / float(c));
      }
    }
    const int64_t num_experts = expert.back() + 1;
    std::vector<int64_t> pack(expert.size()), rank(expert.size());
    detail::balanced_packing(weight, packs, pack, rank, expert, num_experts);
    std::set<std::pair<int64_t, int64_t>> experts_in_pack, ranks_in_pack;
    for (size_t i = 0; i < expert.size(); ++i) {
      ASSERT_TRUE(experts_in_pack.insert({pack[i], expert[i]}).second) << "iter " << iter;
      ASSERT_TRUE(0 <= rank[i] && rank[i] < capacity);
      ASSERT_TRUE(ranks_in_pack.insert({pack[i], rank[i]}).second);
    }
  }
}

// --------------------------------------------------------------- bad input

void expect_invalid(const std::function<void()>& f, const std::string& arg) {
  try {
    f();
    ADD_FAILURE() << "no exception, expected one naming " << arg;
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(std::string(e.what()).rfind(arg + ": ", 0), 0u) << e.what();
  }
}

TEST(Eplb, RejectsBadArguments) {
  const std::vector<double> w(24, 1.0);  // 2 layers x 12 experts
  const double* d = w.data();
  auto call = [&](int64_t L, int64_t E, int64_t R, int64_t G, int64_t N, int64_t M) {
    return [=] { rebalance_experts(d, L, E, R, G, N, M); };
  };
  expect_invalid(call(0, 12, 16, 4, 2, 8), "num_layers");
  expect_invalid(call(-1, 12, 16, 4, 2, 8), "num_layers");
  expect_invalid(call(2, 0, 16, 4, 2, 8), "num_logical");
  expect_invalid(call(2, 12, 16, 0, 2, 8), "num_groups");
  expect_invalid(call(2, 12, 16, 4, 0, 8), "num_nodes");
  expect_invalid(call(2, 12, 16, 4, 2, 0), "num_gpus");
  expect_invalid(call(2, 12, 8, 4, 2, 8), "num_replicas");    // fewer than experts
  expect_invalid(call(2, 12, 18, 4, 2, 8), "num_replicas");   // not a multiple of gpus
  expect_invalid(call(2, 12, 16, 6, 3, 8), "num_gpus");       // gpus % nodes (hierarchical)
  expect_invalid(call(2, 12, 16, 5, 1, 8), "num_groups");     // experts % groups
  expect_invalid(call(1, 12, int64_t(1) << 58, 4, 2, 8), "num_replicas");  // too large
  expect_invalid([] { rebalance_experts(nullptr, 1, 4, 4, 1, 1, 1); }, "weight");
  expect_invalid([] { rebalance_experts(std::vector<double>(10, 1.0), 3, 4, 1, 1, 1); },
                 "weight");  // size not a multiple of layers
  for (double bad : {-1.0, double(NAN), double(INFINITY), -double(INFINITY), 1e39}) {
    std::vector<double> v = w;
    v[17] = bad;
    expect_invalid([&] { rebalance_experts(v, 2, 16, 4, 2, 8); }, "weight");
  }
}

// -------------------------------------------------------------------- CLI

struct CliResult {
  int status;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class EplbCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(LPLB_CLI_PATH)) GTEST_SKIP() << "CLI not built: " << LPLB_CLI_PATH;
    dir_ = fs::temp_directory_path() /
           ("lplb_eplb_cli_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return dir_ / name;
  }

  CliResult cli(const std::string& args) {
    const std::string cmd = std::string(LPLB_CLI_PATH) + " eplb " + args + " > " +
                            (dir_ / "out").string() + " 2> " + (dir_ / "err").string();
    const int raw = std::system(cmd.c_str());
    return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, slurp(dir_ / "out"), slurp(dir_ / "err")};
  }

  void expect_error(const std::string& args, const std::string& arg) {
    const CliResult r = cli(args);
    EXPECT_NE(r.status, 0) << args;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(arg), std::string::npos) << "expected '" << arg << "' in: " << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }

  fs::path dir_;
};

const char* kReadmeWeights =
    "[[90,132,40,61,104,165,39,4,73,56,183,86],[20,107,104,64,19,197,187,157,172,86,16,27]]";

TEST_F(EplbCli, ReadmeExampleToStdoutAndFile) {
  const auto w = write("w.json", kReadmeWeights);
  const std::string args =
      "--weights " + w.string() + " --replicas 16 --groups 4 --nodes 2 --gpus 8";
  const CliResult r = cli(args);
  ASSERT_EQ(r.status, 0) << r.err;
  const Json out = Json::parse(r.out);
  EXPECT_EQ(out["phy2log"], Json::parse("[[5,6,5,7,8,4,3,4,10,9,10,2,0,1,11,1],"
                                        "[7,10,6,8,6,11,8,9,2,4,5,1,5,0,3,1]]"));
  EXPECT_EQ(out["logcnt"].size(), 2u);
  EXPECT_EQ(out["log2phy"][0].size(), 12u);
  ASSERT_EQ(cli(args + " -o " + (dir_ / "o.json").string()).status, 0);
  EXPECT_EQ(Json::parse(slurp(dir_ / "o.json")), out);
}

TEST_F(EplbCli, OneDimensionalWeightsKeepLayerDimension) {
  const auto w = write("w.json", "[3, 1, 4, 1.5, 9, 2.6]");
  const CliResult r =
      cli("--weights " + w.string() + " --replicas 8 --groups 2 --nodes 1 --gpus 2");
  ASSERT_EQ(r.status, 0) << r.err;
  const Json out = Json::parse(r.out);
  const EplbResult lib = rebalance_experts({3, 1, 4, 1.5, 9, 2.6}, 1, 8, 2, 1, 2);
  EXPECT_EQ(out["phy2log"], Json::array({Json(lib.phy2log)}));
  EXPECT_EQ(out["logcnt"], Json::array({Json(lib.logcnt)}));
  EXPECT_EQ(out["log2phy"][0].size(), 6u);
}

TEST_F(EplbCli, SpreadReplicasFlag) {
  const auto w = write("w.json", "[[100, 1, 1, 1, 1, 1, 1, 1]]");
  const CliResult r = cli("--weights " + w.string() +
                          " --replicas 12 --groups 1 --nodes 1 --gpus 4 --spread-replicas");
  ASSERT_EQ(r.status, 0) << r.err;
  const Json out = Json::parse(r.out);
  const auto p2l = out["phy2log"][0].get<std::vector<int64_t>>();
  for (int g = 0; g < 4; ++g)  // expert 0 has 5 replicas on 4 GPUs: at most two on one
    EXPECT_LE(std::count(p2l.begin() + 3 * g, p2l.begin() + 3 * g + 3, 0), 2);
}

TEST_F(EplbCli, BadInput) {
  const std::string sizes = " --replicas 16 --groups 4 --nodes 2 --gpus 8";
  expect_error("--weights " + (dir_ / "missing.json").string() + sizes, "--weights");
  expect_error("--weights " + write("a.json", "[[1,2,").string() + sizes, "--weights");
  expect_error("--weights " + write("b.json", "[]").string() + sizes, "--weights");
  expect_error("--weights " + write("c.json", "[[1,2],[3]]").string() + sizes, "--weights");
  expect_error("--weights " + write("d.json", "[[1,\"x\"]]").string() + sizes, "--weights");
  expect_error("--weights " + write("e.json", "[[1,-2]]").string() + sizes, "--weights");
  expect_error("--weights " + write("f.json", "[[1,NaN]]").string() + sizes, "--weights");
  expect_error("--weights " + write("g.json", "[[1,Infinity]]").string() + sizes, "--weights");
  expect_error("--weights " + write("h.json", "[[1,1e999]]").string() + sizes, "--weights");
  expect_error("--weights " + write("i.json", "{\"w\": [1]}").string() + sizes, "--weights");
  expect_error("--weights " + write("j.json", "[[]]").string() + sizes, "--weights");
  expect_error("--weights " + write("k.json", "[[true, 1]]").string() + sizes, "--weights");
  const std::string w = "--weights " + write("ok.json", kReadmeWeights).string();
  expect_error(w + " --replicas 10 --groups 4 --nodes 2 --gpus 8", "--replicas");
  expect_error(w + " --replicas 18 --groups 4 --nodes 2 --gpus 8", "--replicas");
  expect_error(w + " --replicas 16 --groups 5 --nodes 1 --gpus 8", "--groups");
  expect_error(w + " --replicas 16 --groups 6 --nodes 3 --gpus 8", "--gpus");
  expect_error(w + " --replicas 16 --groups 4 --nodes 0 --gpus 8", "--nodes");
  expect_error(w + " --replicas 16 --groups 4 --nodes 2 --gpus -8", "--gpus");
  expect_error(w + " --replicas 16 --groups 4 --nodes 2", "--gpus");  // missing option
  expect_error(w + sizes + " -o " + (dir_ / "no/such/dir/o.json").string(), "-o");
}

}  // namespace
}  // namespace lplb

namespace lplb {
namespace {
// Like the reference, sizes that only the hierarchical policy needs are not
// checked when num_groups % num_nodes != 0 (global policy: one group, one node).
TEST(Eplb, GlobalPolicyIgnoresGroupAndNodeSizes) {
  std::vector<double> w(12);
  for (int i = 0; i < 12; ++i) w[i] = 10.0 + i * 3.5;
  const EplbResult a = rebalance_experts(w.data(), 1, 12, 16, 5, 2, 8);   // 12 % 5 != 0
  const EplbResult b = rebalance_experts(w.data(), 1, 12, 16, 4, 3, 8);   // 8 % 3 != 0
  const EplbResult g = rebalance_experts(w.data(), 1, 12, 16, 1, 1, 8);
  EXPECT_EQ(a.phy2log, g.phy2log);
  EXPECT_EQ(b.phy2log, g.phy2log);
}
}  // namespace
}  // namespace lplb
