// CudaPlacementPlanner against the CPU PlacementPlanner (the oracle): the
// LP optimum within 1e-6 on thousands of random placements (random 1-8
// copies with duplicates on one rank, EPLB's, the hybrid's, zero and
// one-hot workloads), shares that reach it, the serial variant's shares bit
// for bit, map() ids identical to the CPU's for the same shares (int32 and
// int64, -1 kept), absent slots, several layers per launch, CUDA graph
// replay across set_placement, and the error word. Every test skips when no
// CUDA device is present; LPLB_CUDA_TEST_SMALL=1 shrinks them for
// compute-sanitizer.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "common/placement_lp.hpp"
#include "common/placement_split.hpp"
#include "core/placement_layout.hpp"
#include "cuda_test_util.hpp"
#include "lplb/cuda/placement_planner_cuda.hpp"
#include "lplb/eplb.hpp"
#include "lplb/errors.hpp"
#include "lplb/placement.hpp"
#include "lplb/placement_design.hpp"
#include "placement_layout_solve.hpp"
#include "placement_random.hpp"
#include "test_util.hpp"

namespace lplb {
namespace {

using cuda::CudaPlacementPlanner;
using cuda::CudaPlacementPlannerOptions;
using cuda::PlacementResult;
using test::random_placement;
using test::random_workload;
using test::RandomPlacement;

double max_of(const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); }


// Rank loads of w with shares (normalised per expert), absent slots included
// with whatever share they got (the test expects 0).
std::vector<double> loads_with(const std::vector<int32_t>& phy2log, int64_t P,
                               const std::vector<double>& w, const std::vector<double>& shares) {
  const int64_t n_local = static_cast<int64_t>(phy2log.size()) / P;
  std::vector<double> load(P, 0.0);
  for (size_t s = 0; s < phy2log.size(); ++s) load[s / n_local] += w[phy2log[s]] * shares[s];
  return load;
}

// Solves `layers` workloads in one launch and checks each against the CPU
// optimum `expect[l]`; returns the shares [layers][max_physical].
std::vector<double> solve_and_check(CudaPlacementPlanner& gpu, const std::vector<int32_t>& phy2log,
                                    int64_t P, const std::vector<std::vector<double>>& w,
                                    const std::vector<double>& expect,
                                    const std::vector<uint8_t>& absent, const char* what) {
  const int64_t L = static_cast<int64_t>(w.size()), E = gpu.num_experts(),
                S = gpu.max_physical(), n = static_cast<int64_t>(phy2log.size());
  std::vector<double> flat;
  for (const auto& x : w) flat.insert(flat.end(), x.begin(), x.end());
  DeviceArray<double> dw(flat), dshares(L * S);
  DeviceArray<PlacementResult> dres(L);
  gpu.solve_layers(dw.get(), L, dshares.get(), dres.get(), nullptr);
  gpu.check_errors(nullptr);
  const std::vector<double> shares = dshares.download();
  const std::vector<PlacementResult> res = dres.download();
  for (int64_t l = 0; l < L; ++l) {
    const double opt = expect[l], tol = 1e-6 * std::max(1.0, opt);
    EXPECT_EQ(res[l].code, 0) << what << " layer " << l;
    EXPECT_NEAR(res[l].optimum, opt, tol) << what << " layer " << l;
    std::vector<double> sh(shares.begin() + l * S, shares.begin() + l * S + n);
    std::vector<double> sum(E, 0.0);
    for (int64_t s = 0; s < n; ++s) {
      EXPECT_TRUE(std::isfinite(sh[s]) && sh[s] >= 0.0) << what << " slot " << s;
      if (!absent.empty() && absent[s]) EXPECT_EQ(sh[s], 0.0) << what << " absent slot " << s;
      sum[phy2log[s]] += sh[s];
    }
    for (int64_t e = 0; e < E; ++e) EXPECT_NEAR(sum[e], 1.0, 1e-9) << what << " expert " << e;
    const double reached = max_of(loads_with(phy2log, P, w[l], sh));
    EXPECT_LE(reached, opt + tol) << what << " layer " << l;
    EXPECT_NEAR(res[l].max_load, reached, tol) << what << " layer " << l;
  }
  return shares;
}

TEST(CudaPlacementPlanner, RandomPlacementsMatchCpu) {
  SKIP_WITHOUT_DEVICE();
  std::mt19937_64 rng(1234);
  const int trials = small_run() ? 20 : 1500, layers = 4;
  for (int trial = 0; trial < trials; ++trial) {
    const int max_copies = 1 + trial % 8;
    const RandomPlacement rp = random_placement(rng, 40, 12, max_copies);
    const PlacementPlanner cpu(std::span<const int32_t>(rp.phy2log), rp.E, rp.P);
    CudaPlacementPlannerOptions o;
    o.max_layers = layers;
    CudaPlacementPlanner gpu(std::span<const int32_t>(rp.phy2log), rp.E, rp.P, {}, o);
    std::vector<std::vector<double>> w;
    std::vector<double> expect;
    for (int l = 0; l < layers; ++l) {
      w.push_back(random_workload(rp.E, rng, (trial + l) % 3 != 0));
      expect.push_back(cpu.solve(w.back()).optimum);
    }
    solve_and_check(gpu, rp.phy2log, rp.P, w, expect, {}, "random");
    if (HasFailure()) {
      ADD_FAILURE() << "trial " << trial << " E=" << rp.E << " P=" << rp.P;
      return;
    }
  }
}

TEST(CudaPlacementPlanner, SerialSolverGivesCpuSharesBitForBit) {
  SKIP_WITHOUT_DEVICE();
  std::mt19937_64 rng(99);
  const int trials = small_run() ? 5 : 200;
  for (int trial = 0; trial < trials; ++trial) {
    const RandomPlacement rp = random_placement(rng, 24, 8, 1 + trial % 8);
    const PlacementPlanner cpu(std::span<const int32_t>(rp.phy2log), rp.E, rp.P);
    CudaPlacementPlannerOptions o;
    o.serial_solver = true;
    CudaPlacementPlanner gpu(std::span<const int32_t>(rp.phy2log), rp.E, rp.P, {}, o);
    const std::vector<double> w = random_workload(rp.E, rng, trial % 2 == 0);
    const PlacementSolveOutput want = cpu.solve(w);
    DeviceArray<double> dw(w);
    gpu.solve(dw.get(), nullptr);
    gpu.check_errors(nullptr);
    const std::vector<double> got = copy_to_host(gpu.shares(), rp.phy2log.size());
    ASSERT_EQ(got, want.shares) << "trial " << trial;
  }
}

// The solve's latency paths (solve_features) change no bit of the shares:
// every subset against none, on random placements (also absent slots and
// uniform workloads, where the early exit fires) and on EPLB placements.
TEST(CudaPlacementPlanner, SolveFeaturesGiveIdenticalShares) {
  SKIP_WITHOUT_DEVICE();
  std::mt19937_64 rng(515);
  const int trials = small_run() ? 6 : 200;
  for (int trial = 0; trial < trials; ++trial) {
    const RandomPlacement rp = random_placement(rng, 40, 12, 1 + trial % 8);
    std::vector<uint8_t> absent;
    if (trial % 3 == 1) {  // drop a replica of some multi-copy experts
      absent.assign(rp.phy2log.size(), 0);
      std::vector<int> copies(rp.E, 0);
      for (int32_t e : rp.phy2log) ++copies[e];
      for (size_t s = 0; s < rp.phy2log.size(); s += 3)
        if (copies[rp.phy2log[s]] > 1) {
          absent[s] = 1;
          --copies[rp.phy2log[s]];
        }
    }
    std::vector<double> w = random_workload(rp.E, rng, trial % 2 == 0);
    if (trial % 4 == 0) std::fill(w.begin(), w.end(), 3.0);
    DeviceArray<double> dw(w);
    std::vector<double> want;
    for (int features : {0, 1, 2, 4, 8, 16, 31, -1}) {
      CudaPlacementPlannerOptions o;
      o.solve_features = features;
      CudaPlacementPlanner gpu(std::span<const int32_t>(rp.phy2log), rp.E, rp.P, absent, o);
      gpu.solve(dw.get(), nullptr);
      gpu.check_errors(nullptr);
      const std::vector<double> got = copy_to_host(gpu.shares(), rp.phy2log.size());
      if (features == 0)
        want = got;
      else
        ASSERT_EQ(got, want) << "trial " << trial << " features " << features;
    }
  }
}

// DeepSeek-V3-like sizes through one planner and set_placement: EPLB's and
// the hybrid's placements with 288 and 320 slots.
TEST(CudaPlacementPlanner, EplbAndHybridAtScaleMatchCpu) {
  SKIP_WITHOUT_DEVICE();
  const int64_t E = 256, P = 32;
  std::mt19937_64 rng(7);
  const int trials = small_run() ? 4 : 200, layers = 8;
  std::unique_ptr<CudaPlacementPlanner> gpu;
  for (int trial = 0; trial < trials; ++trial) {
    const int64_t slots = trial % 2 ? 288 : 320;
    const std::vector<double> history = test::random_loads(E, test::Skew::kZipf, 1e6, rng);
    std::vector<int32_t> phy2log;
    if (trial % 4 < 2) {
      const EplbResult r = rebalance_experts(history, 1, slots, 8, 4, P);
      phy2log.assign(r.phy2log.begin(), r.phy2log.end());
    } else {
      PlacementDesignOptions d;
      d.slots_per_rank = slots / P;
      phy2log = design_placement(history, {}, P, {}, d).phy2log;
    }
    if (!gpu) {
      CudaPlacementPlannerOptions o;
      o.max_physical = 320;
      o.max_replicas = 32;
      o.max_layers = layers;
      gpu = std::make_unique<CudaPlacementPlanner>(std::span<const int32_t>(phy2log), E, P,
                                                   std::span<const uint8_t>{}, o);
    } else {
      gpu->set_placement(std::span<const int32_t>(phy2log), {}, nullptr);
    }
    const PlacementPlanner cpu(std::span<const int32_t>(phy2log), E, P);
    std::vector<std::vector<double>> w;
    std::vector<double> expect;
    for (int l = 0; l < layers; ++l) {
      w.push_back(l == 0 ? test::random_loads(E, test::Skew::kOneHot, 32768, rng)
                         : random_workload(E, rng));
      expect.push_back(cpu.solve(w.back()).optimum);
    }
    solve_and_check(*gpu, phy2log, P, w, expect, {}, trial % 4 < 2 ? "eplb" : "hybrid");
    if (HasFailure()) {
      ADD_FAILURE() << "trial " << trial;
      return;
    }
  }
}

// Random absent masks (every expert keeps a present slot), P up to 256.
TEST(CudaPlacementPlanner, AbsentSlotsMatchHostOptimum) {
  SKIP_WITHOUT_DEVICE();
  std::mt19937_64 rng(31);
  const int trials = small_run() ? 6 : 400;
  for (int trial = 0; trial < trials; ++trial) {
    const bool large = trial % 5 == 0;
    const RandomPlacement rp =
        large ? random_placement(rng, 256, 2, 4) : random_placement(rng, 40, 10, 1 + trial % 8);
    const int64_t n = static_cast<int64_t>(rp.phy2log.size());
    std::vector<uint8_t> absent(n, 0);
    std::vector<int32_t> present(rp.E, 0);
    for (int32_t e : rp.phy2log) ++present[e];
    std::vector<int64_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    const double frac = std::uniform_real_distribution<double>(0.0, 0.5)(rng);
    for (int64_t s : order)
      if (std::uniform_real_distribution<double>(0.0, 1.0)(rng) < frac &&
          present[rp.phy2log[s]] > 1) {
        absent[s] = 1;
        --present[rp.phy2log[s]];
      }
    const detail::PlacementLayout layout = detail::build_placement_layout(
        rp.phy2log, rp.E, rp.P, std::span<const uint8_t>(absent));
    CudaPlacementPlannerOptions o;
    o.max_layers = 3;
    CudaPlacementPlanner gpu(std::span<const int32_t>(rp.phy2log), rp.E, rp.P,
                             std::span<const uint8_t>(absent), o);
    std::vector<std::vector<double>> w;
    std::vector<double> expect;
    for (int l = 0; l < 3; ++l) {
      w.push_back(random_workload(rp.E, rng, l != 1));
      expect.push_back(test::layout_optimum(layout, w.back()));
    }
    solve_and_check(gpu, rp.phy2log, rp.P, w, expect, absent, "absent");

    // map() with the last layer's shares: never an absent slot; per-slot
    // counts = the layout's split.
    DeviceArray<double> dlast(w.back());
    gpu.solve(dlast.get(), nullptr);
    std::vector<int32_t> ids(3000);
    std::uniform_int_distribution<int32_t> pick(-1, static_cast<int32_t>(rp.E) - 1);
    for (int32_t& x : ids) x = pick(rng);
    DeviceArray<int32_t> dids(ids), dout(ids.size());
    gpu.count(dids.get(), static_cast<int64_t>(ids.size()), nullptr);
    gpu.map(dids.get(), static_cast<int64_t>(ids.size()), dout.get(), nullptr);
    gpu.check_errors(nullptr);
    const std::vector<int32_t> out = dout.download();
    const std::vector<double> shares = copy_to_host(gpu.shares(), n);
    std::vector<int64_t> per_slot(n, 0), tokens(rp.E, 0);
    for (size_t k = 0; k < ids.size(); ++k) {
      if (ids[k] < 0) {
        ASSERT_EQ(out[k], -1);
        continue;
      }
      ++tokens[ids[k]];
      ASSERT_GE(out[k], 0);
      ASSERT_LT(out[k], n);
      ASSERT_EQ(rp.phy2log[out[k]], ids[k]);
      ASSERT_EQ(absent[out[k]], 0) << "token " << k << " mapped to absent slot " << out[k];
      ++per_slot[out[k]];
    }
    for (int64_t e = 0; e < rp.E; ++e) {
      const int32_t first = layout.slot_offset[e], k = layout.slot_offset[e + 1] - first;
      std::vector<double> sh(k), rest(k);
      std::vector<int64_t> want(k);
      for (int32_t j = 0; j < k; ++j) sh[j] = shares[layout.slots[first + j]];
      detail::split_counts(sh.data(), k, tokens[e], want.data(), rest.data());
      for (int32_t j = 0; j < k; ++j) ASSERT_EQ(per_slot[layout.slots[first + j]], want[j]);
    }
    if (HasFailure()) {
      ADD_FAILURE() << "trial " << trial;
      return;
    }
  }
}

// map() equals the CPU's map for the same shares, int32 and int64, -1 kept,
// for many launch sizes (tilings).
template <typename Id>
void check_map_matches_cpu(uint64_t seed) {
  std::mt19937_64 rng(seed);
  const int trials = small_run() ? 4 : 60;
  for (int trial = 0; trial < trials; ++trial) {
    const RandomPlacement rp = random_placement(rng, 40, 12, 1 + trial % 8);
    const PlacementPlanner cpu(std::span<const int32_t>(rp.phy2log), rp.E, rp.P);
    CudaPlacementPlannerOptions o;
    o.max_ids = 1 << 20;
    CudaPlacementPlanner gpu(std::span<const int32_t>(rp.phy2log), rp.E, rp.P, {}, o);
    const int64_t n = std::uniform_int_distribution<int64_t>(0, small_run() ? 5000 : 300000)(rng);
    std::vector<Id> ids(n);
    const double hot = std::uniform_real_distribution<double>(0.0, 0.9)(rng);
    std::uniform_int_distribution<int64_t> pick(-1, rp.E - 1);
    for (Id& x : ids)
      x = std::uniform_real_distribution<double>(0.0, 1.0)(rng) < hot ? Id(0) : Id(pick(rng));
    DeviceArray<Id> dids(ids), dout(n);
    gpu.run(dids.get(), n, dout.get(), nullptr);
    gpu.check_errors(nullptr);
    const std::vector<double> shares = copy_to_host(gpu.shares(), rp.phy2log.size());
    const std::vector<int64_t> counts = copy_to_host(gpu.counts(), rp.E);
    EXPECT_EQ(counts, cpu.count(std::span<const Id>(ids)));
    std::vector<Id> want(n);
    cpu.map(std::span<const Id>(ids), std::span<const double>(shares), std::span<Id>(want));
    ASSERT_EQ(dout.download(), want) << "trial " << trial << " n=" << n;
    // The solve ran on these counts: its optimum is the CPU's.
    PlacementResult res{};
    CUDA_OK(cudaMemcpy(&res, gpu.result(), sizeof(res), cudaMemcpyDeviceToHost));
    const double opt = cpu.solve(std::span<const int64_t>(counts)).optimum;
    EXPECT_NEAR(res.optimum, opt, 1e-6 * std::max(1.0, opt));
  }
}

TEST(CudaPlacementPlanner, MapMatchesCpuInt32) {
  SKIP_WITHOUT_DEVICE();
  check_map_matches_cpu<int32_t>(5);
}
TEST(CudaPlacementPlanner, MapMatchesCpuInt64) {
  SKIP_WITHOUT_DEVICE();
  check_map_matches_cpu<int64_t>(6);
}

// count -> solve -> map captured once, replayed across set_placement with
// fewer slots and different replica counts (no re-capture).
TEST(CudaPlacementPlanner, GraphReplayAcrossSetPlacement) {
  SKIP_WITHOUT_DEVICE();
  const int64_t E = 64, P = 8;
  std::mt19937_64 rng(77);
  auto placement = [&](int64_t n_local) {
    std::vector<int32_t> p(P * n_local);
    for (int64_t s = 0; s < P * n_local; ++s) p[s] = static_cast<int32_t>(s % E);
    std::shuffle(p.begin(), p.end(), rng);
    return p;
  };
  const std::vector<int32_t> first = placement(12);
  CudaPlacementPlannerOptions o;
  o.max_ids = 8192;
  o.max_replicas = 8;
  CudaPlacementPlanner gpu(std::span<const int32_t>(first), E, P, {}, o);
  const int64_t n = 8192;
  std::vector<int64_t> ids(n);
  DeviceArray<int64_t> dids(n), dout(n);
  cudaStream_t stream;
  CUDA_OK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  cudaGraph_t graph;
  CUDA_OK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
  gpu.run(dids.get(), n, dout.get(), stream);
  CUDA_OK(cudaStreamEndCapture(stream, &graph));
  cudaGraphExec_t exec;
  CUDA_OK(cudaGraphInstantiate(&exec, graph, 0));
  const int rounds = small_run() ? 3 : 20;
  for (int round = 0; round < rounds; ++round) {
    const std::vector<int32_t> p = round == 0 ? first : placement(8 + round % 5);
    if (round > 0) gpu.set_placement(std::span<const int32_t>(p), {}, stream);
    for (int64_t& x : ids) x = std::uniform_int_distribution<int64_t>(-1, E - 1)(rng);
    dids.upload(ids);
    CUDA_OK(cudaGraphLaunch(exec, stream));
    gpu.check_errors(stream);
    const PlacementPlanner cpu(std::span<const int32_t>(p), E, P);
    const std::vector<double> shares = copy_to_host(gpu.shares(), p.size());
    std::vector<int64_t> want(n);
    cpu.map(std::span<const int64_t>(ids), std::span<const double>(shares), std::span<int64_t>(want));
    ASSERT_EQ(dout.download(), want) << "round " << round;
    PlacementResult res{};
    CUDA_OK(cudaMemcpy(&res, gpu.result(), sizeof(res), cudaMemcpyDeviceToHost));
    const double opt = cpu.solve(cpu.count(std::span<const int64_t>(ids))).optimum;
    EXPECT_NEAR(res.optimum, opt, 1e-6 * std::max(1.0, opt)) << "round " << round;
  }
  CUDA_OK(cudaGraphExecDestroy(exec));
  CUDA_OK(cudaGraphDestroy(graph));
  CUDA_OK(cudaStreamDestroy(stream));
}

TEST(CudaPlacementPlanner, ErrorWordAndLimits) {
  SKIP_WITHOUT_DEVICE();
  const std::vector<int32_t> p{0, 1, 2, 0, 1, 3};
  CudaPlacementPlanner gpu(std::span<const int32_t>(p), 4, 2);
  DeviceArray<int32_t> bad(std::vector<int32_t>{0, 1, 7, -1}), out(4);
  gpu.count(bad.get(), 4, nullptr);
  EXPECT_THROW(gpu.check_errors(nullptr), InvalidArgument);
  DeviceArray<double> w(std::vector<double>{1.0, -2.0, 0.0, 1.0});
  gpu.solve(w.get(), nullptr);
  EXPECT_THROW(gpu.check_errors(nullptr), InvalidArgument);
  gpu.count(bad.get(), 3, nullptr);
  gpu.map(bad.get(), 4, out.get(), nullptr);
  EXPECT_THROW(gpu.check_errors(nullptr), InvalidArgument);
  gpu.check_errors(nullptr);  // cleared
  // Larger than the worst case, or an expert without a present slot.
  const std::vector<int32_t> bigger{0, 1, 2, 3, 0, 1, 2, 3};
  EXPECT_THROW(gpu.set_placement(std::span<const int32_t>(bigger), {}, nullptr), InvalidArgument);
  const std::vector<uint8_t> gone{0, 0, 1, 0, 0, 0};
  EXPECT_THROW(gpu.set_placement(std::span<const int32_t>(p), std::span<const uint8_t>(gone), nullptr),
               InvalidArgument);
  const std::vector<uint8_t> short_mask{0, 0};
  EXPECT_THROW(CudaPlacementPlanner(std::span<const int32_t>(p), 4, 2,
                                    std::span<const uint8_t>(short_mask)),
               InvalidArgument);
}

}  // namespace
}  // namespace lplb
