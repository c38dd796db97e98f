// The synthetic routing stream of `lplb simulate`: a skewed expert popularity
// that drifts slowly, a per-batch perturbation (batches differ in content, so
// their routing differs by more than sampling noise; the recorded traces show
// a per-batch log-popularity spread of about 0.3-0.6), and per-token sampling
// where every token picks `topk` distinct experts.
#pragma once

#include <cstdint>
#include <vector>

#include "sim/rng.hpp"

namespace lplb::sim {

struct SyntheticConfig {
  int64_t num_experts = 256;      // E
  int64_t topk = 8;               // distinct experts per token
  int64_t num_ranks = 32;         // P: tokens are sampled per source rank
  int64_t tokens_per_rank = 4096; // tokens each rank routes per step
  double skew = 0.4;              // Zipf exponent of the base popularity (0: uniform)
  double drift = 0.02;            // per-step sd of the log-popularity random walk
  double batch_noise = 0.3;       // sd of each batch's log-popularity perturbation
  uint64_t seed = 0;
  std::vector<double> base;       // optional measured popularity [E]; replaces Zipf
  int threads = 1;                // workers for sampling; results do not depend on it
};

// Vose's alias table: O(1) draws from a discrete distribution.
class AliasTable {
 public:
  // weights: finite, >= 0, positive sum.
  void build(const std::vector<double>& weights);
  uint32_t sample(Rng& rng) const {
    const uint64_t u = rng.next();
    const uint32_t i = static_cast<uint32_t>(((u >> 32) * n_) >> 32);
    return (u & 0xffffffffULL) < threshold_[i] ? i : alias_[i];
  }
  uint32_t size() const { return n_; }

 private:
  uint32_t n_ = 0;
  std::vector<uint64_t> threshold_;  // keep i when the low 32 bits are below this
  std::vector<uint32_t> alias_;
};

// Samples the counts of one batch: `num_tokens` tokens, each choosing `topk`
// distinct experts by sequential sampling without replacement from
// `weights` (an alias draw, redrawn on a repeat; after many repeats an exact
// draw from the remaining experts, so any skew terminates). Needs at least
// `topk` experts with positive weight. Adds into counts[E].
void sample_batch(const AliasTable& table, const std::vector<double>& weights, int64_t topk,
                  int64_t num_tokens, Rng& rng, std::vector<int64_t>& counts);

class SyntheticStream {
 public:
  // Validates; throws InvalidArgument naming the CLI flag (--experts, --topk, ...).
  explicit SyntheticStream(SyntheticConfig config);

  // Advances one step; counts[E] = token-expert choices per expert, summing
  // to num_ranks * tokens_per_rank * topk.
  void next(std::vector<int64_t>& counts);

  const SyntheticConfig& config() const { return config_; }
  // The popularity the last batch was sampled from (unnormalised, [E]).
  const std::vector<double>& batch_popularity() const { return weights_; }
  int64_t steps_done() const { return step_; }

 private:
  SyntheticConfig config_;
  std::vector<double> base_;     // [E] static popularity
  std::vector<double> drift_;    // [E] log-popularity random walk
  std::vector<double> weights_;  // [E] this batch's popularity
  AliasTable table_;
  Rng rng_;                      // drift and batch noise
  int64_t step_ = 0;
};

}  // namespace lplb::sim
