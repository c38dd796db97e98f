#include "lplb/planner.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <set>

#include "lplb/eplb.hpp"
#include "lplb/errors.hpp"
#include "test_util.hpp"

namespace lplb {
namespace {

struct Case {
  const char* topology;
  int64_t E, P, R;
};
const Case kCases[] = {{"cube", 256, 32, 2},    {"cube", 256, 32, 4},   {"cube", 256, 64, 2},
                       {"ring", 256, 32, 1},    {"ring:4", 64, 8, 3},   {"hypercube", 256, 16, 2},
                       {"torus:8x4", 256, 32, 2}, {"torus:2x3", 48, 12, 4}, {"cube", 512, 64, 8}};

Planner make(const Case& c, SolverKind solver = SolverKind::kExact) {
  PlannerOptions o;
  o.num_experts = c.E;
  o.ep_size = c.P;
  o.redundant_per_rank = c.R;
  o.solver = solver;
  return Planner(Topology::named(c.topology), o);
}

// Checks LPLB's layout rules (docs/ARCHITECTURE.md, Layouts) against `order` (the E logical
// experts in rank order).
void expect_layout(const Planner& p) {
  const Mapping& m = p.mapping();
  const Topology& t = p.topology();
  const int64_t P = p.options().ep_size, E = p.options().num_experts;
  const int64_t S = t.group_size(), D = t.slots(), nll = p.n_local_logical(), nl = p.n_local();
  const int64_t CD = p.combined() * D;
  ASSERT_EQ(static_cast<int64_t>(m.phy2log.size()), P * nl);
  std::vector<int> originals(E, 0);
  for (int64_t r = 0; r < P; ++r) {
    for (int64_t l = 0; l < nll; ++l) ++originals[m.phy2log[r * nl + l]];
    for (int64_t l = 0; l < CD; ++l) {
      const int64_t src = (r / S) * S + t.r2o(r % S, l % D);
      EXPECT_EQ(m.phy2log[r * nl + nll + l], m.phy2log[src * nl + l]);
    }
  }
  for (int64_t e = 0; e < E; ++e) {
    EXPECT_EQ(originals[e], 1) << "expert " << e;
    ASSERT_GE(m.logcnt[e], 1);
    ASSERT_LE(m.logcnt[e], 2);
    for (int k = 0; k < 2; ++k) {
      const int32_t slot = m.log2phy[e * 2 + k];
      if (k < m.logcnt[e]) {
        ASSERT_GE(slot, 0);
        EXPECT_EQ(m.phy2log[slot], e);
      } else {
        EXPECT_EQ(slot, -1);
      }
    }
    // The original comes first: its local index is below n_local_logical.
    EXPECT_LT(m.log2phy[e * 2] % nl, nll);
  }
  int64_t copies = 0;
  for (int32_t c : m.logcnt) copies += c - 1;
  EXPECT_EQ(copies, P * p.options().redundant_per_rank);
}

TEST(Planner, IdentityMapping) {
  for (const Case& c : kCases) {
    const Planner p = make(c);
    expect_layout(p);
    for (int64_t e = 0; e < c.E; ++e)
      EXPECT_EQ(p.mapping().log2phy[e * 2] / p.n_local(), e / p.n_local_logical());
  }
}

TEST(Planner, HistoryMappingSortsEachRank) {
  std::mt19937_64 rng(7);
  for (const Case& c : kCases) {
    Planner p = make(c);
    std::vector<double> history(c.E);
    for (double& h : history) h = std::floor(std::uniform_real_distribution<>(1, 1 << 20)(rng));
    p.update_redundancy_mapping(history);
    expect_layout(p);
    const int64_t nll = p.n_local_logical(), nl = p.n_local();
    // Same expert sets per rank as EPLB's reorder, sorted by history.
    const EplbResult r = rebalance_experts(history.data(), 1, c.E, c.E, p.num_groups(),
                                           std::max<int64_t>(1, c.P / 8), c.P);
    for (int64_t rank = 0; rank < c.P; ++rank) {
      std::set<int64_t> want(r.phy2log.begin() + rank * nll, r.phy2log.begin() + (rank + 1) * nll);
      std::set<int64_t> got;
      for (int64_t l = 0; l < nll; ++l) {
        got.insert(p.mapping().phy2log[rank * nl + l]);
        if (l > 0)
          EXPECT_GE(history[p.mapping().phy2log[rank * nl + l - 1]],
                    history[p.mapping().phy2log[rank * nl + l]]);
      }
      EXPECT_EQ(got, want);
    }
    // Back to identity.
    p.update_redundancy_mapping();
    EXPECT_EQ(p.mapping().phy2log[p.n_local()], p.n_local_logical());
  }
}

TEST(Planner, CountSkipsMinusOneAndRejectsOutOfRange) {
  const Planner p = make(kCases[0]);
  std::mt19937_64 rng(3);
  std::vector<int32_t> ids(10000);
  std::vector<int64_t> ids64(ids.size());
  std::vector<int64_t> want(256, 0);
  for (size_t k = 0; k < ids.size(); ++k) {
    ids[k] = static_cast<int32_t>(rng() % 257) - 1;
    ids64[k] = ids[k];
    if (ids[k] >= 0) ++want[ids[k]];
  }
  EXPECT_EQ(p.count(std::span<const int32_t>(ids)), want);
  EXPECT_EQ(p.count(std::span<const int64_t>(ids64)), want);
  for (int64_t bad : {int64_t{-2}, int64_t{256}, int64_t{1} << 40, INT64_MIN}) {
    ids64[17] = bad;
    try {
      p.count(std::span<const int64_t>(ids64));
      ADD_FAILURE() << "no error for " << bad;
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("ids: entry 17"), std::string::npos) << e.what();
    }
  }
}

// Realised per-rank loads of a mapped batch.
std::vector<double> realised_loads(const Planner& p, std::span<const int32_t> phys) {
  std::vector<double> load(p.options().ep_size, 0.0);
  for (int32_t id : phys)
    if (id >= 0) load[id / p.n_local()] += 1;
  return load;
}

TEST(Planner, MapSplitsExactlyAndDeterministically) {
  std::mt19937_64 rng(11);
  for (const Case& c : kCases) {
    Planner p = make(c);
    std::vector<double> history(c.E);
    for (double& h : history) h = std::uniform_real_distribution<>(0, 1)(rng);
    p.update_redundancy_mapping(history);
    const int64_t n = 4096 + rng() % 5000;
    std::vector<int32_t> ids(n), out(n), out2(n);
    for (auto& id : ids) id = static_cast<int32_t>(rng() % (c.E + 1)) - 1;
    std::vector<double> probs(p.num_probs());
    for (auto& x : probs) x = std::uniform_real_distribution<>(-0.2, 1.2)(rng);  // clamped
    p.map(ids, probs, out);
    p.map(ids, probs, out2);
    EXPECT_EQ(out, out2);
    const auto counts = p.count(std::span<const int32_t>(ids));
    std::vector<int64_t> kept(c.E, 0);
    for (int64_t k = 0; k < n; ++k) {
      if (ids[k] < 0) {
        EXPECT_EQ(out[k], -1);
        continue;
      }
      ASSERT_GE(out[k], 0);
      ASSERT_LT(out[k], p.num_physical());
      EXPECT_EQ(p.mapping().phy2log[out[k]], ids[k]);
      if (out[k] == p.mapping().log2phy[ids[k] * 2]) ++kept[ids[k]];
    }
    // round(p * T) stay, where p is the probability of the expert's block.
    const int64_t D = p.topology().slots(), nl = p.n_local(), CD = p.combined() * D;
    for (int64_t e = 0; e < c.E; ++e) {
      const int32_t slot = p.mapping().log2phy[e * 2];
      const int64_t local = slot % nl;
      if (local >= CD) {
        EXPECT_EQ(kept[e], counts[e]);
        continue;
      }
      const double prob = std::clamp(probs[(slot / nl) * D + local % D], 0.0, 1.0);
      EXPECT_EQ(kept[e], std::llround(prob * counts[e])) << "expert " << e;
    }
  }
}

TEST(Planner, MapInterleavesEvenly) {
  const Planner p = make(kCases[0]);
  std::vector<int32_t> ids(1000, 0), out(1000);  // expert 0 is replicated (local 0)
  std::vector<double> probs(p.num_probs(), 1.0);
  probs[0] = 0.5;
  p.map(ids, probs, out);
  for (int k = 0; k < 1000; ++k) EXPECT_EQ(out[k], p.mapping().log2phy[(k + 1) % 2]) << k;  // copy, original, copy, ...
}

TEST(Planner, SolveConservesAndMatchesRealisedLoads) {
  std::mt19937_64 rng(5);
  for (const Case& c : kCases) {
    for (SolverKind kind : {SolverKind::kExact, SolverKind::kIpm}) {
      Planner p = make(c, kind);
      std::vector<double> history(c.E);
      for (double& h : history) h = std::uniform_real_distribution<>(0, 1)(rng);
      p.update_redundancy_mapping(history);
      std::vector<int32_t> ids(c.P * 512 * 8), out(ids.size());
      for (auto& id : ids) {
        const double z = std::uniform_real_distribution<>(0, 1)(rng);
        id = static_cast<int32_t>(std::min<double>(c.E - 1, std::floor(c.E * z * z)));
      }
      const SolveOutput plan = p.run(std::span<const int32_t>(ids), std::span<int32_t>(out));
      const double total = static_cast<double>(ids.size());
      EXPECT_NEAR(std::accumulate(plan.load_before.begin(), plan.load_before.end(), 0.0), total, 1e-6);
      EXPECT_NEAR(std::accumulate(plan.load_after.begin(), plan.load_after.end(), 0.0), total, 1e-6);
      for (double x : plan.probs) EXPECT_TRUE(std::isfinite(x));
      const auto realised = realised_loads(p, out);
      const double tol = 0.5 * 2 * p.combined() * p.topology().slots() + 1e-6;
      for (int64_t r = 0; r < c.P; ++r) EXPECT_NEAR(realised[r], plan.load_after[r], tol);
      if (kind == SolverKind::kExact) {
        EXPECT_LE(*std::max_element(plan.load_after.begin(), plan.load_after.end()),
                  *std::max_element(plan.load_before.begin(), plan.load_before.end()) + 1e-9);
        const auto counts = p.count(std::span<const int32_t>(ids));
        std::vector<double> w(counts.begin(), counts.end());
        EXPECT_EQ(p.rank_loads(w, plan.probs), plan.load_after);
      }
    }
  }
}

TEST(Planner, ZeroBatchIsValid) {
  for (SolverKind kind : {SolverKind::kExact, SolverKind::kIpm}) {
    const Planner p = make(kCases[0], kind);
    const SolveOutput plan = p.solve(std::vector<double>(256, 0.0));
    for (double x : plan.probs) {
      EXPECT_TRUE(std::isfinite(x));
    }
    for (double x : plan.load_after) EXPECT_EQ(x, 0.0);
  }
}

TEST(Planner, RejectsBadArguments) {
  auto msg = [](auto&& f) {
    try {
      f();
    } catch (const InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  auto build = [](int64_t E, int64_t P, int64_t R, const char* topo = "cube") {
    return [=] { make({topo, E, P, R}); };
  };
  EXPECT_EQ(msg(build(250, 32, 2)).rfind("num_experts:", 0), 0u);
  EXPECT_EQ(msg(build(256, 12, 2)).rfind("num_experts:", 0), 0u);   // 256 % 12
  EXPECT_EQ(msg(build(256, 16, 2, "ring:32")).rfind("ep_size:", 0), 0u);  // 16 % 32 != 0
  EXPECT_EQ(msg(build(256, 32, 3)).rfind("redundant_per_rank:", 0), 0u);
  EXPECT_EQ(msg(build(256, 32, 0)).rfind("redundant_per_rank:", 0), 0u);
  EXPECT_EQ(msg(build(64, 32, 4)).rfind("redundant_per_rank:", 0), 0u);  // 4 > 2 per rank
  EXPECT_EQ(msg(build(0, 32, 2)).rfind("num_experts:", 0), 0u);
  EXPECT_EQ(msg(build(256, 0, 2)).rfind("ep_size:", 0), 0u);
  EXPECT_EQ(msg(build(240, 20, 2, "ring:8")).rfind("ep_size:", 0), 0u);  // 20 % 8

  const Planner p = make(kCases[0]);
  std::vector<double> w(256, 1.0);
  w[3] = std::nan("");
  EXPECT_EQ(msg([&] { p.solve(w); }).rfind("workload: entry 3", 0), 0u);
  w[3] = -1;
  EXPECT_EQ(msg([&] { p.solve(w); }).rfind("workload: entry 3 is negative", 0), 0u);
  w[3] = INFINITY;
  EXPECT_EQ(msg([&] { p.solve(w); }).rfind("workload: entry 3", 0), 0u);
  EXPECT_EQ(msg([&] { p.solve(std::vector<double>(255, 1.0)); }).rfind("workload: expected 256", 0), 0u);
  std::vector<double> huge(256, 1e16);
  EXPECT_NE(msg([&] { p.solve(huge); }).find("2^53"), std::string::npos);
  Planner q = make(kCases[0]);
  EXPECT_EQ(msg([&] { q.update_redundancy_mapping(std::vector<double>(10, 1.0)); }).rfind("history:", 0), 0u);
  std::vector<int32_t> ids(10, 1), out(9);
  std::vector<double> probs(p.num_probs(), 0.5);
  EXPECT_EQ(msg([&] { p.map(ids, probs, out); }).rfind("out:", 0), 0u);
  out.resize(10);
  EXPECT_EQ(msg([&] { p.map(ids, std::vector<double>(3, 0.5), out); }).rfind("probs:", 0), 0u);
  probs[0] = std::nan("");
  EXPECT_EQ(msg([&] { p.map(ids, probs, out); }).rfind("probs: entry 0 is NaN", 0), 0u);
}

// A saved mapping restored into a fresh planner routes exactly as the planner
// that built it; a mapping that does not fit is refused and changes nothing.
TEST(Planner, SetMappingRestoresAndValidates) {
  std::mt19937_64 rng(11);
  for (const Case& c : kCases) {
    Planner built = make(c), restored = make(c);
    std::vector<double> history(c.E);
    for (double& h : history) h = std::floor(std::uniform_real_distribution<>(0, 1000)(rng));
    built.update_redundancy_mapping(history);
    const Mapping saved = built.mapping();
    restored.set_mapping(saved.phy2log);
    EXPECT_EQ(restored.mapping().phy2log, saved.phy2log);
    EXPECT_EQ(restored.mapping().log2phy, saved.log2phy);
    EXPECT_EQ(restored.mapping().logcnt, saved.logcnt);
    std::vector<int32_t> ids(4000), a(ids.size()), b(ids.size());
    for (int32_t& id : ids) id = static_cast<int32_t>(rng() % c.E);
    built.run(ids, a);
    restored.run(ids, b);
    EXPECT_EQ(a, b) << c.topology;

    const Mapping before = restored.mapping();
    std::vector<int32_t> bad = saved.phy2log;
    bad.pop_back();
    EXPECT_THROW(restored.set_mapping(bad), InvalidArgument);
    bad = saved.phy2log;
    std::swap(bad[0], bad[1]);  // two originals of one rank: copies no longer follow
    if (restored.combined() > 0 && bad[0] != bad[1]) EXPECT_THROW(restored.set_mapping(bad), InvalidArgument);
    bad = saved.phy2log;
    bad[0] = bad[1];  // an expert with two originals
    EXPECT_THROW(restored.set_mapping(bad), InvalidArgument);
    bad[0] = static_cast<int32_t>(c.E);
    EXPECT_THROW(restored.set_mapping(bad), InvalidArgument);
    EXPECT_EQ(restored.mapping().phy2log, before.phy2log);
  }
}

}  // namespace
}  // namespace lplb
