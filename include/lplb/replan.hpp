// Online re-placement with a move budget: keep a replica placement fresh by
// rewriting a few slots often instead of the whole layout rarely.
//
// Refreshing a placement copies expert weights between GPUs (a DeepSeek-V3
// expert is ~88 MB in bf16); a full re-design rewrites most slots, so
// deployments refresh rarely and the placement goes stale. replan() instead
// returns a placement that differs from the current one in at most `budget`
// slots, chosen to minimise the expected largest rank load under the exact
// per-batch placement LP (lplb/placement.hpp), plus the copies to make.
//
// Method (docs/PLACEMENT.md, "Online re-placement"): greedy, one slot per
// round. Each round solves the LP for a few scenarios drawn from the history
// (a recency-weighted mean, and a hedged one: that mean plus some standard
// deviations of each expert's per-step load, for experts whose load is
// volatile or rising), finds the ranks that bound the optimum, and tries
// giving one slot to an expert stuck on those ranks (highest load per
// replica first), taking it from an expert with >= 2 replicas on a rank with
// spare capacity (cheapest first). Every candidate is scored by the exact LP
// optimum of every scenario; the best strictly improving one is applied;
// the search stops early when none improves.
//
// Deterministic (no randomness; ties go to the lower index). Every expert
// keeps at least one slot that is not rewritten, so every received copy has
// a source that serves throughout.
//
// Thread safety: a pure function.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace lplb {

struct ReplanOptions {
  // Recency weighting of the history: a step `age` steps older than the
  // newest weighs 0.5^(age / half_life). <= 0: all steps weigh the same.
  double half_life = 10.0;
  // The hedged scenario: recency-weighted mean + hedge_deviations * the
  // per-expert standard deviation over the history (0 or a one-step
  // history: no hedged scenario).
  double hedge_deviations = 1.0;
  // Its weight in the objective (the mean scenario has what the hedged and
  // the recent ones leave).
  double hedge_weight = 0.5;
  // The newest `recent_steps` steps of the history as scenarios of their
  // own, together weighing recent_weight (the per-batch LP's expectation
  // over real batches, not only over a smoothed prediction).
  int64_t recent_steps = 8;
  double recent_weight = 0.5;
  // The noise threshold: a change is applied only if its gain exceeds
  // noise_deviations standard errors of the per-batch part of the gain (the
  // per-recent-batch changes of the LP optimum under the change: sd /
  // sqrt(n), times their weight). 0: any strict gain.
  double noise_deviations = 0.0;
  // Candidates per round: receiving experts and donor slots (pairs tried =
  // receivers * donors at most).
  int64_t receivers = 4;
  int64_t donors = 6;
  // Pairs are screened on the heaviest scenario alone; this many of the
  // best are then scored on all scenarios (24 = every pair: screening on
  // one scenario lost quality in the measurements of docs/PLACEMENT.md).
  int64_t finalists = 24;
};

struct ReplanMove {
  int64_t slot = 0;         // physical slot rewritten
  int32_t expert = 0;       // logical expert it receives
  int32_t previous = 0;     // logical expert it held
  int64_t source_rank = 0;  // rank to copy the weights from: a holder of `expert`
                            // that keeps it, on the slot's node when there is one
};

struct ReplanResult {
  std::vector<int32_t> phy2log;    // [num_physical] the new placement
  std::vector<ReplanMove> moves;   // in the order chosen, <= budget
  // The objective (scenario-weighted LP optimum / mean rank load) of the
  // input and of the result; after <= before.
  double objective_before = 0, objective_after = 0;
  int64_t evaluations = 0;         // LP objective evaluations (candidates scored)
};

// phy2log: [P * n_local] logical ids in [0, num_experts), every expert at
// least once. history: [steps][num_experts] row-major, oldest row first, the
// newest last: per-step token counts (or one row: a prediction); finite,
// >= 0. gpus_per_node: ranks r and r' share a node iff r / gpus_per_node ==
// r' / gpus_per_node (for the copy sources). budget >= 0: most slots
// rewritten (0 returns the input). Throws InvalidArgument naming the
// argument ("phy2log", "num_experts", "ep_size", "history", "steps",
// "gpus_per_node", "budget", "options").
ReplanResult replan(std::span<const int32_t> phy2log, std::span<const double> history,
                    int64_t steps, int64_t num_experts, int64_t ep_size, int64_t gpus_per_node,
                    int64_t budget, const ReplanOptions& options = {});
ReplanResult replan(std::span<const int64_t> phy2log, std::span<const double> history,
                    int64_t steps, int64_t num_experts, int64_t ep_size, int64_t gpus_per_node,
                    int64_t budget, const ReplanOptions& options = {});

}  // namespace lplb
