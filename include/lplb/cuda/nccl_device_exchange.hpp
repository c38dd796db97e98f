// Device-side workload exchange (docs/DISTRIBUTED.md): each rank's counts go
// into a registered NCCL symmetric-memory window, and one kernel sums all
// ranks' counts after a device-side barrier. No host involvement, one stream,
// no allocation per call, capturable in a CUDA graph and replayable every
// layer of every step without re-registering anything. Library lplb_nccl.
//
//   lplb::cuda::NcclCommunicator comm(nc);                   // host NCCL, yours
//   lplb::cuda::DeviceExchangeOptions o;
//   o.capacity = planner.options().num_experts;              // largest n per call
//   o.config_hash = lplb::config_hash(planner);              // ranks must agree
//   lplb::cuda::NcclDeviceExchange exch(comm, o);            // collective set-up
//   // exch.mode(): kLsa (one NVLink domain), kGin (across nodes, NCCL GIN),
//   // or kHostAllReduce (ncclAllReduce through `comm`); exch.mode_reason() says why.
//   cuda_planner.count(ids, n, stream);
//   exch.all_reduce_sum_device(cuda_planner.counts(), global, E, stream);
//   cuda_planner.solve(global, stream);                      // all capturable
//   ...
//   exch.check_errors(stream);                               // when you choose
//
// Result: bit for bit what ncclAllReduce(ncclInt64, ncclSum) returns (integer
// sums, modulo 2^64 like NCCL's, added in rank order 0..P-1).
//
// Errors, never a hang: set-up checks (capacity, config_hash) with one
// fixed-length host all-reduce before anything size-dependent is registered
// and throws InvalidArgument on every rank when they disagree. Each call
// publishes its n next to its counts; a rank that sees another n, or waits
// longer than timeout_ms at the barrier (a rank that skipped a call, died or
// is stuck), records the first such event in a device error record, writes
// zeros to its output and stops exchanging: the others then time out at
// their next call at the latest, so every rank reports. check_errors() turns the record into
// InvalidArgument (sizes) or Error (timeout). The record is sticky: after an
// error, destroy the exchange on every rank and build a new one.
//
// Collective and ordered: every rank constructs, calls and destroys its
// exchange in the same order with the same arguments. The NcclCommunicator
// (and its ncclComm_t) must outlive the exchange.
//
// Thread safety: not thread-safe; one host thread per exchange, and its calls
// on one stream (or on streams the caller orders).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "lplb/cuda/comm_nccl.hpp"
#include "lplb/cuda/device_comm.hpp"

namespace lplb::cuda {

enum class ExchangeMode {
  kLsa,            // loads/stores over NVLink (P2P) into peers' windows: all ranks in one LSA team
  kGin,            // NCCL GPU-initiated networking puts (ranks span several LSA teams)
  kHostAllReduce,  // ncclAllReduce enqueued by the host (NcclCommunicator::all_reduce_sum_device)
};
const char* to_string(ExchangeMode mode);

struct DeviceExchangeOptions {
  // Largest n of any all_reduce_sum_device call (e.g. E, or layers * E when
  // several layers are exchanged at once). Fixes the window size; > 0.
  int64_t capacity = 0;
  // Anything the ranks must agree on, e.g. lplb::config_hash(planner);
  // checked at set-up together with capacity.
  uint64_t config_hash = 0;
  // The device barrier gives up after this long (> 0) and records an error.
  // Ranks may drift apart by this much between calls (host delays count).
  int64_t timeout_ms = 10000;
  // Across LSA teams: try GIN (needs NCCL >= 2.28.7 built with GIN and a
  // supported NIC); otherwise, or when false, use the host all-reduce.
  bool allow_gin = true;
  // Always use the host all-reduce (for comparisons and debugging).
  bool force_host = false;
};

class NcclDeviceExchange final : public DeviceCommunicator {
 public:
  // Collective over comm's ranks: checks the options, picks the mode (the
  // same on every rank), allocates and registers the window, checks through
  // the window that every rank sees the same (capacity, config_hash), and
  // synchronises the device. Throws InvalidArgument on bad or inconsistent
  // options, Error on CUDA/NCCL failures that leave no usable mode. A device
  // mode that cannot be set up (no symmetric memory support, an NCCL library
  // without the device API, no GIN) falls back to kHostAllReduce, and
  // mode_reason() says why.
  NcclDeviceExchange(NcclCommunicator& comm, const DeviceExchangeOptions& options);
  // Collective too (deregisters the window). Does not throw.
  ~NcclDeviceExchange() override;
  NcclDeviceExchange(const NcclDeviceExchange&) = delete;
  NcclDeviceExchange& operator=(const NcclDeviceExchange&) = delete;

  ExchangeMode mode() const;
  const std::string& mode_reason() const;
  int64_t capacity() const;
  // The NCCL library version in use (e.g. 22809), as ncclGetVersion reports.
  int nccl_version() const;
  NcclCommunicator& host_comm() const;

  int rank() const override;
  int size() const override;

  // recv[k] = sum over ranks of send[k], k < n <= capacity(); int64 device
  // buffers on the communicator's GPU; send == recv allowed. One kernel
  // (kLsa, kGin) or one ncclAllReduce (kHostAllReduce) on `stream`; no host
  // synchronisation, no allocation. n == 0 enqueues nothing. Throws
  // InvalidArgument for n > capacity() or a null buffer with n > 0.
  using DeviceCommunicator::all_reduce_sum_device;
  void all_reduce_sum_device(const int64_t* send, int64_t* recv, size_t n,
                             cudaStream_t stream) override;

  // Host fallbacks, through the NcclCommunicator (not for hot paths).
  void all_reduce_sum(std::span<int64_t> values) override;
  void all_reduce_max(std::span<int64_t> values) override;

  // Synchronises `stream` and reads the device error record: throws
  // InvalidArgument when ranks passed different n to the same call, Error
  // when the barrier timed out. Sticky (see above). kHostAllReduce: checks
  // NCCL's asynchronous error instead.
  void check_errors(cudaStream_t stream);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lplb::cuda
