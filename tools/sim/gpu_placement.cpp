// GpuPlacementSolver (sim/gpu_placement.hpp).
#include "sim/gpu_placement.hpp"

#include <chrono>

#include "lplb/errors.hpp"

#if defined(LPLB_WITH_CUDA)
#include <cuda_runtime_api.h>

#include "lplb/cuda/placement_planner_cuda.hpp"
#endif

namespace lplb::sim {

#if defined(LPLB_WITH_CUDA)

namespace {
void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw Error(std::string("--gpu: ") + what + ": " + cudaGetErrorName(e));
}
}  // namespace

struct GpuPlacementSolver::Impl {
  cuda::CudaPlacementPlanner planner;
  int64_t E = 0, n = 0;
  int64_t* counts = nullptr;
  cudaStream_t stream = nullptr;
  Impl(const std::vector<int32_t>& phy2log, int64_t E_, int64_t P,
       const std::vector<uint8_t>& absent)
      : planner(std::span<const int32_t>(phy2log), E_, P, std::span<const uint8_t>(absent)), E(E_),
        n(static_cast<int64_t>(phy2log.size())) {
    check(cudaMalloc(reinterpret_cast<void**>(&counts), static_cast<size_t>(E) * sizeof(int64_t)), "cudaMalloc");
    check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
  }
  ~Impl() {
    cudaFree(counts);
    cudaStreamDestroy(stream);
  }
};

GpuPlacementSolver::GpuPlacementSolver(const std::vector<int32_t>& phy2log, int64_t num_experts,
                                       int64_t ep_size, const std::vector<uint8_t>& absent)
    : impl_(std::make_unique<Impl>(phy2log, num_experts, ep_size, absent)) {}

GpuPlacementSolver::~GpuPlacementSolver() = default;

void GpuPlacementSolver::solve(std::span<const int64_t> counts, PlacementSolveOutput& out) {
  Impl& m = *impl_;
  check_arg(static_cast<int64_t>(counts.size()) == m.E, "counts", "expected one entry per expert");
  const auto t0 = std::chrono::steady_clock::now();
  check(cudaMemcpyAsync(m.counts, counts.data(), counts.size() * sizeof(int64_t),
                        cudaMemcpyHostToDevice, m.stream),
        "upload");
  m.planner.solve(m.counts, m.stream);
  out.shares.resize(m.n);
  cuda::PlacementResult r{};
  check(cudaMemcpyAsync(out.shares.data(), m.planner.shares(), m.n * sizeof(double),
                        cudaMemcpyDeviceToHost, m.stream),
        "download");
  check(cudaMemcpyAsync(&r, m.planner.result(), sizeof(r), cudaMemcpyDeviceToHost, m.stream),
        "download");
  m.planner.check_errors(m.stream);  // synchronises
  out.solve_us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
  out.optimum = r.optimum;
  out.rounds = r.rounds;
}

#else

struct GpuPlacementSolver::Impl {};

GpuPlacementSolver::GpuPlacementSolver(const std::vector<int32_t>&, int64_t, int64_t,
                                       const std::vector<uint8_t>&) {
  throw InvalidArgument("--gpu: this build has no CUDA backend (configure with -DLPLB_CUDA=ON)");
}
GpuPlacementSolver::~GpuPlacementSolver() = default;
void GpuPlacementSolver::solve(std::span<const int64_t>, PlacementSolveOutput&) {}

#endif

}  // namespace lplb::sim
