// NcclDeviceExchange (lplb/cuda/nccl_device_exchange.hpp): construction,
// the exchange calls and the error check. The set-up is in
// device_exchange_setup.cu, the GIN kernels in gin_exchange.cu, the LSA
// kernel in exchange_protocol.cuh.
#include "lplb/cuda/nccl_device_exchange.hpp"

#include <cuda_runtime.h>

#include <memory>
#include <string>

#include "cuda/cuda_check.cuh"
#include "cuda/nccl/device_exchange_impl.cuh"
#include "cuda/nccl/window_peers.cuh"
#include "lplb/errors.hpp"

namespace lplb::cuda {

const char* to_string(ExchangeMode mode) {
  switch (mode) {
    case ExchangeMode::kLsa: return "lsa";
    case ExchangeMode::kGin: return "gin";
    case ExchangeMode::kHostAllReduce: return "host-allreduce";
  }
  return "?";
}

NcclDeviceExchange::NcclDeviceExchange(NcclCommunicator& comm, const DeviceExchangeOptions& options)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.comm = &comm;
  m.options = options;
  m.rank = comm.rank();
  m.size = comm.size();
  m.device = comm.device();
  check_arg(options.capacity > 0 && options.capacity <= (int64_t{1} << 30), "options.capacity",
            "must be in [1, 2^30], got " + std::to_string(options.capacity));
  check_arg(options.timeout_ms > 0 && options.timeout_ms <= int64_t{1} << 40, "options.timeout_ms",
            "must be > 0, got " + std::to_string(options.timeout_ms));
  m.timeout_ns = options.timeout_ms * 1000000;
  const ncclResult_t vr = ncclGetVersion(&m.version);
  if (vr != ncclSuccess) m.version = 0;
  m.layout.ranks = m.size;
  m.layout.blocks = detail::exchange_blocks(options.capacity);
  m.layout.capacity = options.capacity;

  detail::DeviceGuard guard(m.device);
  m.check_options_agree();  // before anything size-dependent is collective
  LPLB_CUDA_CHECK(cudaMalloc(&m.epochs, m.layout.blocks * sizeof(uint64_t)));
  LPLB_CUDA_CHECK(cudaMalloc(&m.error, sizeof(ExchangeError)));
  LPLB_CUDA_CHECK(cudaMemset(m.epochs, 0, m.layout.blocks * sizeof(uint64_t)));
  LPLB_CUDA_CHECK(cudaMemset(m.error, 0, sizeof(ExchangeError)));
  try {
    m.choose_mode();
  } catch (...) {
    m.release_device_resources();
    cudaFree(m.epochs);
    cudaFree(m.error);
    throw;
  }
}

NcclDeviceExchange::~NcclDeviceExchange() {
  if (!impl_) return;
  Impl& m = *impl_;
  int previous = 0;
  const bool have_previous = cudaGetDevice(&previous) == cudaSuccess;
  cudaSetDevice(m.device);
  cudaDeviceSynchronize();  // no kernel may still read the window
  m.release_device_resources();
  cudaFree(m.epochs);
  cudaFree(m.error);
  if (have_previous) cudaSetDevice(previous);
}

ExchangeMode NcclDeviceExchange::mode() const { return impl_->mode; }
const std::string& NcclDeviceExchange::mode_reason() const { return impl_->reason; }
int64_t NcclDeviceExchange::capacity() const { return impl_->options.capacity; }
int NcclDeviceExchange::nccl_version() const { return impl_->version; }
NcclCommunicator& NcclDeviceExchange::host_comm() const { return *impl_->comm; }
int NcclDeviceExchange::rank() const { return impl_->rank; }
int NcclDeviceExchange::size() const { return impl_->size; }

void NcclDeviceExchange::all_reduce_sum_device(const int64_t* send, int64_t* recv, size_t n,
                                               cudaStream_t stream) {
  if (n == 0) return;  // every rank has the same n, so every rank skips
  Impl& m = *impl_;
  check_arg(send != nullptr, "send", "is null");
  check_arg(recv != nullptr, "recv", "is null");
  check_arg(n <= static_cast<size_t>(m.options.capacity), "n",
            std::to_string(n) + " exceeds the exchange's capacity " +
                std::to_string(m.options.capacity) + " (DeviceExchangeOptions::capacity)");
  if (m.mode == ExchangeMode::kHostAllReduce) {
    m.comm->all_reduce_sum_device(send, recv, n, stream);
    return;
  }
#ifdef LPLB_NCCL_DEVICE_API
  detail::ExchangeArgs args{send, recv, static_cast<int64_t>(n), m.rank, m.layout, m.epochs, m.error,
                    m.timeout_ns};
  if (m.mode == ExchangeMode::kLsa) {
    detail::lsa_exchange_kernel<detail::WindowPeers>
        <<<m.layout.blocks, detail::kExchangeThreads, 0, stream>>>(detail::WindowPeers{m.window},
                                                                   args);
  }
#ifdef LPLB_NCCL_GIN
  if (m.mode == ExchangeMode::kGin) {
    detail::launch_gin_exchange(m.devcomm, m.window, static_cast<uint64_t*>(m.window_mem),
                                m.gin_layout, args, stream);
  }
#endif
  LPLB_CUDA_CHECK_LAUNCH();
#endif
}

void NcclDeviceExchange::all_reduce_sum(std::span<int64_t> values) {
  impl_->comm->all_reduce_sum(values);
}
void NcclDeviceExchange::all_reduce_max(std::span<int64_t> values) {
  impl_->comm->all_reduce_max(values);
}

void NcclDeviceExchange::check_errors(cudaStream_t stream) {
  Impl& m = *impl_;
  LPLB_CUDA_CHECK(cudaStreamSynchronize(stream));
  if (m.mode == ExchangeMode::kHostAllReduce) {
    ncclResult_t async = ncclSuccess;
    const ncclResult_t r = ncclCommGetAsyncError(m.comm->comm(), &async);
    if (r != ncclSuccess) throw Error("ncclCommGetAsyncError: " + detail::nccl_error(r, m.comm->comm()));
    if (async != ncclSuccess && async != ncclInProgress)
      throw Error("ncclAllReduce (asynchronous): " + detail::nccl_error(async, m.comm->comm()));
    return;
  }
  ExchangeError e{};
  LPLB_CUDA_CHECK(cudaMemcpy(&e, m.error, sizeof(e), cudaMemcpyDeviceToHost));
  if (e.bits == 0) return;
  const std::string where = "rank " + std::to_string(m.rank) + ", call #" + std::to_string(e.epoch) +
                            " of this exchange (" + to_string(m.mode) + ")";
  const std::string tail = "; the exchange is unusable now: destroy it on every rank";
  if (e.kind == detail::kExchangeSizeMismatch)
    throw_arg("n", "the ranks passed different lengths to the same all_reduce_sum_device call (" +
                       where + ": this rank " + std::to_string(e.my_n) + ", rank " +
                       std::to_string(e.peer) + " " + std::to_string(e.peer_n) + ")" + tail);
  throw Error("NcclDeviceExchange: " + where + " waited more than " +
              std::to_string(m.options.timeout_ms) + " ms for rank " + std::to_string(e.peer) +
              " at the device barrier (a rank skipped or reordered a call, failed, or stopped "
              "exchanging after an error)" + tail);
}

}  // namespace lplb::cuda
