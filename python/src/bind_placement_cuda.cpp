// Registrations for lplb::cuda::CudaPlacementPlanner (built only with the
// CUDA backend), driven by lplb/_placement_cuda.py: device arrays through
// DLPack, the caller's current stream as an integer handle. Every call only
// enqueues work on that stream, except the constructor, set_placement (host
// arrays; it waits for its previous upload) and check_errors.
#include <nanobind/stl/optional.h>

#include <cstddef>
#include <cstdint>
#include <optional>

#include "bind_cuda_util.hpp"
#include "lplb/cuda/placement_planner_cuda.hpp"

namespace lplb::python {

using namespace nb::literals;
using cuda::CudaPlacementPlanner;

namespace {

std::span<const uint8_t> mask_of(const std::optional<HostIn<uint8_t>>& absent) {
  return absent ? span_of(*absent) : std::span<const uint8_t>();
}

}  // namespace

void bind_placement_cuda(nb::module_& m) {
  nb::class_<CudaPlacementPlanner> c(m, "CudaPlacementPlanner",
                                     "The placement LP on the GPU (lplb::cuda::CudaPlacementPlanner).");
  c.def(
       "__init__",
       [](CudaPlacementPlanner* self, HostIn<int64_t> phy2log, int64_t num_experts,
          int64_t ep_size, std::optional<HostIn<uint8_t>> absent, int64_t max_ids, int device) {
         cuda::CudaPlacementPlannerOptions o;
         o.max_ids = max_ids;
         o.device = device;
         new (self) CudaPlacementPlanner(span_of(phy2log), num_experts, ep_size, mask_of(absent), o);
       },
       "phy2log"_a, "num_experts"_a, "ep_size"_a, "absent"_a = nb::none(),
       "max_ids"_a = int64_t{1} << 24, "device"_a = -1, Release())
      .def_prop_ro("num_experts", &CudaPlacementPlanner::num_experts)
      .def_prop_ro("num_physical", &CudaPlacementPlanner::num_physical)
      .def_prop_ro("max_ids", &CudaPlacementPlanner::max_ids)
      .def(
          "set_placement",
          [](CudaPlacementPlanner& p, HostIn<int64_t> phy2log, std::optional<HostIn<uint8_t>> absent,
             uintptr_t stream) { p.set_placement(span_of(phy2log), mask_of(absent), as_stream(stream)); },
          "phy2log"_a, "absent"_a, "stream"_a, Release(),
          "Enqueues a new placement (host arrays, the same E and P, no more slots).")
      .def(
          "result_into",
          [](CudaPlacementPlanner& p, DevOut<double> out, uintptr_t stream) {
            check_len(out, 2, "out");
            static_assert(offsetof(cuda::PlacementResult, max_load) == sizeof(double));
            check_cuda(cudaMemcpyAsync(out.data(), p.result(), 2 * sizeof(double),
                                       cudaMemcpyDeviceToDevice, as_stream(stream)),
                       "cudaMemcpyAsync(result)");
          },
          "out"_a, "stream"_a, Release(),
          "Enqueues [optimum, max_load] of the last solve (float64 [2]) into out.")
      .def(
          "check_errors",
          [](CudaPlacementPlanner& p, uintptr_t stream) { p.check_errors(as_stream(stream)); },
          "stream"_a, Release(),
          "Synchronises the stream and raises ValueError if a kernel saw a bad id or "
          "workload since the last check.");
  def_copy_out<CudaPlacementPlanner, int64_t>(
      c, "counts_into", &CudaPlacementPlanner::counts, &CudaPlacementPlanner::num_experts,
      "Enqueues a copy of counts() (int64 [E]) into out.");
  def_copy_out<CudaPlacementPlanner, double>(
      c, "shares_into", &CudaPlacementPlanner::shares, &CudaPlacementPlanner::num_physical,
      "Enqueues a copy of shares() (float64 [num_physical]) into out.");
  const char* map_doc =
      "Enqueues the mapping of ids to physical slots with shares (float64 [num_physical], "
      "device; None: the last solve's). The last count() must have seen these ids.";
  def_id_calls<CudaPlacementPlanner, int32_t>(c, &CudaPlacementPlanner::num_physical, "shares",
                                              map_doc);
  def_id_calls<CudaPlacementPlanner, int64_t>(c, &CudaPlacementPlanner::num_physical, "shares",
                                              map_doc);
  const char* solve_doc = "Enqueues the LP for workload (int64 or float64 [E], device).";
  def_solve_call<CudaPlacementPlanner, int64_t>(c, solve_doc);
  def_solve_call<CudaPlacementPlanner, double>(c, solve_doc);
}

}  // namespace lplb::python
