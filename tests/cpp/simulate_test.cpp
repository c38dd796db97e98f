// Tests of `lplb simulate` (tools/sim): the synthetic sampler, the balancers,
// trace replay, the summary figures, bad input, and the CLI end to end.
#include <gtest/gtest.h>
#include <gmock/gmock.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <numeric>
#include <random>
#include <sstream>
#include <string>

#include "lplb/errors.hpp"
#include "lplb/topology.hpp"
#include "sim/balancer.hpp"
#include "sim/report.hpp"
#include "sim/simulator.hpp"
#include "sim/synthetic.hpp"
#include "sim/trace.hpp"

namespace lplb::sim {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// A small, fast configuration (E=64 over 16 ranks, cube, R=2).
SimOptions small_options(uint64_t seed = 1) {
  SimOptions o;
  o.experts = 64;
  o.topk = 4;
  o.ep = 16;
  o.redundant = 2;
  o.tokens_per_rank = 256;
  o.steps = 60;
  o.window = 10;
  o.refresh = 20;
  o.seed = seed;
  return o;
}

// A fresh path in the temp directory, removed when the test ends.
class TempPath {
 public:
  explicit TempPath(const std::string& suffix) {
    static std::atomic<int> counter{0};
    path_ = (fs::temp_directory_path() /
             ("lplb_sim_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + suffix))
                .string();
  }
  ~TempPath() { std::error_code ec; fs::remove(path_, ec); }
  const std::string& str() const { return path_; }

 private:
  std::string path_;
};

void write_text(const std::string& path, const std::string& text) {
  if (path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0) {
    gzFile f = gzopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(gzwrite(f, text.data(), static_cast<unsigned>(text.size())), static_cast<int>(text.size()));
    gzclose(f);
  } else {
    std::ofstream(path, std::ios::binary) << text;
  }
}

// counts[steps][layers][experts] with skewed, seeded random values.
nlohmann::json random_trace(int64_t steps, int64_t layers, int64_t experts, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::gamma_distribution<double> pop(0.5, 1.0);
  nlohmann::json counts = nlohmann::json::array();
  std::vector<std::vector<double>> base(layers, std::vector<double>(experts));
  for (auto& b : base)
    for (double& x : b) x = pop(rng);
  for (int64_t s = 0; s < steps; ++s) {
    nlohmann::json step = nlohmann::json::array();
    for (int64_t l = 0; l < layers; ++l) {
      std::vector<int64_t> row(experts);
      for (int64_t e = 0; e < experts; ++e)
        row[e] = std::poisson_distribution<int64_t>(200.0 * base[l][e] + (s % 7 == 3 ? 0.0 : 1.0))(rng);
      if (s == 5 && l == 0) std::fill(row.begin(), row.end(), 0);  // an empty batch is valid
      step.push_back(row);
    }
    counts.push_back(step);
  }
  return counts;
}

// Expects `fn` to throw InvalidArgument whose message starts with `arg`.
void expect_bad(const std::function<void()>& fn, const std::string& arg,
                const std::string& detail = "") {
  try {
    fn();
    ADD_FAILURE() << "no error; expected one naming " << arg;
  } catch (const InvalidArgument& e) {
    EXPECT_THAT(std::string(e.what()), ::testing::StartsWith(arg + ":")) << e.what();
    if (!detail.empty()) {
      EXPECT_THAT(std::string(e.what()), HasSubstr(detail)) << e.what();
    }
  }
}

int64_t sum(std::span<const int64_t> v) { return std::accumulate(v.begin(), v.end(), int64_t{0}); }

// The four original methods of `lplb simulate` (docs/SIMULATOR.md); later methods may follow them.
const std::vector<std::string> kCoreMethods = {"none", "eplb", "lplb_ipm", "lplb_exact"};

const MethodResult& method(const SimResult& r, const std::string& name) {
  for (const MethodResult& m : r.methods)
    if (m.name == name) return m;
  throw std::runtime_error("no method " + name);
}

// ---------------------------------------------------------------- sampler

TEST(AliasTable, FrequenciesFollowWeightsAndZerosNeverDrawn) {
  std::mt19937_64 gen(3);
  for (int trial = 0; trial < 6; ++trial) {
    const int n = 1 + static_cast<int>(gen() % 40);
    std::vector<double> w(n);
    for (double& x : w) x = (gen() % 3 == 0) ? 0.0 : std::uniform_real_distribution<double>(0.01, 5)(gen);
    w[gen() % n] = 1.0;  // at least one positive
    AliasTable table;
    table.build(w);
    Rng rng(trial);
    std::vector<int64_t> hits(n, 0);
    const int64_t draws = 400000;
    for (int64_t i = 0; i < draws; ++i) ++hits[table.sample(rng)];
    const double total = std::accumulate(w.begin(), w.end(), 0.0);
    for (int i = 0; i < n; ++i) {
      const double expected = w[i] / total * draws;
      if (w[i] == 0) {
        EXPECT_EQ(hits[i], 0) << "zero-weight item " << i << " drawn";
      } else {
        EXPECT_NEAR(hits[i], expected, 6 * std::sqrt(expected) + 1) << "item " << i;
      }
    }
  }
}

TEST(SampleBatch, EveryTokenPicksDistinctExperts) {
  // One expert with almost all the weight: distinct picks mean it is chosen
  // exactly once per token, never more.
  for (int64_t topk : {1, 2, 5, 8}) {
    std::vector<double> w(16, 1e-6);
    w[7] = 1.0;
    AliasTable table;
    table.build(w);
    Rng rng(topk);
    std::vector<int64_t> counts(16, 0);
    sample_batch(table, w, topk, 1000, rng, counts);
    EXPECT_EQ(counts[7], 1000) << "topk " << topk;
    EXPECT_EQ(sum(counts), 1000 * topk);
    for (int64_t c : counts) EXPECT_LE(c, 1000);
  }
  // topk == E: every expert exactly once per token, even with extreme skew.
  std::vector<double> w(12);
  for (int e = 0; e < 12; ++e) w[e] = std::pow(10.0, -e);
  AliasTable table;
  table.build(w);
  Rng rng(9);
  std::vector<int64_t> counts(12, 0);
  sample_batch(table, w, 12, 300, rng, counts);
  for (int64_t c : counts) EXPECT_EQ(c, 300);
}

TEST(SyntheticStream, CountsSumAndDeterminism) {
  std::mt19937_64 gen(5);
  for (int trial = 0; trial < 8; ++trial) {
    SyntheticConfig c;
    c.num_ranks = 1 + static_cast<int64_t>(gen() % 8);
    c.num_experts = c.num_ranks * (1 + static_cast<int64_t>(gen() % 16));
    c.topk = 1 + static_cast<int64_t>(gen() % c.num_experts);
    c.tokens_per_rank = 1 + static_cast<int64_t>(gen() % 300);
    c.skew = std::uniform_real_distribution<double>(0, 2)(gen);
    c.drift = trial % 2 ? 0.05 : 0.0;
    c.batch_noise = trial % 3 ? 0.4 : 0.0;
    c.seed = gen();
    c.threads = 1;
    SyntheticConfig c2 = c;
    c2.threads = 3;  // thread count must not change the stream
    SyntheticStream a(c), b(c2);
    std::vector<int64_t> ca, cb;
    for (int s = 0; s < 5; ++s) {
      a.next(ca);
      b.next(cb);
      EXPECT_EQ(ca, cb);
      EXPECT_EQ(sum(ca), c.num_ranks * c.tokens_per_rank * c.topk);
      for (int64_t x : ca) EXPECT_LE(x, c.num_ranks * c.tokens_per_rank);  // distinct per token
    }
  }
}

TEST(SyntheticStream, SkewMakesPopularExpertsHot) {
  SyntheticConfig c;
  c.num_experts = 64;
  c.num_ranks = 4;
  c.topk = 4;
  c.tokens_per_rank = 2000;
  c.skew = 1.0;
  c.batch_noise = 0;
  c.drift = 0;
  SyntheticStream stream(c);
  std::vector<int64_t> counts;
  stream.next(counts);
  const auto& pop = stream.batch_popularity();
  const size_t hot = std::max_element(pop.begin(), pop.end()) - pop.begin();
  const size_t cold = std::min_element(pop.begin(), pop.end()) - pop.begin();
  EXPECT_GT(counts[hot], 10 * counts[cold]);
}

// --------------------------------------------------------------- balancers

TEST(Balancers, LoadsConserveTokensEveryStep) {
  struct Case {
    const char* topology;
    int64_t E, P, R, topk;
  };
  const Case cases[] = {{"cube", 64, 16, 2, 4},   {"ring", 32, 8, 1, 3},     {"ring:4", 48, 8, 3, 6},
                        {"torus:2x3", 48, 12, 4, 2}, {"hypercube", 64, 16, 2, 8}, {"cube", 256, 32, 2, 8}};
  for (const Case& c : cases) {
    SimOptions o = small_options(11);
    o.topology = c.topology;
    o.experts = c.E;
    o.ep = c.P;
    o.redundant = c.R;
    o.topk = c.topk;
    o.tokens_per_rank = 64;
    o.steps = 45;
    o.skew = 1.2;
    int64_t records = 0;
    SimHooks hooks;
    hooks.observer = [&](const StepRecord& r) {
      ++records;
      const double loads = std::accumulate(r.loads.rank_loads.begin(), r.loads.rank_loads.end(), 0.0);
      ASSERT_EQ(static_cast<int64_t>(r.loads.rank_loads.size()), c.P);
      EXPECT_EQ(loads, static_cast<double>(sum(r.counts)))
          << c.topology << " " << r.balancer.name() << " step " << r.step;
      EXPECT_EQ(sum(r.counts), c.P * 64 * c.topk);
      for (double x : r.loads.rank_loads) EXPECT_EQ(x, std::floor(x)) << "fractional tokens";
    };
    const SimResult res = run_simulation(o, hooks);
    EXPECT_EQ(records, 45 * static_cast<int64_t>(res.methods.size())) << c.topology;
    EXPECT_GE(res.methods.size(), 4u);
  }
}

TEST(Balancers, ExactNeverWorseThanIpmOrNoneBeyondRounding) {
  // Fractionally exact <= IPM <= none. The token split rounds each replicated
  // expert's share to whole tokens: a rank holds C*D replicated originals and
  // C*D copies, each off by at most half a token, so a rank's realised load
  // is within C*D of its LP value. Hence exact <= none + C*D (none does not
  // round) and exact <= IPM + 2*C*D (both round).
  for (const char* topo : {"cube", "ring", "torus:2x4", "hypercube"}) {
    for (double skew : {0.0, 0.6, 1.5}) {
      SimOptions o = small_options(21);
      o.topology = topo;
      o.skew = skew;
      o.ep = 16;
      o.experts = 64;
      o.redundant = std::string(topo) == "ring" ? 3 : 2;
      o.steps = 40;
      const Topology t = Topology::parse(topo);
      const double cd = static_cast<double>(o.redundant);  // C*D = R
      std::map<std::pair<int64_t, int64_t>, std::map<std::string, double>> max_load;
      SimHooks hooks;
      hooks.observer = [&](const StepRecord& r) {
        max_load[{r.step, r.stream}][r.balancer.name()] =
            *std::max_element(r.loads.rank_loads.begin(), r.loads.rank_loads.end());
      };
      run_simulation(o, hooks);
      ASSERT_EQ(max_load.size(), 40u);
      for (auto& [key, m] : max_load) {
        EXPECT_LE(m["lplb_exact"], m["none"] + cd) << topo << " step " << key.first;
        EXPECT_LE(m["lplb_exact"], m["lplb_ipm"] + 2 * cd) << topo << " step " << key.first;
      }
      (void)t;
    }
  }
}

TEST(Balancers, EplbSplitsEvenlyAndHelpsOnStaticSkew) {
  SimOptions o = small_options(4);
  o.skew = 1.0;
  o.drift = 0;
  o.batch_noise = 0;
  o.steps = 80;
  const SimResult r = run_simulation(o);
  const MethodResult &none = method(r, "none"), &eplb = method(r, "eplb");
  // Before the first refresh (step 20) EPLB is the identity placement.
  for (int64_t s = 0; s < 20; ++s) EXPECT_EQ(eplb.max_load[s], none.max_load[s]);
  EXPECT_LT(eplb.step_time_rel, 0.95);
  EXPECT_LT(method(r, "lplb_exact").step_time_rel, 1.0);
}

TEST(Balancers, UnknownMethodAndFactory) {
  BalancerContext ctx;
  EXPECT_EQ(make_balancer("lplb_exact", ctx)->label(), "LPLB (exact)");
  expect_bad([&] { make_balancer("magic", ctx); }, "--methods", "magic");
  const auto names = balancer_names();
  ASSERT_GE(names.size(), 4u);
  EXPECT_EQ(std::vector<std::string>(names.begin(), names.begin() + 4), kCoreMethods);
}

// ------------------------------------------------------ simulator figures

TEST(Simulate, SameSeedSameFiguresDifferentSeedDiffers) {
  const SimResult a = run_simulation(small_options(7));
  const SimResult b = run_simulation(small_options(7));
  SimOptions other = small_options(8);
  other.threads = 1;
  const SimResult c = run_simulation(other);
  ASSERT_EQ(a.methods.size(), balancer_names().size());
  for (size_t k = 0; k < a.methods.size(); ++k) {
    EXPECT_EQ(a.methods[k].imbalance, b.methods[k].imbalance) << a.methods[k].name;
    EXPECT_EQ(a.methods[k].max_load, b.methods[k].max_load);
    EXPECT_EQ(a.methods[k].imbalance_mean, b.methods[k].imbalance_mean);
    EXPECT_EQ(a.methods[k].imbalance_p99, b.methods[k].imbalance_p99);
    EXPECT_EQ(a.methods[k].step_time_rel, b.methods[k].step_time_rel);
    EXPECT_NE(a.methods[k].imbalance, c.methods[k].imbalance) << a.methods[k].name;
  }
  // Thread count does not matter.
  SimOptions one = small_options(7);
  one.threads = 1;
  EXPECT_EQ(method(run_simulation(one), "lplb_exact").imbalance, method(a, "lplb_exact").imbalance);
}

TEST(Simulate, SummaryFiguresMatchSeries) {
  const SimResult r = run_simulation(small_options(3));
  EXPECT_EQ(r.methods[0].name, "none");
  EXPECT_DOUBLE_EQ(r.methods[0].step_time_rel, 1.0);
  const double none_time = std::accumulate(r.methods[0].max_load.begin(), r.methods[0].max_load.end(), 0.0);
  for (const MethodResult& m : r.methods) {
    ASSERT_EQ(m.imbalance.size(), 60u);
    std::vector<double> sorted = m.imbalance;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_DOUBLE_EQ(m.imbalance_max, sorted.back());
    EXPECT_DOUBLE_EQ(m.imbalance_p50, (sorted[29] + sorted[30]) / 2);
    EXPECT_NEAR(m.imbalance_mean, std::accumulate(sorted.begin(), sorted.end(), 0.0) / 60, 1e-12);
    EXPECT_LE(m.imbalance_p50, m.imbalance_p99);
    EXPECT_LE(m.imbalance_p99, m.imbalance_max);
    for (double x : m.imbalance) EXPECT_GE(x, 1.0);
    EXPECT_NEAR(m.step_time_rel,
                std::accumulate(m.max_load.begin(), m.max_load.end(), 0.0) / none_time, 1e-12);
  }
  EXPECT_GT(method(r, "lplb_ipm").solve_us_mean, 0);
  EXPECT_EQ(method(r, "eplb").solve_us_mean, 0);
  EXPECT_DOUBLE_EQ(percentile({1, 2, 3, 4}, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(percentile({5}, 0.99), 5);
}

TEST(Simulate, WarmupStepsLeaveTheFiguresOnly) {
  const SimResult all = run_simulation(small_options(3));
  SimOptions o = small_options(3);
  o.warmup = 20;
  const SimResult r = run_simulation(o);
  EXPECT_EQ(r.config["warmup"], 20);
  for (size_t k = 0; k < r.methods.size(); ++k) {
    const MethodResult& m = r.methods[k];
    EXPECT_EQ(m.imbalance, all.methods[k].imbalance);  // the series keeps every step
    const std::vector<double> tail(m.imbalance.begin() + 20, m.imbalance.end());
    EXPECT_NEAR(m.imbalance_mean, std::accumulate(tail.begin(), tail.end(), 0.0) / 40, 1e-12);
    EXPECT_DOUBLE_EQ(m.imbalance_max, *std::max_element(tail.begin(), tail.end()));
    const auto& none = r.methods[0].max_load;
    EXPECT_NEAR(m.step_time_rel,
                std::accumulate(m.max_load.begin() + 20, m.max_load.end(), 0.0) /
                    std::accumulate(none.begin() + 20, none.end(), 0.0),
                1e-12);
  }
}

TEST(Simulate, MethodsSubsetKeepsNoneAsBaseline) {
  SimOptions o = small_options(2);
  o.methods = {"lplb_exact", "eplb", "lplb_exact"};
  const SimResult r = run_simulation(o);
  ASSERT_EQ(r.methods.size(), 3u);
  EXPECT_EQ(r.methods[0].name, "none");
  EXPECT_EQ(r.methods[1].name, "lplb_exact");
  EXPECT_EQ(r.methods[2].name, "eplb");
  // Without LPLB methods, R = 0 is fine (EPLB only).
  o.methods = {"eplb"};
  o.redundant = 0;
  EXPECT_NO_THROW(run_simulation(o));
}

TEST(Simulate, MoreRedundantSlotsThanExpertsPerRank) {
  // R > E/P (decode-style: here 2 experts per rank, 4 redundant slots): the
  // default set runs the placement methods and skips LPLB's layout.
  SimOptions o = small_options(2);
  o.redundant = 4;
  o.experts = 2 * o.ep;
  const SimResult r = run_simulation(o);
  std::vector<std::string> names;
  for (const auto& m : r.methods) names.push_back(m.name);
  EXPECT_EQ(names, (std::vector<std::string>{"none", "eplb", "eplb_lp", "hybrid_lp",
                                             "hybrid_node_lp", "online_lp"}));
  for (const auto& m : r.methods) EXPECT_GE(m.imbalance_mean, 1.0 - 1e-12) << m.name;
  EXPECT_LT(method(r, "hybrid_lp").step_time_rel, 1.0);
}

TEST(Simulate, ProgressIsReportedEveryStep) {
  SimOptions o = small_options(1);
  o.steps = 13;
  std::vector<int64_t> seen;
  SimHooks hooks;
  hooks.progress = [&](int64_t done, int64_t total) {
    EXPECT_EQ(total, 13);
    seen.push_back(done);
  };
  run_simulation(o, hooks);
  ASSERT_EQ(seen.size(), 13u);
  EXPECT_EQ(seen.back(), 13);
}

TEST(Simulate, DefaultConfigurationIsDeepSeekV3Like) {
  SimOptions o;  // the embedded default, shortened
  o.steps = 3;
  int64_t checked = 0;
  SimHooks hooks;
  hooks.observer = [&](const StepRecord& r) {
    EXPECT_EQ(r.counts.size(), 256u);
    EXPECT_EQ(sum(r.counts), 32 * 4096 * 8);
    EXPECT_EQ(r.loads.rank_loads.size(), 32u);
    ++checked;
  };
  const SimResult r = run_simulation(o, hooks);
  EXPECT_EQ(checked, 3 * static_cast<int64_t>(r.methods.size()));
  EXPECT_EQ(r.config["experts"], 256);
  EXPECT_EQ(r.config["topology"], "cube");
  EXPECT_EQ(r.config["redundant"], 2);
  EXPECT_EQ(r.config["window"], 100);
  EXPECT_EQ(r.config["refresh"], 100);
}

TEST(Simulate, JsonHasAllFigures) {
  const nlohmann::json j = to_json(run_simulation(small_options(5)));
  for (const std::string& m : kCoreMethods) {
    ASSERT_TRUE(j["methods"].contains(m)) << m;
    for (const char* k : {"imbalance_mean", "imbalance_p50", "imbalance_p99", "imbalance_max",
                          "step_time_rel", "solve_us_mean"})
      EXPECT_TRUE(j["methods"][m][k].is_number()) << m << "." << k;
    EXPECT_EQ(j["methods"][m]["imbalance"].size(), 60u);
  }
  EXPECT_EQ(j["config"]["source"], "synthetic");
  EXPECT_EQ(j["config"]["seed"], 5);
  const std::string table = format_table(run_simulation(small_options(5)));
  EXPECT_THAT(table, HasSubstr("LPLB (exact)"));
  EXPECT_THAT(table, HasSubstr("EPLB"));
}

// ----------------------------------------------------------- trace replay

TEST(Trace, ReplayPlainAndGzip) {
  const nlohmann::json counts = random_trace(30, 3, 32, 17);
  for (const char* suffix : {".json", ".json.gz"}) {
    for (bool wrapped : {true, false}) {
      TempPath path(suffix);
      nlohmann::json doc = counts;
      if (wrapped) doc = {{"config", {{"experts", 32}}}, {"counts", counts}, {"loss", {1.0}}};
      write_text(path.str(), doc.dump());
      SimOptions o;
      o.trace_path = path.str();
      o.ep = 8;
      o.redundant = 2;
      o.window = 5;
      o.refresh = 10;
      std::vector<std::vector<int64_t>> seen;
      SimHooks hooks;
      hooks.observer = [&](const StepRecord& r) {
        if (r.balancer.name() != "none") return;
        EXPECT_EQ(nlohmann::json(std::vector<int64_t>(r.counts.begin(), r.counts.end())),
                  counts[r.step][r.stream]);
        seen.emplace_back(r.counts.begin(), r.counts.end());
      };
      const SimResult r = run_simulation(o, hooks);
      EXPECT_EQ(r.num_steps, 30);
      EXPECT_EQ(r.num_streams, 3);
      EXPECT_EQ(seen.size(), 90u);
      EXPECT_EQ(r.methods[0].imbalance.size(), 90u);
      EXPECT_EQ(r.config["experts"], 32);
      // none's imbalance from the trace itself (identity: 4 experts per rank).
      const auto& row = counts[4][1];
      std::vector<double> loads(8, 0);
      for (int e = 0; e < 32; ++e) loads[e / 4] += row[e].get<double>();
      const double mean = std::accumulate(loads.begin(), loads.end(), 0.0) / 8;
      EXPECT_DOUBLE_EQ(r.methods[0].imbalance[4 * 3 + 1], *std::max_element(loads.begin(), loads.end()) / mean);
      EXPECT_EQ(r.methods[0].imbalance[5 * 3 + 0], 1.0);  // the empty batch

      // One layer, fewer steps.
      o.layer = 2;
      o.steps = 12;
      const SimResult one = run_simulation(o);
      EXPECT_EQ(one.num_streams, 1);
      EXPECT_EQ(one.num_steps, 12);
      EXPECT_EQ(one.methods[0].imbalance[4], r.methods[0].imbalance[4 * 3 + 2]);
      // More steps than the trace holds: the trace's length wins.
      o.steps = 1000;
      EXPECT_EQ(run_simulation(o).num_steps, 30);
      // --experts that agrees is fine.
      o.experts = 32;
      EXPECT_NO_THROW(run_simulation(o));
    }
  }
}

TEST(Trace, RecordedTraces) {
  // The excerpts shipped in data/traces (one layer, 400 steps each).
  const fs::path dir = fs::path(LPLB_SOURCE_DIR) / "data" / "traces";
  for (const char* name : {"balanced.json.gz", "skewed.json.gz"}) {
    SimOptions o;
    o.trace_path = (dir / name).string();
    o.steps = 300;
    const SimResult r = run_simulation(o);
    EXPECT_EQ(r.config["experts"], 256);
    EXPECT_EQ(r.num_steps, 300);
    EXPECT_EQ(r.num_streams, 1);
    EXPECT_LT(method(r, "lplb_exact").step_time_rel, 1.0) << name;  // LPLB-exact helps
    EXPECT_LE(method(r, "lplb_exact").imbalance_mean, method(r, "lplb_ipm").imbalance_mean + 1e-3)
        << name;
    EXPECT_GE(r.methods[0].imbalance_mean, 1.0);
  }
}

// -------------------------------------------------------------- bad input

TEST(BadInput, TraceFiles) {
  auto run_trace = [](const std::string& text, const std::string& suffix = ".json") {
    TempPath p(suffix);
    write_text(p.str(), text);
    SimOptions o;
    o.trace_path = p.str();
    o.ep = 2;
    o.redundant = 1;
    o.topology = "ring:2";
    run_simulation(o);
  };
  expect_bad([] {
    SimOptions o;
    o.trace_path = "/nonexistent/trace.json";
    run_simulation(o);
  }, "--trace", "cannot open");
  expect_bad([] {
    SimOptions o;
    o.trace_path = "/nonexistent/trace.json.gz";
    run_simulation(o);
  }, "--trace", "cannot open");
  expect_bad([&] { run_trace(""); }, "--trace", "empty");
  expect_bad([&] { run_trace("{\"counts\": [[[1, 2]]"); }, "--trace", "parse error");
  expect_bad([&] { run_trace("not gzip at all", ".json.gz"); }, "--trace");
  expect_bad([&] { run_trace("{\"loss\": [1]}"); }, "--trace", "no \"counts\"");
  expect_bad([&] { run_trace("[]"); }, "--trace", "no steps");
  expect_bad([&] { run_trace("[1, 2, 3]"); }, "--trace", "1-D");
  expect_bad([&] { run_trace("[[1, 2], [3, 4]]"); }, "--trace", "2-D");
  expect_bad([&] { run_trace("[[[[1, 2]]]]"); }, "--trace", "more than 3");
  expect_bad([&] { run_trace("[[[1, 2], [3, 4]], [[1, 2]]]"); }, "--trace", "ragged");
  expect_bad([&] { run_trace("[[[1, 2], [3, 4]], [[1, 2], [3]]]"); }, "--trace", "ragged");
  expect_bad([&] { run_trace("[[[1, 2], [3, 4]], [[1, 2], 7]]"); }, "--trace", "counts[1][1]");
  expect_bad([&] { run_trace("[[[1, -2]]]"); }, "--trace", "counts[0][0][1] = -2 is negative");
  expect_bad([&] { run_trace("[[[1, 2.5]]]"); }, "--trace", "not an integer");
  expect_bad([&] { run_trace("[[[1, \"x\"]]]"); }, "--trace", "not a number");
  expect_bad([&] { run_trace("[[[1, 1e300]]]"); }, "--trace", "2^53");
  expect_bad([&] { run_trace("[[[1, 2, 3]]]"); }, "--experts", "not a multiple of --ep");
}

TEST(BadInput, TraceOptions) {
  TempPath p(".json");
  write_text(p.str(), random_trace(4, 2, 16, 1).dump());
  auto with = [&](const std::function<void(SimOptions&)>& edit) {
    return [&, edit] {
      SimOptions o;
      o.trace_path = p.str();
      o.ep = 4;
      edit(o);
      run_simulation(o);
    };
  };
  expect_bad(with([](SimOptions& o) { o.experts = 32; }), "--experts", "does not match the trace's 16");
  expect_bad(with([](SimOptions& o) { o.layer = 2; }), "--layer", "out of range");
  expect_bad(with([](SimOptions& o) { o.layer = -1; }), "--layer", "out of range");
  expect_bad(with([](SimOptions& o) { o.steps = 0; }), "--steps");
  expect_bad(with([](SimOptions& o) { o.base_path = "x.json"; }), "--base", "--trace");
  expect_bad([] {
    SimOptions o = small_options();
    o.layer = 0;
    run_simulation(o);
  }, "--layer", "only applies with --trace");
}

TEST(BadInput, Sizes) {
  auto with = [](const std::function<void(SimOptions&)>& edit) {
    return [edit] {
      SimOptions o = small_options();
      edit(o);
      run_simulation(o);
    };
  };
  expect_bad(with([](SimOptions& o) { o.experts = 60; }), "--experts", "multiple of --ep");
  expect_bad(with([](SimOptions& o) { o.experts = 0; }), "--experts");
  expect_bad(with([](SimOptions& o) { o.ep = 0; }), "--ep");
  expect_bad(with([](SimOptions& o) { o.ep = 4; o.experts = 64; }), "--ep", "group size 8");
  expect_bad(with([](SimOptions& o) { o.redundant = 3; }), "--redundant", "multiple of the topology's slots");
  expect_bad(with([](SimOptions& o) { o.redundant = 0; }), "--redundant");
  expect_bad(with([](SimOptions& o) { o.redundant = 6; o.methods = {"lplb_exact"}; }),
             "--redundant", "exceeds");
  expect_bad(with([](SimOptions& o) { o.topk = 65; }), "--topk");
  expect_bad(with([](SimOptions& o) { o.topk = 0; }), "--topk");
  expect_bad(with([](SimOptions& o) { o.tokens_per_rank = 0; }), "--tokens");
  expect_bad(with([](SimOptions& o) { o.steps = 0; }), "--steps");
  expect_bad(with([](SimOptions& o) { o.steps = -5; }), "--steps");
  expect_bad(with([](SimOptions& o) { o.window = 0; }), "--window");
  expect_bad(with([](SimOptions& o) { o.refresh = 0; }), "--refresh");
  expect_bad(with([](SimOptions& o) { o.warmup = 60; }), "--warmup", "no step");
  expect_bad(with([](SimOptions& o) { o.warmup = -1; }), "--warmup");
  expect_bad(with([](SimOptions& o) { o.skew = -1; }), "--skew");
  expect_bad(with([](SimOptions& o) { o.drift = std::nan(""); }), "--drift");
  expect_bad(with([](SimOptions& o) { o.batch_noise = INFINITY; }), "--batch-noise");
  expect_bad(with([](SimOptions& o) { o.methods = {"none", "oracle"}; }), "--methods", "oracle");
  expect_bad(with([](SimOptions& o) { o.topology = "dodecahedron"; }), "--topology", "dodecahedron");
  expect_bad(with([](SimOptions& o) { o.eplb_groups = 3; }), "--eplb-groups");
  expect_bad(with([](SimOptions& o) { o.eplb_nodes = 0; }), "--eplb-nodes");
}

TEST(BadInput, BaseFile) {
  TempPath p(".json");
  auto run_base = [&](const std::string& text, std::optional<int64_t> experts = std::nullopt) {
    write_text(p.str(), text);
    SimOptions o = small_options();
    o.experts = experts;
    o.base_path = p.str();
    o.steps = 3;
    return run_simulation(o);
  };
  // A good base sets E when --experts is not given.
  std::vector<double> good(32);
  for (int e = 0; e < 32; ++e) good[e] = 1.0 + e;
  EXPECT_EQ(run_base(nlohmann::json(good).dump()).config["experts"], 32);
  expect_bad([&] { run_base(nlohmann::json(good).dump(), 64); }, "--base", "32 entries");
  expect_bad([&] { run_base("[1, 2, -3, 4]"); }, "--base", "negative");
  expect_bad([&] { run_base("[[1, 2]]"); }, "--base");
  std::vector<double> sparse(32, 0.0);
  sparse[0] = sparse[1] = 1;
  expect_bad([&] { run_base(nlohmann::json(sparse).dump()); }, "--base", "fewer than --topk");
  expect_bad([&] {
    SimOptions o = small_options();
    o.base_path = "/nonexistent.json";
    run_simulation(o);
  }, "--base", "cannot open");
}

// -------------------------------------------------------------------- CLI

struct CliResult {
  int status;
  std::string out, err;
};

CliResult run_cli(const std::string& args, const std::string& env = "") {
  TempPath out(".out"), err(".err");
  const std::string cmd = env + " " + std::string(LPLB_CLI_PATH) + " " + args + " > " + out.str() + " 2> " + err.str();
  const int raw = std::system(cmd.c_str());
  auto slurp = [](const std::string& p) {
    std::ifstream f(p);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  };
  return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, slurp(out.str()), slurp(err.str())};
}

TEST(Cli, BadArgumentsExitWithError) {
  const std::pair<std::string, std::string> cases[] = {
      {"simulate --steps 0", "error: --steps"},
      {"simulate --trace /nonexistent/t.json.gz", "error: --trace"},
      {"simulate --experts 100 --ep 32", "error: --experts"},
      {"simulate --topk 300", "error: --topk"},
      {"simulate --redundant 3", "error: --redundant"},
      {"simulate --methods none,best", "error: --methods"},
      {"simulate --trace x.json --skew 2", "error: --skew excludes --trace"},
      {"simulate --steps 2 --plot out.gif", "error: --plot"},
  };
  for (const auto& [args, expected] : cases) {
    const CliResult r = run_cli(args);
    EXPECT_NE(r.status, 0) << args;
    EXPECT_THAT(r.err, HasSubstr(expected)) << args;
  }
}

TEST(Cli, SmallRunWritesTableAndJson) {
  TempPath json(".json");
  const CliResult r = run_cli(
      "simulate --experts 64 --ep 16 --topk 4 --tokens 128 --steps 30 --window 5 --refresh 10 "
      "--seed 3 --json " + json.str());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("LPLB (exact)"));
  EXPECT_EQ(r.err, "");  // not a terminal: no progress bar
  std::ifstream f(json.str());
  const nlohmann::json j = nlohmann::json::parse(f);
  EXPECT_EQ(j["config"]["steps"], 30);
  EXPECT_EQ(j["methods"]["lplb_ipm"]["imbalance"].size(), 30u);
  // Same seed, same figures through the CLI too.
  const CliResult again = run_cli(
      "simulate --experts 64 --ep 16 --topk 4 --tokens 128 --steps 30 --window 5 --refresh 10 "
      "--seed 3 --methods none,eplb");
  ASSERT_EQ(again.status, 0) << again.err;
  auto first_rows = [](const std::string& s) {  // the none and EPLB figures, without solve times
    std::vector<std::vector<std::string>> rows;
    std::istringstream in(s);
    for (std::string line; std::getline(in, line);) {
      if (!line.starts_with("none ") && !line.starts_with("EPLB  ")) continue;
      std::istringstream words(line);
      std::vector<std::string> w{std::istream_iterator<std::string>(words), {}};
      w.pop_back();
      rows.push_back(w);
    }
    return rows;
  };
  EXPECT_EQ(first_rows(r.out), first_rows(again.out));
}

TEST(Cli, PlotWhenMatplotlibIsThere) {
  if (std::system("python3 -c 'import matplotlib' > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3 with matplotlib not available";
  TempPath svg(".svg");
  const CliResult r = run_cli("simulate --experts 64 --ep 16 --topk 4 --tokens 64 --steps 20 "
                              "--window 5 --refresh 10 --plot " + svg.str());
  ASSERT_EQ(r.status, 0) << r.err;
  std::ifstream f(svg.str());
  const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr("<svg"));
  // A script path that does not exist is a clear error.
  const CliResult bad = run_cli("simulate --steps 2 --plot x.png", "LPLB_PLOT_SCRIPT=/nonexistent.py");
  EXPECT_NE(bad.status, 0);
  EXPECT_THAT(bad.err, HasSubstr("error: --plot: LPLB_PLOT_SCRIPT"));
}

}  // namespace
}  // namespace lplb::sim
