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
#include "sim/recent_counts.hpp"
#include "sim/gpu_placement.hpp"
#include "sim/traffic.hpp"

namespace lplb::sim {

class PlacementLpBalancer : public Balancer {
 public:
  explicit PlacementLpBalancer(const BalancerContext& c) : c_(c) {}

  void refresh(std::span<const double> history) override {
    std::vector<int32_t> phy2log = place(history);
    std::vector<uint8_t> absent;
    if (planner_ && planner_->phy2log().size() == phy2log.size()) {
      absent = changed_slots(planner_->phy2log(), phy2log);
      if (absent_steps_ <= 0) absent.clear();
    }
    absent_left_ = absent.empty() ? 0 : absent_steps_;
    build(std::move(phy2log), absent);
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
    // The copies have landed: every slot serves again.
    if (absent_left_ > 0 && --absent_left_ == 0) build(planner_->phy2log(), {});
  }

  std::optional<WeightTraffic> traffic() const override { return traffic_; }

 protected:
  // The placement for this history (empty: none yet): phy2log over
  // c_.ep_size ranks.
  virtual std::vector<int32_t> place(std::span<const double> history) = 0;

  // The placement in use (empty before the first refresh).
  std::vector<int32_t> current() const {
    return planner_ ? planner_->phy2log() : std::vector<int32_t>{};
  }

  BalancerContext c_;
  // Steps a rewritten slot stays absent after a refresh (0: copies are
  // instantaneous, the full re-placement methods' model).
  int64_t absent_steps_ = 0;

 private:
  // Marks the rewritten slots (1) and counts their weight traffic.
  std::vector<uint8_t> changed_slots(const std::vector<int32_t>& before,
                                     const std::vector<int32_t>& after) {
    const int64_t n_local = planner_->n_local();
    std::vector<uint8_t> changed(after.size(), 0);
    for (size_t s = 0; s < after.size(); ++s) {
      if (before[s] == after[s]) continue;
      changed[s] = 1;
      ++traffic_.slot_changes;
      const int64_t node = static_cast<int64_t>(s) / n_local / c_.gpus_per_node;
      bool local = false;
      for (size_t t = 0; t < after.size() && !local; ++t)
        local = before[t] == after[s] && after[t] == after[s] &&
                static_cast<int64_t>(t) / n_local / c_.gpus_per_node == node;
      if (!local) ++traffic_.cross_node;
    }
    return changed;
  }

  void build(std::vector<int32_t> phy2log, const std::vector<uint8_t>& absent) {
    const std::span<const uint8_t> mask(absent);
    planner_ = std::make_unique<PlacementPlanner>(std::span<const int32_t>(phy2log),
                                                  c_.num_experts, c_.ep_size, mask);
    gpu_.reset();
    if (c_.gpu)
      gpu_ = std::make_unique<GpuPlacementSolver>(phy2log, c_.num_experts, c_.ep_size, absent);
    // An expert's home is the rank of its first physical slot.
    home_.assign(c_.num_experts, -1);
    for (size_t s = 0; s < phy2log.size(); ++s)
      if (home_[phy2log[s]] < 0) home_[phy2log[s]] = static_cast<int64_t>(s) / planner_->n_local();
  }

  std::unique_ptr<PlacementPlanner> planner_;
  std::unique_ptr<GpuPlacementSolver> gpu_;  // with --gpu
  std::vector<int64_t> home_;  // [E] rank of each expert's first slot
  int64_t absent_left_ = 0;    // steps until the rewritten slots serve again
  WeightTraffic traffic_;
};

// Identity placement without replicas: expert e on rank e / (E / P).
inline std::vector<int32_t> identity_placement(int64_t num_experts) {
  std::vector<int32_t> p(num_experts);
  for (int64_t e = 0; e < num_experts; ++e) p[e] = static_cast<int32_t>(e);
  return p;
}

// The hybrid layout (lplb/placement_design.hpp) predicted from the recent
// batches (or from `history` when there are none): hybrid_lp's placement,
// online_lp's first one (balancer_hybrid_lp.cpp).
std::vector<int32_t> hybrid_placement(const BalancerContext& c, const RecentCounts& recent,
                                      std::span<const double> history, bool node_local);

}  // namespace lplb::sim
