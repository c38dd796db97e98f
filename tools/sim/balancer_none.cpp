// `none`: identity placement, no redundancy. Expert e lives on rank e / (E/P).
#include "sim/balancer.hpp"
#include "sim/traffic.hpp"

namespace lplb::sim {
namespace {

class NoneBalancer final : public Balancer {
 public:
  explicit NoneBalancer(const BalancerContext& c)
      : ranks_(c.ep_size), per_rank_(c.num_experts / c.ep_size), gpus_per_node_(c.gpus_per_node) {}
  std::string name() const override { return "none"; }
  std::string label() const override { return "none"; }
  void refresh(std::span<const double>) override {}
  void step(std::span<const int64_t> counts, StepLoads& out) override {
    reset_step(out, ranks_);
    out.solve_us = 0;
    out.ipm_fallbacks = 0;
    for (size_t e = 0; e < counts.size(); ++e) {
      const int64_t rank = static_cast<int64_t>(e) / per_rank_;
      serve(out, rank, rank, static_cast<double>(counts[e]), gpus_per_node_);
    }
  }

 private:
  int64_t ranks_, per_rank_, gpus_per_node_;
};

}  // namespace

std::unique_ptr<Balancer> make_none_balancer(const BalancerContext& context) {
  return std::make_unique<NoneBalancer>(context);
}

}  // namespace lplb::sim
