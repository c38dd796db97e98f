// `eplb`: static replication (deepseek-ai/EPLB). At each refresh the history
// is packed into E + R*P physical experts; per batch, an expert's tokens are
// split evenly over its replicas (the first T % n replicas take one more).
#include <chrono>

#include "lplb/eplb.hpp"
#include "sim/balancer.hpp"
#include "sim/traffic.hpp"

namespace lplb::sim {
namespace {

class EplbBalancer final : public Balancer {
 public:
  explicit EplbBalancer(const BalancerContext& c) : c_(c) { refresh({}); }
  std::string name() const override { return "eplb"; }
  std::string label() const override { return "EPLB"; }

  void refresh(std::span<const double> history) override {
    const int64_t E = c_.num_experts, P = c_.ep_size;
    offset_.assign(E + 1, 0);
    rank_.clear();
    if (history.empty()) {  // identity placement, no replicas
      for (int64_t e = 0; e < E; ++e) {
        offset_[e + 1] = e + 1;
        rank_.push_back(static_cast<int32_t>(e / (E / P)));
      }
      return;
    }
    const int64_t replicas = E + c_.redundant_per_rank * P;
    const EplbResult r = rebalance_experts(history.data(), 1, E, replicas, c_.eplb_groups,
                                           c_.eplb_nodes, P);
    const int64_t per_rank = replicas / P;
    for (int64_t e = 0; e < E; ++e) {
      for (int64_t k = 0; k < r.logcnt[e]; ++k)
        rank_.push_back(static_cast<int32_t>(r.log2phy[e * r.max_count + k] / per_rank));
      offset_[e + 1] = static_cast<int64_t>(rank_.size());
    }
  }

  void step(std::span<const int64_t> counts, StepLoads& out) override {
    reset_step(out, c_.ep_size);
    out.solve_us = 0;  // nothing to decide per batch
    out.ipm_fallbacks = 0;
    for (size_t e = 0; e < counts.size(); ++e) {
      const int64_t n = offset_[e + 1] - offset_[e];
      const int64_t share = counts[e] / n, extra = counts[e] % n;
      for (int64_t k = 0; k < n; ++k)  // home: the replica listed first
        serve(out, rank_[offset_[e] + k], rank_[offset_[e]],
              static_cast<double>(share + (k < extra)), c_.gpus_per_node);
    }
  }

 private:
  BalancerContext c_;
  std::vector<int64_t> offset_;  // [E + 1]: expert e's replicas are rank_[offset_[e], offset_[e+1])
  std::vector<int32_t> rank_;    // rank of each replica
};

}  // namespace

std::unique_ptr<Balancer> make_eplb_balancer(const BalancerContext& context) {
  return std::make_unique<EplbBalancer>(context);
}

}  // namespace lplb::sim
