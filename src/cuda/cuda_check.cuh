// Checked CUDA calls: a failure throws lplb::Error("file:line: call: NAME
// (description)"). Host code only; kernels report through the error word.
#pragma once

#include <cuda_runtime_api.h>

#include <string>

#include "lplb/errors.hpp"

namespace lplb::cuda::detail {

[[noreturn]] inline void throw_cuda_error(cudaError_t err, const char* call, const char* file,
                                          int line) {
  throw Error(std::string(file) + ":" + std::to_string(line) + ": " + call + ": " +
              cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")");
}

}  // namespace lplb::cuda::detail

#define LPLB_CUDA_CHECK(call)                                                      \
  do {                                                                             \
    const cudaError_t lplb_err_ = (call);                                          \
    if (lplb_err_ != cudaSuccess)                                                  \
      ::lplb::cuda::detail::throw_cuda_error(lplb_err_, #call, __FILE__, __LINE__); \
  } while (0)

// After a kernel launch: launch-configuration errors surface here.
#define LPLB_CUDA_CHECK_LAUNCH() LPLB_CUDA_CHECK(cudaGetLastError())

namespace lplb::cuda::detail {

// Makes `device` current for a scope and restores the caller's device.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    LPLB_CUDA_CHECK(cudaGetDevice(&previous_));
    if (previous_ != device) LPLB_CUDA_CHECK(cudaSetDevice(device));
  }
  ~DeviceGuard() { cudaSetDevice(previous_); }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
};

}  // namespace lplb::cuda::detail
