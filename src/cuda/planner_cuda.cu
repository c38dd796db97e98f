// lplb::cuda::CudaPlanner: device buffers, placement upload, and the
// stream-ordered count / solve / map / run entry points.
#include "lplb/cuda/planner_cuda.hpp"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "common/lp_common.hpp"
#include "cuda/call_checks.hpp"
#include "cuda/cuda_check.cuh"
#include "cuda/device_block.hpp"
#include "cuda/error_report.cuh"
#include "cuda/device_types.cuh"
#include "cuda/launch.cuh"
#include "cuda/tiling.hpp"
#include "lplb/errors.hpp"

namespace lplb::cuda {
namespace {

using detail::clean_error_state;
using detail::CountState;
using detail::DeviceGuard;
using detail::ErrorState;
using detail::MapTables;
using detail::SolveKind;
using detail::SolveParams;
using detail::Tiling;


}  // namespace

struct CudaPlanner::Impl {
  int device = 0;
  int64_t E = 0, P = 0, S = 0, D = 0, G = 0, n_ll = 0, n_loc = 0, CD = 0;
  int64_t max_ids = 0, max_layers = 1;
  SolverKind solver = SolverKind::kExact;
  bool ipm_single_thread = false;
  bool exact_single_thread = false;
  bool ballot_match = false;
  bool subset_start = true;
  bool fuse_count_solve = true;
  int reuse_warp_counts = -1;  // CudaPlannerOptions::map_reuse_count
  int32_t warps = 1, max_tiles = 1;
  std::vector<int32_t> r2o;  // host copy, for validating placements

  // One device allocation, carved (see Impl::allocate).
  void* block = nullptr;
  int32_t* r2o_dev = nullptr;
  int32_t* o2r_dev = nullptr;
  int32_t* mapping_dev = nullptr;  // phy2log [P*n_loc] | log2phy [E*2] | prob_index [E]
  int32_t* partials = nullptr;     // [max_tiles][E]
  int32_t* warp_counts = nullptr;  // [max_tiles][warps][E] with reuse_warp_counts
  unsigned int* accumulator = nullptr;  // [E]
  unsigned int* ticket = nullptr;
  int64_t* counts = nullptr;       // [E]
  int64_t* counted_n = nullptr;
  double* probs = nullptr;          // [P*D]
  GroupResult* results = nullptr;   // [G]
  ErrorState* error = nullptr;
  unsigned char* ipm_ws = nullptr;  // separate, only when the IPM needs global memory
  int64_t ipm_stride = 0;

  int32_t* staging = nullptr;  // pinned host copy of the mapping block
  cudaEvent_t staged = nullptr;  // the last upload from `staging` finished

  size_t mapping_ints() const { return static_cast<size_t>(P * n_loc + 3 * E); }
  int32_t* phy2log_dev() const { return mapping_dev; }
  int32_t* log2phy_dev() const { return mapping_dev + P * n_loc; }
  int32_t* prob_index_dev() const { return mapping_dev + P * n_loc + 2 * E; }

  SolveKind ipm_kind() const { return ipm_single_thread ? SolveKind::kIpm : SolveKind::kIpmBlock; }

  void allocate() {
    const size_t sizes[] = {
        static_cast<size_t>(S * D) * 4,             // r2o
        static_cast<size_t>(S * D) * 4,             // o2r
        mapping_ints() * 4,                         // mapping
        static_cast<size_t>(max_tiles) * E * 4,     // partials
        static_cast<size_t>(E) * 4,                 // accumulator
        sizeof(unsigned int),                       // ticket
        static_cast<size_t>(E) * 8,                 // counts
        sizeof(int64_t),                            // counted_n
        static_cast<size_t>(P * D) * 8,             // probs
        static_cast<size_t>(G) * sizeof(GroupResult),  // results
        sizeof(ErrorState),                         // error
        reuse_warp_counts != 0 ? static_cast<size_t>(max_tiles) * warps * E * 4 : 0,  // warp_counts
    };
    void* ptrs[sizeof(sizes) / sizeof(sizes[0])];
    detail::carve_device_block(&block, sizes, ptrs);
    r2o_dev = static_cast<int32_t*>(ptrs[0]);
    o2r_dev = static_cast<int32_t*>(ptrs[1]);
    mapping_dev = static_cast<int32_t*>(ptrs[2]);
    partials = static_cast<int32_t*>(ptrs[3]);
    accumulator = static_cast<unsigned int*>(ptrs[4]);
    ticket = static_cast<unsigned int*>(ptrs[5]);
    counts = static_cast<int64_t*>(ptrs[6]);
    counted_n = static_cast<int64_t*>(ptrs[7]);
    probs = static_cast<double*>(ptrs[8]);
    results = static_cast<GroupResult*>(ptrs[9]);
    error = static_cast<ErrorState*>(ptrs[10]);
    warp_counts = reuse_warp_counts != 0 ? static_cast<int32_t*>(ptrs[11]) : nullptr;
    LPLB_CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&staging), mapping_ints() * 4));
    LPLB_CUDA_CHECK(cudaEventCreateWithFlags(&staged, cudaEventDisableTiming));
  }

  // Global IPM workspace for max_layers * G groups, if the variant needs one.
  void ensure_ipm_workspace() {
    if (ipm_ws != nullptr) return;
    const int64_t stride = detail::ipm_global_stride(static_cast<int>(S), static_cast<int>(D),
                                                     ipm_kind());
    if (stride == 0) return;
    LPLB_CUDA_CHECK(cudaMalloc(&ipm_ws, static_cast<size_t>(stride) * max_layers * G));
    ipm_stride = stride;
  }

  void release() noexcept {
    if (block) cudaFree(block);
    if (ipm_ws) cudaFree(ipm_ws);
    if (staging) cudaFreeHost(staging);
    if (staged) cudaEventDestroy(staged);
    block = nullptr;
    ipm_ws = nullptr;
    staging = nullptr;
    staged = nullptr;
  }

  // count() and map() of the same ids see the same tiling and id size, so
  // they agree on whether the per-warp counts are used.
  CountState count_state(const Tiling& t, size_t id_bytes) const {
    const bool reuse = warp_counts != nullptr &&
                       (reuse_warp_counts > 0 || detail::map_reuses_count(t, E, id_bytes));
    return CountState{partials, accumulator, ticket, counts, counted_n,
                      reuse ? warp_counts : nullptr};
  }

  static void add_extras(SolveParams& p, const SolveExtras& x) {
    p.probs_f32 = x.probs_f32;
    p.workload_f32 = x.workload_f32;
    p.counter = x.counter.data;
    p.counter_int64 = x.counter.is_int64 ? 1 : 0;
  }

  SolveParams solve_params(double* probs_out, GroupResult* results_out) const {
    SolveParams p{};
    p.S = static_cast<int32_t>(S);
    p.D = static_cast<int32_t>(D);
    p.G = static_cast<int32_t>(G);
    p.E = static_cast<int32_t>(E);
    p.n_local_logical = static_cast<int32_t>(n_ll);
    p.n_local = static_cast<int32_t>(n_loc);
    p.replicated = static_cast<int32_t>(CD);
    p.r2o = r2o_dev;
    p.o2r = o2r_dev;
    p.phy2log = phy2log_dev();
    p.probs = probs_out;
    p.results = results_out;
    p.error = error;
    p.ipm_workspace = ipm_ws;
    p.ipm_stride = ipm_stride;
    p.subset_start = subset_start ? 1 : 0;
    return p;
  }

  // Validates phy2log (LPLB's layout, docs/ARCHITECTURE.md) and fills the staging block.
  void stage_mapping(std::span<const int32_t> phy2log) {
    check_arg(static_cast<int64_t>(phy2log.size()) == P * n_loc, "phy2log",
              "expected " + std::to_string(P * n_loc) + " entries (ep_size * n_local), got " +
                  std::to_string(phy2log.size()));
    std::vector<int32_t> seen(E, 0);
    for (int64_t rank = 0; rank < P; ++rank)
      for (int64_t l = 0; l < n_ll; ++l) {
        const int32_t e = phy2log[rank * n_loc + l];
        check_arg(e >= 0 && e < E, "phy2log",
                  "entry " + std::to_string(rank * n_loc + l) + " = " + std::to_string(e) +
                      " is outside [0, " + std::to_string(E) + ")");
        check_arg(seen[e]++ == 0, "phy2log",
                  "logical expert " + std::to_string(e) + " is the original of two slots");
      }
    for (int64_t rank = 0; rank < P; ++rank) {
      const int64_t g = rank / S, i = rank % S;
      for (int64_t l = 0; l < CD; ++l) {
        const int64_t src = g * S + r2o[i * D + l % D];
        check_arg(phy2log[rank * n_loc + n_ll + l] == phy2log[src * n_loc + l], "phy2log",
                  "replica slot " + std::to_string(rank * n_loc + n_ll + l) +
                      " does not hold the expert at slot " + std::to_string(src * n_loc + l) +
                      " as the topology requires");
      }
    }
    // The previous upload may still read the staging buffer.
    LPLB_CUDA_CHECK(cudaEventSynchronize(staged));
    int32_t* out_phy2log = staging;
    int32_t* out_log2phy = staging + P * n_loc;
    int32_t* out_prob_index = out_log2phy + 2 * E;
    std::copy(phy2log.begin(), phy2log.end(), out_phy2log);
    std::fill(out_log2phy, out_log2phy + 2 * E, -1);
    std::fill(out_prob_index, out_prob_index + E, -1);
    // Originals first: lower local index (as Planner::update_redundancy_mapping).
    std::vector<int32_t> cnt(E, 0);
    for (int64_t l = 0; l < n_loc; ++l)
      for (int64_t rank = 0; rank < P; ++rank) {
        const int32_t e = phy2log[rank * n_loc + l];
        out_log2phy[e * 2 + cnt[e]++] = static_cast<int32_t>(rank * n_loc + l);
      }
    for (int64_t rank = 0; rank < P; ++rank)
      for (int64_t l = 0; l < CD; ++l)
        out_prob_index[phy2log[rank * n_loc + l]] = static_cast<int32_t>(rank * D + l % D);
  }

  void upload_mapping(cudaStream_t stream) {
    LPLB_CUDA_CHECK(cudaMemcpyAsync(mapping_dev, staging, mapping_ints() * 4,
                                    cudaMemcpyHostToDevice, stream));
    LPLB_CUDA_CHECK(cudaEventRecord(staged, stream));
  }

  template <typename Id>
  void count(const Id* ids, int64_t n, cudaStream_t stream) {
    detail::check_ids_call(ids, n, nullptr, false, max_ids);
    const Tiling t = detail::make_tiling(n, E, warps, max_tiles);
    detail::launch_count(ids, t, static_cast<int32_t>(E), count_state(t, sizeof(Id)), error,
                         stream);
  }

  void solve(detail::WorkloadRef workload, int64_t num_layers, double* probs_out,
             GroupResult* results_out, const SolveExtras* extras, cudaStream_t stream) {
    detail::check_solve_call(workload.data, num_layers, max_layers, probs_out, "probs");
    SolveParams p = solve_params(probs_out, results_out);
    if (extras != nullptr) {
      check_arg(num_layers == 1, "num_layers", "extra solve outputs need a single layer");
      add_extras(p, *extras);
    }
    if (solver == SolverKind::kExact)
      detail::launch_solve_exact(p, workload, num_layers,
                                 exact_single_thread ? SolveKind::kExactSerial : SolveKind::kExact,
                                 stream);
    else
      detail::launch_solve_ipm(p, workload, num_layers, ipm_kind(), stream);
  }
  template <typename W>
  void solve(const W* workload, int64_t num_layers, double* probs_out, GroupResult* results_out,
             cudaStream_t stream) {
    solve(detail::WorkloadRef{workload, std::is_same_v<W, double> ? detail::WorkloadType::kFloat64
                                                                   : detail::WorkloadType::kInt64},
          num_layers, probs_out, results_out, nullptr, stream);
  }

  template <typename Id>
  void run(const Id* ids, int64_t n, Id* out, const RunExtras* extras, cudaStream_t stream) {
    SolveExtras se;
    if (extras != nullptr) se.counter = extras->counter;
    const bool f32 = extras != nullptr && extras->float32_probs;
    if (fuse_count_solve && solver == SolverKind::kExact && !exact_single_thread) {
      // Small batches: count and solve in one launch.
      detail::check_ids_call(ids, n, nullptr, false, max_ids);
      const Tiling t = detail::make_tiling(n, E, warps, max_tiles);
      SolveParams p = solve_params(probs, results);
      add_extras(p, se);
      if (detail::fusable_count_solve(t, p)) {
        detail::launch_count_solve(ids, t, static_cast<int32_t>(E), count_state(t, sizeof(Id)), error, p,
                                   stream);
        map(ids, n, out, nullptr, stream, f32);
        return;
      }
    }
    count(ids, n, stream);
    solve(detail::WorkloadRef{counts, detail::WorkloadType::kInt64}, 1, probs, results,
          extras != nullptr ? &se : nullptr, stream);
    map(ids, n, out, nullptr, stream, f32);
  }

  template <typename Id>
  void map(const Id* ids, int64_t n, Id* out, const double* probs_in, cudaStream_t stream,
           bool float32_probs = false) {
    detail::check_ids_call(ids, n, out, true, max_ids);
    const Tiling t = detail::make_tiling(n, E, warps, max_tiles);
    const MapTables tables{static_cast<int32_t>(E), log2phy_dev(), prob_index_dev(),
                           float32_probs ? 1 : 0};
    detail::launch_map(ids, out, t, tables, probs_in != nullptr ? probs_in : probs,
                       count_state(t, sizeof(Id)),
                       error, stream,
                       ballot_match ? detail::MatchKind::kBallot : detail::MatchKind::kMatchAny);
  }
};

CudaPlanner::CudaPlanner(const Planner& planner, const CudaPlannerOptions& options)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  const Topology& topo = planner.topology();
  m.E = planner.options().num_experts;
  m.P = planner.options().ep_size;
  m.S = topo.group_size();
  m.D = topo.slots();
  m.G = planner.num_groups();
  m.n_ll = planner.n_local_logical();
  m.n_loc = planner.n_local();
  m.CD = planner.combined() * m.D;
  m.solver = planner.options().solver;
  m.max_ids = options.max_ids;
  m.max_layers = options.max_layers;
  m.ipm_single_thread = options.ipm_single_thread;
  m.exact_single_thread = options.exact_single_thread;
  m.ballot_match = options.map_ballot_match;
  m.subset_start = options.exact_subset_start;
  m.fuse_count_solve = options.fuse_count_solve;
  m.reuse_warp_counts = options.map_reuse_count;
  check_arg(options.map_reuse_count >= -1 && options.map_reuse_count <= 1, "map_reuse_count",
            "must be -1, 0 or 1, got " + std::to_string(options.map_reuse_count));
  check_arg(options.count_map_tiles_per_sm >= 0 && options.count_map_tiles_per_sm <= 16,
            "count_map_tiles_per_sm",
            "must be in [0, 16], got " + std::to_string(options.count_map_tiles_per_sm));
  m.r2o = topo.r2o_data();
  check_arg(m.S <= lplb::detail::kMaxGroupSize && m.D <= lplb::detail::kMaxSlots, "topology",
            "the CUDA backend supports groups of at most " +
                std::to_string(lplb::detail::kMaxGroupSize) + " ranks and " +
                std::to_string(lplb::detail::kMaxSlots) + " slots, got " + std::to_string(m.S) +
                " x " + std::to_string(m.D));
  check_arg(m.E <= detail::kMaxExperts, "num_experts",
            "the CUDA backend supports at most " + std::to_string(detail::kMaxExperts) +
                " experts, got " + std::to_string(m.E));
  detail::check_capacity(m.max_ids, m.max_layers);
  if (options.device >= 0) {
    m.device = options.device;
  } else {
    LPLB_CUDA_CHECK(cudaGetDevice(&m.device));
  }
  DeviceGuard guard(m.device);
  int sms = 0;
  LPLB_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, m.device));
  m.max_tiles = std::max(1, sms) * (options.count_map_tiles_per_sm > 0
                                         ? options.count_map_tiles_per_sm
                                         : detail::kTilesPerSm);
  m.warps = detail::warps_for_experts(m.E);

  try {
    m.allocate();
    detail::configure_count_kernels();
    detail::configure_map_kernels();
    detail::configure_solve_kernels();
    detail::configure_count_solve_kernels();
    if (m.solver == SolverKind::kIpm) m.ensure_ipm_workspace();
    const ErrorState clean = clean_error_state();
    const int64_t minus_one = -1;
    LPLB_CUDA_CHECK(cudaMemcpy(m.error, &clean, sizeof(clean), cudaMemcpyHostToDevice));
    LPLB_CUDA_CHECK(cudaMemcpy(m.counted_n, &minus_one, sizeof(minus_one), cudaMemcpyHostToDevice));
    LPLB_CUDA_CHECK(cudaMemset(m.accumulator, 0, static_cast<size_t>(m.E) * 4));
    LPLB_CUDA_CHECK(cudaMemset(m.ticket, 0, sizeof(unsigned int)));
    LPLB_CUDA_CHECK(cudaMemset(m.counts, 0, static_cast<size_t>(m.E) * 8));
    LPLB_CUDA_CHECK(cudaMemset(m.probs, 0, static_cast<size_t>(m.P * m.D) * 8));
    LPLB_CUDA_CHECK(cudaMemcpy(m.r2o_dev, topo.r2o_data().data(), m.S * m.D * 4,
                               cudaMemcpyHostToDevice));
    LPLB_CUDA_CHECK(cudaMemcpy(m.o2r_dev, topo.o2r_data().data(), m.S * m.D * 4,
                               cudaMemcpyHostToDevice));
    m.stage_mapping(planner.mapping().phy2log);
    m.upload_mapping(nullptr);
    LPLB_CUDA_CHECK(cudaDeviceSynchronize());
  } catch (...) {
    m.release();
    throw;
  }
}

CudaPlanner::~CudaPlanner() {
  if (impl_) impl_->release();
}
CudaPlanner::CudaPlanner(CudaPlanner&&) noexcept = default;
CudaPlanner& CudaPlanner::operator=(CudaPlanner&& other) noexcept {
  if (this != &other) {
    if (impl_) impl_->release();
    impl_ = std::move(other.impl_);
  }
  return *this;
}

int64_t CudaPlanner::num_experts() const { return impl_->E; }
int64_t CudaPlanner::num_probs() const { return impl_->P * impl_->D; }
int64_t CudaPlanner::num_groups() const { return impl_->G; }
int64_t CudaPlanner::max_ids() const { return impl_->max_ids; }
SolverKind CudaPlanner::solver() const { return impl_->solver; }

void CudaPlanner::set_solver(SolverKind kind) {
  check_arg(kind == SolverKind::kExact || kind == SolverKind::kIpm, "kind", "unknown solver");
  DeviceGuard guard(impl_->device);
  if (kind == SolverKind::kIpm) impl_->ensure_ipm_workspace();
  impl_->solver = kind;
}

void CudaPlanner::set_mapping(std::span<const int32_t> phy2log, cudaStream_t stream) {
  DeviceGuard guard(impl_->device);
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  LPLB_CUDA_CHECK(cudaStreamIsCapturing(stream, &status));
  check_arg(status == cudaStreamCaptureStatusNone, "stream",
            "set_mapping cannot be captured in a CUDA graph; call it between replays");
  impl_->stage_mapping(phy2log);
  impl_->upload_mapping(stream);
}

void CudaPlanner::count(const int32_t* ids, int64_t n, cudaStream_t stream) {
  DeviceGuard guard(impl_->device);
  impl_->count(ids, n, stream);
}
void CudaPlanner::count(const int64_t* ids, int64_t n, cudaStream_t stream) {
  DeviceGuard guard(impl_->device);
  impl_->count(ids, n, stream);
}

void CudaPlanner::solve(const int64_t* workload, cudaStream_t stream) {
  DeviceGuard guard(impl_->device);
  impl_->solve(workload, 1, impl_->probs, impl_->results, stream);
}
void CudaPlanner::solve(const double* workload, cudaStream_t stream) {
  DeviceGuard guard(impl_->device);
  impl_->solve(workload, 1, impl_->probs, impl_->results, stream);
}
void CudaPlanner::solve_layers(const int64_t* workload, int64_t num_layers, double* probs,
                               GroupResult* results, cudaStream_t stream) {
  DeviceGuard guard(impl_->device);
  impl_->solve(workload, num_layers, probs, results, stream);
}
void CudaPlanner::solve_layers(const double* workload, int64_t num_layers, double* probs,
                               GroupResult* results, cudaStream_t stream) {
  DeviceGuard guard(impl_->device);
  impl_->solve(workload, num_layers, probs, results, stream);
}

void CudaPlanner::map(const int32_t* ids, int64_t n, int32_t* out, cudaStream_t stream,
                      const double* probs) {
  DeviceGuard guard(impl_->device);
  impl_->map(ids, n, out, probs, stream);
}
void CudaPlanner::map(const int64_t* ids, int64_t n, int64_t* out, cudaStream_t stream,
                      const double* probs) {
  DeviceGuard guard(impl_->device);
  impl_->map(ids, n, out, probs, stream);
}

void CudaPlanner::run(const int32_t* ids, int64_t n, int32_t* out, cudaStream_t stream) {
  DeviceGuard guard(impl_->device);
  impl_->run(ids, n, out, nullptr, stream);
}
void CudaPlanner::run(const int64_t* ids, int64_t n, int64_t* out, cudaStream_t stream) {
  DeviceGuard guard(impl_->device);
  impl_->run(ids, n, out, nullptr, stream);
}
void CudaPlanner::run(const int32_t* ids, int64_t n, int32_t* out, const RunExtras& extras,
                      cudaStream_t stream) {
  DeviceGuard guard(impl_->device);
  impl_->run(ids, n, out, &extras, stream);
}
void CudaPlanner::run(const int64_t* ids, int64_t n, int64_t* out, const RunExtras& extras,
                      cudaStream_t stream) {
  DeviceGuard guard(impl_->device);
  impl_->run(ids, n, out, &extras, stream);
}

void CudaPlanner::solve(const void* workload, DeviceDtype dtype, const SolveExtras& extras,
                        cudaStream_t stream) {
  DeviceGuard guard(impl_->device);
  check_arg(dtype >= DeviceDtype::kInt32 && dtype <= DeviceDtype::kFloat64, "dtype",
            "unknown workload element type");
  impl_->solve(detail::WorkloadRef{workload, static_cast<detail::WorkloadType>(dtype)}, 1,
               impl_->probs, impl_->results, &extras, stream);
}

const int64_t* CudaPlanner::counts() const { return impl_->counts; }
double* CudaPlanner::probs() { return impl_->probs; }
const double* CudaPlanner::probs() const { return impl_->probs; }
const GroupResult* CudaPlanner::group_results() const { return impl_->results; }
int32_t* CudaPlanner::error_word() { return &impl_->error->bits; }

void CudaPlanner::check_errors(cudaStream_t stream) {
  DeviceGuard guard(impl_->device);
  detail::raise_device_errors(impl_->error, impl_->E, stream);
}

}  // namespace lplb::cuda
