// The CUDA backend against the CPU backend (the oracle): counts identical,
// exact-solver max loads within 1e-6 (probs are in fact bit-identical), IPM
// probs bit-identical, mapped ids identical given the same probs; CUDA graph
// capture and replay across placement updates; the device error word.
// Every test skips when no CUDA device is present.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "common/split.hpp"
#include "cuda/split_fast.cuh"
#include "lplb/cuda/planner_cuda.hpp"
#include "lplb/errors.hpp"
#include "lplb/planner.hpp"
#include "cuda_test_util.hpp"
#include "test_util.hpp"

namespace lplb {
namespace {

struct Config {
  std::string topology;  // a name, or "random:S:D"
  int64_t E, P, R;
};

Topology make_topology(const std::string& spec, std::mt19937_64& rng) {
  if (spec.rfind("random:", 0) == 0) {
    const auto colon = spec.find(':', 7);
    return test::random_topology(std::stoll(spec.substr(7, colon - 7)),
                                 std::stoll(spec.substr(colon + 1)), rng);
  }
  return Topology::named(spec);
}

Planner make_planner(const Config& c, std::mt19937_64& rng, SolverKind solver = SolverKind::kExact) {
  PlannerOptions o;
  o.num_experts = c.E;
  o.ep_size = c.P;
  o.redundant_per_rank = c.R;
  o.solver = solver;
  return Planner(make_topology(c.topology, rng), o);
}

const Config kConfigs[] = {
    {"cube", 256, 32, 2},      {"cube", 1024, 256, 2},     {"cube", 256, 64, 4},
    {"hypercube", 256, 16, 2}, {"hypercube", 512, 64, 4},  {"ring", 256, 32, 1},
    {"ring:4", 64, 8, 3},      {"torus:8x4", 256, 32, 2},  {"torus:2x3", 48, 12, 4},
    {"random:64:4", 512, 64, 4}, {"random:64:4", 1024, 128, 8}, {"random:5:3", 60, 10, 3},
};

// n ids in [0, E) with a skewed popularity, a share of -1.
template <typename Id>
std::vector<Id> random_ids(int64_t n, int64_t E, double none_share, std::mt19937_64& rng) {
  std::vector<double> weight(E);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const double skew = u(rng) * 1.5;
  for (int64_t e = 0; e < E; ++e) weight[e] = 1.0 / std::pow(double(e + 1), skew);
  std::shuffle(weight.begin(), weight.end(), rng);
  std::discrete_distribution<int64_t> pick(weight.begin(), weight.end());
  std::vector<Id> ids(n);
  for (auto& id : ids) id = u(rng) < none_share ? Id(-1) : static_cast<Id>(pick(rng));
  return ids;
}

// Random probs with exact 0, 1, 0.5 and out-of-range values mixed in.
std::vector<double> random_probs(int64_t n, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> p(n);
  for (auto& x : p) {
    const double r = u(rng);
    x = r < 0.1 ? 0.0 : r < 0.2 ? 1.0 : r < 0.25 ? 0.5 : r < 0.28 ? 1.5 : r < 0.3 ? -0.25 : u(rng);
  }
  return p;
}

// Max rank load of every group with probs applied.
std::vector<double> group_max_loads(const Planner& p, const std::vector<double>& workload,
                                    const std::vector<double>& probs) {
  const std::vector<double> loads = p.rank_loads(workload, probs);
  const int64_t S = p.topology().group_size();
  std::vector<double> out(p.num_groups(), 0.0);
  for (int64_t r = 0; r < p.options().ep_size; ++r)
    out[r / S] = std::max(out[r / S], loads[r]);
  return out;
}

__global__ void stays_kernel(const int32_t* k, const int32_t* kept, const int32_t* total,
                             uint8_t* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n)
    out[i] = cuda::detail::stays_on_original_fast(k[i], kept[i], total[i],
                                                  total[i] > 0 ? 1.0 / total[i] : 0.0);
}

TEST(CudaSplit, FastRuleEqualsReference) {
  SKIP_WITHOUT_DEVICE();
  std::mt19937_64 rng(11);
  const int n = small_run() ? 1 << 14 : 1 << 20;
  std::vector<int32_t> k(n), kept(n), total(n);
  for (int i = 0; i < n; ++i) {
    const int shape = i % 4;
    const int64_t t = shape == 0   ? std::uniform_int_distribution<int64_t>(1, 50)(rng)
                      : shape == 1 ? std::uniform_int_distribution<int64_t>(1, 1 << 16)(rng)
                      : shape == 2 ? std::uniform_int_distribution<int64_t>(1, INT32_MAX)(rng)
                                   : INT32_MAX - std::uniform_int_distribution<int64_t>(0, 1000)(rng);
    total[i] = static_cast<int32_t>(t);
    kept[i] = static_cast<int32_t>(std::uniform_int_distribution<int64_t>(0, t)(rng));
    k[i] = static_cast<int32_t>(
        i % 7 == 0 ? t - 1 : std::uniform_int_distribution<int64_t>(0, t - 1)(rng));
  }
  DeviceArray<int32_t> dk(k), dkept(kept), dtotal(total);
  DeviceArray<uint8_t> dout(n);
  stays_kernel<<<(n + 255) / 256, 256>>>(dk.get(), dkept.get(), dtotal.get(), dout.get(), n);
  CUDA_OK(cudaDeviceSynchronize());
  const std::vector<uint8_t> got = dout.download();
  int64_t mismatches = 0;
  for (int i = 0; i < n; ++i) {
    const bool want = detail::stays_on_original(k[i], kept[i], total[i]);
    if (bool(got[i]) != want && ++mismatches <= 5)
      ADD_FAILURE() << "k=" << k[i] << " kept=" << kept[i] << " total=" << total[i];
  }
  EXPECT_EQ(mismatches, 0);
}

// count() and map() of random ids against Planner::count / Planner::map.
template <typename Id>
void check_count_and_map(const Config& c, uint64_t seed, bool ballot) {
  std::mt19937_64 rng(seed);
  const Planner planner = make_planner(c, rng);
  cuda::CudaPlannerOptions options;
  options.max_ids = 300000;
  options.map_ballot_match = ballot;
  cuda::CudaPlanner gpu(planner, options);
  const int64_t sizes[] = {0, 1, 31, 257, 4096, 4097, 65536 + 3, 299999};
  for (int64_t n : sizes) {
    if (small_run() && n > 70000) continue;
    for (int misalign = 0; misalign < 2; ++misalign) {
      SCOPED_TRACE("n=" + std::to_string(n) + " misalign=" + std::to_string(misalign));
      const double none = std::uniform_real_distribution<double>(0.0, 0.2)(rng);
      const std::vector<Id> ids = random_ids<Id>(n, c.E, none, rng);
      std::vector<Id> padded(misalign + n);
      std::copy(ids.begin(), ids.end(), padded.begin() + misalign);
      DeviceArray<Id> dids(padded);
      DeviceArray<Id> dout(n);
      const std::vector<double> probs = random_probs(planner.num_probs(), rng);
      DeviceArray<double> dprobs(probs);
      gpu.count(dids.get() + misalign, n, nullptr);
      gpu.map(dids.get() + misalign, n, dout.get(), nullptr, dprobs.get());
      gpu.check_errors(nullptr);
      const std::vector<int64_t> want_counts = planner.count(std::span<const Id>(ids));
      EXPECT_EQ(copy_to_host(gpu.counts(), c.E), want_counts);
      std::vector<Id> want(n);
      planner.map(std::span<const Id>(ids), probs, std::span<Id>(want));
      const std::vector<Id> got = dout.download();
      int64_t diff = 0;
      for (int64_t k = 0; k < n; ++k)
        if (got[k] != want[k] && ++diff <= 3)
          ADD_FAILURE() << "id " << k << " (expert " << ids[k] << "): got " << got[k]
                        << ", want " << want[k];
      EXPECT_EQ(diff, 0);
    }
  }
}

TEST(CudaPlanner, CountAndMapEqualCpuInt32) {
  SKIP_WITHOUT_DEVICE();
  uint64_t seed = 100;
  for (const Config& c : kConfigs) check_count_and_map<int32_t>(c, seed++, false);
}

TEST(CudaPlanner, CountAndMapEqualCpuInt64) {
  SKIP_WITHOUT_DEVICE();
  uint64_t seed = 200;
  for (const Config& c : kConfigs) check_count_and_map<int64_t>(c, seed++, false);
}

TEST(CudaPlanner, BallotMatchEqualsCpu) {
  SKIP_WITHOUT_DEVICE();
  check_count_and_map<int32_t>(kConfigs[0], 300, true);
  check_count_and_map<int64_t>(kConfigs[9], 301, true);
}

TEST(CudaPlanner, LargeExpertCountUsesFewerWarps) {
  SKIP_WITHOUT_DEVICE();
  check_count_and_map<int32_t>({"cube", 4096, 16, 8}, 302, false);
}

// Random workloads for many layers at once: every skew, zeros, one-hot,
// integer and fractional.
std::vector<double> random_workloads(int64_t layers, int64_t E, std::mt19937_64& rng) {
  std::vector<double> w;
  w.reserve(layers * E);
  const test::Skew skews[] = {test::Skew::kUniform, test::Skew::kZipf, test::Skew::kOneHot,
                              test::Skew::kSparse, test::Skew::kZero};
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (int64_t l = 0; l < layers; ++l) {
    const test::Skew skew = l == 0 ? test::Skew::kZero : skews[rng() % 5];
    const double total = std::pow(10.0, 1.0 + 6.0 * u(rng));
    std::vector<double> layer = test::random_loads(E, skew, total, rng);
    if (l % 3 == 1)  // all equal: already balanced
      std::fill(layer.begin(), layer.end(), std::floor(total / E) + 1);
    w.insert(w.end(), layer.begin(), layer.end());
  }
  return w;
}

// Exact solver: GPU max load per group within 1e-6 of the CPU's (in fact
// the probs are bit-identical: same code, same inputs); IPM: probs
// bit-identical to the CPU's IPM, both GPU variants.
void check_solve(const Config& c, SolverKind kind, bool single_thread, int64_t layers,
                 uint64_t seed) {
  // Bit-identical probs to the CPU: the IPM (both variants) and the
  // single-thread exact solver (the CPU's code). The warp exact solver
  // reaches the same optimum by another path.
  const bool identical = kind == SolverKind::kIpm || single_thread;
  std::mt19937_64 rng(seed);
  const Planner planner = make_planner(c, rng, kind);
  cuda::CudaPlannerOptions options;
  options.max_ids = 1024;
  options.max_layers = layers;
  options.ipm_single_thread = single_thread;
  options.exact_single_thread = single_thread;
  cuda::CudaPlanner gpu(planner, options);
  const int64_t E = c.E, PD = planner.num_probs(), G = planner.num_groups();
  const std::vector<double> w = random_workloads(layers, E, rng);
  std::vector<int64_t> w_int(w.size());
  for (size_t k = 0; k < w.size(); ++k) w_int[k] = static_cast<int64_t>(w[k]);
  DeviceArray<double> dw(w);
  DeviceArray<int64_t> dw_int(w_int);
  DeviceArray<double> dprobs(layers * PD), dprobs_int(layers * PD);
  DeviceArray<cuda::GroupResult> dres(layers * G);
  gpu.solve_layers(dw.get(), layers, dprobs.get(), dres.get(), nullptr);
  gpu.solve_layers(dw_int.get(), layers, dprobs_int.get(), nullptr, nullptr);
  gpu.check_errors(nullptr);
  const std::vector<double> probs = dprobs.download(), probs_int = dprobs_int.download();
  const std::vector<cuda::GroupResult> res = dres.download();
  int64_t not_identical = 0, worse = 0;
  for (int64_t l = 0; l < layers; ++l) {
    const std::vector<double> wl(w.begin() + l * E, w.begin() + (l + 1) * E);
    const SolveOutput cpu = planner.solve(wl);
    const std::vector<double> gl(probs.begin() + l * PD, probs.begin() + (l + 1) * PD);
    for (int64_t k = 0; k < PD; ++k) {
      ASSERT_TRUE(std::isfinite(gl[k])) << "layer " << l << " prob " << k;
      if (std::memcmp(&gl[k], &cpu.probs[k], sizeof(double)) != 0) ++not_identical;
    }
    const std::vector<double> want = group_max_loads(planner, wl, cpu.probs);
    const std::vector<double> got = group_max_loads(planner, wl, gl);
    for (int64_t g = 0; g < G; ++g) {
      const double tol = 1e-6 * std::max(1.0, want[g]);
      if (kind == SolverKind::kExact) {
        EXPECT_NEAR(got[g], want[g], tol) << "layer " << l << " group " << g;
        worse += std::abs(got[g] - want[g]) > tol;
      }
      EXPECT_NEAR(res[l * G + g].max_load, got[g], tol) << "layer " << l << " group " << g;
    }
  }
  // The workloads are integer-valued, so the int64 copy is the same LP.
  for (int64_t k = 0; k < layers * PD; ++k)
    ASSERT_EQ(std::memcmp(&probs_int[k], &probs[k], sizeof(double)), 0) << "prob " << k;
  EXPECT_EQ(worse, 0);
  if (identical) EXPECT_EQ(not_identical, 0) << "probs differ from the CPU's";
}

TEST(CudaPlanner, ExactSolveEqualsCpu) {
  SKIP_WITHOUT_DEVICE();
  uint64_t seed = 400;
  for (const Config& c : kConfigs) {
    SCOPED_TRACE(c.topology + " P=" + std::to_string(c.P));
    check_solve(c, SolverKind::kExact, false, small_run() ? 8 : 250, seed++);
    if (!(small_run() && c.topology.rfind("random:64", 0) == 0))
      check_solve(c, SolverKind::kExact, true, small_run() ? 2 : 20, seed++);
  }
}

TEST(CudaPlanner, IpmSolveEqualsCpu) {
  SKIP_WITHOUT_DEVICE();
  uint64_t seed = 500;
  for (const Config& c : kConfigs) {
    if (c.topology.rfind("random:64", 0) == 0 && c.P > 64) continue;  // slow, same path
    SCOPED_TRACE(c.topology + " P=" + std::to_string(c.P));
    const bool big = c.topology.rfind("random:64", 0) == 0;
    if (small_level() >= 2 &&
        (c.topology.rfind("random:", 0) == 0 || Topology::named(c.topology).group_size() > 16))
      continue;
    check_solve(c, SolverKind::kIpm, false, small_run() ? 2 : 40, seed++);
    if (!(big && small_run())) check_solve(c, SolverKind::kIpm, true, big ? 2 : small_run() ? 2 : 20, seed++);
  }
}

// run() = count -> solve(counts) -> map; against the CPU on the same ids.
template <typename Id>
void check_run(cuda::CudaPlanner& gpu, const Planner& planner, const std::vector<Id>& ids,
               const std::vector<Id>& got) {
  const int64_t n = static_cast<int64_t>(ids.size());
  const std::vector<int64_t> counts = planner.count(std::span<const Id>(ids));
  EXPECT_EQ(copy_to_host(gpu.counts(), planner.options().num_experts), counts);
  const std::vector<double> probs = copy_to_host(gpu.probs(), planner.num_probs());
  std::vector<double> w(counts.begin(), counts.end());
  const SolveOutput cpu = planner.solve(std::span<const int64_t>(counts));
  const std::vector<double> want_max = group_max_loads(planner, w, cpu.probs);
  const std::vector<double> got_max = group_max_loads(planner, w, probs);
  for (size_t g = 0; g < want_max.size(); ++g)
    EXPECT_NEAR(got_max[g], want_max[g], 1e-6 * std::max(1.0, want_max[g]));
  std::vector<Id> want(n);
  planner.map(std::span<const Id>(ids), probs, std::span<Id>(want));
  EXPECT_EQ(got, want);
}

TEST(CudaPlanner, RunEqualsCpu) {
  SKIP_WITHOUT_DEVICE();
  std::mt19937_64 rng(600);
  for (const Config& c : kConfigs) {
    SCOPED_TRACE(c.topology + " P=" + std::to_string(c.P));
    const Planner planner = make_planner(c, rng);
    cuda::CudaPlannerOptions options;
    options.max_ids = 4096 * 8;
    cuda::CudaPlanner gpu(planner, options);
    for (int rep = 0; rep < 3; ++rep) {
      const std::vector<int32_t> ids = random_ids<int32_t>(4096 * 8, c.E, 0.02, rng);
      DeviceArray<int32_t> dids(ids), dout(ids.size());
      gpu.run(dids.get(), static_cast<int64_t>(ids.size()), dout.get(), nullptr);
      gpu.check_errors(nullptr);
      check_run(gpu, planner, ids, dout.download());
    }
  }
}

// The fused count + solve launch of small batches gives what the separate
// launches give, bit for bit (same counts, probs, results, mapped ids), and
// the run() extras: the counter counts every group, probs rounded to float32.
template <typename Id>
void check_fused_run(const Config& c, int64_t n, std::mt19937_64& rng) {
  const Planner planner = make_planner(c, rng);
  cuda::CudaPlannerOptions fused, plain;
  fused.max_ids = plain.max_ids = std::max<int64_t>(n, 1);
  plain.fuse_count_solve = false;
  cuda::CudaPlanner a(planner, fused), b(planner, plain);
  const std::vector<Id> ids = random_ids<Id>(n, c.E, 0.05, rng);
  const size_t m = std::max<size_t>(ids.size(), 1);
  DeviceArray<Id> dids(m), da(m), db(m);
  if (n > 0) dids.upload(ids);
  DeviceArray<int64_t> counter(std::vector<int64_t>{5});
  cuda::RunExtras x;
  x.counter = {counter.get(), true};
  x.float32_probs = true;
  a.run(dids.get(), n, da.get(), x, nullptr);
  b.run(dids.get(), n, db.get(), nullptr);
  a.check_errors(nullptr);
  b.check_errors(nullptr);
  const int64_t E = c.E, PD = planner.num_probs(), G = planner.num_groups();
  EXPECT_EQ(copy_to_host(a.counts(), E), copy_to_host(b.counts(), E));
  // The same solver code in another kernel: equal up to the compiler's
  // choice of fused multiply-adds.
  const auto pa = copy_to_host(a.probs(), PD), pb = copy_to_host(b.probs(), PD);
  for (int64_t k = 0; k < PD; ++k) EXPECT_NEAR(pa[k], pb[k], 1e-9);
  const auto ra = copy_to_host(a.group_results(), G), rb = copy_to_host(b.group_results(), G);
  for (int64_t g = 0; g < G; ++g) {
    EXPECT_EQ(ra[g].code, rb[g].code);
    EXPECT_NEAR(ra[g].max_load, rb[g].max_load, 1e-9 * std::max(1.0, rb[g].max_load));
  }
  EXPECT_EQ(counter.download(1)[0], 5 + G);
  // The split of run() with float32 probs equals map() with those probs.
  std::vector<double> p32 = copy_to_host(a.probs(), PD);
  for (double& v : p32) v = static_cast<double>(static_cast<float>(v));
  std::vector<Id> want(n);
  planner.map(std::span<const Id>(ids), p32, std::span<Id>(want));
  EXPECT_EQ(da.download(n), want);
}

TEST(CudaPlanner, FusedCountSolveEqualsSeparateLaunches) {
  SKIP_WITHOUT_DEVICE();
  std::mt19937_64 rng(650);
  for (const Config& c : kConfigs)
    for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{777}, int64_t{4096 * 8}, int64_t{70000}}) {
      SCOPED_TRACE(c.topology + " P=" + std::to_string(c.P) + " n=" + std::to_string(n));
      check_fused_run<int32_t>(c, n, rng);
      check_fused_run<int64_t>(c, n, rng);
    }
}

TEST(CudaPlanner, GraphReplayFollowsNewMapping) {
  SKIP_WITHOUT_DEVICE();
  std::mt19937_64 rng(700);
  const Config c{"cube", 256, 32, 2};
  Planner planner = make_planner(c, rng);
  const int64_t n = 4096 * 8;
  cuda::CudaPlannerOptions options;
  options.max_ids = n;
  cuda::CudaPlanner gpu(planner, options);
  DeviceArray<int64_t> dids(n), dout(n);
  cudaStream_t stream;
  CUDA_OK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  CUDA_OK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
  gpu.run(dids.get(), n, dout.get(), stream);
  CUDA_OK(cudaStreamEndCapture(stream, &graph));
  CUDA_OK(cudaGraphInstantiate(&exec, graph, 0));
  for (int rep = 0; rep < 6; ++rep) {
    SCOPED_TRACE("replay " + std::to_string(rep));
    if (rep % 2 == 1) {  // new placement from a random history, same buffers
      std::vector<double> history(c.E);
      for (auto& h : history) h = std::uniform_real_distribution<double>(0, 1000)(rng);
      planner.update_redundancy_mapping(history);
      gpu.set_mapping(planner.mapping(), stream);
    }
    const std::vector<int64_t> ids = random_ids<int64_t>(n, c.E, 0.05, rng);
    CUDA_OK(cudaMemcpyAsync(dids.get(), ids.data(), n * 8, cudaMemcpyHostToDevice, stream));
    CUDA_OK(cudaGraphLaunch(exec, stream));
    gpu.check_errors(stream);
    check_run(gpu, planner, ids, dout.download());
  }
  CUDA_OK(cudaGraphExecDestroy(exec));
  CUDA_OK(cudaGraphDestroy(graph));
  CUDA_OK(cudaStreamDestroy(stream));
}

TEST(CudaPlanner, BadIdsSetTheErrorWord) {
  SKIP_WITHOUT_DEVICE();
  std::mt19937_64 rng(800);
  const Planner planner = make_planner(kConfigs[0], rng);
  cuda::CudaPlanner gpu(planner);
  const int64_t E = kConfigs[0].E;
  {
    std::vector<int32_t> ids = random_ids<int32_t>(100000, E, 0.1, rng);
    ids[77777] = static_cast<int32_t>(E);
    ids[50001] = -2;
    ids[99999] = INT32_MIN;
    DeviceArray<int32_t> dids(ids), dout(ids.size());
    gpu.run(dids.get(), static_cast<int64_t>(ids.size()), dout.get(), nullptr);
    try {
      gpu.check_errors(nullptr);
      ADD_FAILURE() << "no error raised";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("ids: entry 50001 = -2"), std::string::npos) << e.what();
    }
    gpu.check_errors(nullptr);  // cleared
    const std::vector<int32_t> out = dout.download();
    EXPECT_EQ(out[77777], -1);
    EXPECT_EQ(out[50001], -1);
  }
  {
    std::vector<int64_t> ids(1000, 3);
    ids[999] = int64_t{1} << 40;
    DeviceArray<int64_t> dids(ids);
    gpu.count(dids.get(), 1000, nullptr);
    EXPECT_THROW(gpu.check_errors(nullptr), InvalidArgument);
  }
  {  // map without a count of the same size
    std::vector<int32_t> ids(64, 1);
    DeviceArray<int32_t> dids(ids), dout(64);
    gpu.count(dids.get(), 32, nullptr);
    gpu.map(dids.get(), 64, dout.get(), nullptr);
    EXPECT_THROW(gpu.check_errors(nullptr), InvalidArgument);
  }
  EXPECT_THROW(gpu.count(static_cast<const int32_t*>(nullptr), 5, nullptr), InvalidArgument);
  EXPECT_THROW(gpu.count(static_cast<const int32_t*>(nullptr), gpu.max_ids() + 1, nullptr),
               InvalidArgument);
}

TEST(CudaPlanner, BadWorkloadSetsTheErrorWord) {
  SKIP_WITHOUT_DEVICE();
  std::mt19937_64 rng(900);
  const Config c{"torus:8x4", 256, 32, 2};
  for (SolverKind kind : {SolverKind::kExact, SolverKind::kIpm}) {
    const Planner planner = make_planner(c, rng, kind);
    cuda::CudaPlanner gpu(planner);
    const double bad_values[] = {std::numeric_limits<double>::quiet_NaN(),
                                 std::numeric_limits<double>::infinity(), -1.0};
    for (double bad : bad_values) {
      std::vector<double> w = test::random_loads(c.E, test::Skew::kZipf, 1e5, rng);
      w[123] = bad;
      w[200] = bad;
      DeviceArray<double> dw(w);
      gpu.solve(dw.get(), nullptr);
      try {
        gpu.check_errors(nullptr);
        ADD_FAILURE() << "no error raised for " << bad;
      } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("workload: entry 123"), std::string::npos) << e.what();
      }
      for (double p : copy_to_host(gpu.probs(), planner.num_probs())) EXPECT_TRUE(std::isfinite(p));
    }
    std::vector<int64_t> wi(c.E, 5);
    wi[7] = -3;
    DeviceArray<int64_t> dwi(wi);
    gpu.solve(dwi.get(), nullptr);
    EXPECT_THROW(gpu.check_errors(nullptr), InvalidArgument);
  }
}

TEST(CudaPlanner, RejectsUnsupportedSizesAndBadMappings) {
  SKIP_WITHOUT_DEVICE();
  std::mt19937_64 rng(1000);
  EXPECT_THROW(cuda::CudaPlanner(make_planner({"cube", 8192, 8, 2}, rng)), InvalidArgument);
  EXPECT_THROW(cuda::CudaPlanner(make_planner({"random:65:1", 130, 65, 1}, rng)), InvalidArgument);
  const Planner planner = make_planner(kConfigs[0], rng);
  cuda::CudaPlanner gpu(planner);
  std::vector<int32_t> phy2log = planner.mapping().phy2log;
  EXPECT_THROW(gpu.set_mapping(std::span<const int32_t>(phy2log.data(), phy2log.size() - 1), nullptr),
               InvalidArgument);
  std::swap(phy2log[0], phy2log[1]);  // replicas no longer match the originals
  EXPECT_THROW(gpu.set_mapping(phy2log, nullptr), InvalidArgument);
  phy2log = planner.mapping().phy2log;
  phy2log[3] = phy2log[4];
  EXPECT_THROW(gpu.set_mapping(phy2log, nullptr), InvalidArgument);
}

}  // namespace
}  // namespace lplb
