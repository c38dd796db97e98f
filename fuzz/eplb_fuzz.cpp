// Fuzzes EPLB (rebalance_experts) with arbitrary sizes and weights. It must
// throw InvalidArgument exactly when the inputs break EPLB's
// preconditions, and otherwise return a consistent placement: every physical
// slot holds a logical expert, every expert has >= 1 replica, logcnt counts
// them, log2phy lists exactly the expert's slots (-1 padded), GPUs are full.
#include <algorithm>
#include <cfloat>

#include "fuzz_common.hpp"
#include "lplb/eplb.hpp"

namespace lplb::fuzz::eplb {

// spread_gpus: GPUs per node when spread_replicas is on, else 0.
void check_result(const lplb::EplbResult& r, int64_t L, int64_t E, int64_t N, int64_t gpus,
                  int64_t spread_gpus) {
  LPLB_FUZZ_CHECK(r.num_layers == L && r.num_logical == E && r.num_replicas == N, "sizes");
  LPLB_FUZZ_CHECK(static_cast<int64_t>(r.phy2log.size()) == L * N, "phy2log size");
  LPLB_FUZZ_CHECK(static_cast<int64_t>(r.logcnt.size()) == L * E, "logcnt size");
  LPLB_FUZZ_CHECK(static_cast<int64_t>(r.log2phy.size()) == L * E * r.max_count, "log2phy size");
  int64_t max_count = 0;
  for (int64_t l = 0; l < L; ++l) {
    std::vector<int64_t> count(E, 0);
    for (int64_t p = 0; p < N; ++p) {
      const int64_t e = r.phy2log[l * N + p];
      LPLB_FUZZ_CHECK(e >= 0 && e < E, "phy2log[%lld][%lld] = %lld", (long long)l, (long long)p,
                      (long long)e);
      ++count[e];
    }
    for (int64_t e = 0; e < E; ++e) {
      const int64_t c = r.logcnt[l * E + e];
      LPLB_FUZZ_CHECK(c >= 1 && c == count[e], "logcnt[%lld][%lld] = %lld, slots hold %lld",
                      (long long)l, (long long)e, (long long)c, (long long)count[e]);
      max_count = std::max(max_count, c);
      std::vector<char> used(N, 0);
      for (int64_t k = 0; k < r.max_count; ++k) {
        const int64_t slot = r.log2phy[(l * E + e) * r.max_count + k];
        if (k >= c) {
          LPLB_FUZZ_CHECK(slot == -1, "log2phy padding is %lld", (long long)slot);
          continue;
        }
        LPLB_FUZZ_CHECK(slot >= 0 && slot < N && !used[slot] && r.phy2log[l * N + slot] == e,
                        "log2phy[%lld][%lld][%lld] = %lld", (long long)l, (long long)e,
                        (long long)k, (long long)slot);
        used[slot] = 1;
      }
    }
    // Spread mode: with equal GPU capacities a placement with no two
    // replicas of an expert on one GPU exists iff every expert's count is at
    // most its node's GPU count (Gale-Ryser), so then it must be found.
    if (spread_gpus > 0) {
      bool possible = true;
      for (int64_t e = 0; e < E; ++e) possible = possible && count[e] <= spread_gpus;
      const int64_t per_gpu = N / gpus;
      for (int64_t g = 0; possible && g < gpus; ++g) {
        std::vector<char> held(E, 0);
        for (int64_t p = g * per_gpu; p < (g + 1) * per_gpu; ++p) {
          const int64_t e = r.phy2log[l * N + p];
          LPLB_FUZZ_CHECK(!held[e],
                          "spread_replicas: GPU %lld holds expert %lld twice (layer %lld)",
                          (long long)g, (long long)e, (long long)l);
          held[e] = 1;
        }
      }
    }
  }
  LPLB_FUZZ_CHECK(r.max_count == max_count, "max_count %lld != %lld", (long long)r.max_count,
                  (long long)max_count);
}

LPLB_FUZZ_TARGET {
  ByteReader in(data, size);
  const int64_t L = in.size(1, 3);
  const int64_t E = in.size(1, 48);
  const int64_t gpus = in.size(1, 16);
  const int64_t nodes = in.size(1, 4);
  const int64_t groups = in.size(1, 16);
  // Replicas: usually a valid multiple of gpus, sometimes anything.
  const bool gpus_small = gpus >= 1 && gpus <= 16;
  int64_t N = in.flag() || !gpus_small ? in.size(1, 160) : gpus * in.range(1, 10);
  if (gpus_small && N > 0 && N < E && E <= 300) N = gpus * ((E + gpus - 1) / gpus);
  lplb::EplbOptions options;
  options.spread_replicas = in.flag();
  const int bad_rate = in.flag() ? 0 : 64;
  const bool null_weight = in.u8() == 0xff;

  const bool small = L >= 1 && L <= 8 && E >= 1 && E <= 300 && N >= 1 && N <= 300;
  std::vector<double> weight;
  if (small) {
    weight.resize(L * E);
    const bool ties = in.flag();
    for (double& w : weight) {
      w = in.value(bad_rate);
      if (ties && std::isfinite(w)) w = std::floor(std::fmod(w, 4.0));
    }
  }
  bool weights_ok = true;
  for (double w : weight) weights_ok = weights_ok && std::isfinite(w) && w >= 0 && w <= FLT_MAX;

  // EPLB's preconditions (lplb/eplb.hpp), computed independently. Group and node
  // sizes only matter to the hierarchical policy (groups % nodes == 0); the
  // global policy, like the reference, ignores them.
  const bool hierarchical = groups > 0 && nodes > 0 && groups % nodes == 0;
  const bool sizes_ok = L > 0 && E > 0 && N >= E && groups > 0 && nodes > 0 && gpus > 0 &&
                        N % gpus == 0 && (!hierarchical || (gpus % nodes == 0 && E % groups == 0));
  if (sizes_ok && !small) return 0;  // valid but too large to run quickly
  const double* w = null_weight ? nullptr : weight.data();
  const bool ok = accepts([&] {
    const auto r = lplb::rebalance_experts(w, L, E, N, groups, nodes, gpus, options);
    const int64_t gpus_per_node = groups % nodes == 0 ? gpus / nodes : gpus;  // global policy
    check_result(r, L, E, N, gpus, options.spread_replicas ? gpus_per_node : 0);
  });
  const bool expect_ok = sizes_ok && weights_ok && !null_weight;
  LPLB_FUZZ_CHECK(ok == expect_ok,
                  "accepted=%d, expected %d: L=%lld E=%lld N=%lld groups=%lld nodes=%lld gpus=%lld",
                  ok, expect_ok, (long long)L, (long long)E, (long long)N, (long long)groups,
                  (long long)nodes, (long long)gpus);
  return 0;
}

}  // namespace lplb::fuzz::eplb
