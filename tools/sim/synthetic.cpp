#include "sim/synthetic.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <thread>

#include "lplb/errors.hpp"

namespace lplb::sim {
namespace {

// Mean-reversion time of the drift, in steps: the random walk forgets its
// past over ~1000 steps, so skew neither vanishes nor grows without bound.
constexpr double kDriftTimescale = 1000.0;
// Repeats allowed before a slot is drawn exactly from the remaining experts.
constexpr int kMaxRepeats = 32;
constexpr int64_t kMaxExperts = int64_t{1} << 24;
constexpr int64_t kMaxTokensPerRank = int64_t{1} << 30;

bool finite_nonneg(double x) { return std::isfinite(x) && x >= 0; }

// Exact draw from the experts not yet chosen by this token (mark != stamp).
uint32_t draw_remaining(const std::vector<double>& weights, const std::vector<uint32_t>& mark,
                        uint32_t stamp, Rng& rng) {
  double total = 0;
  for (size_t e = 0; e < weights.size(); ++e)
    if (mark[e] != stamp) total += weights[e];
  double x = rng.uniform() * total;
  uint32_t last = 0;
  for (size_t e = 0; e < weights.size(); ++e) {
    if (mark[e] == stamp || weights[e] <= 0) continue;
    last = static_cast<uint32_t>(e);
    x -= weights[e];
    if (x < 0) return last;
  }
  return last;  // rounding left x >= 0: the last candidate
}

}  // namespace

void AliasTable::build(const std::vector<double>& weights) {
  n_ = static_cast<uint32_t>(weights.size());
  threshold_.assign(n_, 0);
  alias_.assign(n_, 0);
  const double total = std::accumulate(weights.begin(), weights.end(), 0.0);
  std::vector<double> scaled(n_);
  std::vector<uint32_t> small, large;
  for (uint32_t i = 0; i < n_; ++i) {
    scaled[i] = weights[i] / total * n_;
    (scaled[i] < 1.0 ? small : large).push_back(i);
    alias_[i] = i;
  }
  while (!small.empty() && !large.empty()) {
    const uint32_t s = small.back(), l = large.back();
    small.pop_back();
    threshold_[s] = static_cast<uint64_t>(scaled[s] * 4294967296.0);
    alias_[s] = l;
    scaled[l] -= 1.0 - scaled[s];
    if (scaled[l] < 1.0) {
      large.pop_back();
      small.push_back(l);
    }
  }
  // Leftovers are 1 up to rounding: keep them, unless their weight is zero
  // (then always take the heaviest expert instead).
  const uint32_t heaviest = static_cast<uint32_t>(
      std::max_element(weights.begin(), weights.end()) - weights.begin());
  for (auto* rest : {&small, &large})
    for (uint32_t i : *rest) {
      threshold_[i] = weights[i] > 0 ? uint64_t{1} << 32 : 0;
      alias_[i] = weights[i] > 0 ? i : heaviest;
    }
}

void sample_batch(const AliasTable& table, const std::vector<double>& weights, int64_t topk,
                  int64_t num_tokens, Rng& rng, std::vector<int64_t>& counts) {
  std::vector<uint32_t> mark(weights.size(), 0);
  for (int64_t t = 0; t < num_tokens; ++t) {
    const uint32_t stamp = static_cast<uint32_t>(t + 1);
    for (int64_t j = 0; j < topk; ++j) {
      uint32_t e = table.sample(rng);
      for (int repeats = 0; mark[e] == stamp;) {
        if (++repeats > kMaxRepeats) {
          e = draw_remaining(weights, mark, stamp, rng);
          break;
        }
        e = table.sample(rng);
      }
      mark[e] = stamp;
      ++counts[e];
    }
  }
}

SyntheticStream::SyntheticStream(SyntheticConfig config)
    : config_(std::move(config)), rng_(mix_seed(config_.seed, 0x5eed0001)) {
  const SyntheticConfig& c = config_;
  const int64_t E = c.num_experts;
  check_arg(E > 0 && E <= kMaxExperts, "--experts",
            "must be in [1, " + std::to_string(kMaxExperts) + "], got " + std::to_string(E));
  check_arg(c.topk >= 1 && c.topk <= E, "--topk",
            "must be in [1, --experts = " + std::to_string(E) + "], got " + std::to_string(c.topk));
  check_arg(c.num_ranks > 0, "--ep", "must be > 0, got " + std::to_string(c.num_ranks));
  check_arg(c.tokens_per_rank > 0 && c.tokens_per_rank <= kMaxTokensPerRank, "--tokens",
            "must be in [1, 2^30], got " + std::to_string(c.tokens_per_rank));
  check_arg(finite_nonneg(c.skew), "--skew", "must be finite and >= 0");
  check_arg(finite_nonneg(c.drift), "--drift", "must be finite and >= 0");
  check_arg(finite_nonneg(c.batch_noise), "--batch-noise", "must be finite and >= 0");
  check_arg(static_cast<double>(c.num_ranks) * static_cast<double>(c.tokens_per_rank) *
                    static_cast<double>(c.topk) < 9.0e15,
            "--tokens", "tokens per step times topk exceeds 2^53");

  if (!c.base.empty()) {
    check_arg(static_cast<int64_t>(c.base.size()) == E, "--base",
              "expected " + std::to_string(E) + " entries (one per expert), got " +
                  std::to_string(c.base.size()));
    int64_t positive = 0;
    for (size_t e = 0; e < c.base.size(); ++e) {
      check_arg(finite_nonneg(c.base[e]), "--base",
                "entry " + std::to_string(e) + " is negative or not finite");
      positive += c.base[e] > 0;
    }
    check_arg(positive >= c.topk, "--base",
              "only " + std::to_string(positive) + " experts have positive popularity, fewer than --topk = " +
                  std::to_string(c.topk));
    base_ = c.base;
  } else {
    // Zipf over a random order of the experts, so hot experts are scattered
    // over ranks as in a trained router.
    std::vector<int64_t> order(E);
    std::iota(order.begin(), order.end(), 0);
    Rng perm_rng(mix_seed(c.seed, 0x5eed0002));
    for (int64_t i = E - 1; i > 0; --i)
      std::swap(order[i], order[perm_rng.below(static_cast<uint32_t>(i + 1))]);
    base_.resize(E);
    for (int64_t k = 0; k < E; ++k)
      base_[order[k]] = std::pow(static_cast<double>(k + 1), -c.skew);
  }
  drift_.assign(E, 0.0);
  weights_ = base_;
}

void SyntheticStream::next(std::vector<int64_t>& counts) {
  const SyntheticConfig& c = config_;
  const int64_t E = c.num_experts;
  // The drift moves first (so step 0 already differs from the base only by
  // one small move), then this batch's own perturbation on top.
  const double keep = 1.0 - 1.0 / kDriftTimescale;
  for (int64_t e = 0; e < E; ++e) {
    if (c.drift > 0) drift_[e] = keep * drift_[e] + c.drift * rng_.normal();
    const double noise = c.batch_noise > 0 ? c.batch_noise * rng_.normal() : 0.0;
    weights_[e] = base_[e] * std::exp(drift_[e] + noise);
  }
  table_.build(weights_);

  // Each source rank has its own generator seeded by (seed, step, rank), so
  // the counts do not depend on how ranks are spread over threads.
  const int64_t P = c.num_ranks;
  const int workers = static_cast<int>(std::clamp<int64_t>(c.threads, 1, P));
  std::vector<std::vector<int64_t>> partial(workers, std::vector<int64_t>(E, 0));
  auto work = [&](int w) {
    for (int64_t r = w; r < P; r += workers) {
      Rng rng(mix_seed(c.seed, static_cast<uint64_t>(step_) + 1, static_cast<uint64_t>(r)));
      sample_batch(table_, weights_, c.topk, c.tokens_per_rank, rng, partial[w]);
    }
  };
  std::vector<std::thread> pool;
  for (int w = 1; w < workers; ++w) pool.emplace_back(work, w);
  work(0);
  for (auto& t : pool) t.join();

  counts.assign(E, 0);
  for (const auto& p : partial)
    for (int64_t e = 0; e < E; ++e) counts[e] += p[e];
  ++step_;
}

}  // namespace lplb::sim
