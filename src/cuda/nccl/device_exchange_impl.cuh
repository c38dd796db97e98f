// The state of one NcclDeviceExchange, shared by its set-up
// (device_exchange_setup.cu) and its calls (device_exchange.cu).
#pragma once

#include <cstdint>
#include <string>

#include "cuda/nccl/exchange_protocol.cuh"
#include "cuda/nccl/gin_exchange.cuh"
#include "cuda/nccl/nccl_device_api.cuh"
#include "lplb/cuda/nccl_device_exchange.hpp"

namespace lplb::cuda {

using detail::ExchangeError;
using detail::ExchangeLayout;

struct NcclDeviceExchange::Impl {
  NcclCommunicator* comm = nullptr;
  DeviceExchangeOptions options;
  ExchangeMode mode = ExchangeMode::kHostAllReduce;
  std::string reason;
  int version = 0;
  int rank = 0, size = 1, device = 0;
  ExchangeLayout layout;
  int64_t timeout_ns = 0;
  uint64_t* epochs = nullptr;      // device [blocks]
  ExchangeError* error = nullptr;  // device
  void* window_mem = nullptr;      // ncclMemAlloc'd, registered as `window`
  size_t window_bytes = 0;
#ifdef LPLB_NCCL_DEVICE_API
  detail::NcclDeviceApi api;
  ncclWindow_t window = nullptr;
  bool window_registered = false;
  ncclDevComm devcomm{};
  bool has_devcomm = false;
#ifdef LPLB_NCCL_GIN
  detail::GinLayout gin_layout{};
#endif
#endif

  void check_options_agree();
  void choose_mode();
  void release_device_resources() noexcept;
#ifdef LPLB_NCCL_DEVICE_API
  bool allocate_window(size_t words, std::string& why);
  void write_header_and_sync();
  bool setup_lsa(std::string& why);
  bool setup_gin(std::string& why);
#endif
};

}  // namespace lplb::cuda
