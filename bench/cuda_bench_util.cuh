// Helpers of the CUDA benchmarks: checked calls, device copies, CUDA-event
// timing of graph replays (median), and the simulator-like batch counts.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <numeric>
#include <random>
#include <vector>

namespace lplb_bench {

#define CHECK(call)                                                                     \
  do {                                                                                  \
    const cudaError_t e_ = (call);                                                      \
    if (e_ != cudaSuccess) {                                                            \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call,                \
                   cudaGetErrorName(e_));                                               \
      std::exit(1);                                                                     \
    }                                                                                   \
  } while (0)

template <typename T>
T* device_copy(const std::vector<T>& v) {
  T* p = nullptr;
  CHECK(cudaMalloc(&p, std::max<size_t>(1, v.size()) * sizeof(T)));
  CHECK(cudaMemcpy(p, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
  return p;
}

template <typename T>
std::vector<T> host_copy(const T* p, size_t n) {
  std::vector<T> v(n);
  CHECK(cudaMemcpy(v.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost));
  return v;
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// A graph per variant of the work (e.g. one per input buffer); replays them
// round-robin, each between two events. Returns the median in microseconds.
class GraphTimer {
 public:
  explicit GraphTimer(cudaStream_t stream) : stream_(stream) {}
  ~GraphTimer() {
    for (auto e : execs_) cudaGraphExecDestroy(e);
  }
  void capture(const std::function<void(cudaStream_t)>& work) {
    cudaGraph_t graph;
    CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeGlobal));
    work(stream_);
    CHECK(cudaStreamEndCapture(stream_, &graph));
    cudaGraphExec_t exec;
    CHECK(cudaGraphInstantiate(&exec, graph, 0));
    CHECK(cudaGraphDestroy(graph));
    execs_.push_back(exec);
  }
  double median_us(int reps, int warmup = 5) {
    for (int k = 0; k < warmup; ++k) CHECK(cudaGraphLaunch(execs_[k % execs_.size()], stream_));
    std::vector<cudaEvent_t> ev(2 * reps);
    for (auto& e : ev) CHECK(cudaEventCreate(&e));
    for (int k = 0; k < reps; ++k) {
      CHECK(cudaEventRecord(ev[2 * k], stream_));
      CHECK(cudaGraphLaunch(execs_[k % execs_.size()], stream_));
      CHECK(cudaEventRecord(ev[2 * k + 1], stream_));
    }
    CHECK(cudaStreamSynchronize(stream_));
    std::vector<double> us(reps);
    for (int k = 0; k < reps; ++k) {
      float ms = 0;
      CHECK(cudaEventElapsedTime(&ms, ev[2 * k], ev[2 * k + 1]));
      us[k] = ms * 1e3;
    }
    for (auto e : ev) CHECK(cudaEventDestroy(e));
    return median(us);
  }

 private:
  cudaStream_t stream_;
  std::vector<cudaGraphExec_t> execs_;
};

__global__ void empty_kernel() {}

// One batch's global counts: P ranks x 4096 tokens x top-8 over E experts
// with a drifting Zipf popularity (exponent 0.6..1.2), as the simulator's
// default stream.
inline std::vector<int64_t> batch_counts(int64_t E, int64_t P, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const double s = 0.6 + 0.6 * u(rng);
  std::vector<double> weight(E);
  for (int64_t e = 0; e < E; ++e) weight[e] = 1.0 / std::pow(double(e + 1), s);
  std::shuffle(weight.begin(), weight.end(), rng);
  const double total = std::accumulate(weight.begin(), weight.end(), 0.0);
  const double tokens = double(P) * 4096 * 8;
  std::vector<int64_t> counts(E);
  for (int64_t e = 0; e < E; ++e) {
    const double mean = tokens * weight[e] / total;
    std::normal_distribution<double> noise(mean, std::sqrt(mean + 1));
    counts[e] = std::max<int64_t>(0, std::llround(noise(rng)));
  }
  return counts;
}

}  // namespace lplb_bench
