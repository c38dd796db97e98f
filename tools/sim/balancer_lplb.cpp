// `lplb_ipm` / `lplb_exact` / `lplb_moves` / `lplb_time`: the LPLB planner
// (the last two with a fewest-moves objective: fewest moves at the optimum; the
// modelled time of BalancerContext::cost_model, then fewest moves). At each refresh the redundancy
// mapping is rebuilt from the history; per batch the group LPs are solved on
// the batch's counts and the loads are those the token split realises:
// round(p * T_e) of expert e's T_e tokens stay on its original rank, the rest
// go to its copy (the rule Planner::map applies). The rounding is applied to
// the batch's total per expert; a deployment rounds per source rank, which
// moves each rank's load by at most half a token per block and source rank.
#include <string>
#include <utility>

#include "lplb/planner.hpp"
#include "sim/balancer.hpp"
#include "sim/traffic.hpp"

namespace lplb::sim {
namespace {

class LplbBalancer final : public Balancer {
 public:
  LplbBalancer(const BalancerContext& c, SolverKind solver, const Objective& objective,
               std::string name, std::string label)
      : planner_(c.topology, options(c, solver, objective)),
        name_(std::move(name)),
        label_(std::move(label)) {
    index_mapping();
  }
  std::string name() const override { return name_; }
  std::string label() const override { return label_; }

  void refresh(std::span<const double> history) override {
    planner_.update_redundancy_mapping(history);
    index_mapping();
  }

  void step(std::span<const int64_t> counts, StepLoads& out) override {
    const SolveOutput plan = planner_.solve(counts);
    out.solve_us = plan.solve_us;
    out.ipm_fallbacks = plan.ipm_fallbacks;
    reset_step(out, planner_.options().ep_size);
    const int64_t gpus_per_node = planner_.options().gpus_per_node;
    for (size_t e = 0; e < counts.size(); ++e) {
      const int64_t total = counts[e];
      int64_t kept = total;
      if (copy_rank_[e] >= 0) {
        const double q = plan.probs[prob_index_[e]];
        const double p = q >= 0.0 ? (q <= 1.0 ? q : 1.0) : (q < 0.0 ? 0.0 : 1.0);  // NaN: 1
        kept = static_cast<int64_t>(p * static_cast<double>(total) + 0.5);
        serve(out, copy_rank_[e], rank_[e], static_cast<double>(total - kept), gpus_per_node);
      }
      serve(out, rank_[e], rank_[e], static_cast<double>(kept), gpus_per_node);
    }
  }

 private:
  static PlannerOptions options(const BalancerContext& c, SolverKind solver,
                                const Objective& objective) {
    PlannerOptions o;
    o.objective = objective;
    o.num_experts = c.num_experts;
    o.ep_size = c.ep_size;
    o.redundant_per_rank = c.redundant_per_rank;
    o.gpus_per_node = c.gpus_per_node;
    o.solver = solver;
    return o;
  }

  // Per expert: its original's rank, its copy's rank (-1 without one) and
  // the probs entry of the block that holds its original.
  void index_mapping() {
    const Mapping& m = planner_.mapping();
    const int64_t E = planner_.options().num_experts, n_local = planner_.n_local();
    const int64_t D = planner_.topology().slots();
    rank_.assign(E, 0);
    copy_rank_.assign(E, -1);
    prob_index_.assign(E, -1);
    for (int64_t e = 0; e < E; ++e) {
      const int32_t slot = m.log2phy[e * 2];
      rank_[e] = static_cast<int32_t>(slot / n_local);
      if (m.logcnt[e] < 2) continue;
      copy_rank_[e] = static_cast<int32_t>(m.log2phy[e * 2 + 1] / n_local);
      prob_index_[e] = static_cast<int32_t>(rank_[e] * D + (slot % n_local) % D);
    }
  }

  Planner planner_;
  std::string name_, label_;
  std::vector<int32_t> rank_, copy_rank_, prob_index_;
};

}  // namespace

std::unique_ptr<Balancer> make_lplb_ipm_balancer(const BalancerContext& context) {
  return std::make_unique<LplbBalancer>(context, SolverKind::kIpm, Objective{}, "lplb_ipm",
                                        "LPLB (IPM)");
}
std::unique_ptr<Balancer> make_lplb_exact_balancer(const BalancerContext& context) {
  return std::make_unique<LplbBalancer>(context, SolverKind::kExact, Objective{}, "lplb_exact",
                                        "LPLB (exact)");
}
std::unique_ptr<Balancer> make_lplb_moves_balancer(const BalancerContext& context) {
  Objective o;
  o.min_moves = true;
  return std::make_unique<LplbBalancer>(context, SolverKind::kExact, o, "lplb_moves",
                                        "LPLB (exact, min moves)");
}
std::unique_ptr<Balancer> make_lplb_time_balancer(const BalancerContext& context) {
  Objective o;
  o.kind = ObjectiveKind::kTime;
  o.model = context.cost_model;
  o.min_moves = true;
  return std::make_unique<LplbBalancer>(context, SolverKind::kExact, o, "lplb_time",
                                        "LPLB (time, min moves)");
}

}  // namespace lplb::sim
