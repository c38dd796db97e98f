// `lplb simulate --gpu`: the placement LP methods solve each batch through
// lplb::cuda::CudaPlacementPlanner (host counts in, shares out, one
// synchronous round trip per batch), so a GPU run of the simulator can be
// compared with the CPU figures. Without the CUDA backend the constructor
// throws InvalidArgument naming --gpu.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "lplb/placement.hpp"

namespace lplb::sim {

class GpuPlacementSolver {
 public:
  // absent: empty or one byte per slot (CudaPlacementPlanner's mask).
  GpuPlacementSolver(const std::vector<int32_t>& phy2log, int64_t num_experts, int64_t ep_size,
                     const std::vector<uint8_t>& absent = {});
  ~GpuPlacementSolver();
  // Fills out.shares, out.optimum, out.rounds and out.solve_us (wall time of
  // the upload, solve and download).
  void solve(std::span<const int64_t> counts, PlacementSolveOutput& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lplb::sim
