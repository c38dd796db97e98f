// Fuzzes the per-group LP solvers (solve_group) on valid topologies derived
// from the input and any finite non-negative loads, and Planner::solve on any
// workload vector. Invariants (lplb/lp.hpp):
//   exact: probs finite and in [0, 1]; max load >= the mean load and every
//          rank's fixed load, <= the unbalanced max load (both +- tolerance);
//          LpResult::max_load is the realised max load.
//   ipm:   probs finite (the reference's raw probs may leave [0, 1]); loads
//          computed with clamping are finite and conserve the tokens.
//   both:  deterministic (a second solve gives bit-identical probs).
// Planner::solve must reject NaN / inf / negative / wrong-length workloads
// with InvalidArgument and conserve the total load otherwise.
#include <algorithm>
#include <cstring>
#include <memory>
#include <numeric>

#include "fuzz_common.hpp"
#include "lplb/lp.hpp"
#include "lplb/planner.hpp"

namespace lplb::fuzz::lp {

double tolerance(double scale) { return 1e-9 * scale + 1e-9; }

void fuzz_group(ByteReader& in) {
  const SolverKind kind = in.flag() ? SolverKind::kIpm : SolverKind::kExact;
  const int64_t S = in.range(2, kind == SolverKind::kExact ? 40 : 20);
  const int64_t D = in.range(1, 4);
  const Topology topo = random_topology(S, D, in);
  std::vector<double> fixed(S), block(S * D);
  // Callers guarantee totals below 2^53 (Planner::solve checks); stay there.
  const double cap = 9007199254740992.0 / static_cast<double>(S * (D + 1));
  for (double& x : fixed) x = in.good_value(cap);
  for (double& x : block) x = in.good_value(cap);
  // Bias towards the interesting cases: zero loads, equal loads, one hot rank.
  switch (in.u8() % 8) {
    case 0:
      std::fill(fixed.begin(), fixed.end(), 0.0);
      break;
    case 1:
      std::fill(block.begin(), block.end(), 0.0);
      break;
    case 2:
      std::fill(fixed.begin(), fixed.end(), fixed[0]);
      break;
    default:
      break;
  }

  std::vector<double> probs(S * D, -7.0), again(S * D, -7.0);
  lplb::LpResult r{}, r2{};
  // A size the solver does not support is an InvalidArgument, not a crash.
  if (!accepts(
          [&] { r = lplb::solve_group(topo, kind, fixed.data(), block.data(), probs.data()); }))
    return;
  r2 = lplb::solve_group(topo, kind, fixed.data(), block.data(), again.data());
  LPLB_FUZZ_CHECK(std::memcmp(probs.data(), again.data(), probs.size() * sizeof(double)) == 0 &&
                      r.status == r2.status,
                  "solve_group is not deterministic");

  for (double p : probs) LPLB_FUZZ_CHECK(std::isfinite(p), "prob %g is not finite", p);
  std::vector<double> load(S), unbalanced(S);
  lplb::group_loads(topo, fixed.data(), block.data(), probs.data(), load.data());
  const std::vector<double> ones(S * D, 1.0);
  lplb::group_loads(topo, fixed.data(), block.data(), ones.data(), unbalanced.data());

  const double total = std::accumulate(fixed.begin(), fixed.end(), 0.0) +
                       std::accumulate(block.begin(), block.end(), 0.0);
  const double tol = tolerance(total);
  const double max_load = *std::max_element(load.begin(), load.end());
  const double max_before = *std::max_element(unbalanced.begin(), unbalanced.end());
  const double max_fixed = *std::max_element(fixed.begin(), fixed.end());
  const double sum_load = std::accumulate(load.begin(), load.end(), 0.0);
  for (double x : load) LPLB_FUZZ_CHECK(std::isfinite(x) && x >= -tol, "load %g", x);
  LPLB_FUZZ_CHECK(std::fabs(sum_load - total) <= tol * S, "tokens not conserved: %.17g vs %.17g",
                  sum_load, total);
  LPLB_FUZZ_CHECK(max_load >= total / S - tol, "max load %.17g below the mean %.17g", max_load,
                  total / S);
  LPLB_FUZZ_CHECK(max_load >= max_fixed - tol, "max load %.17g below a fixed load %.17g", max_load,
                  max_fixed);
  if (kind == SolverKind::kExact) {
    for (double p : probs)
      LPLB_FUZZ_CHECK(p >= 0.0 && p <= 1.0, "exact prob %.17g outside [0,1]", p);
    LPLB_FUZZ_CHECK(max_load <= max_before + tol, "exact max load %.17g above unbalanced %.17g",
                    max_load, max_before);
    LPLB_FUZZ_CHECK(std::fabs(r.max_load - max_load) <= tol,
                    "LpResult::max_load %.17g, realised %.17g", r.max_load, max_load);
    LPLB_FUZZ_CHECK(r.status == lplb::LpStatus::kOptimal || r.status == lplb::LpStatus::kTrivial,
                    "exact status %d", static_cast<int>(r.status));
  } else {
    LPLB_FUZZ_CHECK(r.status != lplb::LpStatus::kOptimal, "ipm status %d",
                    static_cast<int>(r.status));
  }
}

void fuzz_planner(ByteReader& in) {
  static const char* const kNames[] = {"cube",   "hypercube", "ring",      "ring:2",
                                       "ring:3", "torus:2x2", "torus:2x3", "ring:5"};
  const Topology topo = in.flag() ? Topology::named(kNames[in.u8() % 8])
                                  : random_topology(in.range(2, 6), in.range(1, 3), in);
  const int64_t S = topo.group_size(), D = topo.slots();
  lplb::PlannerOptions opt;
  opt.ep_size = S * in.range(1, 3);
  opt.num_experts = opt.ep_size * in.range(1, 6) * D;
  opt.redundant_per_rank = D * in.range(1, opt.num_experts / opt.ep_size / D);
  opt.solver = in.flag() ? SolverKind::kIpm : SolverKind::kExact;
  const int64_t E = opt.num_experts;
  std::unique_ptr<lplb::Planner> planner;
  if (!accepts([&] { planner = std::make_unique<lplb::Planner>(topo, opt); })) return;

  const int bad_rate = in.u8() < 200 ? 0 : 16;
  std::vector<double> w(E);
  for (double& x : w) x = in.value(bad_rate);
  if (in.u8() == 0xff) w.pop_back();
  bool valid = static_cast<int64_t>(w.size()) == E;
  double total = 0;
  for (double x : w) {
    valid = valid && std::isfinite(x) && x >= 0;
    total += x;
  }
  valid = valid && total <= 9007199254740992.0;
  lplb::SolveOutput out;
  const bool ok = accepts([&] { out = planner->solve(std::span<const double>(w)); });
  LPLB_FUZZ_CHECK(ok == valid, "Planner::solve accepted=%d, expected %d", ok, valid);
  if (!ok) return;

  const int64_t P = opt.ep_size;
  LPLB_FUZZ_CHECK(static_cast<int64_t>(out.probs.size()) == P * D &&
                      static_cast<int64_t>(out.load_before.size()) == P &&
                      static_cast<int64_t>(out.load_after.size()) == P,
                  "output sizes");
  const double before = std::accumulate(out.load_before.begin(), out.load_before.end(), 0.0);
  const double after = std::accumulate(out.load_after.begin(), out.load_after.end(), 0.0);
  const double tol = tolerance(total);
  LPLB_FUZZ_CHECK(std::fabs(before - total) <= tol * P && std::fabs(after - total) <= tol * P,
                  "loads do not add up to the workload: %.17g %.17g %.17g", before, after, total);
  for (double p : out.probs) LPLB_FUZZ_CHECK(std::isfinite(p), "prob %g", p);
  for (double x : out.load_after) LPLB_FUZZ_CHECK(std::isfinite(x) && x >= -tol, "load %g", x);
  if (opt.solver == SolverKind::kExact) {
    for (double p : out.probs) LPLB_FUZZ_CHECK(p >= 0 && p <= 1, "exact prob %.17g", p);
    // Per group: never worse than no balancing.
    for (int64_t g = 0; g < P / S; ++g) {
      const double mb = *std::max_element(&out.load_before[g * S], &out.load_before[g * S] + S);
      const double ma = *std::max_element(&out.load_after[g * S], &out.load_after[g * S] + S);
      LPLB_FUZZ_CHECK(ma <= mb + tol, "group %lld: %.17g after > %.17g before", (long long)g, ma,
                      mb);
    }
  }
  const auto loads = planner->rank_loads(w, out.probs);
  for (int64_t r = 0; r < P; ++r)
    LPLB_FUZZ_CHECK(loads[r] == out.load_after[r], "rank_loads disagrees with solve");
}

LPLB_FUZZ_TARGET {
  ByteReader in(data, size);
  if (in.u8() % 3 == 0)
    fuzz_planner(in);
  else
    fuzz_group(in);
  return 0;
}

}  // namespace lplb::fuzz::lp
