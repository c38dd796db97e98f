// `none`: identity placement, no redundancy. Expert e lives on rank e / (E/P).
#include "sim/balancer.hpp"

namespace lplb::sim {
namespace {

class NoneBalancer final : public Balancer {
 public:
  explicit NoneBalancer(const BalancerContext& c)
      : ranks_(c.ep_size), per_rank_(c.num_experts / c.ep_size) {}
  std::string name() const override { return "none"; }
  std::string label() const override { return "none"; }
  void refresh(std::span<const double>) override {}
  void step(std::span<const int64_t> counts, StepLoads& out) override {
    out.rank_loads.assign(ranks_, 0.0);
    out.solve_us = 0;
    out.ipm_fallbacks = 0;
    for (size_t e = 0; e < counts.size(); ++e)
      out.rank_loads[e / per_rank_] += static_cast<double>(counts[e]);
  }

 private:
  int64_t ranks_, per_rank_;
};

}  // namespace

std::unique_ptr<Balancer> make_none_balancer(const BalancerContext& context) {
  return std::make_unique<NoneBalancer>(context);
}

}  // namespace lplb::sim
