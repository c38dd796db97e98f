// A communicator that also reduces device buffers, stream-ordered: what the
// CUDA planner needs between its count and solve kernels (the all-reduce
// stage, docs/ARCHITECTURE.md). The
// interface lives here, free of NCCL, so code that takes a DeviceCommunicator
// (lplb::cuda::CudaPlanner's callers, tests with a fake) does not link NCCL;
// lplb::cuda::NcclCommunicator (lplb/cuda/comm_nccl.hpp, library lplb_nccl)
// implements it.
//
// Thread safety: as Communicator (lplb/comm.hpp): one host thread per
// communicator; device calls are ordered by their stream.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "lplb/comm.hpp"

namespace lplb::cuda {

class DeviceCommunicator : public Communicator {
 public:
  // recv[k] = sum over ranks of send[k], k < n; int64, device memory on this
  // communicator's GPU; send == recv is allowed (in place). Only enqueued on
  // `stream`: no host synchronisation, no allocation, so it may be captured
  // in a CUDA graph. Collective: every rank enqueues the same calls with the
  // same n. Both buffers must stay valid until the stream reaches the call.
  virtual void all_reduce_sum_device(const int64_t* send, int64_t* recv, size_t n,
                                     cudaStream_t stream) = 0;
  // In place: values[k] = sum over ranks of values[k].
  void all_reduce_sum_device(int64_t* values, size_t n, cudaStream_t stream) {
    all_reduce_sum_device(values, values, n, stream);
  }
};

}  // namespace lplb::cuda
