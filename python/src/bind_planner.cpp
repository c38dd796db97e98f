// Registrations for lplb::Planner and its SolveOutput. The Python layer
// (lplb/planner.py) allocates outputs, flattens and converts inputs, and
// offers the reference's API on top of these.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>

#include <optional>
#include <string>
#include <tuple>

#include "bindings.hpp"
#include "glue_planner.hpp"
#include "lplb/objective.hpp"
#include "lplb/planner.hpp"

namespace lplb::python {

using namespace nb::literals;

namespace {

using Release = nb::call_guard<nb::gil_scoped_release>;

template <typename T>
nb::ndarray<nb::numpy, T> copy_1d(const std::vector<T>& v) {
  return to_numpy(v, {v.size()});
}

template <typename Id>
void def_id_overloads(nb::class_<Planner>& c) {
  c.def(
      "count",
      [](const Planner& p, HostIn<Id> ids, HostOut<int32_t> counts, HostOut<int32_t> by_chunk,
         int64_t n_chunks, int64_t align) {
        count_by_chunks<Id>(p, span_of(ids), n_chunks, align, span_of(counts), span_of(by_chunk));
      },
      "ids"_a, "counts"_a, "by_chunk"_a, "n_chunks"_a, "align"_a = 256, Release(),
      "ids: int32/int64 [N] in [-1, E). Writes counts int32 [E] and by_chunk int32 "
      "[n_chunks * E], the inclusive per-chunk prefix of the counts.");
  c.def(
      "map",
      [](const Planner& p, HostIn<Id> ids, HostIn<float> probs, HostOut<Id> out) {
        map_into<Id, float>(p, span_of(ids), span_of(probs), span_of(out));
      },
      "ids"_a, "probs"_a, "out"_a, Release());
  c.def(
      "map",
      [](const Planner& p, HostIn<Id> ids, HostIn<double> probs, HostOut<Id> out) {
        map_into<Id, double>(p, span_of(ids), span_of(probs), span_of(out));
      },
      "ids"_a, "probs"_a, "out"_a, Release(),
      "ids: int32/int64 [N] in [-1, E); probs: float32/float64 [P * D]. Writes physical ids "
      "[N] (same dtype as ids, -1 kept) into out.");
}

template <typename Prob>
void def_solve_into(nb::class_<Planner>& c) {
  c.def(
      "solve_into",
      [](const Planner& p, HostIn<double> workload, HostOut<Prob> probs) {
        return solve_into<Prob>(p, span_of(workload), span_of(probs));
      },
      "workload"_a, "probs"_a, Release(),
      "workload: float64 [E], finite and >= 0. Writes probs [P * D] and returns the number "
      "of groups solved to a feasible point (IPM fallbacks excluded).");
}

}  // namespace

void bind_planner(nb::module_& m) {
  nb::class_<SolveOutput>(m, "SolveOutput", "Result of Planner.solve.")
      .def_prop_ro(
          "probs", [](const SolveOutput& s) { return copy_1d(s.probs); }, nb::rv_policy::move,
          "float64 [n_group * S * D]: share of each block kept on its original rank.")
      .def_prop_ro(
          "load_before", [](const SolveOutput& s) { return copy_1d(s.load_before); }, nb::rv_policy::move,
          "float64 [P]: per-rank load with every token on its original rank.")
      .def_prop_ro(
          "load_after", [](const SolveOutput& s) { return copy_1d(s.load_after); }, nb::rv_policy::move,
          "float64 [P]: per-rank load with probs applied.")
      .def_ro("solve_us", &SolveOutput::solve_us, "Wall time of the LPs in microseconds.")
      .def_ro("ipm_fallbacks", &SolveOutput::ipm_fallbacks,
              "Groups where the IPM failed its convergence test and fell back to 0.5.")
      .def_ro("tokens_moved", &SolveOutput::tokens_moved,
              "Tokens sent to a copy instead of their expert's original rank.")
      .def_ro("tokens_cross_node", &SolveOutput::tokens_cross_node,
              "The part of tokens_moved whose copy is on another node (gpus_per_node ranks).")
      .def_prop_ro(
          "time_before", [](const SolveOutput& s) { return copy_1d(s.time_before); },
          nb::rv_policy::move, "float64 [P]: modelled GEMM time (us), all tokens on their original rank.")
      .def_prop_ro(
          "time_after", [](const SolveOutput& s) { return copy_1d(s.time_after); },
          nb::rv_policy::move, "float64 [P]: modelled GEMM time (us) with probs applied.");

  nb::class_<Planner> c(m, "Planner", "The CPU planner (lplb::Planner).");
  c.def(
       "__init__",
       [](Planner* self, const Topology& topology, int64_t num_experts, int64_t ep_size,
          int64_t redundant_per_rank, int64_t gpus_per_node, const std::string& solver,
          const std::string& objective, std::optional<CostModel> cost_model, bool min_moves,
          double move_tolerance) {
         PlannerOptions o;
         o.num_experts = num_experts;
         o.ep_size = ep_size;
         o.redundant_per_rank = redundant_per_rank;
         o.gpus_per_node = gpus_per_node;
         o.solver = parse_solver(solver);
         o.objective.kind = parse_objective(objective);
         if (cost_model) o.objective.model = *cost_model;
         o.objective.min_moves = min_moves;
         o.objective.move_tolerance = move_tolerance;
         new (self) Planner(topology, o);
       },
       "topology"_a, "num_experts"_a, "ep_size"_a, "redundant_per_rank"_a,
       "gpus_per_node"_a = 8, "solver"_a = "exact", "objective"_a = "tokens",
       "cost_model"_a = nb::none(), "min_moves"_a = false, "move_tolerance"_a = 0.0,
       "objective: 'tokens' or 'time'; cost_model: None (the default CostModel) or a "
       "CostModel; min_moves, move_tolerance: the secondary objective (lplb/objective.hpp).")
      .def_prop_ro("topology", &Planner::topology)
      .def_prop_ro("num_experts", [](const Planner& p) { return p.options().num_experts; })
      .def_prop_ro("ep_size", [](const Planner& p) { return p.options().ep_size; })
      .def_prop_ro("redundant_per_rank",
                   [](const Planner& p) { return p.options().redundant_per_rank; })
      .def_prop_ro("gpus_per_node", [](const Planner& p) { return p.options().gpus_per_node; })
      .def_prop_ro("solver", [](const Planner& p) { return std::string(solver_name(p.options().solver)); })
      .def_prop_ro("objective",
                   [](const Planner& p) { return std::string(objective_name(p.options().objective.kind)); })
      .def_prop_ro("cost_model", [](const Planner& p) { return p.options().objective.model; })
      .def_prop_ro("min_moves", [](const Planner& p) { return p.options().objective.min_moves; })
      .def_prop_ro("move_tolerance",
                   [](const Planner& p) { return p.options().objective.move_tolerance; })
      .def_prop_ro("num_groups", &Planner::num_groups)
      .def_prop_ro("n_local_logical", &Planner::n_local_logical)
      .def_prop_ro("n_local", &Planner::n_local)
      .def_prop_ro("num_physical", &Planner::num_physical)
      .def_prop_ro("combined", &Planner::combined)
      .def_prop_ro("num_probs", &Planner::num_probs)
      .def(
          "update_redundancy_mapping",
          [](Planner& p, std::optional<HostIn<double>> history) {
            if (history) {
              p.update_redundancy_mapping(span_of(*history));
            } else {
              p.update_redundancy_mapping();
            }
          },
          "history"_a = nb::none(), Release(),
          "history: None, or float64 [E] finite and >= 0 (EPLB reorder, then each rank's "
          "experts sorted by history, descending).")
      .def(
          "mapping",
          [](const Planner& p) {
            const Mapping& m = p.mapping();
            const auto E = static_cast<size_t>(p.options().num_experts);
            return std::make_tuple(copy_1d(m.phy2log), to_numpy(m.log2phy, {E, 2}),
                                   copy_1d(m.logcnt));
          },
          "numpy int32 copies (phy2log [P * n_local], log2phy [E, 2] -1 padded, logcnt [E]).")
      .def(
          "set_mapping",
          [](Planner& p, HostIn<int32_t> phy2log) { p.set_mapping(span_of(phy2log)); },
          "phy2log"_a,
          "Restores phy2log (int32 [P * n_local], as update_redundancy_mapping builds it); "
          "validated, the mapping is unchanged on error.")
      .def(
          "solve",
          [](const Planner& p, HostIn<double> workload) { return p.solve(span_of(workload)); },
          "workload"_a, Release(), "workload: float64 [E], finite and >= 0.")
      .def(
          "rank_loads",
          [](const Planner& p, HostIn<double> workload, std::optional<HostIn<double>> probs) {
            std::vector<double> loads;
            {
              nb::gil_scoped_release release;
              loads = probs ? p.rank_loads(span_of(workload), span_of(*probs))
                            : p.rank_loads(span_of(workload));
            }
            return copy_1d(loads);
          },
          "workload"_a, "probs"_a = nb::none(),
          "float64 [P]: per-rank loads of workload[E] with probs [P * D] applied (clamped to "
          "[0, 1]); no balancing when probs is None.");
  def_id_overloads<int32_t>(c);
  def_id_overloads<int64_t>(c);
  def_solve_into<float>(c);
  def_solve_into<double>(c);

  m.def(
      "imbalance", [](HostIn<double> loads) { return imbalance(span_of(loads)); }, "loads"_a,
      "max / mean of loads (1.0 for an all-zero vector).");
}

}  // namespace lplb::python
