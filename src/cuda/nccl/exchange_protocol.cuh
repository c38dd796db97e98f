// The LSA exchange protocol (lplb/cuda/nccl_device_exchange.hpp), free of NCCL:
// the kernel reaches peers' memory through a `Peers` policy, so the same code
// runs over an NCCL symmetric window (window_peers.cuh) and, in the tests,
// over plain buffers of "ranks" simulated on one GPU.
//
// Window of each rank (64-bit words, one ExchangeLayout for all ranks):
//   header[16]                       (capacity, config hash, ...) for the set-up check
//   inbox[blocks][ranks]             epoch counters, written by the peers
//   meta[2][blocks], data[2][capacity]  this rank's n and counts, by call parity
//
// Call number `epoch` (1, 2, ...; a device counter per block, so graph
// replays advance it) on block b, slice [lo, hi) of the n entries:
//  1. copy send[lo, hi) into data[epoch & 1], meta[epoch & 1][b] = n;
//  2. arrive: store epoch into every peer's inbox[b][me] (release, system);
//  3. wait until inbox[b][p] >= epoch for every peer p (acquire), bounded by
//     a timeout read from %globaltimer;
//  4. check every peer's meta == n, then recv[i] = sum over p = 0..P-1 of
//     peer p's data[epoch & 1][i] (uint64 adds: wraps like NCCL's int64 sum).
// Why two buffers are enough: a peer writes parity q again at call epoch+2,
// after passing the barrier of call epoch+1, which needs this rank's arrival
// at epoch+1, which comes after it finished reading call epoch. A peer may
// already have arrived at epoch+1 when this rank waits for epoch, hence the
// ">=" (and n sits in meta by parity, not in the inbox).
//
// Failures: a timeout or an n mismatch is recorded once in ExchangeError
// (first event wins), the block writes zeros to its slice, and from then on
// every call only writes zeros (sticky) and no longer arrives, so the peers
// time out at their next call at the latest and record an error too: every
// rank reports, none hangs.
#pragma once

#include <cuda/atomic>
#include <cuda_runtime.h>

#include <cstdint>

namespace lplb::cuda::detail {

constexpr int kExchangeThreads = 256;
constexpr int64_t kExchangeHeaderWords = 16;
constexpr uint64_t kExchangeMagic = 0x6c706c6265786368ull;  // "lplbexch"

// Header words written at set-up (checked through the window by every rank).
enum ExchangeHeaderWord { kHeaderMagic = 0, kHeaderCapacity, kHeaderHash, kHeaderRanks, kHeaderRank };

enum ExchangeErrorBit : uint32_t {
  kExchangeTimeout = 1,       // a peer did not arrive within the timeout
  kExchangeSizeMismatch = 2,  // a peer passed another n to the same call
};

// First error wins (claimed 0 -> 1); bits accumulate every kind seen.
struct ExchangeError {
  uint32_t bits;
  uint32_t claimed;
  uint32_t kind;   // the first error's bit
  int32_t peer;    // the rank it concerns
  int32_t block;
  int32_t pad;
  int64_t my_n;
  int64_t peer_n;  // size mismatch: the peer's n
  uint64_t epoch;  // the call number (1-based, per exchange)
};

__host__ __device__ constexpr int64_t round_up16(int64_t x) { return (x + 15) / 16 * 16; }

// Word offsets inside a rank's window; identical on every rank.
struct ExchangeLayout {
  int32_t ranks = 1;
  int32_t blocks = 1;
  int64_t capacity = 0;

  __host__ __device__ int64_t inbox(int b, int src) const {
    return kExchangeHeaderWords + int64_t{b} * ranks + src;
  }
  __host__ __device__ int64_t parity_base(int q) const {
    return kExchangeHeaderWords + round_up16(int64_t{blocks} * ranks) +
           q * (round_up16(blocks) + round_up16(capacity));
  }
  __host__ __device__ int64_t meta(int q, int b) const { return parity_base(q) + b; }
  __host__ __device__ int64_t data(int q, int64_t i) const {
    return parity_base(q) + round_up16(blocks) + i;
  }
  __host__ __device__ int64_t total_words() const { return parity_base(2); }
};

// Blocks per call: a slice of ~4096 entries each, at most 32 (a pure
// function of the capacity, so every rank launches the same grid).
inline int exchange_blocks(int64_t capacity) {
  const int64_t b = (capacity + 4095) / 4096;
  return static_cast<int>(b < 1 ? 1 : (b > 32 ? 32 : b));
}

struct ExchangeArgs {
  const int64_t* send;
  int64_t* recv;
  int64_t n;
  int rank;
  ExchangeLayout layout;
  uint64_t* epochs;  // [blocks], this rank's call counters (device, not in the window)
  ExchangeError* error;
  int64_t timeout_ns;
};

// Peers as raw pointers: simulated ranks on one GPU (tests), or any other
// set of mutually mapped buffers (e.g. CUDA IPC).
constexpr int kMaxPointerPeers = 8;
struct PointerPeers {
  uint64_t* base[kMaxPointerPeers];
  __device__ uint64_t* at(int peer, int64_t word) const { return base[peer] + word; }
};

__device__ __forceinline__ uint64_t global_timer_ns() {
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

__device__ inline void record_exchange_error(ExchangeError* e, uint32_t kind, int peer, int block,
                                             int64_t my_n, int64_t peer_n, uint64_t epoch) {
  atomicOr(&e->bits, kind);
  if (atomicCAS(&e->claimed, 0u, 1u) == 0u) {
    e->kind = kind;
    e->peer = peer;
    e->block = block;
    e->my_n = my_n;
    e->peer_n = peer_n;
    e->epoch = epoch;
    __threadfence();
  }
}

template <class Peers>
__device__ void lsa_exchange_block(const Peers& peers, const ExchangeArgs& a) {
  using SysRef = ::cuda::atomic_ref<uint64_t, ::cuda::thread_scope_system>;
  __shared__ int failed;
  const ExchangeLayout& L = a.layout;
  const int b = blockIdx.x, me = a.rank, P = L.ranks;
  const uint64_t epoch = a.epochs[b] + 1;
  const int q = static_cast<int>(epoch & 1);
  const int64_t chunk = (a.n + gridDim.x - 1) / gridDim.x;
  const int64_t lo = min(a.n, b * chunk), hi = min(a.n, lo + chunk);
  if (threadIdx.x == 0) failed = *reinterpret_cast<volatile uint32_t*>(&a.error->bits) != 0;
  __syncthreads();
  if (failed) {  // sticky: no arrival, zeros out
    for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x) a.recv[i] = 0;
    return;
  }

  // 1. publish this rank's slice and n.
  uint64_t* mine = peers.at(me, 0);
  for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x)
    mine[L.data(q, i)] = static_cast<uint64_t>(a.send[i]);
  if (threadIdx.x == 0) mine[L.meta(q, b)] = static_cast<uint64_t>(a.n);
  __syncthreads();

  // 2. arrive at every peer (one thread per peer).
  for (int p = threadIdx.x; p < P; p += blockDim.x) {
    if (p == me) continue;
    __threadfence_system();
    SysRef(*peers.at(p, L.inbox(b, me))).store(epoch, ::cuda::memory_order_release);
  }
  // 3. wait for every peer, bounded.
  for (int p = threadIdx.x; p < P; p += blockDim.x) {
    if (p == me) continue;
    SysRef inbox(mine[L.inbox(b, p)]);
    const uint64_t start = global_timer_ns();
    for (uint32_t spin = 1;; ++spin) {
      if (static_cast<int64_t>(inbox.load(::cuda::memory_order_acquire) - epoch) >= 0) break;
      if ((spin & 63u) == 0 && static_cast<int64_t>(global_timer_ns() - start) > a.timeout_ns) {
        record_exchange_error(a.error, kExchangeTimeout, p, b, a.n, -1, epoch);
        failed = 1;
        break;
      }
    }
  }
  __syncthreads();
  // 4a. every peer must have published the same n for this call.
  if (!failed) {
    for (int p = threadIdx.x; p < P; p += blockDim.x) {
      const uint64_t their_n = SysRef(*peers.at(p, L.meta(q, b))).load(::cuda::memory_order_relaxed);
      if (their_n != static_cast<uint64_t>(a.n)) {
        record_exchange_error(a.error, kExchangeSizeMismatch, p, b, a.n,
                              static_cast<int64_t>(their_n), epoch);
        failed = 1;
      }
    }
  }
  __syncthreads();
  if (failed) {
    for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x) a.recv[i] = 0;
  } else {
    // 4b. the sum, in rank order.
    for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x) {
      uint64_t s = 0;
      for (int p = 0; p < P; ++p)
        s += SysRef(*peers.at(p, L.data(q, i))).load(::cuda::memory_order_relaxed);
      a.recv[i] = static_cast<int64_t>(s);
    }
  }
  if (threadIdx.x == 0) a.epochs[b] = epoch;
}

template <class Peers>
__global__ void __launch_bounds__(kExchangeThreads)
    lsa_exchange_kernel(Peers peers, ExchangeArgs args) {
  lsa_exchange_block(peers, args);
}

}  // namespace lplb::cuda::detail
