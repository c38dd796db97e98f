// `eplb_lp`: EPLB's placement (rebalance_experts with E + R*P physical
// experts, refreshed from the history like `eplb`) plus the exact per-batch
// LP over it: EPLB's static win and a per-batch dynamic one.
#include "lplb/eplb.hpp"
#include "sim/balancer_placement.hpp"

namespace lplb::sim {
namespace {

class EplbLpBalancer final : public PlacementLpBalancer {
 public:
  using PlacementLpBalancer::PlacementLpBalancer;
  std::string name() const override { return "eplb_lp"; }
  std::string label() const override { return "EPLB + LP"; }

 protected:
  std::vector<int32_t> place(std::span<const double> history) override {
    if (history.empty()) return identity_placement(c_.num_experts);
    const int64_t replicas = c_.num_experts + c_.redundant_per_rank * c_.ep_size;
    const EplbResult r = rebalance_experts(history.data(), 1, c_.num_experts, replicas,
                                           c_.eplb_groups, c_.eplb_nodes, c_.ep_size);
    return {r.phy2log.begin(), r.phy2log.end()};
  }
};

}  // namespace

std::unique_ptr<Balancer> make_eplb_lp_balancer(const BalancerContext& context) {
  return std::make_unique<EplbLpBalancer>(context);
}

}  // namespace lplb::sim
