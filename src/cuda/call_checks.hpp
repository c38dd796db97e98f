// Argument checks of the CUDA planners' entry points (CudaPlanner,
// CudaPlacementPlanner): sizes given at construction and per call, before
// anything is enqueued. Host only; InvalidArgument naming the argument.
#pragma once

#include <cstdint>
#include <string>

#include "lplb/errors.hpp"

namespace lplb::cuda::detail {

// Construction: max_ids in [0, 2^31), max_layers in [1, 2^20].
inline void check_capacity(int64_t max_ids, int64_t max_layers) {
  check_arg(max_ids >= 0 && max_ids < (int64_t{1} << 31), "max_ids",
            "must be in [0, 2^31), got " + std::to_string(max_ids));
  check_arg(max_layers >= 1 && max_layers <= (int64_t{1} << 20), "max_layers",
            "must be in [1, 2^20], got " + std::to_string(max_layers));
}

// count (out == nullptr) or map: n ids within max_ids, pointers set, out
// not aliasing ids.
inline void check_ids_call(const void* ids, int64_t n, const void* out, bool is_map,
                           int64_t max_ids) {
  if (n < 0 || n > max_ids)
    throw_arg("n", "must be in [0, max_ids = " + std::to_string(max_ids) + "], got " +
                       std::to_string(n));
  if (!is_map) {
    check_arg(ids != nullptr || n == 0, "ids", "is null");
    return;
  }
  check_arg((ids != nullptr && out != nullptr) || n == 0, "ids", "ids and out must not be null");
  check_arg(ids != out || n == 0, "out", "must not alias ids");
}

// solve: workload and output set, num_layers within max_layers.
inline void check_solve_call(const void* workload, int64_t num_layers, int64_t max_layers,
                             const void* out, const char* out_name) {
  check_arg(workload != nullptr, "workload", "is null");
  if (num_layers < 1 || num_layers > max_layers)
    throw_arg("num_layers", "must be in [1, max_layers = " + std::to_string(max_layers) +
                                "], got " + std::to_string(num_layers));
  check_arg(out != nullptr, out_name, "is null");
}

}  // namespace lplb::cuda::detail
