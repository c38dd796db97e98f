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

#include "lplb/placement_design.hpp"
#include "sim/balancer_placement.hpp"

namespace lplb::sim {
namespace {

constexpr double kHalfLife = 3.0;     // of the prediction's weights, in batches
constexpr double kCountDeviations = 2.0;
constexpr double kPackDeviations = 0.0;
constexpr double kTieFraction = 0.2;

}  // namespace

std::vector<int32_t> hybrid_placement(const BalancerContext& c, const RecentCounts& recent,
                                      std::span<const double> history, bool node_local) {
  const int64_t E = c.num_experts;
  if (history.empty() && recent.empty()) return identity_placement(E);
  std::vector<double> predicted(history.begin(), history.end()), deviation;
  if (!recent.empty()) {
    predicted = recent.weighted_mean(kHalfLife);
    deviation = recent.deviation();
  }
  PlacementDesignOptions o;
  o.slots_per_rank = E / c.ep_size + c.redundant_per_rank;
  o.tie_fraction = kTieFraction;
  o.count_deviations = kCountDeviations;
  o.pack_deviations = kPackDeviations;
  if (node_local) {
    // Nodes of gpus_per_node ranks; the EPLB baseline's expert groups when
    // they share out evenly, else single experts (finest node balance).
    o.num_nodes = std::max<int64_t>(1, c.ep_size / c.gpus_per_node);
    o.num_groups = c.eplb_groups % o.num_nodes == 0 && c.eplb_groups >= o.num_nodes
                       ? c.eplb_groups
                       : E;
    if (c.ep_size % o.num_nodes != 0 || E % o.num_nodes != 0) o.num_nodes = o.num_groups = 1;
  }
  return design_placement(predicted, deviation, c.ep_size, {}, o).phy2log;
}

namespace {

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
    recent_.push(counts);
  }

 protected:
  std::vector<int32_t> place(std::span<const double> history) override {
    return hybrid_placement(c_, recent_, history, node_local_);
  }

 private:
  bool node_local_;
  RecentCounts recent_;
};

}  // namespace

std::unique_ptr<Balancer> make_hybrid_lp_balancer(const BalancerContext& context) {
  return std::make_unique<HybridLpBalancer>(context, false);
}
std::unique_ptr<Balancer> make_hybrid_node_lp_balancer(const BalancerContext& context) {
  return std::make_unique<HybridLpBalancer>(context, true);
}

}  // namespace lplb::sim
