// Summing workload statistics across the EP group (the all-reduce stage of
// count -> all-reduce -> solve -> map, docs/ARCHITECTURE.md) through an
// existing engine: MPI on the CPU (lplb/mpi/comm_mpi.hpp, library lplb_mpi),
// NCCL on the GPU (lplb/cuda/comm_nccl.hpp, library lplb_nccl). All ranks
// then solve the same LPs locally. docs/DISTRIBUTED.md shows both in use.
//
// Thread safety: config_hash is pure. A Communicator need not be
// thread-safe (see below); check_consistent uses the communicator it is given.
#pragma once

#include <cstdint>
#include <span>

namespace lplb {

class Planner;  // lplb/planner.hpp

// A group of ranks that reduce host buffers together. Every call is
// collective: all ranks of the group must make the same calls, in the same
// order, with spans of the same length, or the engine may hang or fail.
// check_consistent() below guards the planner's calls against that.
// Implementations need not be thread-safe: use one thread per communicator.
class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;  // in [0, size())
  virtual int size() const = 0;  // >= 1

  // In-place element-wise sum over all ranks (host memory). Every rank gets
  // the same, exact result; an implementation that can detect a sum leaving
  // int64 throws lplb::Error on every rank (MpiCommunicator does; NCCL
  // cannot, see lplb/cuda/comm_nccl.hpp).
  virtual void all_reduce_sum(std::span<int64_t> values) = 0;

  // In-place element-wise maximum over all ranks (host memory). The default
  // builds it from all_reduce_sum (an all-gather of size() * n values, each
  // rank filling its own row), so only the sum is mandatory; MPI and NCCL
  // override it with their native max.
  virtual void all_reduce_max(std::span<int64_t> values);
};

// A 64-bit FNV-1a hash of everything that must agree across ranks for the
// plans to agree: E, P, R, gpus_per_node, solver, the topology (S, D, r2o)
// and the current placement (phy2log). Equal on two processes iff their
// planners compute the same plans for the same global workload (up to hash
// collisions).
uint64_t config_hash(const Planner& planner);

// Start-up consistency check, collective over `comm`: one all_reduce_max of
// a fixed-length vector (each field and its negation, so the result holds
// both the maximum and the minimum over ranks). Returns normally on every
// rank when all planners agree; otherwise throws InvalidArgument on every
// rank, with the same message naming each field that differs and its range
// over the ranks. Call it after building the planner (and after every
// update_redundancy_mapping) and before Planner::run(..., comm): run's
// all-reduce has length E, so ranks that disagree on E could otherwise hang
// or read past a buffer instead of failing.
void check_consistent(const Planner& planner, Communicator& comm);

}  // namespace lplb
