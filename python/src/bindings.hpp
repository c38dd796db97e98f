// Shared pieces of the nanobind registrations: array aliases and the
// per-area registration functions called from module.cpp.
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace lplb::python {

namespace nb = nanobind;

// 1-D, C-contiguous host arrays. The Python layer flattens and converts
// before calling, so these signatures are the whole contract.
template <typename T>
using HostIn = nb::ndarray<const T, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
template <typename T>
using HostOut = nb::ndarray<T, nb::ndim<1>, nb::c_contig, nb::device::cpu>;

template <typename T>
std::span<const T> span_of(const HostIn<T>& a) {
  return {a.data(), a.shape(0)};
}
template <typename T>
std::span<T> span_of(HostOut<T>& a) {
  return {a.data(), a.shape(0)};
}

// Moves a vector into a new numpy array of the given shape (no copy).
template <typename T>
nb::ndarray<nb::numpy, T> to_numpy(std::vector<T> v, std::initializer_list<size_t> shape) {
  auto* owned = new std::vector<T>(std::move(v));
  nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<std::vector<T>*>(p); });
  return nb::ndarray<nb::numpy, T>(owned->data(), shape, owner);
}

void bind_topology(nb::module_& m);
void bind_planner(nb::module_& m);
void bind_eplb(nb::module_& m);
void bind_cost_model(nb::module_& m);
void bind_placement(nb::module_& m);
void bind_cuda(nb::module_& m);  // only when built with the CUDA backend

}  // namespace lplb::python
