// Device-side exchange vs ncclAllReduce on one GPU (bench/RESULTS.md,
// "Device-side exchange").
//
//   cmake -S . -B build-cuda -G Ninja -DLPLB_CUDA=ON -DLPLB_BENCH=ON
//   cmake --build build-cuda --target device_exchange_bench
//   build-cuda/bench/device_exchange_bench [replays]
//
// For each planner size, five CUDA graphs on one stream, each replayed many
// times between two CUDA events (medians, in microseconds; the graphs are
// measured interleaved, in rounds, so that clock drift hits all alike):
//   count + solve                         (no exchange: the floor)
//   count + device exchange + solve       (NcclDeviceExchange, kLsa)
//   count + ncclAllReduce + solve         (NcclCommunicator)
//   device exchange alone / ncclAllReduce alone
// with the CUDA planner's public API (4096 tokens x top-8 int32 ids). After
// timing, the two pipelines run once more on the same ids and must give the
// same global counts and bit-identical probs. A one-rank communicator: what
// this measures is the fixed cost of each path (launch, barrier, copy), not
// NVLink traffic; the 2-8 GPU comparison belongs to the multi-GPU run.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "lplb/comm.hpp"
#include "lplb/cuda/comm_nccl.hpp"
#include "lplb/cuda/nccl_device_exchange.hpp"
#include "lplb/cuda/planner_cuda.hpp"
#include "lplb/planner.hpp"

namespace {

using lplb::Planner;
using lplb::PlannerOptions;
using lplb::Topology;
using lplb::cuda::CudaPlanner;
using lplb::cuda::CudaPlannerOptions;
using lplb::cuda::DeviceExchangeOptions;
using lplb::cuda::ExchangeMode;
using lplb::cuda::NcclCommunicator;
using lplb::cuda::NcclDeviceExchange;

#define CHECK(call)                                                                         \
  do {                                                                                      \
    const cudaError_t e_ = (call);                                                          \
    if (e_ != cudaSuccess) {                                                                \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorName(e_)); \
      std::exit(1);                                                                         \
    }                                                                                       \
  } while (0)

std::string format_us(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", v);
  return buf;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

struct TimedGraph {
  std::string name;
  cudaGraphExec_t exec = nullptr;
  std::vector<double> us;
};

TimedGraph capture(cudaStream_t s, const std::string& name,
                   const std::function<void(cudaStream_t)>& work) {
  cudaGraph_t graph;
  CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
  work(s);
  CHECK(cudaStreamEndCapture(s, &graph));
  TimedGraph t;
  t.name = name;
  CHECK(cudaGraphInstantiate(&t.exec, graph, 0));
  CHECK(cudaGraphDestroy(graph));
  return t;
}

// `reps` replays of g, each between two events; appends the times.
void time_graph(TimedGraph& g, cudaStream_t s, int reps) {
  for (int k = 0; k < 10; ++k) CHECK(cudaGraphLaunch(g.exec, s));
  std::vector<cudaEvent_t> ev(2 * reps);
  for (auto& e : ev) CHECK(cudaEventCreate(&e));
  for (int k = 0; k < reps; ++k) {
    CHECK(cudaEventRecord(ev[2 * k], s));
    CHECK(cudaGraphLaunch(g.exec, s));
    CHECK(cudaEventRecord(ev[2 * k + 1], s));
  }
  CHECK(cudaStreamSynchronize(s));
  for (int k = 0; k < reps; ++k) {
    float ms = 0;
    CHECK(cudaEventElapsedTime(&ms, ev[2 * k], ev[2 * k + 1]));
    g.us.push_back(ms * 1e3);
  }
  for (auto e : ev) CHECK(cudaEventDestroy(e));
}

struct Case {
  const char* name;
  const char* topology;
  int64_t E, P, R;
};

std::vector<int32_t> skewed_ids(int64_t E, size_t n, std::mt19937_64& rng) {
  std::vector<int32_t> ids(n);
  std::vector<double> w(E);
  for (int64_t e = 0; e < E; ++e) w[e] = 1.0 / (1.0 + static_cast<double>(e % 37));  // skewed
  std::discrete_distribution<int32_t> pick(w.begin(), w.end());
  for (auto& x : ids) x = (rng() % 50 == 0) ? -1 : pick(rng);
  return ids;
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::max(10, std::atoi(argv[1])) : 1000;
  const int rounds = 3;
  cudaDeviceProp prop{};
  CHECK(cudaGetDeviceProperties(&prop, 0));
  NcclCommunicator comm = NcclCommunicator::single_rank(0);
  int nccl_version = 0;
  ncclGetVersion(&nccl_version);
  std::printf("# device-side exchange vs ncclAllReduce, one GPU, one rank\n");
  std::printf("%s, NCCL %d, %d replays x %d rounds per graph (median us)\n\n", prop.name,
              nccl_version, reps, rounds);

  const Case cases[] = {{"cube P=32", "cube", 256, 32, 2},
                        {"hypercube P=64", "hypercube", 1024, 64, 2},
                        {"cube P=256", "cube", 2048, 256, 2}};
  const size_t n = 4096 * 8;
  std::mt19937_64 rng(2026);
  bool printed_header = false;
  int failures = 0;
  for (const Case& c : cases) {
    PlannerOptions o;
    o.num_experts = c.E;
    o.ep_size = c.P;
    o.redundant_per_rank = c.R;
    const Planner planner(Topology::named(c.topology), o);
    CudaPlannerOptions copt;
    copt.max_ids = static_cast<int64_t>(n);
    CudaPlanner gpu(planner, copt);
    DeviceExchangeOptions xo;
    xo.capacity = c.E;
    xo.config_hash = lplb::config_hash(planner);
    NcclDeviceExchange exch(comm, xo);
    if (!printed_header) {
      std::printf("exchange mode: %s (%s)\n\n", lplb::cuda::to_string(exch.mode()),
                  exch.mode_reason().c_str());
      std::printf("| case | E | count+solve | count+exchange+solve (device) | count+ncclAllReduce+solve"
                  " | device exchange alone | ncclAllReduce alone | saved per layer |\n");
      std::printf("|---|---|---|---|---|---|---|---|\n");
      printed_header = true;
    }
    const bool device = exch.mode() != ExchangeMode::kHostAllReduce;

    const std::vector<int32_t> ids = skewed_ids(c.E, n, rng);
    int32_t* d_ids = nullptr;
    int64_t *d_dev = nullptr, *d_host = nullptr;
    CHECK(cudaMalloc(&d_ids, n * sizeof(int32_t)));
    CHECK(cudaMalloc(&d_dev, c.E * 8));
    CHECK(cudaMalloc(&d_host, c.E * 8));
    CHECK(cudaMemcpy(d_ids, ids.data(), n * sizeof(int32_t), cudaMemcpyHostToDevice));
    cudaStream_t s = nullptr;
    CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    const int64_t nn = static_cast<int64_t>(n);
    auto base = [&](cudaStream_t st) {
      gpu.count(d_ids, nn, st);
      gpu.solve(gpu.counts(), st);
    };
    auto with_device = [&](cudaStream_t st) {
      gpu.count(d_ids, nn, st);
      exch.all_reduce_sum_device(gpu.counts(), d_dev, c.E, st);
      gpu.solve(d_dev, st);
    };
    auto with_nccl = [&](cudaStream_t st) {
      gpu.count(d_ids, nn, st);
      comm.all_reduce_sum_device(gpu.counts(), d_host, c.E, st);
      gpu.solve(d_host, st);
    };
    auto device_alone = [&](cudaStream_t st) { exch.all_reduce_sum_device(gpu.counts(), d_dev, c.E, st); };
    auto nccl_alone = [&](cudaStream_t st) { comm.all_reduce_sum_device(gpu.counts(), d_host, c.E, st); };
    // Eager once (NCCL connects lazily, outside any capture).
    with_device(s);
    with_nccl(s);
    gpu.check_errors(s);

    std::vector<TimedGraph> graphs;
    graphs.push_back(capture(s, "base", base));
    graphs.push_back(capture(s, "device", with_device));
    graphs.push_back(capture(s, "nccl", with_nccl));
    graphs.push_back(capture(s, "device alone", device_alone));
    graphs.push_back(capture(s, "nccl alone", nccl_alone));
    for (int r = 0; r < rounds; ++r)
      for (auto& g : graphs) time_graph(g, s, reps);
    exch.check_errors(s);
    gpu.check_errors(s);

    // Bit-for-bit: the two pipelines on the same ids.
    const int64_t PD = planner.num_probs();
    std::vector<double> p_dev(PD), p_host(PD);
    std::vector<int64_t> g_dev(c.E), g_host(c.E);
    CHECK(cudaGraphLaunch(graphs[1].exec, s));
    CHECK(cudaStreamSynchronize(s));
    CHECK(cudaMemcpy(p_dev.data(), gpu.probs(), PD * 8, cudaMemcpyDeviceToHost));
    CHECK(cudaGraphLaunch(graphs[2].exec, s));
    CHECK(cudaStreamSynchronize(s));
    CHECK(cudaMemcpy(p_host.data(), gpu.probs(), PD * 8, cudaMemcpyDeviceToHost));
    CHECK(cudaMemcpy(g_dev.data(), d_dev, c.E * 8, cudaMemcpyDeviceToHost));
    CHECK(cudaMemcpy(g_host.data(), d_host, c.E * 8, cudaMemcpyDeviceToHost));
    const bool same = g_dev == g_host && g_dev == planner.count(std::span<const int32_t>(ids)) &&
                      std::memcmp(p_dev.data(), p_host.data(), PD * 8) == 0;
    if (!same) ++failures;

    const double m[5] = {median(graphs[0].us), median(graphs[1].us), median(graphs[2].us),
                         median(graphs[3].us), median(graphs[4].us)};
    auto us = [&](double v) { return device ? format_us(v) : std::string("n/a"); };
    std::printf("| %s | %lld | %.2f | %s | %.2f | %s | %.2f | %s |%s\n", c.name,
                static_cast<long long>(c.E), m[0], us(m[1]).c_str(), m[2], us(m[3]).c_str(), m[4],
                us(m[2] - m[1]).c_str(), same ? "" : " RESULTS DIFFER");
    for (auto& g : graphs) cudaGraphExecDestroy(g.exec);
    cudaStreamDestroy(s);
    cudaFree(d_ids);
    cudaFree(d_dev);
    cudaFree(d_host);
  }
  std::printf("\nbit-for-bit check (global counts, probs, device vs ncclAllReduce): %s\n",
              failures == 0 ? "identical in every case" : "DIFFERENCES FOUND");
  return failures == 0 ? 0 : 1;
}
