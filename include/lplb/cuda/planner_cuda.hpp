// The CUDA backend of the LPLB planner: count, solve and map as kernels that
// a CUDA graph can capture (docs/ARCHITECTURE.md, "Pipeline").
//
// A CudaPlanner mirrors an lplb::Planner (topology, sizes, solver, current
// placement) on one GPU. It allocates every device buffer once, at
// construction, for the worst case it was sized for; after that count, solve,
// map and run only enqueue kernels on the caller's stream: no allocation, no
// host synchronisation, so a whole batch can be captured in a CUDA graph and
// replayed. set_mapping() rewrites the placement in the same device buffers,
// so captured graphs stay valid across placement updates.
//
// Results equal the CPU backend's (lplb::Planner): counts are identical, the
// exact solver reaches the same optimum, and map() splits tokens with the
// same deterministic rule (common/split.hpp), so given the same probs the
// physical ids are identical.
//
// Pointers: every `ids`, `out`, `workload` and `probs` argument is a device
// pointer (cudaMalloc'd or otherwise device-accessible) that must stay valid
// until the enqueued work finishes. Kernels never assert: invalid ids (outside
// [-1, E)) and negative or non-finite workloads set bits in a device error
// word that check_errors() reads and turns into lplb::InvalidArgument. CUDA
// failures throw lplb::Error with file:line and the CUDA error name.
//
// Thread safety: one CudaPlanner holds one workspace; use it from one host
// thread and one stream at a time (or order the streams yourself). Distinct
// CudaPlanner objects are independent.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>
#include <span>

#include "lplb/lp.hpp"
#include "lplb/planner.hpp"

namespace lplb::cuda {

struct CudaPlannerOptions {
  // Largest number of ids (tokens x topk) passed to one count/map/run call,
  // < 2^31.
  int64_t max_ids = int64_t{1} << 24;
  // Largest number of layers solved by one solve_layers() launch.
  int64_t max_layers = 1;
  // CUDA device to allocate on; -1 means the current device.
  int device = -1;
  // Kernel variants, for tests and benchmarks. exact_single_thread: run the
  // CPU backend's exact solver on one thread per group (bit-identical probs
  // to the CPU, ~100x slower than the default warp solver, which reaches the
  // same optimum). ipm_single_thread: the reference IPM on one thread per
  // group instead of a block (bit-identical results either way).
  // map_ballot_match: find equal experts in a warp with ballots instead of
  // __match_any_sync (identical results).
  bool exact_single_thread = false;
  bool ipm_single_thread = false;
  bool map_ballot_match = false;
  // Exact warp solver: groups of <= 8 ranks start the Newton iteration at
  // the optimum, found by enumerating rank subsets (off: at the mean load,
  // as the CPU solver; the same optimum, usually more max-flow rounds).
  bool exact_subset_start = true;
  // run() on small batches (<= 32 count tiles, e.g. 65536 ids for E <= 256)
  // with the exact warp solver and at most 8 groups: count and solve in one
  // launch (the last count block solves). Same results; off: two launches.
  bool fuse_count_solve = true;
};

// Bits of the device error word.
enum ErrorBit : int32_t {
  kErrorBadId = 1,        // an id outside [-1, E)
  kErrorBadWorkload = 2,  // a workload entry negative, NaN or infinite
  kErrorStaleCount = 4,   // map() without a count() of as many ids before it
};

// Per-group solver outcome, written by solve() next to the probs (device).
struct GroupResult {
  double max_load;  // max rank load of the group with the returned probs
  double bound;     // exact: proven lower bound on the optimum; ipm: 0
  int32_t code;     // the kernels' LpCode (src/common/lp_common.hpp): 0 optimal,
                    // 1 ipm converged, 2 ipm fallback (probs 0.5), 3 trivial (probs 1)
  int32_t rounds;   // exact: max-flow rounds; ipm: steps
  int32_t pulses;   // exact (warp solver): push-relabel pulses over all rounds
  int32_t relabels; // exact (warp solver): global-relabel sweeps over all rounds
};

// Element type of a device array passed as void*.
enum class DeviceDtype : int32_t { kInt32, kInt64, kFloat32, kFloat64 };

// The reference's avail counter on the device: solve() adds 1 per group
// solved to a feasible point (every group except IPM fallbacks).
struct DeviceCounter {
  void* data = nullptr;  // one int32 or int64, device; null: none
  bool is_int64 = false;
};

// Extra outputs of one solve() launch, so that a caller needs no further
// kernels for the reference's Python results (Planner.solve_probs).
struct SolveExtras {
  float* probs_f32 = nullptr;     // [P*D]: the probs rounded to float32, or null
  float* workload_f32 = nullptr;  // [E]: the workload as float32, or null
  DeviceCounter counter;
};

// Options of run() for the reference's Python Planner.run: the split uses
// the probs rounded to float32 (as solve_probs returns them), so run()
// equals solve_probs followed by the mapping; the counter as in SolveExtras.
struct RunExtras {
  DeviceCounter counter;
  bool float32_probs = false;
};

class CudaPlanner {
 public:
  // Copies the planner's topology, sizes, solver kind and current mapping to
  // the device and allocates the workspace for options.max_ids ids and
  // options.max_layers layers. Throws InvalidArgument when the sizes exceed
  // what the kernels support (group size <= 64, slots <= 4, E <= 4096),
  // Error on CUDA failures. Synchronises the device once (setup only).
  explicit CudaPlanner(const Planner& planner, const CudaPlannerOptions& options = {});
  ~CudaPlanner();
  CudaPlanner(CudaPlanner&&) noexcept;
  CudaPlanner& operator=(CudaPlanner&&) noexcept;
  CudaPlanner(const CudaPlanner&) = delete;
  CudaPlanner& operator=(const CudaPlanner&) = delete;

  int64_t num_experts() const;   // E
  int64_t num_probs() const;     // P * D, probs per layer
  int64_t num_groups() const;    // P / S
  int64_t max_ids() const;
  SolverKind solver() const;
  // Later launches use this solver (a captured graph keeps the one it saw).
  void set_solver(SolverKind kind);

  // New placement, e.g. Planner::mapping() after update_redundancy_mapping().
  // phy2log: host, [P * n_local], must follow LPLB's layout
  // (docs/ARCHITECTURE.md, "Layouts") for this planner's topology (validated; InvalidArgument otherwise).
  // Enqueued on `stream` into the same device buffers: work enqueued before
  // it on that stream sees the old placement, work after it the new one.
  // The host array may be reused once the call returns.
  void set_mapping(std::span<const int32_t> phy2log, cudaStream_t stream);
  void set_mapping(const Mapping& mapping, cudaStream_t stream) {
    set_mapping(std::span<const int32_t>(mapping.phy2log), stream);
  }

  // counts()[e] = number of ids equal to e, ids[n] int32 or int64 in
  // [-1, E) (-1 skipped; others set kErrorBadId), 0 <= n <= max_ids. Also
  // records the per-tile counts that the next map() of the same ids needs.
  void count(const int32_t* ids, int64_t n, cudaStream_t stream);
  void count(const int64_t* ids, int64_t n, cudaStream_t stream);

  // The LPs of every group in one launch, for workload[E] (device, int64
  // counts, e.g. counts() or its all-reduced sum, or double, finite and
  // >= 0). probs()[P*D] receives the result, group_results()[G] the
  // outcomes. A group with no load, or already balanced, exits early. A
  // group with a bad entry gets probs 1 and sets kErrorBadWorkload.
  // Exact: one warp per group, the CPU's optimum (max load within 1e-6);
  // the probs themselves may differ from the CPU's where the optimum is not
  // unique (exact_single_thread gives the CPU's probs bit for bit).
  // IPM: normalised by the layer's largest workload entry, as
  // Planner::solve; results bit-identical to the CPU backend's IPM.
  void solve(const int64_t* workload, cudaStream_t stream);
  void solve(const double* workload, cudaStream_t stream);
  // Several layers sharing this placement in one launch: workload
  // [num_layers][E], probs [num_layers][P*D], results [num_layers][G]
  // (device, caller-owned; results may be null). num_layers <= max_layers.
  // One layer of any DeviceDtype, with the extra outputs (also into
  // probs() and group_results()).
  void solve(const void* workload, DeviceDtype dtype, const SolveExtras& extras,
             cudaStream_t stream);
  void solve_layers(const int64_t* workload, int64_t num_layers, double* probs,
                    GroupResult* results, cudaStream_t stream);
  void solve_layers(const double* workload, int64_t num_layers, double* probs,
                    GroupResult* results, cudaStream_t stream);

  // out[k] = physical id of ids[k] (-1 kept; an invalid id also gives -1,
  // count() has flagged it) with probs[P*D] (device; nullptr means
  // probs()). Needs the preceding count() on this stream to have seen the
  // same ids (same n; kErrorStaleCount otherwise): the j-th token of expert
  // e in input order stays on the original iff stays_on_original(j,
  // round(p T_e), T_e) (common/split.hpp), j from count()'s per-tile counts,
  // so the result equals Planner::map's for any launch tiling. out may not
  // alias ids.
  void map(const int32_t* ids, int64_t n, int32_t* out, cudaStream_t stream,
           const double* probs = nullptr);
  void map(const int64_t* ids, int64_t n, int64_t* out, cudaStream_t stream,
           const double* probs = nullptr);

  // count -> solve(counts()) -> map, all enqueued on `stream`.
  void run(const int32_t* ids, int64_t n, int32_t* out, cudaStream_t stream);
  void run(const int64_t* ids, int64_t n, int64_t* out, cudaStream_t stream);
  void run(const int32_t* ids, int64_t n, int32_t* out, const RunExtras& extras,
           cudaStream_t stream);
  void run(const int64_t* ids, int64_t n, int64_t* out, const RunExtras& extras,
           cudaStream_t stream);

  // Device buffers owned by the planner (valid for its lifetime).
  const int64_t* counts() const;            // [E]
  double* probs();                          // [P*D]
  const double* probs() const;
  const GroupResult* group_results() const;  // [G]
  int32_t* error_word();                    // the ErrorBit word

  // Synchronises `stream`, reads and clears the error word; throws
  // InvalidArgument naming the first bad id index or workload entry.
  void check_errors(cudaStream_t stream);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lplb::cuda
