// The balancers compared by `lplb simulate`. Each method is one class behind
// this interface: it sees the popularity history at refresh points and one
// batch's per-expert counts per step, and returns the per-rank token loads
// that its placement and token split realise. To add a method, write a class
// in its own file and add one line to the table in balancer.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lplb/objective.hpp"
#include "lplb/topology.hpp"

namespace lplb::sim {

// The MoE layer every balancer of one run serves.
struct BalancerContext {
  int64_t num_experts = 256;        // E logical experts
  int64_t ep_size = 32;             // P ranks
  int64_t redundant_per_rank = 2;   // R extra physical experts per rank
  Topology topology = Topology::named("cube");  // LPLB redundancy topology
  int64_t gpus_per_node = 8;        // LPLB's EPLB reorder (update_redundancy_mapping)
  int64_t eplb_groups = 1;          // EPLB baseline: expert groups (1: global policy)
  int64_t eplb_nodes = 1;           // EPLB baseline: nodes
  CostModel cost_model;             // lplb_time's objective (lplb/objective.hpp)
  // The placement LP methods (eplb_lp, lplb_lp, hybrid_lp) solve through
  // CudaPlacementPlanner instead of the CPU planner (sim/gpu_placement.hpp).
  bool gpu = false;
  // online_lp: slots rewritten per refresh (lplb::replan's budget), and the
  // steps a rewritten slot cannot serve while its weights are copied.
  int64_t move_budget = 4;
  int64_t move_steps = 1;
};

// Expert weights copied by placement refreshes, cumulative: slots whose
// expert changed, and those of them with no holder of the new expert (one
// that keeps it) on the slot's node. A method's first placement (the
// initial deployment) is not counted.
struct WeightTraffic {
  int64_t slot_changes = 0;
  int64_t cross_node = 0;
};

struct StepLoads {
  std::vector<double> rank_loads;  // [P] tokens per rank (integers as doubles)
  double solve_us = 0;             // time spent deciding this batch's split
  int ipm_fallbacks = 0;           // LPLB-IPM groups that fell back to 0.5
  // Modelled time (filled through sim/traffic.hpp): per rank, the physical
  // experts that received tokens ([P], for the modelled time); tokens served
  // on another rank than their expert's home (its first physical slot), and
  // the part of those on another node (gpus_per_node consecutive ranks).
  std::vector<int32_t> active_experts;
  double tokens_moved = 0;
  double tokens_cross_node = 0;
};

class Balancer {
 public:
  virtual ~Balancer() = default;
  // JSON key and table label, e.g. "lplb_exact" / "LPLB (exact)".
  virtual std::string name() const = 0;
  virtual std::string label() const = 0;
  // New placement from history[E] (token counts summed over the last window
  // of steps); empty history means none yet: identity placement.
  virtual void refresh(std::span<const double> history) = 0;
  // Per-rank loads for one batch, counts[E] >= 0. Loads sum to sum(counts).
  virtual void step(std::span<const int64_t> counts, StepLoads& out) = 0;
  // The weight traffic of the refreshes so far, or nothing for methods that
  // do not count it (LPLB's own layout, eplb).
  virtual std::optional<WeightTraffic> traffic() const { return std::nullopt; }
};

// Known methods, in table order: none, eplb, lplb_ipm, lplb_exact, lplb_moves,
// lplb_time, eplb_lp, lplb_lp, hybrid_lp, hybrid_node_lp, online_lp.
std::vector<std::string> balancer_names();

// Throws InvalidArgument naming the CLI flag when the sizes do not fit
// (--experts, --ep, --redundant, --topology, --eplb-groups, ...).
void validate_context(const BalancerContext& context, bool needs_lplb);

// Why LPLB's own layout (the lplb_* methods) cannot be built for these sizes
// ("--flag: reason"), or "" when it can.
std::string lplb_layout_problem(const BalancerContext& context);

// Throws InvalidArgument("--methods: ...") for an unknown name.
std::unique_ptr<Balancer> make_balancer(std::string_view name, const BalancerContext& context);

// One factory per method (each defined in its own file).
std::unique_ptr<Balancer> make_none_balancer(const BalancerContext& context);
std::unique_ptr<Balancer> make_eplb_balancer(const BalancerContext& context);
std::unique_ptr<Balancer> make_lplb_ipm_balancer(const BalancerContext& context);
std::unique_ptr<Balancer> make_lplb_exact_balancer(const BalancerContext& context);
// Fewest moves (lplb/objective.hpp): LPLB exact with the fewest token moves at
// the optimum, and LPLB minimising the modelled time (then the moves).
std::unique_ptr<Balancer> make_lplb_moves_balancer(const BalancerContext& context);
std::unique_ptr<Balancer> make_lplb_time_balancer(const BalancerContext& context);
// Exact per-batch LP over a replica placement (lplb/placement.hpp, docs/PLACEMENT.md).
std::unique_ptr<Balancer> make_eplb_lp_balancer(const BalancerContext& context);
std::unique_ptr<Balancer> make_lplb_lp_balancer(const BalancerContext& context);
std::unique_ptr<Balancer> make_hybrid_lp_balancer(const BalancerContext& context);
std::unique_ptr<Balancer> make_hybrid_node_lp_balancer(const BalancerContext& context);
// Online re-placement (lplb/replan.hpp): the hybrid layout once, then at most
// move_budget slots rewritten per refresh, plus the exact LP.
std::unique_ptr<Balancer> make_online_lp_balancer(const BalancerContext& context);

}  // namespace lplb::sim
