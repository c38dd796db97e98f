#include "sim/balancer.hpp"

#include "lplb/errors.hpp"

namespace lplb::sim {
namespace {

struct Entry {
  const char* name;
  std::unique_ptr<Balancer> (*make)(const BalancerContext&);
};

// The methods of a run, in table order.
constexpr Entry kBalancers[] = {
    {"none", &make_none_balancer},
    {"eplb", &make_eplb_balancer},
    {"lplb_ipm", &make_lplb_ipm_balancer},
    {"lplb_exact", &make_lplb_exact_balancer},
    {"lplb_moves", &make_lplb_moves_balancer},
    {"lplb_time", &make_lplb_time_balancer},
    {"eplb_lp", &make_eplb_lp_balancer},
    {"lplb_lp", &make_lplb_lp_balancer},
    {"hybrid_lp", &make_hybrid_lp_balancer},
    {"hybrid_node_lp", &make_hybrid_node_lp_balancer},
    {"online_lp", &make_online_lp_balancer},
};

std::string known_names() {
  std::string s;
  for (const Entry& e : kBalancers) s += (s.empty() ? "" : ", ") + std::string(e.name);
  return s;
}

}  // namespace

std::vector<std::string> balancer_names() {
  std::vector<std::string> names;
  for (const Entry& e : kBalancers) names.emplace_back(e.name);
  return names;
}

void validate_context(const BalancerContext& c, bool needs_lplb) {
  const int64_t E = c.num_experts, P = c.ep_size, R = c.redundant_per_rank;
  check_arg(E > 0, "--experts", "must be > 0, got " + std::to_string(E));
  check_arg(P > 0, "--ep", "must be > 0, got " + std::to_string(P));
  check_arg(E % P == 0, "--experts",
            std::to_string(E) + " is not a multiple of --ep " + std::to_string(P));
  check_arg(R >= 0, "--redundant", "must be >= 0, got " + std::to_string(R));
  check_arg(c.eplb_groups > 0 && E % c.eplb_groups == 0, "--eplb-groups",
            "must be > 0 and divide --experts " + std::to_string(E));
  check_arg(c.eplb_nodes > 0 && P % c.eplb_nodes == 0, "--eplb-nodes",
            "must be > 0 and divide --ep " + std::to_string(P));
  check_arg(c.gpus_per_node > 0, "--gpus-per-node", "must be > 0");
  if (!needs_lplb) return;
  const std::string problem = lplb_layout_problem(c);
  if (!problem.empty()) throw InvalidArgument(problem);
}

std::string lplb_layout_problem(const BalancerContext& c) {
  const int64_t E = c.num_experts, P = c.ep_size, R = c.redundant_per_rank;
  const int64_t S = c.topology.group_size(), D = c.topology.slots();
  if (P % S != 0)
    return "--ep: " + std::to_string(P) + " is not a multiple of the topology's group size " +
           std::to_string(S) + " (--topology " + c.topology.name() + ")";
  if (R <= 0) return "--redundant: LPLB needs at least one redundant expert per rank";
  if (R % D != 0)
    return "--redundant: " + std::to_string(R) +
           " is not a multiple of the topology's slots per rank " + std::to_string(D) +
           " (--topology " + c.topology.name() + ")";
  // LPLB's layout copies R of a rank's own E/P experts elsewhere; the
  // placement methods (eplb, eplb_lp, hybrid_lp, hybrid_node_lp) have no
  // such limit.
  if (R > E / P)
    return "--redundant: " + std::to_string(R) + " exceeds the experts per rank " +
           std::to_string(E / P) +
           " (LPLB's layout replicates a rank's own experts; the placement methods eplb, "
           "eplb_lp, hybrid_lp, hybrid_node_lp take any R)";
  return {};
}

std::unique_ptr<Balancer> make_balancer(std::string_view name, const BalancerContext& context) {
  for (const Entry& e : kBalancers)
    if (name == e.name) return e.make(context);
  throw InvalidArgument("--methods: unknown method '" + std::string(name) + "' (known: " +
                        known_names() + ")");
}

}  // namespace lplb::sim
