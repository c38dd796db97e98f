// Helpers of the CUDA tests: device detection, the small-run switch for
// compute-sanitizer, and a device array with host round trips.
#pragma once

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

namespace lplb {

#define CUDA_OK(call) ASSERT_EQ((call), cudaSuccess) << #call

inline bool has_device() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

// LPLB_CUDA_TEST_SMALL=1 shrinks every test (for compute-sanitizer runs);
// =2 also keeps only the smallest groups for the IPM (racecheck).
inline int small_level() {
  const char* v = std::getenv("LPLB_CUDA_TEST_SMALL");
  return v == nullptr ? 0 : std::atoi(v);
}
inline bool small_run() { return small_level() > 0; }

#define SKIP_WITHOUT_DEVICE() \
  if (!has_device()) GTEST_SKIP() << "no CUDA device"

// A device array with host round trips.
template <typename T>
class DeviceArray {
 public:
  explicit DeviceArray(size_t n) : n_(n) {
    if (cudaMalloc(&p_, std::max<size_t>(n, 1) * sizeof(T)) != cudaSuccess) p_ = nullptr;
  }
  explicit DeviceArray(const std::vector<T>& v) : DeviceArray(v.size()) { upload(v); }
  ~DeviceArray() { cudaFree(p_); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  T* get() const { return p_; }
  void upload(const std::vector<T>& v) {
    cudaMemcpy(p_, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice);
  }
  std::vector<T> download(size_t n) const {
    std::vector<T> v(n);
    cudaMemcpy(v.data(), p_, n * sizeof(T), cudaMemcpyDeviceToHost);
    return v;
  }
  std::vector<T> download() const { return download(n_); }

 private:
  T* p_ = nullptr;
  size_t n_ = 0;
};

template <typename T>
std::vector<T> copy_to_host(const T* device, size_t n) {
  std::vector<T> v(n);
  EXPECT_EQ(cudaMemcpy(v.data(), device, n * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
  return v;
}

}  // namespace lplb
