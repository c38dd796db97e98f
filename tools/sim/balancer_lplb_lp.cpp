// `lplb_lp`: LPLB's layout (the topology's redundancy mapping, refreshed from
// the history like `lplb_exact`) with the per-expert LP of lplb/placement.hpp:
// no fraction shared by the C experts of a block. With C = 1 it equals
// `lplb_exact` up to the token rounding.
#include "lplb/planner.hpp"
#include "sim/balancer_placement.hpp"

namespace lplb::sim {
namespace {

class LplbLpBalancer final : public PlacementLpBalancer {
 public:
  explicit LplbLpBalancer(const BalancerContext& c)
      : PlacementLpBalancer(c), planner_(c.topology, options(c)) {}
  std::string name() const override { return "lplb_lp"; }
  std::string label() const override { return "LPLB layout + LP"; }

 protected:
  std::vector<int32_t> place(std::span<const double> history) override {
    return planner_.update_redundancy_mapping(history).phy2log;
  }

 private:
  static PlannerOptions options(const BalancerContext& c) {
    PlannerOptions o;
    o.num_experts = c.num_experts;
    o.ep_size = c.ep_size;
    o.redundant_per_rank = c.redundant_per_rank;
    o.gpus_per_node = c.gpus_per_node;
    return o;
  }

  Planner planner_;
};

}  // namespace

std::unique_ptr<Balancer> make_lplb_lp_balancer(const BalancerContext& context) {
  return std::make_unique<LplbLpBalancer>(context);
}

}  // namespace lplb::sim
