// Shared pieces of the CUDA registrations (bind_cuda.cpp,
// bind_placement_cuda.cpp): device array aliases, the caller's stream
// handle, checked runtime calls.
#pragma once

#include <cuda_runtime_api.h>

#include <nanobind/stl/optional.h>

#include <cstdint>
#include <optional>
#include <string>

#include "bindings.hpp"
#include "lplb/errors.hpp"

namespace lplb::python {

using Release = nb::call_guard<nb::gil_scoped_release>;

template <typename T>
using DevIn = nb::ndarray<const T, nb::ndim<1>, nb::c_contig, nb::device::cuda>;
template <typename T>
using DevOut = nb::ndarray<T, nb::ndim<1>, nb::c_contig, nb::device::cuda>;

inline cudaStream_t as_stream(uintptr_t handle) { return reinterpret_cast<cudaStream_t>(handle); }

inline void check_cuda(cudaError_t err, const char* what) {
  if (err != cudaSuccess)
    throw Error(std::string(what) + " failed: " + cudaGetErrorName(err) + " (" +
                cudaGetErrorString(err) + ")");
}

template <typename A>
void check_len(const A& a, int64_t want, const char* arg) {
  check_arg(static_cast<int64_t>(a.shape(0)) == want, arg,
            "expected " + std::to_string(want) + " entries, got " + std::to_string(a.shape(0)));
}

// count / map / run for Id ids and solve for W workloads, the same calls on
// both CUDA planners. map's optional split argument (probs or shares) has
// `split_len()` entries and is named `split_name`.
template <typename Planner, typename Id>
void def_id_calls(nb::class_<Planner>& c, int64_t (Planner::*split_len)() const,
                  const char* split_name, const char* map_doc) {
  using namespace nb::literals;
  c.def(
      "count",
      [](Planner& p, DevIn<Id> ids, uintptr_t stream) {
        p.count(ids.data(), static_cast<int64_t>(ids.shape(0)), as_stream(stream));
      },
      "ids"_a, "stream"_a, Release(), "Enqueues the count of ids (int32/int64 [N], device).");
  c.def(
      "map",
      [split_len, split_name](Planner& p, DevIn<Id> ids, DevOut<Id> out, uintptr_t stream,
                              std::optional<DevIn<double>> split) {
        check_len(out, static_cast<int64_t>(ids.shape(0)), "out");
        const double* sp = nullptr;
        if (split) {
          check_len(*split, (p.*split_len)(), split_name);
          sp = split->data();
        }
        p.map(ids.data(), static_cast<int64_t>(ids.shape(0)), out.data(), as_stream(stream), sp);
      },
      "ids"_a, "out"_a, "stream"_a, nb::arg(split_name) = nb::none(), Release(), map_doc);
  c.def(
      "run",
      [](Planner& p, DevIn<Id> ids, DevOut<Id> out, uintptr_t stream) {
        check_len(out, static_cast<int64_t>(ids.shape(0)), "out");
        p.run(ids.data(), static_cast<int64_t>(ids.shape(0)), out.data(), as_stream(stream));
      },
      "ids"_a, "out"_a, "stream"_a, Release(), "Enqueues count -> solve -> map.");
}

template <typename Planner, typename W>
void def_solve_call(nb::class_<Planner>& c, const char* doc) {
  using namespace nb::literals;
  c.def(
      "solve",
      [](Planner& p, DevIn<W> workload, uintptr_t stream) {
        check_len(workload, p.num_experts(), "workload");
        p.solve(workload.data(), as_stream(stream));
      },
      "workload"_a, "stream"_a, Release(), doc);
}

// `name`(out, stream): enqueues a device-to-device copy of the planner's
// buffer `(p.*src)()` (`(p.*len)()` entries of T) into out.
template <typename Planner, typename T>
void def_copy_out(nb::class_<Planner>& c, const char* name, const T* (Planner::*src)() const,
                  int64_t (Planner::*len)() const, const char* doc) {
  using namespace nb::literals;
  c.def(
      name,
      [src, len, name](Planner& p, DevOut<T> out, uintptr_t stream) {
        check_len(out, (p.*len)(), "out");
        check_cuda(cudaMemcpyAsync(out.data(), (p.*src)(), out.shape(0) * sizeof(T),
                                   cudaMemcpyDeviceToDevice, as_stream(stream)),
                   name);
      },
      "out"_a, "stream"_a, Release(), doc);
}

// CudaPlacementPlanner's registrations (bind_placement_cuda.cpp).
void bind_placement_cuda(nb::module_& m);

}  // namespace lplb::python
