// MpiCommunicator under mpirun (any number of ranks; CI uses 4). Every rank
// runs every test, and every collective is unconditional so that a failing
// expectation on one rank cannot desynchronise the others. Expected values
// are recomputed locally: every rank can draw every other rank's inputs.
#include "lplb/mpi/comm_mpi.hpp"

#include <gtest/gtest.h>

#include <climits>
#include <random>
#include <string>
#include <vector>

#include "lplb/comm.hpp"
#include "lplb/errors.hpp"
#include "lplb/planner.hpp"

namespace lplb {
namespace {

MpiCommunicator& world() {
  static MpiCommunicator comm(MPI_COMM_WORLD);
  return comm;
}

// Rank r's values for a test: reproducible on every rank.
std::vector<int64_t> draw(int r, size_t n, int64_t bound, uint64_t seed) {
  std::mt19937_64 rng(seed * 1000003 + static_cast<uint64_t>(r));
  std::uniform_int_distribution<int64_t> u(-bound, bound);
  std::vector<int64_t> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

TEST(MpiCommunicator, RankAndSize) {
  MpiCommunicator& c = world();
  ASSERT_GE(c.size(), 1);
  ASSERT_GE(c.rank(), 0);
  ASSERT_LT(c.rank(), c.size());
  std::vector<int64_t> v{c.rank(), 1};
  c.all_reduce_sum(v);
  EXPECT_EQ(v[0], int64_t{c.size()} * (c.size() - 1) / 2);
  EXPECT_EQ(v[1], c.size());
}

TEST(MpiCommunicator, SumIsExactForManySizesAndRanges) {
  MpiCommunicator& c = world();
  const int64_t safe = INT64_MAX / c.size();  // no sum can leave int64
  uint64_t seed = 1;
  for (const size_t n : {size_t{0}, size_t{1}, size_t{7}, size_t{256}, size_t{100000}}) {
    for (const int64_t bound : {int64_t{0}, int64_t{1}, int64_t{1000}, int64_t{1} << 40, safe}) {
      std::vector<int64_t> v = draw(c.rank(), n, bound, ++seed);
      c.all_reduce_sum(v);
      std::vector<int64_t> expected(n, 0);
      for (int r = 0; r < c.size(); ++r) {
        const std::vector<int64_t> other = draw(r, n, bound, seed);
        for (size_t k = 0; k < n; ++k) expected[k] += other[k];
      }
      EXPECT_EQ(v, expected) << "n=" << n << " bound=" << bound;
    }
  }
}

TEST(MpiCommunicator, SumThrowsOnEveryRankInsteadOfWrapping) {
  MpiCommunicator& c = world();
  if (c.size() < 2) GTEST_SKIP() << "needs 2 ranks";
  // Positive overflow in the last entry only; values stay untouched.
  std::vector<int64_t> v{1, 2, INT64_MAX / 2 + 1};
  const std::vector<int64_t> before = v;
  EXPECT_THROW(c.all_reduce_sum(v), Error);
  EXPECT_EQ(v, before);
  // Negative overflow.
  std::vector<int64_t> w{INT64_MIN / 2 - 1};
  try {
    c.all_reduce_sum(w);
    ADD_FAILURE() << "no throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("leaves int64 at entry 0"), std::string::npos) << e.what();
  }
}

TEST(MpiCommunicator, SumIsExactWhenOnlyPartialSumsLeaveInt64) {
  MpiCommunicator& c = world();
  // Even ranks INT64_MAX, odd ranks -INT64_MAX: partial sums overflow in
  // any order of two or more even ranks, the total fits.
  std::vector<int64_t> v{c.rank() % 2 == 0 ? INT64_MAX : -INT64_MAX};
  const int64_t evens = (c.size() + 1) / 2, odds = c.size() / 2;
  if (evens - odds == 1) {
    c.all_reduce_sum(v);
    EXPECT_EQ(v[0], INT64_MAX);
  } else {  // an even number of ranks: the total is 0
    c.all_reduce_sum(v);
    EXPECT_EQ(v[0], 0);
  }
}

TEST(MpiCommunicator, MaxMatchesTheGenericDefault) {
  MpiCommunicator& c = world();
  for (const size_t n : {size_t{0}, size_t{1}, size_t{300}}) {
    const std::vector<int64_t> mine = draw(c.rank(), n, INT64_MAX, 77 + n);
    std::vector<int64_t> native = mine, generic = mine;
    c.all_reduce_max(native);
    c.Communicator::all_reduce_max(generic);  // gather through all_reduce_sum
    EXPECT_EQ(native, generic);
    for (size_t k = 0; k < n; ++k) {
      int64_t m = INT64_MIN;
      for (int r = 0; r < c.size(); ++r) m = std::max(m, draw(r, n, INT64_MAX, 77 + n)[k]);
      EXPECT_EQ(native[k], m);
    }
  }
}

Planner make_planner(const char* topology, int64_t E, int64_t P, int64_t R,
                     SolverKind solver = SolverKind::kExact) {
  PlannerOptions o;
  o.num_experts = E;
  o.ep_size = P;
  o.redundant_per_rank = R;
  o.solver = solver;
  return Planner(Topology::named(topology), o);
}

// check_consistent on every rank; returns the message ("" if it passed).
std::string check(const Planner& p) {
  try {
    check_consistent(p, world());
    return "";
  } catch (const InvalidArgument& e) {
    return e.what();
  }
}

TEST(CheckConsistent, PassesWhenEveryRankAgrees) {
  EXPECT_EQ(check(make_planner("cube", 256, 32, 2)), "");
  Planner p = make_planner("torus:2x2", 64, 8, 2);
  std::vector<double> history(64);
  for (int e = 0; e < 64; ++e) history[e] = (e * 37) % 64;
  p.update_redundancy_mapping(history);
  EXPECT_EQ(check(p), "");
}

TEST(CheckConsistent, FailsOnEveryRankNamingTheField) {
  MpiCommunicator& c = world();
  if (c.size() < 2) GTEST_SKIP() << "needs 2 ranks";
  const bool odd = c.rank() == c.size() - 1;  // the last rank differs
  std::string m = check(make_planner("ring:4", 64, 8, odd ? 4 : 2));
  EXPECT_NE(m.find("redundant_per_rank ranges over [2, 4]"), std::string::npos) << m;

  m = check(make_planner(odd ? "torus:2x2" : "ring:4", 64, 8, 2));
  EXPECT_NE(m.find("topology slots D ranges over [1, 2]"), std::string::npos) << m;
  EXPECT_NE(m.find("topology r2o differs"), std::string::npos) << m;

  m = check(make_planner("ring:4", odd ? 128 : 64, 8, 2));
  EXPECT_NE(m.find("num_experts ranges over [64, 128]"), std::string::npos) << m;

  m = check(make_planner("ring:4", 64, 8, 2, odd ? SolverKind::kIpm : SolverKind::kExact));
  EXPECT_NE(m.find("solver ranges over [exact, ipm]"), std::string::npos) << m;

  // Same sizes, different placement (one rank used another history).
  Planner p = make_planner("ring:4", 64, 8, 2);
  std::vector<double> history(64, 1.0);
  if (odd) history[5] = 100;
  p.update_redundancy_mapping(history);
  m = check(p);
  EXPECT_NE(m.find("placement phy2log differs"), std::string::npos) << m;
  EXPECT_EQ(m.find("num_experts"), std::string::npos) << m;
}

std::vector<int64_t> rank_ids(int r, int64_t E, size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed + static_cast<uint64_t>(r) * 7919);
  std::uniform_int_distribution<int64_t> u(-1, E - 1);
  std::vector<int64_t> ids(n);
  for (auto& x : ids) x = u(rng) == 0 ? 0 : u(rng);  // expert 0 is hot
  return ids;
}

TEST(PlannerRun, EveryRankGetsTheSingleProcessPlan) {
  MpiCommunicator& c = world();
  struct Case {
    const char* topo;
    int64_t E, P, R;
    SolverKind solver;
  };
  const Case cases[] = {{"ring:4", 64, 4, 2, SolverKind::kExact},
                        {"torus:2x2", 64, 8, 2, SolverKind::kExact},
                        {"cube", 256, 32, 2, SolverKind::kIpm},
                        {"ring:2", 16, 4, 1, SolverKind::kExact}};
  uint64_t seed = 5;
  for (const Case& k : cases) {
    for (const size_t n : {size_t{0}, size_t{1}, size_t{5000}}) {
      const Planner p = make_planner(k.topo, k.E, k.P, k.R, k.solver);
      ASSERT_EQ(check(p), "");
      ++seed;
      const std::vector<int64_t> ids = rank_ids(c.rank(), k.E, n, seed);
      std::vector<int64_t> out(n);
      const SolveOutput plan = p.run(std::span<const int64_t>(ids), std::span<int64_t>(out), &c);

      std::vector<int64_t> total(k.E, 0);
      for (int r = 0; r < c.size(); ++r) {
        const std::vector<int64_t> counts =
            p.count(std::span<const int64_t>(rank_ids(r, k.E, n, seed)));
        for (int64_t e = 0; e < k.E; ++e) total[e] += counts[e];
      }
      const SolveOutput single = p.solve(std::span<const int64_t>(total));
      EXPECT_EQ(plan.probs, single.probs) << k.topo << " n=" << n;  // bit-identical
      std::vector<int64_t> expected(n);
      p.map(std::span<const int64_t>(ids), single.probs, std::span<int64_t>(expected));
      EXPECT_EQ(out, expected);
    }
  }
}

}  // namespace
}  // namespace lplb

int main(int argc, char** argv) {
  lplb::MpiSession mpi(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0) {  // one report, from rank 0; the exit code covers all ranks
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  int failed = RUN_ALL_TESTS() != 0 ? 1 : 0, any_failed = 0;
  MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (failed) std::fprintf(stderr, "comm_mpi_test: failures on rank %d\n", rank);
  return any_failed;
}
