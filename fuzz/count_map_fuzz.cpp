// Fuzzes the planner's count and map (and run, which chains them) with any
// ids and probs, after an optional EPLB reorder from a fuzzed history.
// Invariants (count and map, lplb/planner.hpp): ids outside [-1, E) raise InvalidArgument;
// count sums the valid ids; every output id is a physical slot of its expert,
// -1 stays -1; per expert, round(clamp(p) * T_e) tokens go to the original
// slot and the rest to the copy, so counts are conserved; run == count ->
// solve -> map. The mapping itself follows LPLB's layout (docs/ARCHITECTURE.md).
#include <algorithm>
#include <limits>
#include <memory>
#include <numeric>

#include "common/split.hpp"
#include "fuzz_common.hpp"
#include "lplb/planner.hpp"

namespace lplb::fuzz::count_map {

void check_mapping(const Planner& pl) {
  const auto& m = pl.mapping();
  const int64_t E = pl.options().num_experts, P = pl.options().ep_size;
  const int64_t S = pl.topology().group_size(), D = pl.topology().slots();
  const int64_t n_ll = pl.n_local_logical(), n_loc = pl.n_local(), CD = pl.combined() * D;
  LPLB_FUZZ_CHECK(static_cast<int64_t>(m.phy2log.size()) == P * n_loc &&
                      static_cast<int64_t>(m.log2phy.size()) == 2 * E &&
                      static_cast<int64_t>(m.logcnt.size()) == E,
                  "mapping sizes");
  std::vector<int64_t> originals(E, 0);
  for (int64_t rank = 0; rank < P; ++rank)
    for (int64_t l = 0; l < n_ll; ++l) {
      const int64_t e = m.phy2log[rank * n_loc + l];
      LPLB_FUZZ_CHECK(e >= 0 && e < E, "phy2log entry %lld", (long long)e);
      ++originals[e];
    }
  for (int64_t e = 0; e < E; ++e)
    LPLB_FUZZ_CHECK(originals[e] == 1, "expert %lld has %lld originals", (long long)e,
                    (long long)originals[e]);
  for (int64_t rank = 0; rank < P; ++rank)
    for (int64_t l = 0; l < CD; ++l) {  // replica slot n_ll + c*D + d
      const int64_t src = (rank / S) * S + pl.topology().r2o(rank % S, l % D);
      LPLB_FUZZ_CHECK(m.phy2log[rank * n_loc + n_ll + l] == m.phy2log[src * n_loc + l],
                      "replica slot %lld of rank %lld", (long long)l, (long long)rank);
    }
  for (int64_t e = 0; e < E; ++e) {
    const int32_t c = m.logcnt[e];
    LPLB_FUZZ_CHECK(c == 1 || c == 2, "logcnt[%lld] = %d", (long long)e, c);
    for (int k = 0; k < 2; ++k) {
      const int32_t slot = m.log2phy[e * 2 + k];
      if (k >= c) {
        LPLB_FUZZ_CHECK(slot == -1, "log2phy padding");
      } else {
        LPLB_FUZZ_CHECK(slot >= 0 && slot < P * n_loc && m.phy2log[slot] == e,
                        "log2phy[%lld][%d] = %d", (long long)e, k, slot);
      }
    }
    // The original is a logical slot (local index < n_ll), the copy is not.
    LPLB_FUZZ_CHECK(m.log2phy[e * 2] % n_loc < n_ll, "original first");
    if (c == 2) LPLB_FUZZ_CHECK(m.log2phy[e * 2 + 1] % n_loc >= n_ll, "copy second");
  }
}

template <typename Id>
void check_map(const Planner& pl, const std::vector<Id>& ids, const std::vector<double>& probs,
               const std::vector<Id>& out, const std::vector<int64_t>& counts) {
  const auto& m = pl.mapping();
  const int64_t E = pl.options().num_experts, D = pl.topology().slots();
  const int64_t n_loc = pl.n_local();
  std::vector<int64_t> to_original(E, 0), to_copy(E, 0);
  for (size_t k = 0; k < ids.size(); ++k) {
    if (ids[k] == -1) {
      LPLB_FUZZ_CHECK(out[k] == -1, "-1 not preserved at %zu", k);
      continue;
    }
    const int64_t e = ids[k];
    LPLB_FUZZ_CHECK(
        out[k] >= 0 && out[k] < static_cast<Id>(m.phy2log.size()) && m.phy2log[out[k]] == e,
        "token %zu of expert %lld mapped to slot %lld", k, (long long)e, (long long)out[k]);
    if (out[k] == m.log2phy[e * 2])
      ++to_original[e];
    else
      ++to_copy[e];
  }
  for (int64_t e = 0; e < E; ++e) {
    LPLB_FUZZ_CHECK(to_original[e] + to_copy[e] == counts[e], "expert %lld: counts not conserved",
                    (long long)e);
    if (m.logcnt[e] == 1) {
      LPLB_FUZZ_CHECK(to_copy[e] == 0, "expert %lld has no copy", (long long)e);
      continue;
    }
    // Which prob governs e: its original's block (rank, local index % D).
    const int64_t slot = m.log2phy[e * 2];
    const double p = probs[(slot / n_loc) * D + (slot % n_loc) % D];
    const double q = std::isnan(p) ? 1.0 : std::clamp(p, 0.0, 1.0);
    const int64_t want = static_cast<int64_t>(std::floor(q * static_cast<double>(counts[e]) + 0.5));
    LPLB_FUZZ_CHECK(to_original[e] == want, "expert %lld: %lld of %lld kept, want %lld (p=%.17g)",
                    (long long)e, (long long)to_original[e], (long long)counts[e], (long long)want,
                    p);
  }
}

template <typename Id>
void fuzz_ids(const Planner& pl, ByteReader& in) {
  const int64_t E = pl.options().num_experts;
  const int64_t n = in.range(0, 600);
  std::vector<Id> ids(n);
  const int bad = in.u8() < 220 ? 0 : 8;
  for (Id& id : ids) {
    if (bad && in.range(0, bad - 1) == 0) {
      const Id wild[] = {-2,
                         static_cast<Id>(E),
                         static_cast<Id>(E + 1),
                         std::numeric_limits<Id>::min(),
                         std::numeric_limits<Id>::max(),
                         static_cast<Id>(in.u64())};
      id = wild[in.u8() % 6];
    } else {
      id = static_cast<Id>(in.range(-1, E - 1));
    }
  }
  bool ids_ok = true;
  for (Id id : ids) ids_ok = ids_ok && id >= -1 && id < E;

  std::vector<int64_t> counts;
  const bool ok = accepts([&] { counts = pl.count(std::span<const Id>(ids)); });
  LPLB_FUZZ_CHECK(ok == ids_ok, "count accepted=%d, expected %d", ok, ids_ok);
  if (ok) {
    int64_t valid = 0;
    for (Id id : ids) valid += id >= 0;
    LPLB_FUZZ_CHECK(static_cast<int64_t>(counts.size()) == E &&
                        std::accumulate(counts.begin(), counts.end(), int64_t{0}) == valid,
                    "count total");
  }

  // Any probs: out of [0, 1], inf, and NaN (which map must reject).
  std::vector<double> probs(pl.num_probs());
  const int bad_probs = in.u8() < 200 ? 0 : 10;
  for (double& p : probs) {
    const uint8_t kind = in.u8();
    p = kind < 160   ? static_cast<double>(in.u16()) / 65535.0
        : kind < 200 ? in.value(bad_probs)
                     : -in.good_value();
    if (bad_probs && kind == 255) p = std::numeric_limits<double>::quiet_NaN();
  }
  bool probs_ok = true;
  for (double p : probs) probs_ok = probs_ok && !std::isnan(p);
  const bool short_out = in.u8() == 0xff && !ids.empty();
  std::vector<Id> out(ids.size() - (short_out ? 1 : 0), 7);
  const bool mapped = accepts([&] {
    pl.map(std::span<const Id>(ids), std::span<const double>(probs), std::span<Id>(out));
  });
  LPLB_FUZZ_CHECK(mapped == (ids_ok && probs_ok && !short_out), "map accepted=%d (ids %d probs %d)",
                  mapped, ids_ok, probs_ok);
  if (mapped) check_map(pl, ids, probs, out, counts);

  // run = count -> solve -> map.
  if (!ids_ok) return;
  std::vector<Id> run_out(ids.size());
  const lplb::SolveOutput plan = pl.run(std::span<const Id>(ids), std::span<Id>(run_out));
  check_map(pl, ids, plan.probs, run_out, counts);
  std::vector<Id> again(ids.size());
  pl.map(std::span<const Id>(ids), std::span<const double>(plan.probs), std::span<Id>(again));
  LPLB_FUZZ_CHECK(again == run_out, "run differs from count -> solve -> map");
}

LPLB_FUZZ_TARGET {
  ByteReader in(data, size);
  static const char* const kNames[] = {"cube", "ring", "ring:2", "ring:3", "torus:2x2", "ring:4"};
  const Topology topo = in.flag() ? Topology::named(kNames[in.u8() % 6])
                                  : random_topology(in.range(2, 6), in.range(1, 3), in);
  const int64_t S = topo.group_size(), D = topo.slots();
  lplb::PlannerOptions opt;
  opt.ep_size = S * in.range(1, 3);
  opt.num_experts = opt.ep_size * in.range(1, 4) * D;
  opt.redundant_per_rank = D * in.range(1, opt.num_experts / opt.ep_size / D);
  opt.gpus_per_node = in.range(1, 16);
  std::unique_ptr<Planner> pl;
  if (!accepts([&] { pl = std::make_unique<Planner>(topo, opt); })) return 0;
  check_mapping(*pl);

  if (in.flag()) {
    std::vector<double> history(opt.num_experts);
    const int bad = in.u8() < 230 ? 0 : 8;
    for (double& h : history) h = in.value(bad);
    bool valid = true;
    double total = 0;
    for (double h : history) {
      valid = valid && std::isfinite(h) && h >= 0;
      total += h;
    }
    valid = valid && total <= 9007199254740992.0;  // documented limit: 2^53
    // Any gpus_per_node works: nodes that do not divide the groups send EPLB
    // to its global policy, as in the reference.
    const bool ok = accepts([&] { pl->update_redundancy_mapping(history); });
    LPLB_FUZZ_CHECK(
        ok == valid,
        "update_redundancy_mapping accepted=%d, expected %d (P=%lld gpus_per_node=%lld)", ok, valid,
        (long long)opt.ep_size, (long long)opt.gpus_per_node);
    check_mapping(*pl);
  }
  if (in.flag())
    fuzz_ids<int32_t>(*pl, in);
  else
    fuzz_ids<int64_t>(*pl, in);
  return 0;
}

}  // namespace lplb::fuzz::count_map
