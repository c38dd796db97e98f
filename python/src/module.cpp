// lplb._core: the nanobind extension behind the `lplb` Python package.
#include "bindings.hpp"
#include "lplb/config.hpp"
#include "lplb/lp.hpp"

NB_MODULE(_core, m) {
  m.doc() = "lplb C++ core (internal; use the `lplb` package API).";
  m.attr("__version__") = LPLB_VERSION;
  m.attr("has_cuda") = static_cast<bool>(LPLB_PY_HAVE_CUDA);
  // The status code of a group whose IPM solve fell back to 0.5; defined in
  // every build so that the GPU path's Python logic is testable without one.
  m.attr("LP_STATUS_IPM_FALLBACK") = static_cast<int>(lplb::LpStatus::kIpmFallback);
  lplb::python::bind_topology(m);
  lplb::python::bind_cost_model(m);  // before the Planner, whose __init__ takes one
  lplb::python::bind_planner(m);
  lplb::python::bind_placement(m);
  lplb::python::bind_eplb(m);
#if LPLB_PY_HAVE_CUDA
  lplb::python::bind_cuda(m);
#endif
}
