// `online_lp`: online re-placement (lplb/replan.hpp) plus the exact per-batch
// LP. The first placement is the hybrid layout (the initial deployment);
// every later refresh rewrites at most BalancerContext::move_budget slots,
// chosen by lplb::replan from the last 100 batches, and the rewritten slots
// serve nothing for move_steps steps while their weights are copied.
#include "lplb/replan.hpp"
#include "sim/balancer_placement.hpp"

namespace lplb::sim {
namespace {

class OnlineLpBalancer final : public PlacementLpBalancer {
 public:
  explicit OnlineLpBalancer(const BalancerContext& c) : PlacementLpBalancer(c) {
    absent_steps_ = c.move_steps;
  }
  std::string name() const override { return "online_lp"; }
  std::string label() const override { return "online + LP"; }

  void step(std::span<const int64_t> counts, StepLoads& out) override {
    PlacementLpBalancer::step(counts, out);
    recent_.push(counts);
  }

 protected:
  std::vector<int32_t> place(std::span<const double> history) override {
    const int64_t slots = c_.num_experts + c_.redundant_per_rank * c_.ep_size;
    std::vector<int32_t> now = current();
    if (static_cast<int64_t>(now.size()) != slots || recent_.empty())
      return hybrid_placement(c_, recent_, history, false);
    const std::vector<double> rows = recent_.rows();
    return replan(now, rows, recent_.size(), c_.num_experts, c_.ep_size, c_.gpus_per_node,
                  c_.move_budget)
        .phy2log;
  }

 private:
  RecentCounts recent_;
};

}  // namespace

std::unique_ptr<Balancer> make_online_lp_balancer(const BalancerContext& context) {
  return std::make_unique<OnlineLpBalancer>(context);
}

}  // namespace lplb::sim
