// Registrations for lplb::PlacementPlanner (the exact LP over any replica
// placement) and lplb::design_placement. Host arrays only; the Python layer
// (lplb/placement.py) checks kinds and dtypes, flattens inputs and allocates
// the mapping's output.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/tuple.h>

#include <optional>
#include <span>
#include <tuple>
#include <vector>

#include "bindings.hpp"
#include "lplb/placement.hpp"
#include "lplb/placement_design.hpp"
#include "lplb/replan.hpp"

namespace lplb::python {

using namespace nb::literals;

namespace {

using Release = nb::call_guard<nb::gil_scoped_release>;

template <typename T>
nb::ndarray<nb::numpy, T> copy_1d(std::vector<T> v) {
  const size_t n = v.size();
  return to_numpy(std::move(v), {n});
}

template <typename Id>
void def_id_overloads(nb::class_<PlacementPlanner>& c) {
  c.def(
      "count",
      [](const PlacementPlanner& p, HostIn<Id> ids) {
        std::vector<int64_t> counts;
        {
          nb::gil_scoped_release release;
          counts = p.count(span_of(ids));
        }
        return copy_1d(std::move(counts));
      },
      "ids"_a, "ids: int32/int64 [N] in [-1, E). Returns numpy int64 counts [E].");
  c.def(
      "map",
      [](const PlacementPlanner& p, HostIn<Id> ids, HostIn<double> shares, HostOut<Id> out) {
        p.map(span_of(ids), span_of(shares), span_of(out));
      },
      "ids"_a, "shares"_a, "out"_a, Release(),
      "ids: int32/int64 [N] in [-1, E); shares: float64 [num_physical]. Writes physical "
      "slot ids [N] (ids' dtype, -1 kept) into out.");
  c.def(
      "run",
      [](const PlacementPlanner& p, HostIn<Id> ids, HostOut<Id> out) {
        return p.run(span_of(ids), span_of(out));
      },
      "ids"_a, "out"_a, Release(),
      "count -> solve -> map: writes physical slot ids into out and returns the solve.");
}

}  // namespace

void bind_placement(nb::module_& m) {
  nb::class_<PlacementSolveOutput>(m, "PlacementSolveOutput", "Result of PlacementPlanner.solve.")
      .def_prop_ro(
          "shares", [](const PlacementSolveOutput& s) { return copy_1d(s.shares); },
          nb::rv_policy::move,
          "float64 [num_physical]: share of its expert's tokens sent to each slot.")
      .def_prop_ro(
          "load_before", [](const PlacementSolveOutput& s) { return copy_1d(s.load_before); },
          nb::rv_policy::move, "float64 [P]: every expert split evenly over its replicas.")
      .def_prop_ro(
          "load_after", [](const PlacementSolveOutput& s) { return copy_1d(s.load_after); },
          nb::rv_policy::move, "float64 [P]: with shares applied.")
      .def_ro("optimum", &PlacementSolveOutput::optimum, "The LP's optimal max rank load.")
      .def_ro("rounds", &PlacementSolveOutput::rounds, "Max-flow rounds (Dinkelbach steps).")
      .def_ro("solve_us", &PlacementSolveOutput::solve_us, "Wall time of the LP in microseconds.");

  nb::class_<PlacementPlanner> c(m, "PlacementPlanner",
                                 "The exact per-batch LP over any replica placement "
                                 "(lplb::PlacementPlanner).");
  c.def(
          "__init__",
          [](PlacementPlanner* self, HostIn<int64_t> phy2log, int64_t num_experts,
             int64_t ep_size, std::optional<HostIn<uint8_t>> absent) {
            new (self) PlacementPlanner(span_of(phy2log), num_experts, ep_size,
                                        absent ? span_of(*absent) : std::span<const uint8_t>());
          },
          "phy2log"_a, "num_experts"_a, "ep_size"_a, "absent"_a = nb::none(), Release(),
          "phy2log: int64 [ep_size * n_local] host array, every expert in [0, num_experts) at "
          "least once; absent: None or uint8 [num_physical], nonzero = the slot cannot serve "
          "(every expert keeps a present slot). Raises ValueError otherwise.")
      .def_prop_ro("num_experts", &PlacementPlanner::num_experts)
      .def_prop_ro("ep_size", &PlacementPlanner::ep_size)
      .def_prop_ro("n_local", &PlacementPlanner::n_local)
      .def_prop_ro("num_physical", &PlacementPlanner::num_physical)
      .def_prop_ro("max_count", &PlacementPlanner::max_count)
      .def_prop_ro("num_movable_groups", &PlacementPlanner::num_movable_groups)
      .def_prop_ro(
          "phy2log", [](const PlacementPlanner& p) { return copy_1d(p.phy2log()); },
          nb::rv_policy::move, "numpy int32 [num_physical] copy.")
      .def_prop_ro(
          "log2phy",
          [](const PlacementPlanner& p) {
            return to_numpy(p.log2phy(), {static_cast<size_t>(p.num_experts()),
                                          static_cast<size_t>(p.max_count())});
          },
          nb::rv_policy::move, "numpy int32 [E, max_count]: slots ascending, -1 padded.")
      .def_prop_ro(
          "logcnt", [](const PlacementPlanner& p) { return copy_1d(p.logcnt()); },
          nb::rv_policy::move, "numpy int32 [E]: replicas per expert.")
      .def(
          "solve",
          [](const PlacementPlanner& p, HostIn<double> workload) {
            return p.solve(span_of(workload));
          },
          "workload"_a, Release(), "workload: float64 [E], finite and >= 0.")
      .def(
          "slot_counts",
          [](const PlacementPlanner& p, HostIn<int64_t> counts, HostIn<double> shares) {
            std::vector<int64_t> out;
            {
              nb::gil_scoped_release release;
              out = p.slot_counts(span_of(counts), span_of(shares));
            }
            return copy_1d(std::move(out));
          },
          "counts"_a, "shares"_a,
          "numpy int64 [num_physical]: tokens per slot when map() splits counts[E] with shares.")
      .def(
          "rank_loads",
          [](const PlacementPlanner& p, HostIn<double> workload,
             std::optional<HostIn<double>> shares) {
            std::vector<double> loads;
            {
              nb::gil_scoped_release release;
              loads = shares ? p.rank_loads(span_of(workload), span_of(*shares))
                             : p.rank_loads(span_of(workload));
            }
            return copy_1d(std::move(loads));
          },
          "workload"_a, "shares"_a = nb::none(),
          "numpy float64 [P]: loads of workload[E] with shares (None: even split).")
      .def(
          "even_shares", [](const PlacementPlanner& p) { return copy_1d(p.even_shares()); },
          "numpy float64 [num_physical]: 1 / logcnt of each slot's expert.");
  def_id_overloads<int32_t>(c);
  def_id_overloads<int64_t>(c);

  m.def(
      "design_placement",
      [](HostIn<double> predicted, std::optional<HostIn<double>> deviation, int64_t ep_size,
         std::optional<HostIn<double>> samples, int64_t slots_per_rank, int64_t max_copies,
         double tie_fraction, double count_deviations, double pack_deviations,
         int64_t num_groups, int64_t num_nodes, int64_t search_moves, uint64_t seed) {
        PlacementDesignOptions o;
        o.slots_per_rank = slots_per_rank;
        o.max_copies = max_copies;
        o.tie_fraction = tie_fraction;
        o.count_deviations = count_deviations;
        o.pack_deviations = pack_deviations;
        o.num_groups = num_groups;
        o.num_nodes = num_nodes;
        o.search_moves = search_moves;
        o.seed = seed;
        PlacementDesign d;
        {
          nb::gil_scoped_release release;
          d = design_placement(span_of(predicted),
                               deviation ? span_of(*deviation) : std::span<const double>(),
                               ep_size, samples ? span_of(*samples) : std::span<const double>(),
                               o);
        }
        return std::make_tuple(copy_1d(std::move(d.phy2log)), d.sample_imbalance_before,
                               d.sample_imbalance_after, d.moves_accepted);
      },
      "predicted"_a, "deviation"_a.none(), "ep_size"_a, "samples"_a.none(), "slots_per_rank"_a,
      "max_copies"_a, "tie_fraction"_a, "count_deviations"_a, "pack_deviations"_a,
      "num_groups"_a, "num_nodes"_a, "search_moves"_a, "seed"_a,
      "predicted: float64 [E]; deviation: None or float64 [E]; samples: None or float64 "
      "[num_samples * E] row-major. Returns (numpy int32 phy2log [ep_size * slots_per_rank], "
      "sample_imbalance_before, sample_imbalance_after, moves_accepted).");

  m.def(
      "replan",
      [](HostIn<int64_t> phy2log, HostIn<double> history, int64_t steps, int64_t num_experts,
         int64_t ep_size, int64_t gpus_per_node, int64_t budget, double half_life,
         double hedge_deviations, double hedge_weight, int64_t recent_steps,
         double recent_weight) {
        ReplanOptions o;
        o.half_life = half_life;
        o.hedge_deviations = hedge_deviations;
        o.hedge_weight = hedge_weight;
        o.recent_steps = recent_steps;
        o.recent_weight = recent_weight;
        ReplanResult r;
        {
          nb::gil_scoped_release release;
          r = replan(span_of(phy2log), span_of(history), steps, num_experts, ep_size,
                     gpus_per_node, budget, o);
        }
        std::vector<int64_t> moves;
        for (const ReplanMove& mv : r.moves)
          moves.insert(moves.end(), {mv.slot, mv.expert, mv.previous, mv.source_rank});
        return std::make_tuple(copy_1d(std::move(r.phy2log)), copy_1d(std::move(moves)),
                               r.objective_before, r.objective_after);
      },
      "phy2log"_a, "history"_a, "steps"_a, "num_experts"_a, "ep_size"_a, "gpus_per_node"_a,
      "budget"_a, "half_life"_a, "hedge_deviations"_a, "hedge_weight"_a, "recent_steps"_a,
      "recent_weight"_a,
      "phy2log: int64 [P * n_local]; history: float64 [steps * E] row-major, oldest first. "
      "Returns (numpy int32 phy2log, numpy int64 moves [4 * k]: slot, expert, previous, "
      "source_rank per move, objective_before, objective_after).");
}

}  // namespace lplb::python
