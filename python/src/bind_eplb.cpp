// Registrations for lplb::rebalance_experts (EPLB).
#include <nanobind/stl/tuple.h>

#include <tuple>

#include "bindings.hpp"
#include "lplb/eplb.hpp"

namespace lplb::python {

using namespace nb::literals;

void bind_eplb(nb::module_& m) {
  m.def(
      "rebalance_experts",
      [](nb::ndarray<const double, nb::ndim<2>, nb::c_contig, nb::device::cpu> weight,
         int64_t num_replicas, int64_t num_groups, int64_t num_nodes, int64_t num_gpus,
         bool spread_replicas) {
        const int64_t L = static_cast<int64_t>(weight.shape(0));
        const int64_t E = static_cast<int64_t>(weight.shape(1));
        EplbResult r;
        {
          nb::gil_scoped_release release;
          r = rebalance_experts(weight.data(), L, E, num_replicas, num_groups, num_nodes,
                                num_gpus, EplbOptions{.spread_replicas = spread_replicas});
        }
        const auto l = static_cast<size_t>(r.num_layers), e = static_cast<size_t>(r.num_logical);
        return std::make_tuple(
            to_numpy(std::move(r.phy2log), {l, static_cast<size_t>(r.num_replicas)}),
            to_numpy(std::move(r.log2phy), {l, e, static_cast<size_t>(r.max_count)}),
            to_numpy(std::move(r.logcnt), {l, e}));
      },
      "weight"_a, "num_replicas"_a, "num_groups"_a, "num_nodes"_a, "num_gpus"_a,
      "spread_replicas"_a = false,
      "weight: float64 [L, E] host array, finite and >= 0. Returns numpy int64 "
      "(phy2log [L, num_replicas], log2phy [L, E, maxcnt] -1 padded, logcnt [L, E]).");
}

}  // namespace lplb::python
