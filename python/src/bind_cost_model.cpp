// Registrations for lplb::CostModel (lplb/objective.hpp): the modelled GEMM
// time the planner's 'time' objective balances. The Python layer
// (lplb/_objective.py) builds one from a dict and validates it.
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <string>
#include <vector>

#include "bindings.hpp"
#include "lplb/objective.hpp"

namespace lplb::python {

using namespace nb::literals;

void bind_cost_model(nb::module_& m) {
  nb::class_<CostModel>(
      m, "CostModel",
      "Modelled MoE GEMM time of one EP rank in microseconds: extra_us[r] + (a_us + "
      "b_us_per_token * tokens + c_us_per_expert * active) / speed[r]. The defaults are the "
      "H200 fit of docs/COST_MODEL.md.")
      .def(nb::init<>())
      .def_rw("a_us", &CostModel::a_us, "Per rank and step (launch, tails), >= 0.")
      .def_rw("b_us_per_token", &CostModel::b_us_per_token, "Per token, > 0.")
      .def_rw("c_us_per_expert", &CostModel::c_us_per_expert, "Per active expert, >= 0.")
      .def_rw("speed", &CostModel::speed, "Empty, or one entry > 0 per rank (1 = measured GPU).")
      .def_rw("extra_us", &CostModel::extra_us, "Empty, or one entry >= 0 per rank.")
      .def("time_us", &CostModel::time_us, "rank"_a, "tokens"_a, "active"_a,
           "Modelled time of `rank` processing `tokens` over `active` experts.")
      .def(
          "validate",
          [](const CostModel& model, int64_t num_ranks) {
            validate_cost_model(model, num_ranks, "cost_model");
          },
          "num_ranks"_a, "Raises ValueError (naming cost_model) unless the model is valid.");
  m.def("objective_names", [] {
    return std::vector<std::string>{objective_name(ObjectiveKind::kTokens),
                                    objective_name(ObjectiveKind::kTime)};
  });
}

}  // namespace lplb::python
