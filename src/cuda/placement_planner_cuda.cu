// lplb::cuda::CudaPlacementPlanner: device buffers, placement upload
// (host-built layout -> pinned staging -> one async copy), and the
// stream-ordered count / solve / map / run entry points.
#include "lplb/cuda/placement_planner_cuda.hpp"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "core/placement_layout.hpp"
#include "cuda/call_checks.hpp"
#include "cuda/cuda_check.cuh"
#include "cuda/device_block.hpp"
#include "cuda/error_report.cuh"
#include "cuda/launch.cuh"
#include "cuda/placement_device.cuh"
#include "cuda/tiling.hpp"
#include "lplb/cuda/device_comm.hpp"
#include "lplb/errors.hpp"

namespace lplb::cuda {
namespace {

using detail::CountState;
using detail::DeviceGuard;
using detail::ErrorState;
using detail::PlacementTables;
using detail::Tiling;


void copy_into(const int32_t* dst_const, const std::vector<int32_t>& src) {
  std::memcpy(const_cast<int32_t*>(dst_const), src.data(), src.size() * sizeof(int32_t));
}

}  // namespace

struct CudaPlacementPlanner::Impl {
  int device = 0;
  int64_t E = 0, P = 0, S = 0, I = 0, max_replicas = 0, max_ids = 0, max_layers = 1;
  int32_t warps = 1, max_tiles = 1;
  detail::PlacementSolveConfig solve_cfg{};
  int64_t num_physical = 0, num_items = 0;  // of the current placement (host view)

  void* block = nullptr;
  int32_t* placement = nullptr;  // the placement block (placement_device.cuh)
  int32_t* partials = nullptr;   // [max_tiles][E]
  unsigned int* accumulator = nullptr;
  unsigned int* ticket = nullptr;
  int64_t* counts = nullptr;         // [E]
  int64_t* global_counts = nullptr;  // [E]
  int64_t* counted_n = nullptr;
  double* shares = nullptr;  // [S]
  PlacementResult* result = nullptr;
  ErrorState* error = nullptr;
  int32_t* staging = nullptr;    // pinned copy of the placement block
  cudaEvent_t staged = nullptr;  // the last upload from `staging` finished
  size_t block_ints = 0;

  PlacementTables tables() const { return detail::placement_tables(placement, E, P, S, I, max_replicas); }
  CountState count_state() const {
    return CountState{partials, accumulator, ticket, counts, counted_n, nullptr};
  }

  void allocate() {
    block_ints = detail::placement_block_ints(E, P, S, I);
    const size_t sizes[] = {
        block_ints * 4,
        static_cast<size_t>(max_tiles) * E * 4,
        static_cast<size_t>(E) * 4,
        sizeof(unsigned int),
        static_cast<size_t>(E) * 8,
        static_cast<size_t>(E) * 8,
        sizeof(int64_t),
        static_cast<size_t>(S) * 8,
        sizeof(PlacementResult),
        sizeof(ErrorState),
    };
    void* ptrs[sizeof(sizes) / sizeof(sizes[0])];
    detail::carve_device_block(&block, sizes, ptrs);
    placement = static_cast<int32_t*>(ptrs[0]);
    partials = static_cast<int32_t*>(ptrs[1]);
    accumulator = static_cast<unsigned int*>(ptrs[2]);
    ticket = static_cast<unsigned int*>(ptrs[3]);
    counts = static_cast<int64_t*>(ptrs[4]);
    global_counts = static_cast<int64_t*>(ptrs[5]);
    counted_n = static_cast<int64_t*>(ptrs[6]);
    shares = static_cast<double*>(ptrs[7]);
    result = static_cast<PlacementResult*>(ptrs[8]);
    error = static_cast<ErrorState*>(ptrs[9]);
    LPLB_CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&staging), block_ints * 4));
    std::memset(staging, 0, block_ints * 4);
    LPLB_CUDA_CHECK(cudaEventCreateWithFlags(&staged, cudaEventDisableTiming));
  }

  void release() noexcept {
    if (block) cudaFree(block);
    if (staging) cudaFreeHost(staging);
    if (staged) cudaEventDestroy(staged);
    block = nullptr;
    staging = nullptr;
    staged = nullptr;
  }

  // Builds the layout (shared with the CPU planner), checks it against the
  // worst case and fills the staging block.
  void stage(std::vector<int32_t> phy2log, std::span<const uint8_t> absent) {
    const lplb::detail::PlacementLayout L =
        lplb::detail::build_placement_layout(std::move(phy2log), E, P, absent);
    check_arg(L.num_physical() <= S, "phy2log",
              "has " + std::to_string(L.num_physical()) + " slots, more than max_physical = " +
                  std::to_string(S) + " given at construction");
    check_arg(L.max_count <= max_replicas, "phy2log",
              "an expert has " + std::to_string(L.max_count) +
                  " present replicas, more than max_replicas = " + std::to_string(max_replicas) +
                  " given at construction");
    // The previous upload may still read the staging buffer.
    LPLB_CUDA_CHECK(cudaEventSynchronize(staged));
    const PlacementTables h = detail::placement_tables(staging, E, P, S, I, max_replicas);
    int32_t* header = const_cast<int32_t*>(h.header);
    header[detail::kHdrNumPhysical] = static_cast<int32_t>(L.num_physical());
    header[detail::kHdrNLocal] = static_cast<int32_t>(L.n_local);
    header[detail::kHdrNumItems] = static_cast<int32_t>(L.num_items);
    header[detail::kHdrNnz] = static_cast<int32_t>(L.nnz());
    header[detail::kHdrMaxCount] = static_cast<int32_t>(L.max_count);
    copy_into(h.phy2log, L.phy2log);
    copy_into(h.slot_offset, L.slot_offset);
    copy_into(h.slots, L.slots);
    copy_into(h.slot_arc, L.slot_arc);
    copy_into(h.slot_mult, L.slot_mult);
    copy_into(h.item_offset, L.item_offset);
    copy_into(h.item_rank, L.item_rank);
    copy_into(h.rank_offset, L.rank_offset);
    copy_into(h.rank_arc, L.rank_arc);
    copy_into(h.arc_item, L.arc_item);
    copy_into(h.item_expert_offset, L.item_expert_offset);
    copy_into(h.item_expert, L.item_expert);
    copy_into(h.fixed_offset, L.fixed_offset);
    copy_into(h.fixed_expert, L.fixed_expert);
    num_physical = L.num_physical();
    num_items = L.num_items;
  }

  void upload(cudaStream_t stream) {
    LPLB_CUDA_CHECK(cudaMemcpyAsync(placement, staging, block_ints * 4, cudaMemcpyHostToDevice,
                                    stream));
    LPLB_CUDA_CHECK(cudaEventRecord(staged, stream));
  }

  template <typename Id>
  void count(const Id* ids, int64_t n, cudaStream_t stream) {
    detail::check_ids_call(ids, n, nullptr, false, max_ids);
    const Tiling t = detail::make_tiling(n, E, warps, max_tiles);
    detail::launch_count(ids, t, static_cast<int32_t>(E), count_state(), error, stream);
  }

  template <typename W>
  void solve(const W* workload, int64_t num_layers, double* shares_out, PlacementResult* results,
             cudaStream_t stream) {
    detail::check_solve_call(workload, num_layers, max_layers, shares_out, "shares");
    detail::launch_placement_solve(tables(), workload, num_layers, shares_out, S, results, error,
                                   solve_cfg, stream);
  }

  template <typename Id>
  void map(const Id* ids, int64_t n, Id* out, const double* shares_in, cudaStream_t stream) {
    detail::check_ids_call(ids, n, out, true, max_ids);
    const Tiling t = detail::make_tiling(n, E, warps, max_tiles);
    detail::launch_placement_map(ids, out, t, tables(), shares_in != nullptr ? shares_in : shares,
                                 count_state(), error, stream);
  }

  void construct(std::vector<int32_t> p2l, std::span<const uint8_t> absent,
                 const CudaPlacementPlannerOptions& o);

  template <typename Id>
  void run(const Id* ids, int64_t n, Id* out, cudaStream_t stream, DeviceCommunicator* comm) {
    count(ids, n, stream);
    const int64_t* workload = counts;
    if (comm != nullptr) {
      comm->all_reduce_sum_device(counts, global_counts, static_cast<size_t>(E), stream);
      workload = global_counts;
    }
    solve(workload, 1, shares, result, stream);
    map(ids, n, out, nullptr, stream);
  }
};

// The constructor's work, shared by both id types.
void CudaPlacementPlanner::Impl::construct(std::vector<int32_t> p2l,
                                           std::span<const uint8_t> absent,
                                           const CudaPlacementPlannerOptions& o) {
  Impl& m = *this;
  // The first placement fixes the defaults of the worst case.
  const lplb::detail::PlacementLayout first = lplb::detail::build_placement_layout(p2l, m.E, m.P, absent);
  m.S = o.max_physical > 0 ? o.max_physical : first.num_physical();
  m.max_replicas = o.max_replicas > 0 ? o.max_replicas : first.max_count;
  check_arg(o.max_physical >= 0 && o.max_replicas >= 0, "options",
            "max_physical and max_replicas must be >= 0");
  check_arg(m.S >= first.num_physical(), "max_physical",
            "must be >= the placement's " + std::to_string(first.num_physical()) + " slots");
  check_arg(m.S < (int64_t{1} << 24), "max_physical", "must be < 2^24");
  check_arg(m.E <= detail::kMaxExperts, "num_experts",
            "the CUDA backend supports at most " + std::to_string(detail::kMaxExperts) +
                " experts, got " + std::to_string(m.E));
  m.I = std::min<int64_t>(m.E, m.S / 2);
  m.max_ids = o.max_ids;
  m.max_layers = o.max_layers;
  detail::check_capacity(m.max_ids, m.max_layers);
  check_arg(o.solve_threads == 0 || (o.solve_threads >= 32 && o.solve_threads <= 512 &&
                                     o.solve_threads % 32 == 0),
            "solve_threads", "must be 0 or a multiple of 32 in [32, 512]");
  m.device = o.device >= 0 ? o.device : [] {
    int d = 0;
    LPLB_CUDA_CHECK(cudaGetDevice(&d));
    return d;
  }();
  DeviceGuard guard(m.device);
  int sms = 0, optin = 0;
  LPLB_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, m.device));
  LPLB_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, m.device));
  m.max_tiles = std::max(1, sms) * detail::kTilesPerSm;

  // Count and map share one tiling: as many warps as the map's shared table allows.
  m.warps = detail::kMaxWarps;
  while (m.warps > 1 && detail::placement_map_smem(m.E, m.S, m.warps) > detail::kMapSharedBytes)
    m.warps /= 2;
  check_arg(detail::placement_map_smem(m.E, m.S, m.warps) <= detail::kMapSharedBytes,
            "max_physical", "too many slots and experts for the map kernel's shared table");
  m.solve_cfg.serial = o.serial_solver;
  check_arg(o.solve_features >= -1, "solve_features", "must be -1 (all) or a bit mask");
  m.solve_cfg.features = o.solve_features < 0 ? detail::kSolveAllFeatures : o.solve_features;
  m.solve_cfg.smem = detail::placement_solve_smem(m.E, m.P, m.S, m.I, o.serial_solver);
  check_arg(m.solve_cfg.smem + 1024 <= static_cast<size_t>(optin), "max_physical",
            "the LP of " + std::to_string(m.S) + " slots and " + std::to_string(m.P) +
                " ranks needs " + std::to_string(m.solve_cfg.smem) +
                " bytes of shared memory, more than this GPU offers per block");
  const int64_t nodes = m.I + m.P;
  m.solve_cfg.threads = o.solve_threads > 0
                            ? o.solve_threads
                            : static_cast<int>(std::clamp<int64_t>((nodes + 31) / 32 * 32, 64, 512));

  try {
    m.allocate();
    detail::configure_count_kernels();
    detail::configure_placement_map_kernels();
    detail::configure_placement_kernels();
    const ErrorState clean = detail::clean_error_state();
    const int64_t minus_one = -1;
    LPLB_CUDA_CHECK(cudaMemcpy(m.error, &clean, sizeof(clean), cudaMemcpyHostToDevice));
    LPLB_CUDA_CHECK(cudaMemcpy(m.counted_n, &minus_one, sizeof(minus_one), cudaMemcpyHostToDevice));
    LPLB_CUDA_CHECK(cudaMemset(m.accumulator, 0, static_cast<size_t>(m.E) * 4));
    LPLB_CUDA_CHECK(cudaMemset(m.ticket, 0, sizeof(unsigned int)));
    LPLB_CUDA_CHECK(cudaMemset(m.counts, 0, static_cast<size_t>(m.E) * 8));
    LPLB_CUDA_CHECK(cudaMemset(m.global_counts, 0, static_cast<size_t>(m.E) * 8));
    LPLB_CUDA_CHECK(cudaMemset(m.shares, 0, static_cast<size_t>(m.S) * 8));
    LPLB_CUDA_CHECK(cudaMemset(m.result, 0, sizeof(PlacementResult)));
    m.stage(std::move(p2l), absent);
    m.upload(nullptr);
    LPLB_CUDA_CHECK(cudaDeviceSynchronize());
  } catch (...) {
    m.release();
    throw;
  }
}

CudaPlacementPlanner::CudaPlacementPlanner(std::span<const int32_t> phy2log, int64_t num_experts,
                                           int64_t ep_size, std::span<const uint8_t> absent,
                                           const CudaPlacementPlannerOptions& options)
    : impl_(std::make_unique<Impl>()) {
  impl_->E = num_experts;
  impl_->P = ep_size;
  impl_->construct(lplb::detail::checked_phy2log(phy2log, num_experts, ep_size), absent, options);
}

CudaPlacementPlanner::CudaPlacementPlanner(std::span<const int64_t> phy2log, int64_t num_experts,
                                           int64_t ep_size, std::span<const uint8_t> absent,
                                           const CudaPlacementPlannerOptions& options)
    : impl_(std::make_unique<Impl>()) {
  impl_->E = num_experts;
  impl_->P = ep_size;
  impl_->construct(lplb::detail::checked_phy2log(phy2log, num_experts, ep_size), absent, options);
}

CudaPlacementPlanner::~CudaPlacementPlanner() {
  if (impl_) impl_->release();
}
CudaPlacementPlanner::CudaPlacementPlanner(CudaPlacementPlanner&&) noexcept = default;
CudaPlacementPlanner& CudaPlacementPlanner::operator=(CudaPlacementPlanner&& other) noexcept {
  if (this != &other) {
    if (impl_) impl_->release();
    impl_ = std::move(other.impl_);
  }
  return *this;
}

int64_t CudaPlacementPlanner::num_experts() const { return impl_->E; }
int64_t CudaPlacementPlanner::ep_size() const { return impl_->P; }
int64_t CudaPlacementPlanner::num_physical() const { return impl_->num_physical; }
int64_t CudaPlacementPlanner::max_physical() const { return impl_->S; }
int64_t CudaPlacementPlanner::max_ids() const { return impl_->max_ids; }
int64_t CudaPlacementPlanner::num_movable_groups() const { return impl_->num_items; }

namespace {
void check_not_capturing(cudaStream_t stream) {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  LPLB_CUDA_CHECK(cudaStreamIsCapturing(stream, &status));
  check_arg(status == cudaStreamCaptureStatusNone, "stream",
            "set_placement cannot be captured in a CUDA graph; call it between replays");
}
}  // namespace

void CudaPlacementPlanner::set_placement(std::span<const int32_t> phy2log,
                                         std::span<const uint8_t> absent, cudaStream_t stream) {
  DeviceGuard guard(impl_->device);
  check_not_capturing(stream);
  impl_->stage(lplb::detail::checked_phy2log(phy2log, impl_->E, impl_->P), absent);
  impl_->upload(stream);
}
void CudaPlacementPlanner::set_placement(std::span<const int64_t> phy2log,
                                         std::span<const uint8_t> absent, cudaStream_t stream) {
  DeviceGuard guard(impl_->device);
  check_not_capturing(stream);
  impl_->stage(lplb::detail::checked_phy2log(phy2log, impl_->E, impl_->P), absent);
  impl_->upload(stream);
}

void CudaPlacementPlanner::count(const int32_t* ids, int64_t n, cudaStream_t stream) {
  DeviceGuard guard(impl_->device);
  impl_->count(ids, n, stream);
}
void CudaPlacementPlanner::count(const int64_t* ids, int64_t n, cudaStream_t stream) {
  DeviceGuard guard(impl_->device);
  impl_->count(ids, n, stream);
}
void CudaPlacementPlanner::solve(const int64_t* workload, cudaStream_t stream) {
  DeviceGuard guard(impl_->device);
  impl_->solve(workload, 1, impl_->shares, impl_->result, stream);
}
void CudaPlacementPlanner::solve(const double* workload, cudaStream_t stream) {
  DeviceGuard guard(impl_->device);
  impl_->solve(workload, 1, impl_->shares, impl_->result, stream);
}
void CudaPlacementPlanner::solve_layers(const int64_t* workload, int64_t num_layers,
                                        double* shares, PlacementResult* results,
                                        cudaStream_t stream) {
  DeviceGuard guard(impl_->device);
  impl_->solve(workload, num_layers, shares, results, stream);
}
void CudaPlacementPlanner::solve_layers(const double* workload, int64_t num_layers,
                                        double* shares, PlacementResult* results,
                                        cudaStream_t stream) {
  DeviceGuard guard(impl_->device);
  impl_->solve(workload, num_layers, shares, results, stream);
}
void CudaPlacementPlanner::map(const int32_t* ids, int64_t n, int32_t* out, cudaStream_t stream,
                               const double* shares) {
  DeviceGuard guard(impl_->device);
  impl_->map(ids, n, out, shares, stream);
}
void CudaPlacementPlanner::map(const int64_t* ids, int64_t n, int64_t* out, cudaStream_t stream,
                               const double* shares) {
  DeviceGuard guard(impl_->device);
  impl_->map(ids, n, out, shares, stream);
}
void CudaPlacementPlanner::run(const int32_t* ids, int64_t n, int32_t* out, cudaStream_t stream,
                               DeviceCommunicator* comm) {
  DeviceGuard guard(impl_->device);
  impl_->run(ids, n, out, stream, comm);
}
void CudaPlacementPlanner::run(const int64_t* ids, int64_t n, int64_t* out, cudaStream_t stream,
                               DeviceCommunicator* comm) {
  DeviceGuard guard(impl_->device);
  impl_->run(ids, n, out, stream, comm);
}

const int64_t* CudaPlacementPlanner::counts() const { return impl_->counts; }
const int64_t* CudaPlacementPlanner::global_counts() const { return impl_->global_counts; }
double* CudaPlacementPlanner::shares() { return impl_->shares; }
const double* CudaPlacementPlanner::shares() const { return impl_->shares; }
const PlacementResult* CudaPlacementPlanner::result() const { return impl_->result; }
int32_t* CudaPlacementPlanner::error_word() { return &impl_->error->bits; }

void CudaPlacementPlanner::check_errors(cudaStream_t stream) {
  DeviceGuard guard(impl_->device);
  detail::raise_device_errors(impl_->error, impl_->E, stream);
}

}  // namespace lplb::cuda
