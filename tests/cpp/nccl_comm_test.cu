// NcclCommunicator with a one-rank communicator on one GPU: host fallbacks,
// the device all-reduce inside a captured CUDA graph, and the whole
// distributed GPU pipeline (count -> all-reduce -> solve -> map) as one graph,
// checked against the CPU planner. Skips without a CUDA device, or when the
// build found no NCCL (then lplb_nccl does not exist).
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "lplb/comm.hpp"
#include "lplb/errors.hpp"
#include "lplb/planner.hpp"
#ifdef LPLB_HAVE_NCCL
#include "lplb/cuda/comm_nccl.hpp"
#include "lplb/cuda/planner_cuda.hpp"
#endif

namespace lplb {
namespace {

bool have_gpu() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

#define SKIP_WITHOUT_NCCL_GPU()                                          \
  do {                                                                   \
    if (!kHaveNccl) GTEST_SKIP() << "built without NCCL (no lplb_nccl)"; \
    if (!have_gpu()) GTEST_SKIP() << "no CUDA device";                   \
  } while (0)

#define CUDA_OK(call) ASSERT_EQ((call), cudaSuccess) << #call

#ifdef LPLB_HAVE_NCCL
constexpr bool kHaveNccl = true;
using cuda::NcclCommunicator;

__global__ void count_kernel(const int64_t* ids, int64_t n, int64_t E, unsigned long long* counts) {
  for (int64_t k = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; k < n;
       k += int64_t{gridDim.x} * blockDim.x) {
    const int64_t e = ids[k];
    if (e >= 0 && e < E) atomicAdd(counts + e, 1ull);
  }
}

std::vector<int64_t> random_ids(int64_t E, size_t n, std::mt19937_64& rng) {
  std::vector<int64_t> ids(n);
  for (auto& x : ids) x = static_cast<int64_t>(rng() % (E + 1)) - 1;  // -1 included
  for (size_t k = 0; k < n / 3; ++k) ids[k] = 3;                      // a hot expert
  std::shuffle(ids.begin(), ids.end(), rng);
  return ids;
}

Planner make_planner(const char* topology, int64_t E, int64_t P, int64_t R) {
  PlannerOptions o;
  o.num_experts = E;
  o.ep_size = P;
  o.redundant_per_rank = R;
  return Planner(Topology::named(topology), o);
}

TEST(NcclCommunicator, OneRankHostFallbacks) {
  SKIP_WITHOUT_NCCL_GPU();
  NcclCommunicator comm = NcclCommunicator::single_rank(0);
  EXPECT_EQ(comm.size(), 1);
  EXPECT_EQ(comm.rank(), 0);
  EXPECT_EQ(comm.device(), 0);
  std::mt19937_64 rng(1);
  for (const size_t n : {size_t{0}, size_t{1}, size_t{1000}, size_t{3}}) {  // grow, then reuse
    std::vector<int64_t> v(n);
    for (auto& x : v) x = static_cast<int64_t>(rng());
    std::vector<int64_t> s = v, m = v;
    comm.all_reduce_sum(s);
    comm.all_reduce_max(m);
    EXPECT_EQ(s, v);  // one rank: the identity
    EXPECT_EQ(m, v);
  }
  EXPECT_NO_THROW(check_consistent(make_planner("cube", 256, 32, 2), comm));
}

TEST(NcclCommunicator, DeviceAllReduceInsideACudaGraph) {
  SKIP_WITHOUT_NCCL_GPU();
  NcclCommunicator comm = NcclCommunicator::single_rank(0);
  const Planner planner = make_planner("cube", 256, 32, 2);
  const int64_t E = 256;
  const size_t n = 50000;
  int64_t *d_ids = nullptr, *d_counts = nullptr, *d_global = nullptr, *h_global = nullptr;
  CUDA_OK(cudaMalloc(&d_ids, n * sizeof(int64_t)));
  CUDA_OK(cudaMalloc(&d_counts, E * sizeof(int64_t)));
  CUDA_OK(cudaMalloc(&d_global, E * sizeof(int64_t)));
  CUDA_OK(cudaMallocHost(&h_global, E * sizeof(int64_t)));
  cudaStream_t s = nullptr;
  CUDA_OK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));

  // count -> out-of-place all-reduce -> in-place all-reduce -> copy out.
  auto enqueue = [&] {
    cudaMemsetAsync(d_counts, 0, E * sizeof(int64_t), s);
    count_kernel<<<64, 256, 0, s>>>(d_ids, static_cast<int64_t>(n), E,
                                    reinterpret_cast<unsigned long long*>(d_counts));
    comm.all_reduce_sum_device(d_counts, d_global, E, s);
    comm.all_reduce_sum_device(d_global, E, s);
    cudaMemcpyAsync(h_global, d_global, E * sizeof(int64_t), cudaMemcpyDeviceToHost, s);
  };
  // One eager run first, so NCCL sets up its connections outside the capture.
  CUDA_OK(cudaMemsetAsync(d_ids, 0xff, n * sizeof(int64_t), s));  // all -1
  enqueue();
  CUDA_OK(cudaStreamSynchronize(s));
  EXPECT_EQ(std::vector<int64_t>(h_global, h_global + E), std::vector<int64_t>(E, 0));

  cudaGraph_t graph = nullptr;
  CUDA_OK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
  enqueue();
  CUDA_OK(cudaStreamEndCapture(s, &graph));
  cudaGraphExec_t exec = nullptr;
  CUDA_OK(cudaGraphInstantiate(&exec, graph, 0));

  std::mt19937_64 rng(7);
  for (int replay = 0; replay < 5; ++replay) {
    const std::vector<int64_t> ids = random_ids(E, n, rng);
    CUDA_OK(cudaMemcpyAsync(d_ids, ids.data(), n * sizeof(int64_t), cudaMemcpyHostToDevice, s));
    CUDA_OK(cudaGraphLaunch(exec, s));
    CUDA_OK(cudaStreamSynchronize(s));
    const std::vector<int64_t> expected = planner.count(std::span<const int64_t>(ids));
    EXPECT_EQ(std::vector<int64_t>(h_global, h_global + E), expected) << "replay " << replay;
  }
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(s);
  cudaFree(d_ids);
  cudaFree(d_counts);
  cudaFree(d_global);
  cudaFreeHost(h_global);
}

// What a distributed GPU user runs every batch, captured once and replayed.
TEST(NcclCommunicator, CountAllReduceSolveMapAsOneGraph) {
  SKIP_WITHOUT_NCCL_GPU();
  NcclCommunicator comm = NcclCommunicator::single_rank(0);
  const Planner planner = make_planner("cube", 256, 32, 2);
  ASSERT_NO_THROW(check_consistent(planner, comm));
  const int64_t E = 256, P = 32, D = 2;
  const size_t n = 4096 * 8;
  cuda::CudaPlannerOptions opt;
  opt.max_ids = static_cast<int64_t>(n);
  cuda::CudaPlanner gpu(planner, opt);

  int64_t *d_ids = nullptr, *d_out = nullptr, *d_global = nullptr;
  CUDA_OK(cudaMalloc(&d_ids, n * sizeof(int64_t)));
  CUDA_OK(cudaMalloc(&d_out, n * sizeof(int64_t)));
  CUDA_OK(cudaMalloc(&d_global, E * sizeof(int64_t)));
  std::vector<int64_t> h_out(n), h_global(E);
  std::vector<double> h_probs(P * D);
  cudaStream_t s = nullptr;
  CUDA_OK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));

  auto enqueue = [&] {
    gpu.count(d_ids, static_cast<int64_t>(n), s);
    comm.all_reduce_sum_device(gpu.counts(), d_global, E, s);
    gpu.solve(d_global, s);
    gpu.map(d_ids, static_cast<int64_t>(n), d_out, s);
  };
  CUDA_OK(cudaMemsetAsync(d_ids, 0xff, n * sizeof(int64_t), s));  // warm-up batch: all -1
  enqueue();
  ASSERT_NO_THROW(gpu.check_errors(s));

  cudaGraph_t graph = nullptr;
  CUDA_OK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
  enqueue();
  CUDA_OK(cudaStreamEndCapture(s, &graph));
  cudaGraphExec_t exec = nullptr;
  CUDA_OK(cudaGraphInstantiate(&exec, graph, 0));

  std::mt19937_64 rng(9);
  for (int replay = 0; replay < 3; ++replay) {
    const std::vector<int64_t> ids = random_ids(E, n, rng);
    CUDA_OK(cudaMemcpyAsync(d_ids, ids.data(), n * sizeof(int64_t), cudaMemcpyHostToDevice, s));
    CUDA_OK(cudaGraphLaunch(exec, s));
    ASSERT_NO_THROW(gpu.check_errors(s));  // synchronises
    CUDA_OK(cudaMemcpy(h_out.data(), d_out, n * sizeof(int64_t), cudaMemcpyDeviceToHost));
    CUDA_OK(cudaMemcpy(h_global.data(), d_global, E * sizeof(int64_t), cudaMemcpyDeviceToHost));
    CUDA_OK(
        cudaMemcpy(h_probs.data(), gpu.probs(), P * D * sizeof(double), cudaMemcpyDeviceToHost));

    // The CPU planner through the same communicator (host fallback).
    std::vector<int64_t> cpu_out(n);
    const SolveOutput cpu =
        planner.run(std::span<const int64_t>(ids), std::span<int64_t>(cpu_out), &comm);
    EXPECT_EQ(h_global, planner.count(std::span<const int64_t>(ids)));
    // Same optimum (optima need not be unique), and the same mapping rule.
    const auto workload = std::vector<double>(h_global.begin(), h_global.end());
    const auto gpu_loads = planner.rank_loads(workload, h_probs);
    const double gpu_max = *std::max_element(gpu_loads.begin(), gpu_loads.end());
    const double cpu_max = *std::max_element(cpu.load_after.begin(), cpu.load_after.end());
    EXPECT_NEAR(gpu_max, cpu_max, 1e-6 * std::max(1.0, cpu_max)) << "replay " << replay;
    std::vector<int64_t> expected(n);
    planner.map(std::span<const int64_t>(ids), h_probs, std::span<int64_t>(expected));
    EXPECT_EQ(h_out, expected) << "replay " << replay;
  }
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(s);
  cudaFree(d_ids);
  cudaFree(d_out);
  cudaFree(d_global);
}

TEST(NcclCommunicator, RejectsBadArguments) {
  SKIP_WITHOUT_NCCL_GPU();
  NcclCommunicator comm = NcclCommunicator::single_rank(0);
  EXPECT_THROW(comm.all_reduce_sum_device(nullptr, 4, nullptr), InvalidArgument);
  EXPECT_NO_THROW(comm.all_reduce_sum_device(nullptr, 0, nullptr));  // nothing to do
  EXPECT_THROW(NcclCommunicator::single_rank(-1), InvalidArgument);
  EXPECT_THROW(NcclCommunicator(nullptr), InvalidArgument);
}

#else
constexpr bool kHaveNccl = false;

TEST(NcclCommunicator, NotBuilt) { SKIP_WITHOUT_NCCL_GPU(); }
#endif

}  // namespace
}  // namespace lplb
