// Shared pieces of the CUDA registrations (bind_cuda.cpp,
// bind_placement_cuda.cpp): device array aliases, the caller's stream
// handle, checked runtime calls.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
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

// CudaPlacementPlanner's registrations (bind_placement_cuda.cpp).
void bind_placement_cuda(nb::module_& m);

}  // namespace lplb::python
