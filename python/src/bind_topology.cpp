// Registrations for lplb::Topology.
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>

#include <string>

#include "bindings.hpp"
#include "lplb/topology.hpp"

namespace lplb::python {

using namespace nb::literals;

namespace {

nb::ndarray<nb::numpy, int32_t> matrix(const std::vector<int32_t>& v, const Topology& t) {
  return to_numpy(v, {static_cast<size_t>(t.group_size()), static_cast<size_t>(t.slots())});
}

}  // namespace

void bind_topology(nb::module_& m) {
  nb::class_<Topology>(m, "Topology",
                       "A redundancy topology: r2o[i][d] = j means rank i of a group holds a "
                       "copy of the d-th replicated block of rank j.")
      .def(
          "__init__",
          [](Topology* self,
             nb::ndarray<const int32_t, nb::ndim<2>, nb::c_contig, nb::device::cpu> r2o,
             const std::string& name) {
            std::vector<int32_t> flat(r2o.data(), r2o.data() + r2o.size());
            new (self) Topology(static_cast<int64_t>(r2o.shape(0)),
                                static_cast<int64_t>(r2o.shape(1)), std::move(flat), name,
                                "redundant_to_original");
          },
          "r2o"_a, "name"_a = "custom",
          "r2o: int32 [S, D] host array; every column a permutation of 0..S-1 without fixed "
          "points. Raises ValueError otherwise.")
      .def_static("named", &Topology::named, "spec"_a,
                  "`cube`, `hypercube`, `ring`, `ring:S` or `torus:MxN`.")
      .def_static("parse", &Topology::parse, "spec_or_path"_a,
                  "A topology name, or else a path to a JSON matrix file.")
      .def_prop_ro("group_size", &Topology::group_size, "S, ranks per redundancy group.")
      .def_prop_ro("slots", &Topology::slots, "D, replicated blocks per rank.")
      .def_prop_ro("name", &Topology::name)
      .def_prop_ro(
          "r2o", [](const Topology& t) { return matrix(t.r2o_data(), t); }, nb::rv_policy::move,
          "int32 [S, D] numpy copy of the matrix.")
      .def_prop_ro(
          "o2r", [](const Topology& t) { return matrix(t.o2r_data(), t); }, nb::rv_policy::move,
          "int32 [S, D] numpy copy of the inverse per column: o2r[j][d] = i iff r2o[i][d] = j.");
}

}  // namespace lplb::python
