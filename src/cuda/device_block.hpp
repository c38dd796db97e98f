// One cudaMalloc for all of a planner's device arrays (CudaPlanner,
// CudaPlacementPlanner): fewer allocations, one cudaFree, and every array
// starts on a 256-byte boundary (coalesced, vector-load friendly).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

#include "cuda/cuda_check.cuh"

namespace lplb::cuda::detail {

inline constexpr size_t kDeviceBlockAlign = 256;

inline size_t device_block_align(size_t n) {
  return (n + kDeviceBlockAlign - 1) / kDeviceBlockAlign * kDeviceBlockAlign;
}

// Allocates one block holding N arrays of sizes[k] bytes (0 allowed) and
// writes each array's start to ptrs[k]; the caller frees *block.
template <size_t N>
void carve_device_block(void** block, const size_t (&sizes)[N], void* (&ptrs)[N]) {
  size_t total = 0;
  for (size_t s : sizes) total += device_block_align(s);
  LPLB_CUDA_CHECK(cudaMalloc(block, total));
  unsigned char* p = static_cast<unsigned char*>(*block);
  for (size_t k = 0; k < N; ++k) {
    ptrs[k] = p;
    p += device_block_align(sizes[k]);
  }
}

}  // namespace lplb::cuda::detail
