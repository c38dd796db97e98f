// The NCCL communicator (GPU buffers): library lplb_nccl, built with
// -DLPLB_CUDA=ON when NCCL is found (target lplb::lplb_nccl).
//
//   ncclComm_t nc;  ncclCommInitRank(&nc, nranks, id, rank);  // yours
//   lplb::cuda::NcclCommunicator comm(nc);                    // wraps, does not own
//   lplb::check_consistent(planner, comm);                    // host, once at start-up
//   cuda_planner.count(ids, n, stream);
//   comm.all_reduce_sum_device(cuda_planner.counts(), global, E, stream);
//   cuda_planner.solve(global, stream);
//   cuda_planner.map(ids, n, out, stream);                    // all capturable
//
// Capture: run one batch eagerly before capturing, so that NCCL sets up its
// connections (lazily, on first use) outside the capture. Host fallbacks use
// a private stream: synchronise the device work first (NCCL orders calls on
// one communicator by issue, not across streams).
//
// Overflow: NCCL's int64 sum wraps silently and NCCL has no way to detect
// it. Counts cannot get there in practice (each rank counts fewer than 2^31
// ids per call, so P ranks sum to less than P * 2^31 < 2^63 for P < 2^32);
// the host-side MpiCommunicator checks exactly.
//
// Thread safety: not thread-safe; use one host thread per communicator (as
// NCCL itself requires for one ncclComm_t).
#pragma once

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "lplb/cuda/device_comm.hpp"

namespace lplb::cuda {

class NcclCommunicator final : public DeviceCommunicator {
 public:
  // Wraps `comm` (must outlive this object unless owns_comm). Host-side
  // calls (all_reduce_sum/max) run on a private non-blocking stream created
  // on the communicator's device. Throws Error when NCCL or CUDA fails.
  explicit NcclCommunicator(ncclComm_t comm, bool owns_comm = false);
  // A one-rank communicator on `device` (owned): useful for tests and for
  // single-GPU runs through the same code path.
  static NcclCommunicator single_rank(int device = 0);
  ~NcclCommunicator() override;
  NcclCommunicator(NcclCommunicator&& other) noexcept;
  NcclCommunicator& operator=(NcclCommunicator&&) = delete;
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int device() const { return device_; }
  ncclComm_t comm() const { return comm_; }

  // ncclAllReduce(ncclInt64, ncclSum) on `stream`; n == 0 enqueues nothing.
  // Throws InvalidArgument for a null buffer with n > 0, Error when NCCL
  // refuses the call (errors inside the collective surface on the stream).
  using DeviceCommunicator::all_reduce_sum_device;
  void all_reduce_sum_device(const int64_t* send, int64_t* recv, size_t n,
                             cudaStream_t stream) override;

  // Host fallbacks (so this is also a plain Communicator, e.g. for
  // check_consistent and Planner::run): copy to a device scratch buffer,
  // all-reduce, copy back, synchronise. Not capturable; not for hot paths.
  void all_reduce_sum(std::span<int64_t> values) override;
  void all_reduce_max(std::span<int64_t> values) override;

 private:
  void host_all_reduce(std::span<int64_t> values, ncclRedOp_t op);

  ncclComm_t comm_ = nullptr;
  bool owns_comm_ = false;
  int rank_ = 0, size_ = 1, device_ = 0;
  cudaStream_t host_stream_ = nullptr;
  int64_t* scratch_ = nullptr;  // device, scratch_size_ entries
  size_t scratch_size_ = 0;
};

}  // namespace lplb::cuda
