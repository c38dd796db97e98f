// The MPI communicator (CPU buffers): library lplb_mpi, built with
// -DLPLB_MPI=ON. The core library `lplb` never includes MPI.
//
//   lplb::MpiSession mpi(&argc, &argv);          // only if you do not init MPI yourself
//   lplb::MpiCommunicator comm(MPI_COMM_WORLD);  // collective
//   lplb::check_consistent(planner, comm);       // collective, throws on mismatch
//   auto plan = planner.run(ids, out, &comm);    // count -> all-reduce -> solve -> map
//
// Thread safety: not thread-safe; one thread per communicator (MPI's own
// rules for one MPI_Comm apply).
#pragma once

#include <mpi.h>

#include <cstdint>
#include <span>
#include <vector>

#include "lplb/comm.hpp"

namespace lplb {

// Initialises MPI if it is not initialised yet and finalises it on
// destruction, only if it was the one to initialise it. Optional: callers
// that manage MPI themselves never need it.
class MpiSession {
 public:
  MpiSession(int* argc, char*** argv);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

 private:
  bool owns_ = false;
};

// Wraps an MPI communicator; never initialises or finalises MPI. The
// constructor duplicates `comm` (collective over it) so that lplb's
// collectives never match the caller's own messages; the duplicate has
// MPI_ERRORS_RETURN, and failures throw lplb::Error with MPI's message.
// Destroy it before MPI_Finalize (a destructor after finalize skips the free).
// Not thread-safe: one thread per communicator.
class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(MPI_Comm comm = MPI_COMM_WORLD);
  ~MpiCommunicator() override;
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  // Exact: the values travel as 128-bit integers under a user-defined
  // MPI_Op (MPI's own MPI_SUM on MPI_INT64_T wraps silently), so a sum that
  // leaves int64 throws lplb::Error on every rank instead of wrapping. At
  // most INT_MAX / 2 values per call.
  void all_reduce_sum(std::span<int64_t> values) override;
  // MPI_MAX on MPI_INT64_T.
  void all_reduce_max(std::span<int64_t> values) override;

  MPI_Comm comm() const { return comm_; }  // the duplicate, owned

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  MPI_Datatype wide_ = MPI_DATATYPE_NULL;  // two int64 words: one 128-bit integer
  MPI_Op wide_sum_ = MPI_OP_NULL;
  int rank_ = 0, size_ = 1;
  std::vector<int64_t> scratch_;  // 2 words per value
};

}  // namespace lplb
