// Summing workload statistics across the EP group (SPEC section 5.5) through
// an existing engine: MPI on the CPU (lplb/comm_mpi.hpp), NCCL on the GPU
// (lplb/cuda/). All ranks then solve the same LPs locally.
#pragma once

#include <cstdint>
#include <span>

namespace lplb {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // In-place element-wise sum over all ranks (host memory).
  virtual void all_reduce_sum(std::span<int64_t> values) = 0;
};

}  // namespace lplb
