// How the balancers fill StepLoads (the cost model's inputs): every expert's tokens on the
// rank that serves them, counted once per replica, with the active experts
// and the traffic off the expert's home rank that this implies.
#pragma once

#include <cstdint>

#include "lplb/objective.hpp"
#include "sim/balancer.hpp"

namespace lplb::sim {

// Zero loads, active counts and traffic for P ranks (keeps solve_us).
inline void reset_step(StepLoads& out, int64_t P) {
  out.rank_loads.assign(P, 0.0);
  out.active_experts.assign(P, 0);
  out.tokens_moved = 0;
  out.tokens_cross_node = 0;
}

// `tokens` of one expert served by one of its replicas on `rank`; `home` is
// the rank of the expert's first physical slot. A replica with no tokens is
// idle: it adds nothing.
inline void serve(StepLoads& out, int64_t rank, int64_t home, double tokens,
                  int64_t gpus_per_node) {
  if (!(tokens > 0)) return;
  out.rank_loads[rank] += tokens;
  ++out.active_experts[rank];
  if (rank == home) return;
  out.tokens_moved += tokens;
  if (rank / gpus_per_node != home / gpus_per_node) out.tokens_cross_node += tokens;
}

// The slowest rank's modelled GEMM time (us) of one step.
inline double max_modelled_time(const CostModel& model, const StepLoads& loads) {
  double best = 0;
  for (size_t r = 0; r < loads.rank_loads.size(); ++r) {
    const double active = r < loads.active_experts.size() ? loads.active_experts[r] : 0.0;
    const double t = model.time_us(static_cast<int64_t>(r), loads.rank_loads[r], active);
    best = r == 0 || t > best ? t : best;
  }
  return best;
}

}  // namespace lplb::sim
