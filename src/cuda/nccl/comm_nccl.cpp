// NcclCommunicator: host code only (NCCL launches its own kernels).
#include "lplb/cuda/comm_nccl.hpp"

#include <string>
#include <utility>

#include "cuda/cuda_check.cuh"
#include "lplb/errors.hpp"

namespace lplb::cuda {
namespace {

// ncclInProgress only comes from non-blocking communicators: the call was
// accepted and completes asynchronously, which is what a stream-ordered
// collective promises anyway.
void check_nccl(ncclResult_t r, ncclComm_t comm, const char* call) {
  if (r == ncclSuccess || r == ncclInProgress) return;
  std::string detail = comm != nullptr ? ncclGetLastError(comm) : "";
  throw Error(std::string(call) + ": " + ncclGetErrorString(r) +
              (detail.empty() ? "" : " (" + detail + ")"));
}

using detail::DeviceGuard;

}  // namespace

NcclCommunicator::NcclCommunicator(ncclComm_t comm, bool owns_comm)
    : comm_(comm), owns_comm_(owns_comm) {
  check_arg(comm != nullptr, "comm", "is null");
  try {
    check_nccl(ncclCommCount(comm_, &size_), comm_, "ncclCommCount");
    check_nccl(ncclCommUserRank(comm_, &rank_), comm_, "ncclCommUserRank");
    check_nccl(ncclCommCuDevice(comm_, &device_), comm_, "ncclCommCuDevice");
    DeviceGuard guard(device_);
    LPLB_CUDA_CHECK(cudaStreamCreateWithFlags(&host_stream_, cudaStreamNonBlocking));
  } catch (...) {
    if (owns_comm_) ncclCommDestroy(comm_);
    throw;
  }
}

NcclCommunicator NcclCommunicator::single_rank(int device) {
  int count = 0;
  LPLB_CUDA_CHECK(cudaGetDeviceCount(&count));
  check_arg(device >= 0 && device < count, "device",
            std::to_string(device) + " is not in [0, " + std::to_string(count) + ")");
  ncclComm_t comm = nullptr;
  check_nccl(ncclCommInitAll(&comm, 1, &device), nullptr, "ncclCommInitAll");
  return NcclCommunicator(comm, /*owns_comm=*/true);
}

NcclCommunicator::NcclCommunicator(NcclCommunicator&& other) noexcept
    : comm_(std::exchange(other.comm_, nullptr)),
      owns_comm_(std::exchange(other.owns_comm_, false)),
      rank_(other.rank_),
      size_(other.size_),
      device_(other.device_),
      host_stream_(std::exchange(other.host_stream_, nullptr)),
      scratch_(std::exchange(other.scratch_, nullptr)),
      scratch_size_(std::exchange(other.scratch_size_, 0)) {}

NcclCommunicator::~NcclCommunicator() {
  // No throwing here: release what exists and ignore errors at teardown.
  if (scratch_ != nullptr) cudaFree(scratch_);
  if (host_stream_ != nullptr) cudaStreamDestroy(host_stream_);
  if (owns_comm_ && comm_ != nullptr) ncclCommDestroy(comm_);
}

void NcclCommunicator::all_reduce_sum_device(const int64_t* send, int64_t* recv, size_t n,
                                             cudaStream_t stream) {
  if (n == 0) return;  // every rank has the same n, so every rank skips
  check_arg(send != nullptr, "send", "is null");
  check_arg(recv != nullptr, "recv", "is null");
  check_nccl(ncclAllReduce(send, recv, n, ncclInt64, ncclSum, comm_, stream), comm_,
             "ncclAllReduce");
}

void NcclCommunicator::host_all_reduce(std::span<int64_t> values, ncclRedOp_t op) {
  if (values.empty()) return;
  DeviceGuard guard(device_);
  const size_t bytes = values.size() * sizeof(int64_t);
  if (scratch_size_ < values.size()) {
    if (scratch_ != nullptr) LPLB_CUDA_CHECK(cudaFree(scratch_));
    scratch_ = nullptr;
    scratch_size_ = 0;
    LPLB_CUDA_CHECK(cudaMalloc(&scratch_, bytes));
    scratch_size_ = values.size();
  }
  LPLB_CUDA_CHECK(
      cudaMemcpyAsync(scratch_, values.data(), bytes, cudaMemcpyHostToDevice, host_stream_));
  check_nccl(ncclAllReduce(scratch_, scratch_, values.size(), ncclInt64, op, comm_, host_stream_),
             comm_, "ncclAllReduce");
  LPLB_CUDA_CHECK(
      cudaMemcpyAsync(values.data(), scratch_, bytes, cudaMemcpyDeviceToHost, host_stream_));
  LPLB_CUDA_CHECK(cudaStreamSynchronize(host_stream_));
  ncclResult_t async = ncclSuccess;
  check_nccl(ncclCommGetAsyncError(comm_, &async), comm_, "ncclCommGetAsyncError");
  check_nccl(async, comm_, "ncclAllReduce (asynchronous)");
}

void NcclCommunicator::all_reduce_sum(std::span<int64_t> values) {
  host_all_reduce(values, ncclSum);
}
void NcclCommunicator::all_reduce_max(std::span<int64_t> values) {
  host_all_reduce(values, ncclMax);
}

}  // namespace lplb::cuda
