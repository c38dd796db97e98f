// Plans one batch through the installed library and checks the result.
#include <lplb/planner.hpp>

#include <cstdio>
#include <vector>

int main() {
  lplb::PlannerOptions o;
  o.num_experts = 64;
  o.ep_size = 8;
  o.redundant_per_rank = 2;
  lplb::Planner planner(lplb::Topology::named("cube"), o);
  std::vector<double> w(64, 10.0);
  w[0] = 500;
  const lplb::SolveOutput plan = planner.solve(w);
  const double before = lplb::imbalance(plan.load_before), after = lplb::imbalance(plan.load_after);
  std::printf("imbalance %.3f -> %.3f\n", before, after);
  return after < before ? 0 : 1;
}
