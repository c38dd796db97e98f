// `hybrid_lp`: a placement designed for the per-batch LP
// (lplb/placement_design.hpp) plus the exact LP over it. At each refresh the
// replica counts follow a recency-weighted prediction of the experts' loads
// (the balancer keeps the batches it has seen), replicas are packed so that
// the replica graph is well connected, and a local search tunes the placement
// on the most recent batches.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <deque>

#include "lplb/placement_design.hpp"
#include "sim/balancer_placement.hpp"

namespace lplb::sim {
namespace {

double env_or(const char* name, double fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::atof(v) : fallback;
}

class HybridLpBalancer final : public PlacementLpBalancer {
 public:
  explicit HybridLpBalancer(const BalancerContext& c)
      : PlacementLpBalancer(c),
        half_life_(env_or("LPLB_HYBRID_HALF_LIFE", 10)),
        num_samples_(static_cast<int64_t>(env_or("LPLB_HYBRID_SAMPLES", 16))),
        moves_(static_cast<int64_t>(env_or("LPLB_HYBRID_MOVES", 0))),
        keep_(static_cast<int64_t>(env_or("LPLB_HYBRID_KEEP", 100))),
        kappa_(env_or("LPLB_HYBRID_KAPPA", 1)),
        kappa_pack_(env_or("LPLB_HYBRID_KAPPA_PACK", 1)),
        tie_(env_or("LPLB_HYBRID_TIE", 0.1)) {}
  std::string name() const override { return "hybrid_lp"; }
  std::string label() const override { return "hybrid + LP"; }

  void step(std::span<const int64_t> counts, StepLoads& out) override {
    PlacementLpBalancer::step(counts, out);
    recent_.emplace_back(counts.begin(), counts.end());
    if (static_cast<int64_t>(recent_.size()) > keep_) recent_.pop_front();
  }

 protected:
  std::vector<int32_t> place(std::span<const double> history) override {
    const int64_t E = c_.num_experts;
    if (history.empty() && recent_.empty()) return identity_placement(E);
    // Prediction: exponentially weighted mean of the batches seen (newest
    // weighs most), or the history when no batch has been seen.
    std::vector<double> predicted(E, 0.0), deviation;
    if (recent_.empty()) {
      predicted.assign(history.begin(), history.end());
    } else {
      const double decay = std::pow(0.5, 1.0 / half_life_);
      double weight = 1.0;
      double weights = 0;
      for (auto it = recent_.rbegin(); it != recent_.rend(); ++it, weight *= decay) {
        for (int64_t e = 0; e < E; ++e) predicted[e] += weight * static_cast<double>((*it)[e]);
        weights += weight;
      }
      for (double& p : predicted) p /= weights;
      if (recent_.size() > 1) {  // standard deviation over all batches seen
        const double n = static_cast<double>(recent_.size());
        deviation.assign(E, 0.0);
        for (int64_t e = 0; e < E; ++e) {
          double s1 = 0, s2 = 0;
          for (const auto& b : recent_) {
            s1 += static_cast<double>(b[e]);
            s2 += static_cast<double>(b[e]) * static_cast<double>(b[e]);
          }
          deviation[e] = std::sqrt(std::max(0.0, s2 / n - (s1 / n) * (s1 / n)));
        }
      }
    }
    std::vector<double> samples;
    const int64_t k = std::min<int64_t>(num_samples_, static_cast<int64_t>(recent_.size()));
    for (int64_t j = static_cast<int64_t>(recent_.size()) - k; j < static_cast<int64_t>(recent_.size()); ++j)
      samples.insert(samples.end(), recent_[j].begin(), recent_[j].end());
    PlacementDesignOptions o;
    o.slots_per_rank = E / c_.ep_size + c_.redundant_per_rank;
    o.search_moves = moves_;
    o.tie_fraction = tie_;
    o.count_deviations = kappa_;
    o.pack_deviations = kappa_pack_;
    o.seed = ++refreshes_;
    return design_placement(predicted, deviation, c_.ep_size, samples, o).phy2log;
  }

 private:
  double half_life_;
  int64_t num_samples_, moves_, keep_;
  double kappa_, kappa_pack_, tie_;
  uint64_t refreshes_ = 0;
  std::deque<std::vector<int64_t>> recent_;
};

}  // namespace

std::unique_ptr<Balancer> make_hybrid_lp_balancer(const BalancerContext& context) {
  return std::make_unique<HybridLpBalancer>(context);
}

}  // namespace lplb::sim
