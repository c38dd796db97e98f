// The device error word of both CUDA planners, host side: a clean state to
// upload at setup, and reading it back into lplb::InvalidArgument.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "cuda/device_types.cuh"

namespace lplb::cuda::detail {

ErrorState clean_error_state();

// Synchronises `stream`, reads the error word at `dev` and, if any bit is
// set, clears it and throws InvalidArgument naming the first bad id index or
// workload entry (E experts per layer).
void raise_device_errors(ErrorState* dev, int64_t E, cudaStream_t stream);

}  // namespace lplb::cuda::detail
