// The exchange across LSA teams through NCCL GPU-initiated networking (GIN,
// NCCL >= 2.28.7): the window layout and the kernels' launchers
// (gin_exchange.cu). Only with LPLB_NCCL_GIN.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "cuda/nccl/exchange_protocol.cuh"
#include "cuda/nccl/nccl_device_api.cuh"

#ifdef LPLB_NCCL_GIN
namespace lplb::cuda::detail {

// GIN layout: header, then slot[2][ranks] of (n, data[capacity]) words;
// rank s puts its slot[q][s] into slot[q][s] of every peer, incrementing the
// peer's signal s. Call `epoch` has arrived from s when signal s >= epoch.
struct GinLayout {
  int32_t ranks;
  int64_t capacity;
  __host__ __device__ int64_t slot_words() const { return detail::round_up16(1 + capacity); }
  __host__ __device__ int64_t slot(int q, int src) const {
    return detail::kExchangeHeaderWords + (int64_t{q} * ranks + src) * slot_words();
  }
  __host__ __device__ int64_t total_words() const { return slot(2, 0); }
};

// Resets the ranks' GIN signals (set-up; default stream).
void launch_gin_reset(ncclDevComm dc, int ranks);

// One exchange call on `stream`: puts this rank's counts into every peer's
// window, waits for theirs (bounded by a.timeout_ns), sums.
void launch_gin_exchange(ncclDevComm dc, ncclWindow_t window, uint64_t* local, GinLayout L,
                         const ExchangeArgs& a, cudaStream_t stream);

}  // namespace lplb::cuda::detail
#endif  // LPLB_NCCL_GIN
