// The core's communicator pieces without MPI: the generic all_reduce_max,
// config_hash and check_consistent, and Planner::run through a communicator.
// Ranks are threads sharing an in-process ThreadGroup (a test double, not a
// transport: the real ones are MPI and NCCL).
#include "lplb/comm.hpp"

#include <gtest/gtest.h>

#include <barrier>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "lplb/errors.hpp"
#include "lplb/planner.hpp"

namespace lplb {
namespace {

// n ranks as n threads; all_reduce_sum sums in rank order.
class ThreadGroup {
 public:
  explicit ThreadGroup(int n) : n_(n), slots_(n), sync_(n) {}

  class Comm final : public Communicator {
   public:
    Comm(ThreadGroup& g, int rank) : g_(g), rank_(rank) {}
    int rank() const override { return rank_; }
    int size() const override { return g_.n_; }
    void all_reduce_sum(std::span<int64_t> values) override {
      ++calls;
      g_.slots_[rank_].assign(values.begin(), values.end());
      g_.sync_.arrive_and_wait();
      for (size_t k = 0; k < values.size(); ++k) {
        int64_t s = 0;
        for (int r = 0; r < g_.n_; ++r) s += g_.slots_[r].at(k);
        values[k] = s;
      }
      g_.sync_.arrive_and_wait();
    }
    int calls = 0;

   private:
    ThreadGroup& g_;
    int rank_;
  };

  // Runs body(comm) on every rank; returns each rank's exception text ("" if none).
  std::vector<std::string> run(const std::function<void(Comm&)>& body) {
    std::vector<std::string> errors(n_);
    std::vector<std::thread> threads;
    for (int r = 0; r < n_; ++r)
      threads.emplace_back([&, r] {
        Comm c(*this, r);
        try {
          body(c);
        } catch (const std::exception& e) {
          errors[r] = e.what();
        }
      });
    for (auto& t : threads) t.join();
    return errors;
  }

 private:
  int n_;
  std::vector<std::vector<int64_t>> slots_;
  std::barrier<> sync_;
};

Planner make_planner(const char* topology, int64_t E, int64_t P, int64_t R,
                     SolverKind solver = SolverKind::kExact, int64_t gpus_per_node = 8) {
  PlannerOptions o;
  o.num_experts = E;
  o.ep_size = P;
  o.redundant_per_rank = R;
  o.solver = solver;
  o.gpus_per_node = gpus_per_node;
  return Planner(Topology::named(topology), o);
}

TEST(Communicator, DefaultMaxGathersThroughTheSum) {
  std::mt19937_64 seed_rng(11);
  for (const int n : {1, 2, 3, 5}) {
    for (const size_t len : {size_t{0}, size_t{1}, size_t{17}}) {
      const uint64_t seed = seed_rng();
      auto draw = [&](int r) {
        std::mt19937_64 rng(seed + r);
        std::vector<int64_t> v(len);
        for (auto& x : v) x = static_cast<int64_t>(rng());  // full int64 range
        return v;
      };
      ThreadGroup g(n);
      std::vector<std::vector<int64_t>> got(n);
      const auto errors = g.run([&](ThreadGroup::Comm& c) {
        got[c.rank()] = draw(c.rank());
        c.all_reduce_max(got[c.rank()]);
      });
      for (size_t k = 0; k < len; ++k) {
        int64_t m = INT64_MIN;
        for (int r = 0; r < n; ++r) m = std::max(m, draw(r)[k]);
        for (int r = 0; r < n; ++r) EXPECT_EQ(got[r][k], m);
      }
      for (const auto& e : errors) EXPECT_EQ(e, "");
    }
  }
}

TEST(ConfigHash, ChangesWithEveryField) {
  const uint64_t base = config_hash(make_planner("ring:4", 64, 8, 2));
  EXPECT_EQ(base, config_hash(make_planner("ring:4", 64, 8, 2)));
  EXPECT_NE(base, config_hash(make_planner("ring:4", 128, 8, 2)));
  EXPECT_NE(base, config_hash(make_planner("ring:4", 64, 16, 2)));
  EXPECT_NE(base, config_hash(make_planner("ring:4", 64, 8, 4)));
  EXPECT_NE(base, config_hash(make_planner("ring:4", 64, 8, 2, SolverKind::kIpm)));
  EXPECT_NE(base, config_hash(make_planner("ring:4", 64, 8, 2, SolverKind::kExact, 4)));
  EXPECT_NE(base, config_hash(make_planner("ring:8", 64, 8, 2)));
  EXPECT_NE(base, config_hash(make_planner("torus:2x2", 64, 8, 2)));
  // Same S and D, different r2o.
  const Topology a(4, 1, {1, 2, 3, 0}), b(4, 1, {3, 0, 1, 2});
  PlannerOptions o{.num_experts = 64, .ep_size = 8, .redundant_per_rank = 2};
  EXPECT_NE(config_hash(Planner(a, o)), config_hash(Planner(b, o)));
  // Same everything, different placement.
  Planner p = make_planner("ring:4", 64, 8, 2);
  std::vector<double> history(64);
  for (int e = 0; e < 64; ++e) history[e] = (e * 29) % 64;
  p.update_redundancy_mapping(history);
  EXPECT_NE(base, config_hash(p));
}

TEST(CheckConsistent, PassesWhenRanksAgreeWithOneCollective) {
  for (const int n : {1, 2, 4}) {
    ThreadGroup g(n);
    const auto errors = g.run([&](ThreadGroup::Comm& c) {
      check_consistent(make_planner("cube", 256, 32, 2), c);
      EXPECT_EQ(c.calls, 1);  // the generic max is one sum
    });
    for (const auto& e : errors) EXPECT_EQ(e, "");
  }
}

struct Mismatch {
  const char* name;
  std::function<Planner(int rank)> make;
  const char* expect;
};

TEST(CheckConsistent, FailsOnEveryRankWithTheSameMessage) {
  const Mismatch cases[] = {
      {"R", [](int r) { return make_planner("ring:4", 64, 8, r == 2 ? 4 : 2); },
       "redundant_per_rank ranges over [2, 4]"},
      {"E", [](int r) { return make_planner("ring:4", r == 0 ? 32 : 64, 8, 2); },
       "num_experts ranges over [32, 64]"},
      {"P", [](int r) { return make_planner("ring:4", 64, r == 1 ? 16 : 8, 2); },
       "ep_size ranges over [8, 16]"},
      {"S", [](int r) { return make_planner(r == 3 ? "ring:8" : "ring:4", 64, 8, 2); },
       "topology group size S ranges over [4, 8]"},
      {"D", [](int r) { return make_planner(r == 3 ? "torus:2x2" : "ring:4", 64, 8, 2); },
       "topology slots D ranges over [1, 2]"},
      {"solver",
       [](int r) {
         return make_planner("ring:4", 64, 8, 2, r == 1 ? SolverKind::kIpm : SolverKind::kExact);
       },
       "solver ranges over [exact, ipm]"},
      {"gpus_per_node",
       [](int r) { return make_planner("ring:4", 64, 8, 2, SolverKind::kExact, r == 0 ? 4 : 8); },
       "gpus_per_node ranges over [4, 8]"},
      {"r2o",
       [](int r) {
         PlannerOptions o{.num_experts = 64, .ep_size = 8, .redundant_per_rank = 2};
         return Planner(r == 1 ? Topology(4, 1, {3, 0, 1, 2}) : Topology(4, 1, {1, 2, 3, 0}), o);
       },
       "topology r2o differs"},
      {"placement",
       [](int r) {
         Planner p = make_planner("ring:4", 64, 8, 2);
         std::vector<double> h(64, 1.0);
         h[r == 2 ? 9 : 10] = 5;
         p.update_redundancy_mapping(h);
         return p;
       },
       "placement phy2log differs"},
  };
  for (const Mismatch& m : cases) {
    ThreadGroup g(4);
    const auto errors = g.run([&](ThreadGroup::Comm& c) { check_consistent(m.make(c.rank()), c); });
    for (int r = 0; r < 4; ++r) {
      EXPECT_NE(errors[r].find(m.expect), std::string::npos) << m.name << ": " << errors[r];
      EXPECT_EQ(errors[r].rfind("planner: the 4 ranks", 0), 0u) << errors[r];
      EXPECT_EQ(errors[r], errors[0]);  // identical text everywhere
    }
  }
}

TEST(PlannerRun, ThroughACommunicatorEqualsTheSingleProcessPlan) {
  std::mt19937_64 rng(3);
  for (const int n : {1, 3, 4}) {
    for (const char* topo : {"ring:4", "torus:2x2", "cube"}) {
      const int64_t P = topo[0] == 'c' ? 16 : 8, E = 8 * P;
      const Planner p = make_planner(topo, E, P, 2);
      const uint64_t seed = rng();
      auto ids_of = [&](int r) {
        std::mt19937_64 g(seed + r);
        std::vector<int32_t> ids(1000 + 37 * r);
        for (auto& x : ids) x = static_cast<int32_t>(g() % (E + 1)) - 1;  // some -1
        return ids;
      };
      std::vector<int64_t> total(E, 0);
      for (int r = 0; r < n; ++r) {
        const auto ids = ids_of(r);
        const auto c = p.count(std::span<const int32_t>(ids));
        for (int64_t e = 0; e < E; ++e) total[e] += c[e];
      }
      const SolveOutput single = p.solve(std::span<const int64_t>(total));
      ThreadGroup g(n);
      std::vector<SolveOutput> plans(n);
      std::vector<std::vector<int32_t>> outs(n);
      const auto errors = g.run([&](ThreadGroup::Comm& c) {
        check_consistent(p, c);
        const auto ids = ids_of(c.rank());
        outs[c.rank()].resize(ids.size());
        plans[c.rank()] =
            p.run(std::span<const int32_t>(ids), std::span<int32_t>(outs[c.rank()]), &c);
      });
      for (int r = 0; r < n; ++r) {
        ASSERT_EQ(errors[r], "");
        EXPECT_EQ(plans[r].probs, single.probs) << topo << " rank " << r;
        EXPECT_EQ(plans[r].load_after, single.load_after);
        const auto ids = ids_of(r);
        std::vector<int32_t> expected(ids.size());
        p.map(std::span<const int32_t>(ids), single.probs, std::span<int32_t>(expected));
        EXPECT_EQ(outs[r], expected);
      }
    }
  }
}

}  // namespace
}  // namespace lplb
