// The CUDA backend's benchmark (bench/RESULTS.md, "CUDA backend (H200)").
//
//   cmake -S . -B build-cuda -G Ninja -DLPLB_CUDA=ON -DLPLB_BENCH=ON
//   cmake --build build-cuda --target cuda_bench && build-cuda/bench/cuda_bench
//
// Everything is timed with CUDA events around CUDA graph replays, medians of
// many replays, inputs rotated so that no replay reads what the previous one
// left in L2 where that matters:
//  1. solve latency per launch (one graph = one solve kernel for all groups),
//     exact and the reference IPM (block and single-thread variants) on the
//     same LPs, plus the IPM's quality (fallbacks, infeasible probs, gap);
//  2. the full pipeline count -> solve -> map for 4096 tokens x top-8;
//  3. count and map on 1M tokens x top-8 against the device copy bandwidth.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "cuda_bench_util.cuh"
#include "lplb/cuda/planner_cuda.hpp"
#include "lplb/planner.hpp"

namespace {

using namespace lplb_bench;

using lplb::Planner;
using lplb::PlannerOptions;
using lplb::SolverKind;
using lplb::Topology;
using lplb::cuda::CudaPlanner;
using lplb::cuda::CudaPlannerOptions;
using lplb::cuda::GroupResult;

struct Case {
  const char* name;
  const char* topology;
  int64_t E, P, R;
};

Planner make_planner(const Case& c, SolverKind solver, std::mt19937_64& rng) {
  PlannerOptions o;
  o.num_experts = c.E;
  o.ep_size = c.P;
  o.redundant_per_rank = c.R;
  o.solver = solver;
  std::string spec = c.topology;
  if (spec == "random:64:4") {  // each column an independent derangement
    const int64_t S = 64, D = 4;
    std::vector<int32_t> r2o(S * D);
    for (int64_t d = 0; d < D; ++d) {
      std::vector<int32_t> p(S);
      for (;;) {
        std::iota(p.begin(), p.end(), 0);
        std::shuffle(p.begin(), p.end(), rng);
        bool ok = true;
        for (int64_t i = 0; i < S; ++i) ok = ok && p[i] != i;
        if (ok) break;
      }
      for (int64_t i = 0; i < S; ++i) r2o[i * D + d] = p[i];
    }
    return Planner(Topology(S, D, r2o, "random"), o);
  }
  return Planner(Topology::named(spec), o);
}

constexpr int kWorkloads = 16;

// Section 1: per-launch solve latency and IPM quality on the same LPs.
void bench_solve(cudaStream_t stream, double empty_us) {
  const Case cases[] = {
      {"cube P=32", "cube", 256, 32, 2},       {"cube P=256", "cube", 2048, 256, 2},
      {"hypercube P=16", "hypercube", 256, 16, 2}, {"hypercube P=64", "hypercube", 1024, 64, 2},
      {"torus:8x4 P=32", "torus:8x4", 256, 32, 2}, {"ring:8 P=32", "ring:8", 256, 32, 2},
      {"random S=64 D=4 P=64", "random:64:4", 512, 64, 4},
  };
  std::printf("\n## 1. Solve latency per launch (median of graph replays, us; one graph = one "
              "kernel for all groups)\n");
  std::printf("empty-kernel graph replay: %.2f us\n\n", empty_us);
  std::printf("| case | groups | exact (warp) | exact (warp, mean start) | exact (1 thread) | "
              "ipm (block) | ipm (1 thread) | ipm-block/exact | ipm fallback | ipm infeasible | ipm gap>1e-3 | ipm mean gap | "
              "exact rounds (mean/max) | exact pulses (mean/max) | relabel sweeps (mean) |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  std::mt19937_64 rng(2024);
  for (const Case& c : cases) {
    const Planner planner = make_planner(c, SolverKind::kExact, rng);
    std::vector<int64_t*> workloads;
    std::vector<std::vector<int64_t>> host_w;
    for (int k = 0; k < kWorkloads; ++k) {
      host_w.push_back(batch_counts(c.E, c.P, rng));
      workloads.push_back(device_copy(host_w.back()));
    }
    auto time_solver = [&](SolverKind kind, bool single, int reps, bool subset_start = true) {
      CudaPlannerOptions o;
      o.max_ids = 1024;
      o.ipm_single_thread = single;
      o.exact_single_thread = single;
      o.exact_subset_start = subset_start;
      CudaPlanner gpu(planner, o);
      gpu.set_solver(kind);
      GraphTimer timer(stream);
      for (int k = 0; k < kWorkloads; ++k)
        timer.capture([&](cudaStream_t s) { gpu.solve(workloads[k], s); });
      // One untimed replay to size the run.
      const double first = timer.median_us(1, 1);
      const int n = std::clamp(static_cast<int>(3e5 / std::max(first, 1.0)), 3, reps);
      return timer.median_us(n, std::min(n, 5));
    };
    const double exact_us = time_solver(SolverKind::kExact, false, 400);
    const double exact_mean_start_us = time_solver(SolverKind::kExact, false, 400, false);
    const double exact1_us = time_solver(SolverKind::kExact, true, 100);
    const double ipm_us = time_solver(SolverKind::kIpm, false, 200);
    const double ipm1_us = time_solver(SolverKind::kIpm, true, 20);

    // Quality over many LPs, all groups: solve_layers on 256 batches.
    const int64_t layers = 256, PD = planner.num_probs(), G = planner.num_groups();
    std::vector<int64_t> many;
    for (int64_t l = 0; l < layers; ++l) {
      const auto w = batch_counts(c.E, c.P, rng);
      many.insert(many.end(), w.begin(), w.end());
    }
    int64_t* d_many = device_copy(many);
    double *d_pe, *d_pi;
    GroupResult *d_re, *d_ri;
    CHECK(cudaMalloc(&d_pe, layers * PD * 8));
    CHECK(cudaMalloc(&d_pi, layers * PD * 8));
    CHECK(cudaMalloc(&d_re, layers * G * sizeof(GroupResult)));
    CHECK(cudaMalloc(&d_ri, layers * G * sizeof(GroupResult)));
    {
      CudaPlannerOptions o;
      o.max_ids = 1024;
      o.max_layers = layers;
      CudaPlanner gpu(planner, o);
      gpu.solve_layers(d_many, layers, d_pe, d_re, stream);
      gpu.set_solver(SolverKind::kIpm);
      gpu.solve_layers(d_many, layers, d_pi, d_ri, stream);
      gpu.check_errors(stream);
    }
    const auto re = host_copy(d_re, layers * G), ri = host_copy(d_ri, layers * G);
    const auto pi = host_copy(d_pi, layers * PD);
    int64_t fallback = 0, infeasible = 0, off = 0, rounds = 0, max_rounds = 0, pulses = 0,
            max_pulses = 0, relabels = 0;
    double gap_sum = 0;
    const int64_t S = planner.topology().group_size(), D = planner.topology().slots();
    for (int64_t l = 0; l < layers; ++l)
      for (int64_t g = 0; g < G; ++g) {
        const GroupResult& e = re[l * G + g];
        const GroupResult& i = ri[l * G + g];
        fallback += i.code == 2;
        bool bad = false;
        for (int64_t k = 0; k < S * D; ++k) {
          const double p = pi[l * PD + g * S * D + k];
          bad = bad || !(p >= -1e-6 && p <= 1 + 1e-6);
        }
        infeasible += bad && i.code != 2;
        const double gap = e.max_load > 0 ? (i.max_load - e.max_load) / e.max_load : 0.0;
        gap_sum += gap;
        off += gap > 1e-3;
        rounds += e.rounds;
        max_rounds = std::max<int64_t>(max_rounds, e.rounds);
        pulses += e.pulses;
        max_pulses = std::max<int64_t>(max_pulses, e.pulses);
        relabels += e.relabels;
      }
    const double n_lp = double(layers * G);
    std::printf("| %s | %lld | %.2f | %.2f | %.2f | %.2f | %.1f | %.1fx | %.1f%% | %.1f%% | %.1f%% | %.4f | "
                "%.2f/%lld | %.1f/%lld | %.1f |\n",
                c.name, static_cast<long long>(G), exact_us, exact_mean_start_us, exact1_us, ipm_us,
                ipm1_us,
                ipm_us / exact_us,
                100.0 * fallback / n_lp, 100.0 * infeasible / n_lp, 100.0 * off / n_lp,
                gap_sum / n_lp, rounds / n_lp, static_cast<long long>(max_rounds), pulses / n_lp,
                static_cast<long long>(max_pulses), relabels / n_lp);
    std::fflush(stdout);
    for (auto p : workloads) CHECK(cudaFree(p));
    CHECK(cudaFree(d_many));
    CHECK(cudaFree(d_pe));
    CHECK(cudaFree(d_pi));
    CHECK(cudaFree(d_re));
    CHECK(cudaFree(d_ri));
  }

  // Several layers in one launch.
  std::printf("\nSeveral layers per launch (exact, cube P=32, E=256): ");
  const Case c{"cube P=32", "cube", 256, 32, 2};
  const Planner planner = make_planner(c, SolverKind::kExact, rng);
  for (int64_t layers : {1, 8, 61}) {
    std::vector<int64_t> many;
    for (int64_t l = 0; l < layers; ++l) {
      const auto w = batch_counts(c.E, c.P, rng);
      many.insert(many.end(), w.begin(), w.end());
    }
    int64_t* d_many = device_copy(many);
    double* d_p;
    CHECK(cudaMalloc(&d_p, layers * planner.num_probs() * 8));
    CudaPlannerOptions o;
    o.max_ids = 1024;
    o.max_layers = layers;
    CudaPlanner gpu(planner, o);
    GraphTimer timer(stream);
    timer.capture([&](cudaStream_t s) { gpu.solve_layers(d_many, layers, d_p, nullptr, s); });
    std::printf("%lld layers %.2f us; ", static_cast<long long>(layers), timer.median_us(200));
    CHECK(cudaFree(d_many));
    CHECK(cudaFree(d_p));
  }
  std::printf("\n");
}

template <typename Id>
std::vector<Id> random_ids(int64_t n, int64_t E, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> weight(E);
  for (int64_t e = 0; e < E; ++e) weight[e] = 1.0 / std::pow(double(e + 1), 0.9);
  std::shuffle(weight.begin(), weight.end(), rng);
  std::discrete_distribution<int64_t> pick(weight.begin(), weight.end());
  std::vector<Id> ids(n);
  for (auto& id : ids) id = static_cast<Id>(pick(rng));
  return ids;
}

// Section 2: count -> solve -> map in one graph.
void bench_pipeline(cudaStream_t stream) {
  std::printf("\n## 2. Full pipeline count -> solve -> map, one graph (median us)\n\n");
  std::printf("| case | ids | id type | run() graph | run() graph, count and solve not fused | "
              "count | solve | map |\n|---|---|---|---|---|---|---|---|\n");
  std::mt19937_64 rng(7);
  const Case cases[] = {{"cube P=32", "cube", 256, 32, 2},
                        {"cube P=256", "cube", 2048, 256, 2},
                        {"hypercube P=16", "hypercube", 256, 16, 2},
                        {"torus:8x4 P=32", "torus:8x4", 256, 32, 2},
                        {"ring:8 P=32", "ring:8", 256, 32, 2},
                        {"random S=64 D=4 P=64", "random:64:4", 512, 64, 4}};
  for (const Case& c : cases) {
    const Planner planner = make_planner(c, SolverKind::kExact, rng);
    const int64_t n = 4096 * 8;
    CudaPlannerOptions o;
    o.max_ids = n;
    CudaPlanner gpu(planner, o);
    std::vector<int32_t*> in;
    for (int k = 0; k < 4; ++k) in.push_back(device_copy(random_ids<int32_t>(n, c.E, rng)));
    int32_t* out;
    CHECK(cudaMalloc(&out, n * 4));
    CudaPlannerOptions o2 = o;
    o2.fuse_count_solve = false;
    CudaPlanner plain(planner, o2);
    GraphTimer all(stream), all_plain(stream), count(stream), solve(stream), map(stream);
    for (int k = 0; k < 4; ++k) {
      all.capture([&](cudaStream_t s) { gpu.run(in[k], n, out, s); });
      all_plain.capture([&](cudaStream_t s) { plain.run(in[k], n, out, s); });
    }
    const double all_plain_us = all_plain.median_us(400);
    count.capture([&](cudaStream_t s) { gpu.count(in[0], n, s); });
    const double count_us = count.median_us(300);
    solve.capture([&](cudaStream_t s) { gpu.solve(gpu.counts(), s); });
    const double solve_us = solve.median_us(300);
    map.capture([&](cudaStream_t s) { gpu.map(in[0], n, out, s); });
    const double map_us = map.median_us(300);
    const double all_us = all.median_us(400);
    gpu.check_errors(stream);
    std::printf("| %s | %lld | int32 | %.2f | %.2f | %.2f | %.2f | %.2f |\n", c.name,
                static_cast<long long>(n), all_us, all_plain_us, count_us, solve_us, map_us);
    for (auto p : in) CHECK(cudaFree(p));
    CHECK(cudaFree(out));
  }
}

// Section 3: count and map bandwidth on 1M tokens x top-8.
template <typename Id>
void bench_bandwidth(cudaStream_t stream, double copy_gbs, const char* id_name) {
  std::mt19937_64 rng(9);
  const Case c{"cube P=32", "cube", 256, 32, 2};
  const Planner planner = make_planner(c, SolverKind::kExact, rng);
  const int64_t n = int64_t{1} << 23;  // 1M tokens x top-8
  const std::vector<Id> ids = random_ids<Id>(n, c.E, rng);
  constexpr int kCopies = 4;  // identical copies, rotated: ~L2-cold reads
  std::vector<Id*> in;
  for (int k = 0; k < kCopies; ++k) in.push_back(device_copy(ids));
  std::vector<Id*> out(kCopies);
  for (auto& p : out) CHECK(cudaMalloc(&p, n * sizeof(Id)));
  for (bool ballot : {false, true}) {
    CudaPlannerOptions o;
    o.max_ids = n;
    o.map_ballot_match = ballot;
    CudaPlanner gpu(planner, o);
    GraphTimer count(stream), map(stream), both(stream);
    for (int k = 0; k < kCopies; ++k) {
      count.capture([&](cudaStream_t s) { gpu.count(in[k], n, s); });
      both.capture([&](cudaStream_t s) {
        gpu.count(in[k], n, s);
        gpu.map(in[k], n, out[k], s);
      });
    }
    const double count_us = count.median_us(100);
    gpu.count(in[0], n, stream);  // the copies are identical: its offsets serve all
    gpu.solve(gpu.counts(), stream);
    for (int k = 0; k < kCopies; ++k)
      map.capture([&](cudaStream_t s) { gpu.map(in[k], n, out[k], s); });
    const double map_us = map.median_us(100);
    const double both_us = both.median_us(100);
    gpu.check_errors(stream);
    const double bytes = double(n) * sizeof(Id);
    std::printf("| %s | %s | %.1f us, %.0f GB/s (%.0f%%) | %.1f us, %.0f GB/s (%.0f%%) | %.1f us, "
                "%.0f GB/s (%.0f%%) |\n",
                id_name, ballot ? "ballot" : "match_any", count_us, bytes / count_us * 1e-3,
                100 * bytes / count_us * 1e-3 / copy_gbs, map_us, 2 * bytes / map_us * 1e-3,
                100 * 2 * bytes / map_us * 1e-3 / copy_gbs, both_us, 3 * bytes / both_us * 1e-3,
                100 * 3 * bytes / both_us * 1e-3 / copy_gbs);
  }
  for (auto p : in) CHECK(cudaFree(p));
  for (auto p : out) CHECK(cudaFree(p));
}

__global__ void copy_kernel(const int4* __restrict__ a, int4* __restrict__ b, size_t n) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n; i += size_t{gridDim.x} * blockDim.x)
    b[i] = a[i];
}

// A 1 GiB device-to-device copy kernel, bytes read + written per second.
double copy_bandwidth(cudaStream_t stream) {
  const size_t bytes = size_t{1} << 30;
  void *a, *b;
  CHECK(cudaMalloc(&a, bytes));
  CHECK(cudaMalloc(&b, bytes));
  CHECK(cudaMemset(a, 1, bytes));
  int sms = 0;
  CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  GraphTimer t(stream);
  t.capture([&](cudaStream_t s) {
    copy_kernel<<<sms * 8, 512, 0, s>>>(static_cast<const int4*>(a), static_cast<int4*>(b), bytes / 16);
  });
  const double us = t.median_us(20, 3);
  CHECK(cudaFree(a));
  CHECK(cudaFree(b));
  return 2.0 * bytes / us * 1e-3;  // read + write, GB/s
}

}  // namespace

int main(int argc, char** argv) {
  const std::string only = argc > 1 ? argv[1] : "all";
  int dev = 0;
  CHECK(cudaGetDevice(&dev));
  cudaDeviceProp prop;
  CHECK(cudaGetDeviceProperties(&prop, dev));
  int driver = 0, runtime = 0;
  CHECK(cudaDriverGetVersion(&driver));
  CHECK(cudaRuntimeGetVersion(&runtime));
  std::printf("# lplb CUDA backend benchmark\n%s, %d SMs, L2 %d MB, driver %d, runtime %d\n",
              prop.name, prop.multiProcessorCount, prop.l2CacheSize >> 20, driver, runtime);
  cudaStream_t stream;
  CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  GraphTimer empty(stream);
  empty.capture([](cudaStream_t s) { empty_kernel<<<1, 32, 0, s>>>(); });
  const double empty_us = empty.median_us(500);
  const double copy_gbs = copy_bandwidth(stream);
  std::printf("device copy bandwidth (1 GiB copy kernel, read+write): %.0f GB/s\n", copy_gbs);
  if (only == "all" || only == "solve") bench_solve(stream, empty_us);
  if (only == "all" || only == "pipeline") bench_pipeline(stream);
  if (only == "all" || only == "bandwidth") {
    std::printf("\n## 3. count / map on 1M tokens x top-8 (8M ids, cube E=256), bytes = ids "
                "read (+ ids written for map), %% of copy bandwidth\n\n");
    std::printf("| ids | map match | count | map | count+map |\n|---|---|---|---|---|\n");
    bench_bandwidth<int32_t>(stream, copy_gbs, "int32");
    bench_bandwidth<int64_t>(stream, copy_gbs, "int64");
  }
  CHECK(cudaStreamDestroy(stream));
  return 0;
}
