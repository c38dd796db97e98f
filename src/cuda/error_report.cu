// Host side of the device error word (error_report.cuh).
#include "cuda/error_report.cuh"

#include <cuda_runtime.h>

#include <string>

#include "cuda/cuda_check.cuh"
#include "lplb/cuda/planner_cuda.hpp"
#include "lplb/errors.hpp"

namespace lplb::cuda::detail {

ErrorState clean_error_state() {
  ErrorState s{};
  s.first_bad_id = ~0ull;
  s.first_bad_workload = ~0ull;
  return s;
}

void raise_device_errors(ErrorState* dev, int64_t num_experts, cudaStream_t stream) {
  LPLB_CUDA_CHECK(cudaStreamSynchronize(stream));
  ErrorState s{};
  LPLB_CUDA_CHECK(cudaMemcpy(&s, dev, sizeof(s), cudaMemcpyDeviceToHost));
  if (s.bits == 0) return;
  const ErrorState clean = clean_error_state();
  LPLB_CUDA_CHECK(cudaMemcpy(dev, &clean, sizeof(clean), cudaMemcpyHostToDevice));
  const std::string E = std::to_string(num_experts);
  if (s.bits & kErrorBadId) {
    const int64_t index = static_cast<int64_t>(s.first_bad_id >> 32);
    const int32_t value = static_cast<int32_t>(static_cast<uint32_t>(s.first_bad_id & 0xffffffffu));
    std::string shown = std::to_string(value);
    if (value == INT32_MAX) shown = ">= " + shown;
    if (value == INT32_MIN) shown = "<= " + shown;
    throw_arg("ids", "entry " + std::to_string(index) + " = " + shown + " is outside [-1, " + E +
                         ")");
  }
  if (s.bits & kErrorBadWorkload) {
    const uint64_t at = s.first_bad_workload;
    const uint64_t layer = at / static_cast<uint64_t>(num_experts), e = at % num_experts;
    throw_arg("workload", "entry " + std::to_string(e) +
                              (layer > 0 ? " of layer " + std::to_string(layer) : std::string()) +
                              " is negative or not finite");
  }
  throw_arg("ids", "map() was not preceded by a count() of the same number of ids on this stream");
}

}  // namespace lplb::cuda::detail
