// The per-group LP solvers (lplb/lp.hpp): the exact solver against CLP and
// against the subset formula, determinism, and the reference IPM's
// behaviour (status, fallback, golden values).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "common/lp_exact.hpp"
#include "common/lp_ipm.hpp"
#include "lp_oracle.hpp"
#include "lplb/errors.hpp"
#include "lplb/lp.hpp"
#include "test_util.hpp"

namespace lplb {
namespace {

const char* const kNamed[] = {"cube",      "hypercube", "ring",      "ring:4",
                              "ring:16",   "torus:2x4", "torus:8x4", "torus:4x4"};

// LPLB_LP_TEST_SCALE=N multiplies the random instance counts (long runs).
int scale_count(int n) {
  const char* env = std::getenv("LPLB_LP_TEST_SCALE");
  const int k = env ? std::atoi(env) : 1;
  return n * (k > 0 ? k : 1);
}

struct Instance {
  std::vector<double> fixed, block;
};

// A group's loads: fixed and block entries drawn together with one skew, total
// tokens log-uniform in [1, 2^40], sometimes without fixed load, sometimes
// with fixed load dominating, sometimes non-integral.
Instance random_instance(const Topology& topo, std::mt19937_64& rng) {
  const int64_t S = topo.group_size(), D = topo.slots();
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const auto skew = static_cast<test::Skew>(std::uniform_int_distribution<int>(0, 4)(rng));
  const double total = std::exp2(40.0 * u(rng));
  std::vector<double> all = test::random_loads(S * (D + 1), skew, total, rng);
  Instance in;
  in.fixed.assign(all.begin(), all.begin() + S);
  in.block.assign(all.begin() + S, all.end());
  const double mode = u(rng);
  if (mode < 0.15) {
    std::fill(in.fixed.begin(), in.fixed.end(), 0.0);
  } else if (mode < 0.25) {
    for (double& f : in.fixed) f *= 50;
  } else if (mode < 0.35) {
    for (double& b : in.block) b = b * (0.5 + u(rng)) + u(rng);
  } else if (mode < 0.4) {
    std::fill(in.block.begin(), in.block.end(), 0.0);
  }
  return in;
}

// max over non-empty X of (B(X) - cap_out(X)) / |X|, by enumeration (S <= 14).
double subset_optimum(const Topology& topo, const Instance& in) {
  const int64_t S = topo.group_size(), D = topo.slots();
  std::vector<double> B(S);
  for (int64_t i = 0; i < S; ++i) {
    B[i] = in.fixed[i];
    for (int64_t d = 0; d < D; ++d) B[i] += in.block[i * D + d];
  }
  double best = 0;
  for (uint32_t X = 1; X < (1u << S); ++X) {
    double sum = 0;
    for (int64_t i = 0; i < S; ++i) {
      if (!(X >> i & 1)) continue;
      sum += B[i];
      for (int64_t d = 0; d < D; ++d)
        if (!(X >> topo.o2r(i, d) & 1)) sum -= in.block[i * D + d];
    }
    best = std::max(best, sum / std::popcount(X));
  }
  return best;
}

double max_of_loads(const Topology& topo, const Instance& in, const std::vector<double>& probs) {
  std::vector<double> load(topo.group_size());
  group_loads(topo, in.fixed.data(), in.block.data(), probs.data(), load.data());
  return *std::max_element(load.begin(), load.end());
}

double total_of(const Instance& in) {
  double t = 0;
  for (double f : in.fixed) t += f;
  for (double b : in.block) t += b;
  return t;
}

// Checks one exact solve; `reference` is an independent optimum (or < 0).
void check_exact(const Topology& topo, const Instance& in, double reference, double rel_tol,
                 const std::string& what) {
  std::vector<double> probs(topo.group_size() * topo.slots(), -7.0);
  const LpResult r = solve_group(topo, SolverKind::kExact, in.fixed.data(), in.block.data(),
                                 probs.data());
  for (double p : probs) ASSERT_TRUE(p >= 0.0 && p <= 1.0) << what << " p=" << p;
  ASSERT_EQ(r.max_load, max_of_loads(topo, in, probs)) << what;
  const double total = total_of(in);
  ASSERT_TRUE(r.status == LpStatus::kOptimal || r.status == LpStatus::kTrivial) << what;
  if (total == 0) {
    ASSERT_EQ(r.status, LpStatus::kTrivial);
    ASSERT_EQ(r.max_load, 0.0);
  }
  // The realised load is the proven lower bound up to rounding.
  ASSERT_LE(r.lower_bound, r.max_load * (1 + 1e-12) + 1e-300) << what;
  ASSERT_LE(r.max_load - r.lower_bound, 1e-9 * r.max_load) << what;
  if (reference >= 0) {
    ASSERT_LE(std::abs(r.max_load - reference), rel_tol * std::max(reference, 1e-300))
        << what << " ours=" << r.max_load << " reference=" << reference;
  }
}

TEST(LpExact, MatchesSubsetFormulaOnSmallGroups) {
  std::mt19937_64 rng(11);
  int n = 0;
  for (const char* name : {"cube", "ring", "ring:4", "torus:2x4"}) {
    const Topology topo = Topology::named(name);
    for (int k = 0; k < scale_count(300); ++k, ++n) {
      const Instance in = random_instance(topo, rng);
      check_exact(topo, in, subset_optimum(topo, in), 1e-9, std::string(name) + " #" + std::to_string(k));
    }
  }
  for (int k = 0; k < scale_count(1500); ++k, ++n) {
    const int64_t S = std::uniform_int_distribution<int64_t>(2, 12)(rng);
    const int64_t D = std::uniform_int_distribution<int64_t>(1, 4)(rng);
    const Topology topo = test::random_topology(S, D, rng);
    const Instance in = random_instance(topo, rng);
    check_exact(topo, in, subset_optimum(topo, in), 1e-9,
                "random " + std::to_string(S) + "x" + std::to_string(D) + " #" + std::to_string(k));
  }
  EXPECT_EQ(n, scale_count(2700));
}

#ifdef LPLB_HAVE_CLP
TEST(LpExact, MatchesClpOnNamedTopologies) {
  std::mt19937_64 rng(12);
  for (const char* name : kNamed) {
    const Topology topo = Topology::named(name);
    const int count = scale_count(topo.group_size() >= 32 ? 500 : 800);
    for (int k = 0; k < count; ++k) {
      const Instance in = random_instance(topo, rng);
      const double ref = test::clp_solve(topo, in.fixed.data(), in.block.data()).objective;
      check_exact(topo, in, ref, 1e-6, std::string(name) + " #" + std::to_string(k));
    }
  }
}

TEST(LpExact, MatchesClpOnRandomTopologies) {
  std::mt19937_64 rng(13);
  for (int k = 0; k < scale_count(6000); ++k) {
    // Mostly small groups (cheap for CLP), a tail up to 64 ranks.
    const int64_t S = k % 10 == 0 ? std::uniform_int_distribution<int64_t>(17, 64)(rng)
                                  : std::uniform_int_distribution<int64_t>(2, 16)(rng);
    const int64_t D = std::uniform_int_distribution<int64_t>(1, 4)(rng);
    const Topology topo = test::random_topology(S, D, rng);
    const Instance in = random_instance(topo, rng);
    const double ref = test::clp_solve(topo, in.fixed.data(), in.block.data()).objective;
    check_exact(topo, in, ref, 1e-6,
                "random " + std::to_string(S) + "x" + std::to_string(D) + " #" + std::to_string(k));
  }
}
#endif

TEST(LpExact, EdgeCases) {
  const Topology cube = Topology::named("cube");
  std::vector<double> probs(16);
  Instance zero{std::vector<double>(8, 0.0), std::vector<double>(16, 0.0)};
  LpResult r = solve_group(cube, SolverKind::kExact, zero.fixed.data(), zero.block.data(), probs.data());
  EXPECT_EQ(r.status, LpStatus::kTrivial);
  EXPECT_EQ(r.max_load, 0.0);
  for (double p : probs) EXPECT_EQ(p, 1.0);

  // Blocks empty: nothing can move.
  Instance fixed_only{{5, 1, 2, 3, 4, 0, 0, 9}, std::vector<double>(16, 0.0)};
  r = solve_group(cube, SolverKind::kExact, fixed_only.fixed.data(), fixed_only.block.data(), probs.data());
  EXPECT_EQ(r.status, LpStatus::kTrivial);
  EXPECT_EQ(r.max_load, 9.0);

  // Already balanced: no max-flow needed, probs stay 1.
  Instance flat{std::vector<double>(8, 3.0), std::vector<double>(16, 1.0)};
  r = solve_group(cube, SolverKind::kExact, flat.fixed.data(), flat.block.data(), probs.data());
  EXPECT_EQ(r.status, LpStatus::kOptimal);
  EXPECT_EQ(r.iterations, 0);
  EXPECT_EQ(r.max_load, 5.0);
  for (double p : probs) EXPECT_EQ(p, 1.0);

  // Fixed load dominating: the optimum is the largest fixed load.
  Instance heavy{{100, 0, 0, 0, 0, 0, 0, 0}, std::vector<double>(16, 1.0)};
  r = solve_group(cube, SolverKind::kExact, heavy.fixed.data(), heavy.block.data(), probs.data());
  EXPECT_EQ(r.max_load, 100.0);
  EXPECT_EQ(probs[0], 0.0);
  EXPECT_EQ(probs[1], 0.0);

  // ring:2 style two-rank swap: one block of 10 on rank 0 splits in half.
  const Topology ring2 = Topology::named("ring:2");
  std::vector<double> p2(2);
  const double f2[] = {0, 0}, b2[] = {10, 0};
  r = solve_group(ring2, SolverKind::kExact, f2, b2, p2.data());
  EXPECT_EQ(r.max_load, 5.0);
  EXPECT_EQ(p2[0], 0.5);
  EXPECT_EQ(p2[1], 1.0);

  // Shifts compose along paths. ring:4 has o2r(i) = i-1: block 1 -> rank 0,
  // block 0 -> rank 3, block 3 -> rank 2. Rank 3 holds no block of its own,
  // so rank 2 is unreachable: X = {0, 1, 3} gives 16 / 3.
  const Topology ring4 = Topology::named("ring:4");
  std::vector<double> p4(4);
  const double f4[] = {0, 0, 0, 0}, b4[] = {8, 8, 0, 0};
  r = solve_group(ring4, SolverKind::kExact, f4, b4, p4.data());
  EXPECT_NEAR(r.max_load, 16.0 / 3, 1e-12);
  // With a block on rank 3 the chain 1 -> 0 -> 3 -> 2 spreads everything.
  const double b4b[] = {8, 8, 0, 8};
  r = solve_group(ring4, SolverKind::kExact, f4, b4b, p4.data());
  EXPECT_NEAR(r.max_load, 6.0, 1e-12);
  // The path flow is unique: 2 of block 1 -> rank 0, 4 of block 0 -> rank 3,
  // 6 of block 3 -> rank 2.
  EXPECT_EQ(p4[1], 0.75);
  EXPECT_EQ(p4[0], 0.5);
  EXPECT_EQ(p4[3], 0.25);
  EXPECT_EQ(p4[2], 1.0);  // zero block
}

TEST(LpExact, LargeTotalsAndTinyLoads) {
  std::mt19937_64 rng(14);
  for (const char* name : {"cube", "hypercube", "torus:8x4"}) {
    const Topology topo = Topology::named(name);
    for (double total : {1.0, 3.0, 1e-300, 1e-9, 0x1p40, 0x1p52, 1e300}) {
      for (int k = 0; k < 20; ++k) {
        Instance in = random_instance(topo, rng);
        const double t = total_of(in);
        if (t <= 0) continue;
        for (double& f : in.fixed) f = f / t * total;
        for (double& b : in.block) b = b / t * total;
        check_exact(topo, in, -1, 0, std::string(name));
      }
    }
  }
}

TEST(LpExact, LargeGroupsOnTheHost) {
  std::mt19937_64 rng(15);
  for (int64_t S : {65, 128, 500}) {
    const Topology topo = test::random_topology(S, 3, rng);
    for (int k = 0; k < 5; ++k) check_exact(topo, random_instance(topo, rng), -1, 0, "large");
  }
}

TEST(LpExact, Deterministic) {
  std::mt19937_64 rng(16);
  for (int k = 0; k < 500; ++k) {
    const int64_t S = std::uniform_int_distribution<int64_t>(2, 64)(rng);
    const int64_t D = std::uniform_int_distribution<int64_t>(1, 4)(rng);
    const Topology topo = test::random_topology(S, D, rng);
    const Instance in = random_instance(topo, rng);
    std::vector<double> a(S * D), b(S * D);
    solve_group(topo, SolverKind::kExact, in.fixed.data(), in.block.data(), a.data());
    solve_group(topo, SolverKind::kExact, in.fixed.data(), in.block.data(), b.data());
    ASSERT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(double)), 0);
  }
}

TEST(LpExact, HeaderFunctionsAgreeWithTheHostApi) {
  std::mt19937_64 rng(17);
  const Topology topo = Topology::named("hypercube");
  const int S = 16, D = 2;
  alignas(8) unsigned char buffer[detail::exact_workspace_bytes(S, D)];
  const auto ws = detail::exact_workspace_bind(buffer, S, D);
  for (int k = 0; k < 50; ++k) {
    const Instance in = random_instance(topo, rng);
    const detail::ExactProblem pb{S, D, topo.r2o_data().data(), topo.o2r_data().data(),
                                  in.fixed.data(), in.block.data()};
    std::vector<double> scratch(S * D), probs(S * D);
    const double opt = detail::exact_optimum(pb, ws, scratch.data());
    const LpResult r = solve_group(topo, SolverKind::kExact, in.fixed.data(), in.block.data(), probs.data());
    EXPECT_EQ(opt, r.lower_bound);
    EXPECT_EQ(std::memcmp(scratch.data(), probs.data(), probs.size() * sizeof(double)), 0);
  }
}

TEST(LpApi, ValidatesArguments) {
  const Topology cube = Topology::named("cube");
  std::vector<double> fixed(8, 1.0), block(16, 1.0), probs(16);
  fixed[3] = -1;
  EXPECT_THROW(solve_group(cube, SolverKind::kExact, fixed.data(), block.data(), probs.data()),
               InvalidArgument);
  fixed[3] = 1;
  block[5] = std::nan("");
  EXPECT_THROW(solve_group(cube, SolverKind::kIpm, fixed.data(), block.data(), probs.data()),
               InvalidArgument);
  block[5] = INFINITY;
  EXPECT_THROW(solve_group(cube, SolverKind::kExact, fixed.data(), block.data(), probs.data()),
               InvalidArgument);
  block[5] = 1;
  EXPECT_THROW(solve_group_ipm(cube, fixed.data(), block.data(), probs.data(), -1.0), InvalidArgument);
  std::mt19937_64 rng(1);
  const Topology big = test::random_topology(65, 1, rng);
  std::vector<double> bf(65, 1.0), bb(65, 1.0), bp(65);
  EXPECT_THROW(solve_group(big, SolverKind::kIpm, bf.data(), bb.data(), bp.data()), InvalidArgument);
  EXPECT_NO_THROW(solve_group(big, SolverKind::kExact, bf.data(), bb.data(), bp.data()));

  EXPECT_STREQ(solver_name(SolverKind::kExact), "exact");
  EXPECT_STREQ(solver_name(SolverKind::kIpm), "ipm");
  EXPECT_EQ(parse_solver("exact"), SolverKind::kExact);
  EXPECT_EQ(parse_solver("ipm"), SolverKind::kIpm);
  EXPECT_THROW(parse_solver("simplex"), InvalidArgument);
  EXPECT_THROW(parse_solver(""), InvalidArgument);
}

// ---- The reference IPM -----------------------------------------------------

double exact_value(const Topology& topo, const Instance& in) {
  std::vector<double> probs(topo.group_size() * topo.slots());
  return solve_group(topo, SolverKind::kExact, in.fixed.data(), in.block.data(), probs.data()).max_load;
}

// The batch normaliser is the largest per-expert count, so a group's own
// entries may exceed it many times over (many experts per block / fixed):
// then the 5 steps do not converge and the reference falls back to 0.5.
TEST(LpIpm, FiniteOutputStatusAndNeverBelowTheOptimum) {
  std::mt19937_64 rng(21);
  int converged = 0, fallback = 0;
  for (const char* name : {"cube", "hypercube", "ring", "ring:4", "torus:2x4", "torus:4x4"}) {
    const Topology topo = Topology::named(name);
    for (int k = 0; k < 120; ++k) {
      const Instance in = random_instance(topo, rng);
      std::vector<double> probs(topo.group_size() * topo.slots());
      double group_max = 0;
      for (double v : in.fixed) group_max = std::max(group_max, v);
      for (double v : in.block) group_max = std::max(group_max, v);
      const double factor = std::array{0.01, 1.0, 1.0, 3.0, 10.0, 100.0}[k % 6];
      const LpResult r =
          k % 6 == 1 ? solve_group(topo, SolverKind::kIpm, in.fixed.data(), in.block.data(), probs.data())
                     : solve_group_ipm(topo, in.fixed.data(), in.block.data(), probs.data(),
                                       group_max / factor);
      EXPECT_EQ(r.iterations, 5);
      for (double p : probs) ASSERT_TRUE(std::isfinite(p));
      ASSERT_TRUE(r.status == LpStatus::kIpmConverged || r.status == LpStatus::kIpmFallback);
      if (r.status == LpStatus::kIpmFallback) {
        ++fallback;
        for (double p : probs) ASSERT_EQ(p, 0.5);
      } else {
        ++converged;
        EXPECT_LT(r.ipm_d_max, 0.1);
        EXPECT_GE(r.ipm_big_m, 0.0);
        EXPECT_LT(r.ipm_big_m, 1e-4);
        EXPECT_LT(r.ipm_residual, 0.05);
      }
      ASSERT_EQ(r.max_load, max_of_loads(topo, in, probs));
      const double opt = exact_value(topo, in);
      ASSERT_GE(r.max_load, opt * (1 - 1e-12)) << name << " #" << k;
    }
  }
  EXPECT_GT(converged, 0);
  EXPECT_GT(fallback, 0);
}

TEST(LpIpm, Deterministic) {
  std::mt19937_64 rng(22);
  const Topology topo = Topology::named("hypercube");
  for (int k = 0; k < 50; ++k) {
    const Instance in = random_instance(topo, rng);
    std::vector<double> a(32), b(32);
    solve_group(topo, SolverKind::kIpm, in.fixed.data(), in.block.data(), a.data());
    solve_group(topo, SolverKind::kIpm, in.fixed.data(), in.block.data(), b.data());
    ASSERT_EQ(std::memcmp(a.data(), b.data(), sizeof(double) * a.size()), 0);
  }
}

TEST(LpIpm, EmptyBatchFallsBackLikeTheReference) {
  const Topology cube = Topology::named("cube");
  std::vector<double> fixed(8, 0.0), block(16, 0.0), probs(16);
  const LpResult r = solve_group_ipm(cube, fixed.data(), block.data(), probs.data(), 0.0);
  EXPECT_EQ(r.status, LpStatus::kIpmFallback);
  for (double p : probs) EXPECT_EQ(p, 0.5);
  EXPECT_EQ(r.max_load, 0.0);
}

// Golden values from scripts/ipm_reference.py, an independent dense numpy
// float32 transcription of minilp.cu. Float rounding differs (BLAS order,
// LAPACK Cholesky), so probs are compared with a tolerance; status exactly.
TEST(LpIpm, MatchesIndependentTranscription) {
  std::ifstream file(std::string(LPLB_TEST_DATA_DIR) + "/ipm_golden.json");
  ASSERT_TRUE(file.good()) << "missing tests/data/ipm_golden.json";
  const nlohmann::json golden = nlohmann::json::parse(file);
  int checked = 0;
  for (const auto& c : golden["cases"]) {
    const Topology topo = Topology::named(c["topology"].get<std::string>());
    const auto fixed = c["fixed"].get<std::vector<double>>();
    const auto block = c["block"].get<std::vector<double>>();
    std::vector<double> probs(block.size());
    const LpResult r =
        solve_group_ipm(topo, fixed.data(), block.data(), probs.data(), c["scale"].get<double>());
    const bool ok = c["converged"].get<bool>();
    EXPECT_EQ(r.status, ok ? LpStatus::kIpmConverged : LpStatus::kIpmFallback) << c["name"];
    const auto want = c["probs"].get<std::vector<double>>();
    for (size_t k = 0; k < want.size(); ++k)
      EXPECT_NEAR(probs[k], want[k], c["tolerance"].get<double>()) << c["name"] << " k=" << k;
    ++checked;
  }
  EXPECT_GE(checked, 4);
}

}  // namespace
}  // namespace lplb
