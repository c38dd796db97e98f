// Shared base of the balancers that run the exact per-batch LP over a replica
// placement (lplb/placement.hpp): `eplb_lp`, `lplb_lp` and `hybrid_lp`. A
// subclass only decides the placement at each refresh; per batch the LP is
// solved on the batch's counts and the loads are those the token split
// realises (largest-remainder rounding of share * T_e per replica, applied to
// the batch's total per expert; a deployment rounds per source rank, which
// moves a rank's load by less than one token per slot and source rank).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "lplb/placement.hpp"
#include "sim/balancer.hpp"
#include "sim/gpu_placement.hpp"
#include "sim/traffic.hpp"

namespace lplb::sim {

class PlacementLpBalancer : public Balancer {
 public:
  explicit PlacementLpBalancer(const BalancerContext& c) : c_(c) {}

  void refresh(std::span<const double> history) override {
    const std::vector<int32_t> phy2log = place(history);
    planner_ = std::make_unique<PlacementPlanner>(std::span<const int32_t>(phy2log),
                                                  c_.num_experts, c_.ep_size);
    if (c_.gpu) gpu_ = std::make_unique<GpuPlacementSolver>(phy2log, c_.num_experts, c_.ep_size);
    // An expert's home is the rank of its first physical slot.
    home_.assign(c_.num_experts, -1);
    for (size_t s = 0; s < phy2log.size(); ++s)
      if (home_[phy2log[s]] < 0) home_[phy2log[s]] = static_cast<int64_t>(s) / planner_->n_local();
  }

  void step(std::span<const int64_t> counts, StepLoads& out) override {
    if (!planner_) refresh({});
    PlacementSolveOutput plan;
    if (gpu_)
      gpu_->solve(counts, plan);  // shares and solve_us only
    else
      plan = planner_->solve(counts);
    const std::vector<int64_t> per_slot = planner_->slot_counts(counts, plan.shares);
    reset_step(out, c_.ep_size);
    const auto& phy2log = planner_->phy2log();
    for (size_t s = 0; s < per_slot.size(); ++s)
      serve(out, static_cast<int64_t>(s) / planner_->n_local(), home_[phy2log[s]],
            static_cast<double>(per_slot[s]), c_.gpus_per_node);
    out.solve_us = plan.solve_us;
    out.ipm_fallbacks = 0;
  }

 protected:
  // The placement for this history (empty: none yet): phy2log over
  // c_.ep_size ranks.
  virtual std::vector<int32_t> place(std::span<const double> history) = 0;

  BalancerContext c_;

 private:
  std::unique_ptr<PlacementPlanner> planner_;
  std::unique_ptr<GpuPlacementSolver> gpu_;  // with --gpu
  std::vector<int64_t> home_;  // [E] rank of each expert's first slot
};

// Identity placement without replicas: expert e on rank e / (E / P).
inline std::vector<int32_t> identity_placement(int64_t num_experts) {
  std::vector<int32_t> p(num_experts);
  for (int64_t e = 0; e < num_experts; ++e) p[e] = static_cast<int32_t>(e);
  return p;
}

}  // namespace lplb::sim
