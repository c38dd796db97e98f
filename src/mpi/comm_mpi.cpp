#include "lplb/mpi/comm_mpi.hpp"

#include <climits>
#include <string>

#include "lplb/errors.hpp"

namespace lplb {
namespace {

void check_mpi(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw Error(std::string(what) + " failed: " + std::string(text, len));
}

// One 128-bit two's-complement integer as two int64 words, low word first.
// Sign-extending int64 inputs and adding in 128 bits is exact and
// associative, so every rank gets the same result whatever order MPI uses;
// 128 bits cannot overflow before 2^64 ranks.
using Wide = unsigned __int128;

Wide load_wide(const int64_t* w) {
  return (static_cast<Wide>(static_cast<uint64_t>(w[1])) << 64) | static_cast<uint64_t>(w[0]);
}
void store_wide(Wide v, int64_t* w) {
  w[0] = static_cast<int64_t>(static_cast<uint64_t>(v));
  w[1] = static_cast<int64_t>(static_cast<uint64_t>(v >> 64));
}

void wide_sum(void* in, void* inout, int* len, MPI_Datatype*) {
  const auto* a = static_cast<const int64_t*>(in);
  auto* b = static_cast<int64_t*>(inout);
  for (int k = 0; k < *len; ++k) store_wide(load_wide(a + 2 * k) + load_wide(b + 2 * k), b + 2 * k);
}

}  // namespace

MpiSession::MpiSession(int* argc, char*** argv) {
  int initialized = 0;
  check_mpi(MPI_Initialized(&initialized), "MPI_Initialized");
  if (!initialized) {
    check_mpi(MPI_Init(argc, argv), "MPI_Init");
    owns_ = true;
  }
}

MpiSession::~MpiSession() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (owns_ && !finalized) MPI_Finalize();
}

MpiCommunicator::MpiCommunicator(MPI_Comm comm) {
  check_arg(comm != MPI_COMM_NULL, "comm", "is MPI_COMM_NULL");
  check_mpi(MPI_Comm_dup(comm, &comm_), "MPI_Comm_dup");
  check_mpi(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  check_mpi(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
  check_mpi(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
  check_mpi(MPI_Type_contiguous(2, MPI_INT64_T, &wide_), "MPI_Type_contiguous");
  check_mpi(MPI_Type_commit(&wide_), "MPI_Type_commit");
  check_mpi(MPI_Op_create(&wide_sum, /*commute=*/1, &wide_sum_), "MPI_Op_create");
}

MpiCommunicator::~MpiCommunicator() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;  // MPI freed everything already
  if (wide_sum_ != MPI_OP_NULL) MPI_Op_free(&wide_sum_);
  if (wide_ != MPI_DATATYPE_NULL) MPI_Type_free(&wide_);
  if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

void MpiCommunicator::all_reduce_sum(std::span<int64_t> values) {
  check_arg(values.size() <= INT_MAX / 2, "values", "at most INT_MAX / 2 entries per call");
  const int n = static_cast<int>(values.size());
  if (n == 0) return;  // same on every rank: the lengths must agree
  scratch_.resize(2 * values.size());
  for (int k = 0; k < n; ++k)
    store_wide(static_cast<Wide>(static_cast<__int128>(values[k])), &scratch_[2 * k]);
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, scratch_.data(), n, wide_, wide_sum_, comm_),
            "MPI_Allreduce (sum)");
  // Every rank holds the same sums, so every rank throws (or none does),
  // and `values` is left untouched when it throws.
  for (int k = 0; k < n; ++k) {
    const int64_t lo = scratch_[2 * k], hi = scratch_[2 * k + 1];
    if (hi != (lo < 0 ? -1 : 0))
      throw Error("all_reduce_sum: the sum over " + std::to_string(size_) +
                  " ranks leaves int64 at entry " + std::to_string(k));
  }
  for (int k = 0; k < n; ++k) values[k] = scratch_[2 * k];
}

void MpiCommunicator::all_reduce_max(std::span<int64_t> values) {
  check_arg(values.size() <= INT_MAX, "values", "at most INT_MAX entries per call");
  if (values.empty()) return;
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_INT64_T,
                          MPI_MAX, comm_),
            "MPI_Allreduce (max)");
}

}  // namespace lplb
