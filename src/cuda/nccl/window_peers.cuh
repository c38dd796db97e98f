// Peers' memory through an NCCL symmetric window: the `Peers` policy of the
// LSA exchange kernel (exchange_protocol.cuh) over real NCCL.
#pragma once

#include <cstdint>

#include "cuda/nccl/nccl_device_api.cuh"

#ifdef LPLB_NCCL_DEVICE_API
namespace lplb::cuda::detail {

// Peers through the symmetric window (world ranks; one LSA team).
struct WindowPeers {
  ncclWindow_t window;
  __device__ uint64_t* at(int peer, int64_t word) const {
    return static_cast<uint64_t*>(
        ncclGetPeerPointer(window, static_cast<size_t>(word) * sizeof(uint64_t), peer));
  }
};

}  // namespace lplb::cuda::detail
#endif  // LPLB_NCCL_DEVICE_API
