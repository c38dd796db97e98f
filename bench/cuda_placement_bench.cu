// CudaPlacementPlanner's benchmark (bench/RESULTS.md, "Placement LP on the
// GPU (H200)").
//
//   cmake -S . -B build-cuda -G Ninja -DLPLB_CUDA=ON -DLPLB_BENCH=ON
//   cmake --build build-cuda --target cuda_placement_bench
//   build-cuda/bench/cuda_placement_bench [--workloads FILE] [--quick]
//
// FILE (optional): recorded batches, one line of E = 256 integers each (the
// expert counts of one layer at one step, e.g. from the shared traces:
// bench/gpu_placement.sh extracts them); without it only the synthetic Zipf
// batches of cuda_bench run. --quick: the P = 32 cases and the masked P = 256
// case only.
//
// Every time is the median of CUDA-event-timed graph replays, 16 workloads
// rotated (one graph each). Every GPU optimum is checked against the CPU
// PlacementPlanner's on the same workload; the worst relative difference is
// printed next to the times.
//  1. solve latency per layer: the block-parallel solver with all latency
//     paths (solve_features), none (the first kernel's way), each alone, the
//     fixed cost (the kernel without the LP), and the serial (CPU code on one
//     thread) variant;
//  2. count -> solve -> map for 4096 tokens x top-8 (int32 ids), one graph,
//     with all latency paths and none;
//  3. 61 layers in one solve launch.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cuda_bench_util.cuh"
#include "lplb/cuda/placement_planner_cuda.hpp"
#include "lplb/eplb.hpp"
#include "lplb/placement.hpp"
#include "lplb/placement_design.hpp"

namespace {

using namespace lplb_bench;
using lplb::PlacementPlanner;
using lplb::cuda::CudaPlacementPlanner;
using lplb::cuda::CudaPlacementPlannerOptions;
using lplb::cuda::PlacementResult;

constexpr int64_t kE = 256;
constexpr int kWorkloads = 16;
// CudaPlacementPlannerOptions::solve_features bits (the header documents them).
constexpr int kBulkLoad = 1, kEarlyExit = 2, kFusedStats = 4, kRankItem = 8, kBfsStop = 16,
              kAllPaths = 31,
              kNoLp = 256;

struct Case {
  std::string name;
  int64_t P = 32;
  std::vector<int32_t> phy2log;
  std::vector<uint8_t> absent;
};

// EPLB or hybrid placements from a Zipf history (the simulator's shape).
Case make_case(const std::string& kind, int64_t P, int64_t slots, int64_t absent_slots,
               std::mt19937_64& rng) {
  Case c;
  c.P = P;
  std::vector<double> history(kE, 0.0);
  for (int k = 0; k < 32; ++k) {
    const std::vector<int64_t> b = batch_counts(kE, P, rng);
    for (int64_t e = 0; e < kE; ++e) history[e] += static_cast<double>(b[e]);
  }
  if (kind == "eplb") {
    const lplb::EplbResult r = lplb::rebalance_experts(history, 1, slots, P >= 256 ? 1 : 8,
                                                       P >= 256 ? 1 : 4, P);
    c.phy2log.assign(r.phy2log.begin(), r.phy2log.end());
  } else {
    lplb::PlacementDesignOptions d;
    d.slots_per_rank = slots / P;
    c.phy2log = lplb::design_placement(history, {}, P, {}, d).phy2log;
  }
  c.name = kind + " P=" + std::to_string(P) + " " + std::to_string(slots) + " slots";
  if (absent_slots > 0) {  // drop replicas of multi-copy experts, spread over ranks
    c.absent.assign(c.phy2log.size(), 0);
    std::vector<int64_t> copies(kE, 0);
    for (int32_t e : c.phy2log) ++copies[e];
    int64_t left = absent_slots;
    const int64_t n_local = slots / P;
    for (int64_t l = n_local - 1; l >= 0 && left > 0; --l)
      for (int64_t r = 0; r < P && left > 0; ++r) {
        const int64_t s = r * n_local + l;
        if (copies[c.phy2log[s]] > 1) {
          c.absent[s] = 1;
          --copies[c.phy2log[s]];
          --left;
        }
      }
    c.name += " (" + std::to_string(slots - absent_slots) + " present)";
  }
  return c;
}

std::vector<std::vector<int64_t>> read_workloads(const std::string& path) {
  std::vector<std::vector<int64_t>> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::vector<int64_t> w;
    int64_t x;
    while (ls >> x) w.push_back(x);
    if (static_cast<int64_t>(w.size()) == kE) out.push_back(std::move(w));
  }
  return out;
}

struct SolveFigures {
  double us = 0, worst_rel = 0, pulses_mean = 0, rounds_mean = 0, relabels_mean = 0;
  int pulses_max = 0, rounds_max = 0;
};

// Median solve time of one layer with these options, checked against the CPU.
SolveFigures time_solve(const Case& c, const std::vector<std::vector<int64_t>>& w,
                        const CudaPlacementPlannerOptions& o, cudaStream_t stream) {
  const PlacementPlanner cpu(std::span<const int32_t>(c.phy2log), kE, c.P);
  CudaPlacementPlanner gpu(std::span<const int32_t>(c.phy2log), kE, c.P,
                           std::span<const uint8_t>(c.absent), o);
  std::vector<int64_t*> dw;
  for (const auto& x : w) dw.push_back(device_copy(x));
  SolveFigures f;
  for (size_t k = 0; k < w.size(); ++k) {  // correctness on every workload
    gpu.solve(dw[k], stream);
    PlacementResult r{};
    CHECK(cudaMemcpyAsync(&r, gpu.result(), sizeof(r), cudaMemcpyDeviceToHost, stream));
    gpu.check_errors(stream);
    if (c.absent.empty()) {
      const double opt = cpu.solve(std::span<const int64_t>(w[k])).optimum;
      f.worst_rel = std::max(f.worst_rel, std::abs(r.optimum - opt) / std::max(1.0, opt));
    }
    f.pulses_mean += r.pulses / double(w.size());
    f.rounds_mean += r.rounds / double(w.size());
    f.relabels_mean += r.relabels / double(w.size());
    f.pulses_max = std::max(f.pulses_max, r.pulses);
    f.rounds_max = std::max(f.rounds_max, r.rounds);
  }
  GraphTimer timer(stream);
  for (int k = 0; k < kWorkloads; ++k)
    timer.capture([&](cudaStream_t s) { gpu.solve(dw[k % dw.size()], s); });
  f.us = timer.median_us(400);
  for (auto p : dw) CHECK(cudaFree(p));
  return f;
}

// count -> solve -> map of 4096 x top-8 int32 ids drawn from each workload's
// popularity, one graph per id buffer.
double time_pipeline(const Case& c, const std::vector<std::vector<int64_t>>& w,
                     cudaStream_t stream, std::mt19937_64& rng, int solve_features) {
  const int64_t n = 4096 * 8;
  CudaPlacementPlannerOptions o;
  o.max_ids = n;
  o.solve_features = solve_features;
  CudaPlacementPlanner gpu(std::span<const int32_t>(c.phy2log), kE, c.P,
                           std::span<const uint8_t>(c.absent), o);
  std::vector<int32_t*> ids, outs;
  for (int k = 0; k < kWorkloads; ++k) {
    const std::vector<int64_t>& pop = w[k % w.size()];
    std::discrete_distribution<int32_t> pick(pop.begin(), pop.end());
    std::vector<int32_t> v(n);
    for (auto& x : v) x = pick(rng);
    ids.push_back(device_copy(v));
    outs.push_back(device_copy(std::vector<int32_t>(n, 0)));
  }
  GraphTimer timer(stream);
  for (int k = 0; k < kWorkloads; ++k)
    timer.capture([&](cudaStream_t s) { gpu.run(ids[k], n, outs[k], s); });
  const double us = timer.median_us(400);
  gpu.check_errors(stream);
  for (auto p : ids) CHECK(cudaFree(p));
  for (auto p : outs) CHECK(cudaFree(p));
  return us;
}

// 61 layers in one launch (workloads cycled).
double time_layers(const Case& c, const std::vector<std::vector<int64_t>>& w, int layers,
                   cudaStream_t stream) {
  CudaPlacementPlannerOptions o;
  o.max_layers = layers;
  CudaPlacementPlanner gpu(std::span<const int32_t>(c.phy2log), kE, c.P,
                           std::span<const uint8_t>(c.absent), o);
  std::vector<int64_t> flat;
  for (int l = 0; l < layers; ++l) flat.insert(flat.end(), w[l % w.size()].begin(), w[l % w.size()].end());
  int64_t* dw = device_copy(flat);
  double* shares = nullptr;
  PlacementResult* res = nullptr;
  CHECK(cudaMalloc(&shares, sizeof(double) * gpu.max_physical() * layers));
  CHECK(cudaMalloc(&res, sizeof(PlacementResult) * layers));
  GraphTimer timer(stream);
  timer.capture([&](cudaStream_t s) { gpu.solve_layers(dw, layers, shares, res, s); });
  const double us = timer.median_us(200);
  gpu.check_errors(stream);
  CHECK(cudaFree(dw));
  CHECK(cudaFree(shares));
  CHECK(cudaFree(res));
  return us;
}

}  // namespace

int main(int argc, char** argv) {
  std::string workload_file;
  bool quick = false;
  for (int k = 1; k < argc; ++k) {
    if (k + 1 < argc && std::strcmp(argv[k], "--workloads") == 0) workload_file = argv[k + 1];
    if (std::strcmp(argv[k], "--quick") == 0) quick = true;
  }
  int device_count = 0;
  if (cudaGetDeviceCount(&device_count) != cudaSuccess || device_count == 0) {
    std::printf("no CUDA device\n");
    return 0;
  }
  cudaDeviceProp prop{};
  CHECK(cudaGetDeviceProperties(&prop, 0));
  std::printf("# CudaPlacementPlanner on %s (%d SMs)\n", prop.name, prop.multiProcessorCount);
  cudaStream_t stream;
  CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  GraphTimer empty(stream);
  empty.capture([](cudaStream_t s) { empty_kernel<<<1, 32, 0, s>>>(); });
  std::printf("empty-kernel graph replay: %.2f us\n", empty.median_us(400));

  std::mt19937_64 rng(2026);
  std::vector<Case> cases;
  cases.push_back(make_case("eplb", 32, 288, 0, rng));
  cases.push_back(make_case("eplb", 32, 320, 0, rng));
  cases.push_back(make_case("hybrid", 32, 288, 0, rng));
  cases.push_back(make_case("hybrid", 32, 320, 0, rng));
  if (!quick) cases.push_back(make_case("eplb", 256, 512, 0, rng));
  cases.push_back(make_case("eplb", 256, 512, 192, rng));
  if (!quick) cases.push_back(make_case("hybrid", 256, 512, 0, rng));

  std::vector<std::pair<std::string, std::vector<std::vector<int64_t>>>> sources;
  {
    std::vector<std::vector<int64_t>> zipf32, zipf256;
    for (int k = 0; k < kWorkloads; ++k) zipf32.push_back(batch_counts(kE, 32, rng));
    for (int k = 0; k < kWorkloads; ++k) zipf256.push_back(batch_counts(kE, 256, rng));
    sources.push_back({"zipf", zipf32});
    sources.push_back({"zipf256", zipf256});
    if (!workload_file.empty()) {
      std::vector<std::vector<int64_t>> t = read_workloads(workload_file);
      std::printf("workloads from %s: %zu batches\n", workload_file.c_str(), t.size());
      if (!t.empty()) sources.push_back({"trace", t});
    }
  }
  auto workloads_for = [&](const Case& c, const std::string& src) {
    if (src == "zipf") return c.P == 256 ? sources[1].second : sources[0].second;
    return sources.back().second;
  };
  std::vector<std::string> srcs{"zipf"};
  if (sources.size() > 2) srcs.push_back("trace");

  std::printf("\n## 1. Solve latency per layer (us, median of graph replays)\n\n");
  std::printf("| case | workloads | items | all paths | none | bulk load | early exit | "
              "fused stats | rank items | relabel stop | all, 64 thr | all, 128 thr | no LP | serial | pulses mean/max | rounds mean/max | "
              "relabel sweeps mean | worst rel diff vs CPU |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const Case& c : cases)
    for (const std::string& src : srcs) {
      const auto& w = workloads_for(c, src);
      const PlacementPlanner cpu(std::span<const int32_t>(c.phy2log), kE, c.P);
      CudaPlacementPlannerOptions o;
      const SolveFigures a = time_solve(c, w, o, stream);
      double worst = a.worst_rel;
      const int variants[6] = {0, kBulkLoad, kEarlyExit, kFusedStats, kRankItem, kBfsStop};
      double t[6];
      for (int k = 0; k < 6; ++k) {
        o.solve_features = variants[k];
        const SolveFigures v = time_solve(c, w, o, stream);
        t[k] = v.us;
        worst = std::max(worst, v.worst_rel);
      }
      o.solve_features = -1;
      o.solve_threads = 64;
      const SolveFigures t64 = time_solve(c, w, o, stream);
      o.solve_threads = 128;
      const SolveFigures t128 = time_solve(c, w, o, stream);
      worst = std::max({worst, t64.worst_rel, t128.worst_rel});
      o.solve_threads = 0;
      // The kernel without the LP: its optimum is not checked.
      o.solve_features = kAllPaths | kNoLp;
      const double no_lp = time_solve(c, w, o, stream).us;
      o.solve_features = -1;
      o.serial_solver = true;
      const SolveFigures s = time_solve(c, w, o, stream);
      std::printf("| %s | %s | %lld | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | "
                  "%.1f | %.1f/%d | %.2f/%d | %.1f | %.1e |\n",
                  c.name.c_str(), src.c_str(), static_cast<long long>(cpu.num_movable_groups()),
                  a.us, t[0], t[1], t[2], t[3], t[4], t[5], t64.us, t128.us, no_lp, s.us, a.pulses_mean, a.pulses_max,
                  a.rounds_mean, a.rounds_max, a.relabels_mean, std::max(worst, s.worst_rel));
      std::fflush(stdout);
    }

  std::printf("\n## 2. count -> solve -> map, 4096 tokens x top-8 int32 ids, one graph (us)\n\n");
  std::printf("| case | workloads | all paths | none |\n|---|---|---|---|\n");
  for (const Case& c : cases)
    for (const std::string& src : srcs) {
      const double all = time_pipeline(c, workloads_for(c, src), stream, rng, -1);
      const double none = time_pipeline(c, workloads_for(c, src), stream, rng, 0);
      std::printf("| %s | %s | %.1f | %.1f |\n", c.name.c_str(), src.c_str(), all, none);
      std::fflush(stdout);
    }

  std::printf("\n## 3. 61 layers in one solve launch (us per launch)\n\n");
  std::printf("| case | workloads | 61 layers us | per layer us |\n|---|---|---|---|\n");
  for (const Case& c : cases) {
    const double us = time_layers(c, workloads_for(c, srcs.back()), 61, stream);
    std::printf("| %s | %s | %.1f | %.2f |\n", c.name.c_str(), srcs.back().c_str(), us, us / 61);
    std::fflush(stdout);
  }
  CHECK(cudaStreamDestroy(stream));
  return 0;
}
