// The CUDA backend of lplb::PlacementPlanner: the exact per-batch LP over any
// replica placement (EPLB's, the hybrid's, an online one with absent slots)
// on one GPU, with the properties of CudaPlanner: every device buffer is
// allocated once at construction for the worst case given there; count,
// solve, map and run only enqueue kernels on the caller's stream (no
// allocation, no host synchronisation), so a whole batch can be captured in
// a CUDA graph; set_placement() rewrites the placement in the same device
// buffers, so captured graphs stay valid across placement updates.
//
// Results equal the CPU backend's: counts are identical; the LP reaches the
// CPU's optimum (max rank load within 1e-6 relative; shares may differ where
// the optimum is not unique, `serial_solver` gives the CPU's shares bit for
// bit); map() splits each expert's tokens with the same largest-remainder
// rounding and interleaving (common/placement_split.hpp), so given the same
// shares the physical ids are identical.
//
// Pointers: `ids`, `out`, `workload`, `shares` are device pointers that must
// stay valid until the enqueued work finishes. Kernels never assert: invalid
// ids and bad workloads set bits in the device error word (ErrorBit in
// planner_cuda.hpp), which check_errors() turns into InvalidArgument.
//
// Thread safety: one object holds one workspace; use it from one host thread
// and one stream at a time.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>
#include <span>

#include "lplb/cuda/planner_cuda.hpp"

namespace lplb::cuda {

class DeviceCommunicator;  // lplb/cuda/device_comm.hpp

struct CudaPlacementPlannerOptions {
  // Worst case that later set_placement() calls may use (0: the first
  // placement's): physical slots (ep_size * n_local) and present replicas of
  // one expert.
  int64_t max_physical = 0;
  int64_t max_replicas = 0;
  // Largest number of ids passed to one count/map/run call, < 2^31.
  int64_t max_ids = int64_t{1} << 24;
  // Largest number of layers solved by one solve_layers() launch.
  int64_t max_layers = 1;
  // CUDA device to allocate on; -1 means the current device.
  int device = -1;
  // Threads per solve block (one layer per block): 0 picks the smallest
  // multiple of 32 covering every LP node (items + ranks), between 64 and
  // 512. For benchmarks.
  int solve_threads = 0;
  // Run the CPU backend's solver (common/placement_lp.hpp) on one thread per
  // layer instead of the block-parallel one: bit-identical shares to the
  // CPU, much slower. For tests.
  bool serial_solver = false;
  // The block-parallel solve's latency paths as a bit mask (-1: all; 0: the
  // first kernel's way): 1 loads the placement in one vectorised copy, 2
  // stops at once when the even split already fits under the trivial lower
  // bound, 4 fuses the start-up reductions, 8 keeps each rank arc's item
  // next to the arc (one dependent load less), 16 ends each global relabel
  // after an item sweep that moved no label. None changes the result. For
  // A/B benchmarks; 256 (benchmarks only) skips the LP and writes the even
  // split, to time the kernel's fixed cost.
  int solve_features = -1;
};

// Per-layer solver outcome (device), next to the shares.
struct PlacementResult {
  double optimum;   // the LP's optimal max rank load (a proven lower bound, reached)
  double max_load;  // max rank load with the shares as written
  double leftover;  // tokens that could not be routed at `optimum` (rounding only)
  int32_t rounds;   // Newton (Dinkelbach) rounds
  int32_t pulses;   // push-relabel pulses over all rounds (0 for the serial solver)
  int32_t relabels; // global-relabel sweeps over all rounds
  int32_t code;     // 0 optimal; 1 the pulse limit was hit (shares valid, not optimal)
};

class CudaPlacementPlanner {
 public:
  // phy2log: host, [ep_size * n_local] logical ids in [0, num_experts), every
  // expert at least once (as PlacementPlanner). absent: empty or one byte
  // per slot, nonzero = the slot cannot serve (gets share 0, never appears
  // in map() output; every expert needs a present slot). Throws
  // InvalidArgument on a bad placement or sizes the kernels do not support,
  // Error on CUDA failures. Synchronises the device once (setup only).
  CudaPlacementPlanner(std::span<const int32_t> phy2log, int64_t num_experts, int64_t ep_size,
                       std::span<const uint8_t> absent = {},
                       const CudaPlacementPlannerOptions& options = {});
  CudaPlacementPlanner(std::span<const int64_t> phy2log, int64_t num_experts, int64_t ep_size,
                       std::span<const uint8_t> absent = {},
                       const CudaPlacementPlannerOptions& options = {});
  ~CudaPlacementPlanner();
  CudaPlacementPlanner(CudaPlacementPlanner&&) noexcept;
  CudaPlacementPlanner& operator=(CudaPlacementPlanner&&) noexcept;
  CudaPlacementPlanner(const CudaPlacementPlanner&) = delete;
  CudaPlacementPlanner& operator=(const CudaPlacementPlanner&) = delete;

  int64_t num_experts() const;   // E (fixed)
  int64_t ep_size() const;       // P (fixed)
  int64_t num_physical() const;  // of the current placement (host view)
  int64_t max_physical() const;  // shares buffers are sized for this
  int64_t max_ids() const;
  int64_t num_movable_groups() const;  // LP items of the current placement

  // New placement with the same E and P, at most max_physical slots and
  // max_replicas present replicas of one expert (InvalidArgument otherwise).
  // The host builds the LP graph (core/placement_layout.hpp, as the CPU
  // planner) into pinned staging and enqueues one copy on `stream` into the
  // same device buffers: work enqueued before it sees the old placement,
  // work after it the new one. Not capturable; call it between replays.
  void set_placement(std::span<const int32_t> phy2log, std::span<const uint8_t> absent,
                     cudaStream_t stream);
  void set_placement(std::span<const int64_t> phy2log, std::span<const uint8_t> absent,
                     cudaStream_t stream);

  // counts()[e] = number of ids equal to e; ids int32/int64 in [-1, E) (-1
  // skipped, others set kErrorBadId), 0 <= n <= max_ids. Also records the
  // per-tile counts the next map() of the same ids needs.
  void count(const int32_t* ids, int64_t n, cudaStream_t stream);
  void count(const int64_t* ids, int64_t n, cudaStream_t stream);

  // The exact LP for workload[E] (device, int64 or double, finite, >= 0);
  // shares()[num_physical] and result() receive it. A bad entry sets
  // kErrorBadWorkload and gives the even split.
  void solve(const int64_t* workload, cudaStream_t stream);
  void solve(const double* workload, cudaStream_t stream);
  // Several layers sharing this placement in one launch: workload
  // [num_layers][E], shares [num_layers][max_physical] (row stride
  // max_physical), results [num_layers] (may be null); caller-owned device
  // memory; num_layers <= max_layers.
  void solve_layers(const int64_t* workload, int64_t num_layers, double* shares,
                    PlacementResult* results, cudaStream_t stream);
  void solve_layers(const double* workload, int64_t num_layers, double* shares,
                    PlacementResult* results, cudaStream_t stream);

  // out[k] = physical slot of ids[k] (-1 kept) with shares[num_physical]
  // (device; nullptr: shares()). An expert's T tokens get the
  // largest-remainder counts of share x T over its present slots (all-zero
  // shares: even), interleaved in input order, as PlacementPlanner::map.
  // Needs the preceding count() of the same ids on this stream (same n;
  // kErrorStaleCount otherwise). out may not alias ids.
  void map(const int32_t* ids, int64_t n, int32_t* out, cudaStream_t stream,
           const double* shares = nullptr);
  void map(const int64_t* ids, int64_t n, int64_t* out, cudaStream_t stream,
           const double* shares = nullptr);

  // count -> (comm: all-reduce of the counts into global_counts()) -> solve
  // -> map, all enqueued on `stream`.
  void run(const int32_t* ids, int64_t n, int32_t* out, cudaStream_t stream,
           DeviceCommunicator* comm = nullptr);
  void run(const int64_t* ids, int64_t n, int64_t* out, cudaStream_t stream,
           DeviceCommunicator* comm = nullptr);

  // Device buffers owned by the planner (valid for its lifetime).
  const int64_t* counts() const;          // [E] local counts of the last count()
  const int64_t* global_counts() const;   // [E] all-reduced counts of the last run(comm)
  double* shares();                       // [max_physical]
  const double* shares() const;
  const PlacementResult* result() const;  // of the last solve()
  int32_t* error_word();

  // Synchronises `stream`, reads and clears the error word; throws
  // InvalidArgument naming the first bad id or workload entry.
  void check_errors(cudaStream_t stream);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lplb::cuda
