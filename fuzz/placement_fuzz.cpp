// Fuzzes the PlacementPlanner (LP balancing over any replica placement,
// lplb/placement.hpp) with any phy2log, workload, ids and shares.
// Invariants: a bad phy2log / workload / id / share raises InvalidArgument;
// otherwise an expert's shares are finite, >= 0 and sum to 1; the max rank
// load after solving is >= the mean and <= the evenly split max (+- tol);
// map sends every id to a slot of its expert, keeps -1, conserves per-expert
// counts and agrees with slot_counts; run == count -> solve -> map.
#include <algorithm>
#include <limits>
#include <memory>
#include <numeric>

#include "fuzz_common.hpp"
#include "lplb/placement.hpp"

namespace lplb::fuzz::placement {

template <typename Id>
void check_map(const PlacementPlanner& pl, const std::vector<Id>& ids,
               const std::vector<double>& shares, const std::vector<Id>& out) {
  const int64_t E = pl.num_experts();
  std::vector<int64_t> counts(E, 0), per_slot(pl.num_physical(), 0);
  for (size_t k = 0; k < ids.size(); ++k) {
    if (ids[k] == -1) {
      LPLB_FUZZ_CHECK(out[k] == -1, "-1 not preserved at %zu", k);
      continue;
    }
    LPLB_FUZZ_CHECK(out[k] >= 0 && out[k] < pl.num_physical() && pl.phy2log()[out[k]] == ids[k],
                    "token %zu of expert %lld mapped to slot %lld", k, (long long)ids[k],
                    (long long)out[k]);
    ++counts[ids[k]];
    ++per_slot[out[k]];
  }
  const auto expected = pl.slot_counts(counts, shares);
  LPLB_FUZZ_CHECK(expected == per_slot, "map disagrees with slot_counts");
}

template <typename Id>
void fuzz_ids(const PlacementPlanner& pl, ByteReader& in, const std::vector<double>& shares) {
  const int64_t E = pl.num_experts();
  std::vector<Id> ids(in.range(0, 400));
  const bool bad = in.u8() > 230;
  for (Id& id : ids)
    id = bad && in.u8() == 0 ? static_cast<Id>(in.u64()) : static_cast<Id>(in.range(-1, E - 1));
  bool ids_ok = true;
  for (Id id : ids) ids_ok = ids_ok && id >= -1 && id < E;
  std::vector<Id> out(ids.size());
  const bool ok = accepts([&] { pl.map(std::span<const Id>(ids), shares, std::span<Id>(out)); });
  LPLB_FUZZ_CHECK(ok == ids_ok, "map accepted=%d, expected %d", ok, ids_ok);
  if (!ok) return;
  check_map(pl, ids, shares, out);
  std::vector<Id> run_out(ids.size()), again(ids.size());
  const PlacementSolveOutput plan = pl.run(std::span<const Id>(ids), std::span<Id>(run_out));
  check_map(pl, ids, plan.shares, run_out);
  pl.map(std::span<const Id>(ids), plan.shares, std::span<Id>(again));
  LPLB_FUZZ_CHECK(again == run_out, "run differs from count -> solve -> map");
}

LPLB_FUZZ_TARGET {
  ByteReader in(data, size);
  const int64_t P = in.range(1, 12), n_local = in.range(1, 8), E = in.range(1, 40);
  std::vector<int64_t> phy2log(P * n_local);
  // Every expert at least once when the slots allow, then random extras.
  for (size_t s = 0; s < phy2log.size(); ++s)
    phy2log[s] =
        s < static_cast<size_t>(E) && in.u8() < 250 ? static_cast<int64_t>(s) : in.range(0, E - 1);
  for (size_t s = phy2log.size(); s > 1; --s)
    std::swap(phy2log[s - 1], phy2log[in.range(0, s - 1)]);
  if (in.u8() == 0xff) phy2log[in.range(0, phy2log.size() - 1)] = static_cast<int64_t>(in.u64());
  bool valid = true;
  std::vector<char> seen(E, 0);
  for (int64_t e : phy2log) {
    valid = valid && e >= 0 && e < E;
    if (e >= 0 && e < E) seen[e] = 1;
  }
  valid = valid && std::all_of(seen.begin(), seen.end(), [](char c) { return c != 0; });
  std::unique_ptr<PlacementPlanner> pl;
  const bool built = accepts(
      [&] { pl = std::make_unique<PlacementPlanner>(std::span<const int64_t>(phy2log), E, P); });
  LPLB_FUZZ_CHECK(built == valid, "constructor accepted=%d, expected %d", built, valid);
  if (!built) return 0;

  std::vector<double> w(E);
  const int bad_rate = in.u8() < 220 ? 0 : 12;
  for (double& x : w) x = in.value(bad_rate);
  bool w_ok = true;
  double total = 0;
  for (double x : w) {
    w_ok = w_ok && std::isfinite(x) && x >= 0;
    total += x;
  }
  w_ok = w_ok && total <= 9007199254740992.0;
  PlacementSolveOutput sol;
  const bool solved = accepts([&] { sol = pl->solve(std::span<const double>(w)); });
  LPLB_FUZZ_CHECK(solved == w_ok, "solve accepted=%d, expected %d", solved, w_ok);
  if (solved) {
    const double tol = 1e-9 * total + 1e-9;
    LPLB_FUZZ_CHECK(static_cast<int64_t>(sol.shares.size()) == pl->num_physical(), "shares size");
    std::vector<double> sum(E, 0.0);
    for (int64_t s = 0; s < pl->num_physical(); ++s) {
      const double x = sol.shares[s];
      LPLB_FUZZ_CHECK(std::isfinite(x) && x >= 0 && x <= 1 + 1e-12, "share %.17g", x);
      sum[pl->phy2log()[s]] += x;
    }
    for (int64_t e = 0; e < E; ++e)
      LPLB_FUZZ_CHECK(std::fabs(sum[e] - 1.0) <= 1e-9, "expert %lld shares sum to %.17g",
                      (long long)e, sum[e]);
    const double before = *std::max_element(sol.load_before.begin(), sol.load_before.end());
    const double after = *std::max_element(sol.load_after.begin(), sol.load_after.end());
    const double sum_after = std::accumulate(sol.load_after.begin(), sol.load_after.end(), 0.0);
    LPLB_FUZZ_CHECK(std::fabs(sum_after - total) <= tol * P, "tokens not conserved");
    LPLB_FUZZ_CHECK(after <= before + tol, "max load %.17g after > %.17g before", after, before);
    LPLB_FUZZ_CHECK(after >= total / P - tol, "max load %.17g below the mean", after);
    LPLB_FUZZ_CHECK(std::fabs(sol.optimum - after) <= tol, "optimum %.17g vs max %.17g",
                    sol.optimum, after);
  }
  // Shares for map: the solver's, or arbitrary (map must accept any finite
  // non-negative shares and reject NaN / inf / negative).
  std::vector<double> shares = solved ? sol.shares : pl->even_shares();
  bool shares_ok = true;
  if (in.flag()) {
    for (double& x : shares) x = in.value(in.u8() < 200 ? 0 : 10);
    for (double x : shares) shares_ok = shares_ok && std::isfinite(x) && x >= 0;
  }
  if (!shares_ok) {
    std::vector<int64_t> ids = {0}, out(1);
    const bool ok =
        accepts([&] { pl->map(std::span<const int64_t>(ids), shares, std::span<int64_t>(out)); });
    LPLB_FUZZ_CHECK(!ok, "map accepted a non-finite or negative share");
    return 0;
  }
  if (in.flag())
    fuzz_ids<int32_t>(*pl, in, shares);
  else
    fuzz_ids<int64_t>(*pl, in, shares);
  return 0;
}

}  // namespace lplb::fuzz::placement
