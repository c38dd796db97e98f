// Registrations for lplb::cuda::CudaPlanner (built only with the CUDA
// backend). Arrays are CUDA device tensors received through DLPack; the
// stream is the caller's current stream, passed by lplb/_cuda.py as the
// integer torch reports (torch.cuda.current_stream().cuda_stream). Every call
// only enqueues work on that stream, except set_mapping (a host-to-device copy
// of a host array), the constructor and check_errors (which synchronise).
#include <cuda_runtime_api.h>
#include <nanobind/stl/optional.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "bind_cuda_util.hpp"
#include "bindings.hpp"
#include "common/lp_common.hpp"
#include "lplb/cuda/planner_cuda.hpp"
#include "lplb/errors.hpp"

namespace lplb::python {

using namespace nb::literals;
using cuda::CudaPlanner;

void bind_cuda(nb::module_& m) {
  // GroupResult::code holds the kernels' LpCode, not lplb::LpStatus: the
  // CUDA build overrides the module-wide value with the kernels' code.
  m.attr("LP_STATUS_IPM_FALLBACK") = static_cast<int>(detail::LpCode::kIpmFallback);
  nb::class_<CudaPlanner> c(m, "CudaPlanner", "The CUDA planner (lplb::cuda::CudaPlanner).");
  c.def(
       "__init__",
       [](CudaPlanner* self, const Planner& planner, int64_t max_ids, int64_t max_layers,
          int device) {
         cuda::CudaPlannerOptions o;
         o.max_ids = max_ids;
         o.max_layers = max_layers;
         o.device = device;
         new (self) CudaPlanner(planner, o);
       },
       "planner"_a, "max_ids"_a = int64_t{1} << 24, "max_layers"_a = 1, "device"_a = -1,
       Release())
      .def_prop_ro("num_experts", &CudaPlanner::num_experts)
      .def_prop_ro("num_probs", &CudaPlanner::num_probs)
      .def_prop_ro("num_groups", &CudaPlanner::num_groups)
      .def_prop_ro("max_ids", &CudaPlanner::max_ids)
      .def(
          "set_mapping",
          [](CudaPlanner& p, HostIn<int32_t> phy2log, uintptr_t stream) {
            p.set_mapping(span_of(phy2log), as_stream(stream));
          },
          "phy2log"_a, "stream"_a, Release(),
          "Enqueues a new placement: phy2log int32 [P * n_local], host.")
      .def(
          "codes_into",
          [](CudaPlanner& p, DevOut<int32_t> out, uintptr_t stream) {
            check_len(out, p.num_groups(), "out");
            // A strided copy of the `code` field of each GroupResult.
            const auto* src = reinterpret_cast<const char*>(p.group_results()) +
                              offsetof(cuda::GroupResult, code);
            check_cuda(cudaMemcpy2DAsync(out.data(), sizeof(int32_t), src,
                                         sizeof(cuda::GroupResult), sizeof(int32_t),
                                         out.shape(0), cudaMemcpyDeviceToDevice,
                                         as_stream(stream)),
                       "cudaMemcpy2DAsync(codes)");
          },
          "out"_a, "stream"_a, Release(),
          "Enqueues a copy of each group's solver code (GroupResult.code, int32 [G]) into out.")
      .def(
          "run_raw",
          [](CudaPlanner& p, uintptr_t ids, int64_t n, bool ids_int64, uintptr_t out,
             uintptr_t stream, uintptr_t counter, bool counter_int64) {
            cuda::RunExtras x;
            x.counter = {reinterpret_cast<void*>(counter), counter_int64};
            x.float32_probs = true;
            if (ids_int64)
              p.run(reinterpret_cast<const int64_t*>(ids), n, reinterpret_cast<int64_t*>(out), x,
                    as_stream(stream));
            else
              p.run(reinterpret_cast<const int32_t*>(ids), n, reinterpret_cast<int32_t*>(out), x,
                    as_stream(stream));
          },
          "ids"_a, "n"_a, "ids_int64"_a, "out"_a, "stream"_a, "counter"_a, "counter_int64"_a,
          Release(),
          "The eager fast path of Planner.run: device pointers as integers (the caller has "
          "checked dtype, device and size). Enqueues count -> solve -> map with the probs "
          "rounded to float32, adding feasible groups to *counter (0: none).")
      .def(
          "solve_raw",
          [](CudaPlanner& p, uintptr_t workload, int dtype, uintptr_t probs_f32,
             uintptr_t workload_f32, uintptr_t stream, uintptr_t counter, bool counter_int64) {
            cuda::SolveExtras x;
            x.probs_f32 = reinterpret_cast<float*>(probs_f32);
            x.workload_f32 = reinterpret_cast<float*>(workload_f32);
            x.counter = {reinterpret_cast<void*>(counter), counter_int64};
            p.solve(reinterpret_cast<const void*>(workload), static_cast<cuda::DeviceDtype>(dtype),
                    x, as_stream(stream));
          },
          "workload"_a, "dtype"_a, "probs_f32"_a, "workload_f32"_a, "stream"_a, "counter"_a,
          "counter_int64"_a, Release(),
          "The eager fast path of Planner.solve_probs: device pointers as integers (the "
          "caller has checked them). dtype: 0 int32, 1 int64, 2 float32, 3 float64 [E]; "
          "writes float32 probs [P * D] and the float32 workload [E].")
      .def(
          "check_errors",
          [](CudaPlanner& p, uintptr_t stream) { p.check_errors(as_stream(stream)); },
          "stream"_a, Release(),
          "Synchronises the stream and raises ValueError if a kernel saw a bad id or "
          "workload since the last check.");
  def_copy_out<CudaPlanner, int64_t>(c, "counts_into", &CudaPlanner::counts,
                                     &CudaPlanner::num_experts,
                                     "Enqueues a copy of counts() (int64 [E]) into out.");
  def_copy_out<CudaPlanner, double>(
      c, "probs_into", static_cast<const double* (CudaPlanner::*)() const>(&CudaPlanner::probs),
      &CudaPlanner::num_probs, "Enqueues a copy of probs() (float64 [P * D]) into out.");
  const char* map_doc =
      "Enqueues the mapping of ids to physical ids (same dtype) with probs (float64 [P * D], "
      "device; None: the last solve's). The last count() must have seen these ids.";
  def_id_calls<CudaPlanner, int32_t>(c, &CudaPlanner::num_probs, "probs", map_doc);
  def_id_calls<CudaPlanner, int64_t>(c, &CudaPlanner::num_probs, "probs", map_doc);
  const char* solve_doc = "Enqueues every group's LP for workload (int64 or float64 [E], device).";
  def_solve_call<CudaPlanner, int64_t>(c, solve_doc);
  def_solve_call<CudaPlanner, double>(c, solve_doc);
  bind_placement_cuda(m);
}

}  // namespace lplb::python
