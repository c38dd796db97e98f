// Launchers of the CUDA kernels: thin host functions that enqueue one kernel
// on a stream (no allocation, no synchronisation) and check the launch.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "cuda/device_types.cuh"

namespace lplb::cuda::detail {

// Raise the kernels' dynamic shared-memory limits on the current device
// (once per device, at setup).
void configure_count_kernels();
void configure_map_kernels();
void configure_solve_kernels();

// Per-tile counts, then (last block) exclusive offsets and counts[E].
template <typename Id>
void launch_count(const Id* ids, const Tiling& t, int32_t E, const CountState& st,
                  ErrorState* err, cudaStream_t stream);

// How map() finds, within a warp, the lanes holding the same expert.
enum class MatchKind { kMatchAny, kBallot };

// out[k] = physical id of ids[k], using the offsets of the count() of the
// same ids (same tiling) and probs[P*D].
template <typename Id>
void launch_map(const Id* ids, Id* out, const Tiling& t, const MapTables& tables,
                const double* probs, const CountState& st, ErrorState* err,
                cudaStream_t stream, MatchKind match = MatchKind::kMatchAny);

// kExact: the exact solver on a warp per group; kExactSerial: the CPU's
// exact solver on one thread (bit-identical probs to the CPU, slow).
// kIpm: the reference IPM on one thread per group; kIpmBlock: the same
// arithmetic spread over a block (bit-identical results).
enum class SolveKind { kExact, kExactSerial, kIpm, kIpmBlock };

// All groups of num_layers layers in one launch: workload [num_layers][E],
// p.probs [num_layers][P*D], p.results [num_layers][G].
void launch_solve_exact(const SolveParams& p, WorkloadRef workload, int64_t num_layers,
                        SolveKind kind, cudaStream_t stream);
void launch_solve_ipm(const SolveParams& p, WorkloadRef workload, int64_t num_layers,
                      SolveKind kind, cudaStream_t stream);

// run()'s count and exact solve in one launch (count_solve_kernel.cu), for
// tilings and groups that fusable_count_solve accepts: the counts of ids,
// then every group of one layer from them (p.probs, p.results, p's extras).
bool fusable_count_solve(const Tiling& t, const SolveParams& p);
void configure_count_solve_kernels();
template <typename Id>
void launch_count_solve(const Id* ids, const Tiling& t, int32_t E, const CountState& st,
                        ErrorState* err, const SolveParams& p, cudaStream_t stream);

// Bytes of the global IPM workspace per group (0 when it fits in shared
// memory).
int64_t ipm_global_stride(int S, int D, SolveKind kind);

}  // namespace lplb::cuda::detail
