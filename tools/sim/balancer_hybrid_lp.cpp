// `hybrid_lp`: a placement designed for the per-batch LP
// (lplb/placement_design.hpp) plus the exact LP over it. The balancer keeps
// the last 100 batches it has seen; at each refresh
//  - the predicted load is their exponentially weighted mean (half-life 3
//    batches: skew drifts, so recent batches predict the next ones best),
//  - the deviation is each expert's standard deviation over all of them
//    (which experts burst is persistent even when their mean is not),
//  - replica counts follow predicted + 2 deviations (bursty experts get the
//    copies), packing balances the predicted load with every rank holding a
//    fair share of copies, spread so that the replica graph is well
//    connected (tie_fraction 0.2).
// The constants were chosen on trace steps disjoint from the ones
// bench/RESULTS.md reports (see docs/PLACEMENT.md).
#include <algorithm>
#include <cmath>
#include <deque>

#include "lplb/placement_design.hpp"
#include "sim/balancer_placement.hpp"

namespace lplb::sim {
namespace {

constexpr int64_t kKeep = 100;        // batches remembered
constexpr double kHalfLife = 3.0;     // of the prediction's weights, in batches
constexpr double kCountDeviations = 2.0;
constexpr double kPackDeviations = 0.0;
constexpr double kTieFraction = 0.2;

class HybridLpBalancer final : public PlacementLpBalancer {
 public:
  HybridLpBalancer(const BalancerContext& c, bool node_local)
      : PlacementLpBalancer(c), node_local_(node_local) {}
  std::string name() const override { return node_local_ ? "hybrid_node_lp" : "hybrid_lp"; }
  std::string label() const override {
    return node_local_ ? "hybrid node-local + LP" : "hybrid + LP";
  }

  void step(std::span<const int64_t> counts, StepLoads& out) override {
    PlacementLpBalancer::step(counts, out);
    recent_.emplace_back(counts.begin(), counts.end());
    if (static_cast<int64_t>(recent_.size()) > kKeep) recent_.pop_front();
  }

 protected:
  std::vector<int32_t> place(std::span<const double> history) override {
    const int64_t E = c_.num_experts;
    if (history.empty() && recent_.empty()) return identity_placement(E);
    std::vector<double> predicted(history.begin(), history.end()), deviation;
    if (!recent_.empty()) predict(predicted, deviation);
    PlacementDesignOptions o;
    o.slots_per_rank = E / c_.ep_size + c_.redundant_per_rank;
    o.tie_fraction = kTieFraction;
    o.count_deviations = kCountDeviations;
    o.pack_deviations = kPackDeviations;
    if (node_local_) {
      // Nodes of gpus_per_node ranks; the EPLB baseline's expert groups when
      // they share out evenly, else single experts (finest node balance).
      o.num_nodes = std::max<int64_t>(1, c_.ep_size / c_.gpus_per_node);
      o.num_groups = c_.eplb_groups % o.num_nodes == 0 && c_.eplb_groups >= o.num_nodes
                         ? c_.eplb_groups
                         : E;
      if (c_.ep_size % o.num_nodes != 0 || E % o.num_nodes != 0) o.num_nodes = o.num_groups = 1;
    }
    return design_placement(predicted, deviation, c_.ep_size, {}, o).phy2log;
  }

 private:
  // Exponentially weighted mean (newest first) and plain standard deviation.
  void predict(std::vector<double>& mean, std::vector<double>& deviation) const {
    const int64_t E = c_.num_experts;
    const double decay = std::pow(0.5, 1.0 / kHalfLife);
    mean.assign(E, 0.0);
    double weight = 1.0, weights = 0.0;
    for (auto it = recent_.rbegin(); it != recent_.rend(); ++it, weight *= decay) {
      for (int64_t e = 0; e < E; ++e) mean[e] += weight * static_cast<double>((*it)[e]);
      weights += weight;
    }
    for (double& m : mean) m /= weights;
    const double n = static_cast<double>(recent_.size());
    deviation.assign(E, 0.0);
    for (int64_t e = 0; e < E; ++e) {
      double s1 = 0, s2 = 0;
      for (const auto& b : recent_) {
        const double x = static_cast<double>(b[e]);
        s1 += x;
        s2 += x * x;
      }
      deviation[e] = std::sqrt(std::max(0.0, s2 / n - (s1 / n) * (s1 / n)));
    }
  }

  bool node_local_;
  std::deque<std::vector<int64_t>> recent_;
};

}  // namespace

std::unique_ptr<Balancer> make_hybrid_lp_balancer(const BalancerContext& context) {
  return std::make_unique<HybridLpBalancer>(context, false);
}
std::unique_ptr<Balancer> make_hybrid_node_lp_balancer(const BalancerContext& context) {
  return std::make_unique<HybridLpBalancer>(context, true);
}

}  // namespace lplb::sim
