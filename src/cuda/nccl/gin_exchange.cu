// The GIN exchange kernels (gin_exchange.cuh).
#include "cuda/nccl/gin_exchange.cuh"

#ifdef LPLB_NCCL_GIN
namespace lplb::cuda::detail {
namespace {

__global__ void gin_reset_kernel(ncclDevComm dc, int ranks) {
  ncclGin gin(dc, 0);
  for (int s = threadIdx.x; s < ranks; s += blockDim.x) gin.resetSignal(static_cast<ncclGinSignal_t>(s));
}

// One block: the counts are small (thousands of entries), latency matters.
__global__ void __launch_bounds__(kExchangeThreads)
    gin_exchange_kernel(ncclDevComm dc, ncclWindow_t window, uint64_t* local, GinLayout L,
                        ExchangeArgs a) {
  __shared__ int failed;
  const int me = a.rank, P = L.ranks;
  const uint64_t epoch = a.epochs[0] + 1;
  const int q = static_cast<int>(epoch & 1);
  if (threadIdx.x == 0) failed = *reinterpret_cast<volatile uint32_t*>(&a.error->bits) != 0;
  __syncthreads();
  if (failed) {
    for (int64_t i = threadIdx.x; i < a.n; i += blockDim.x) a.recv[i] = 0;
    return;
  }
  const int64_t mine = L.slot(q, me);
  for (int64_t i = threadIdx.x; i < a.n; i += blockDim.x)
    local[mine + 1 + i] = static_cast<uint64_t>(a.send[i]);
  if (threadIdx.x == 0) local[mine] = static_cast<uint64_t>(a.n);
  __syncthreads();
  ncclGin gin(dc, 0);
  const size_t offset = static_cast<size_t>(mine) * sizeof(uint64_t);
  const size_t bytes = static_cast<size_t>(a.n + 1) * sizeof(uint64_t);
  for (int p = threadIdx.x; p < P; p += blockDim.x) {
    if (p == me) continue;
    __threadfence_system();
    gin.put(ncclTeamWorld(dc), p, window, offset, window, offset, bytes,
            ncclGin_SignalInc{static_cast<ncclGinSignal_t>(me)});
  }
  for (int p = threadIdx.x; p < P; p += blockDim.x) {
    if (p == me) continue;
    const uint64_t start = detail::global_timer_ns();
    for (uint32_t spin = 1;; ++spin) {
      if (static_cast<int64_t>(gin.readSignal(static_cast<ncclGinSignal_t>(p)) - epoch) >= 0) break;
      if ((spin & 63u) == 0 &&
          static_cast<int64_t>(detail::global_timer_ns() - start) > a.timeout_ns) {
        detail::record_exchange_error(a.error, detail::kExchangeTimeout, p, 0, a.n, -1, epoch);
        failed = 1;
        break;
      }
    }
  }
  __syncthreads();
  if (!failed) {
    for (int p = threadIdx.x; p < P; p += blockDim.x) {
      const uint64_t their_n = *reinterpret_cast<volatile uint64_t*>(local + L.slot(q, p));
      if (their_n != static_cast<uint64_t>(a.n)) {
        detail::record_exchange_error(a.error, detail::kExchangeSizeMismatch, p, 0, a.n,
                                      static_cast<int64_t>(their_n), epoch);
        failed = 1;
      }
    }
  }
  __syncthreads();
  for (int64_t i = threadIdx.x; i < a.n; i += blockDim.x) {
    uint64_t s = 0;
    if (!failed)
      for (int p = 0; p < P; ++p) s += *reinterpret_cast<volatile uint64_t*>(local + L.slot(q, p) + 1 + i);
    a.recv[i] = static_cast<int64_t>(s);
  }
  gin.flush(ncclCoopCta());  // our slot may be rewritten two calls later
  if (threadIdx.x == 0) a.epochs[0] = epoch;
}
}  // namespace

void launch_gin_reset(ncclDevComm dc, int ranks) { gin_reset_kernel<<<1, 256>>>(dc, ranks); }

void launch_gin_exchange(ncclDevComm dc, ncclWindow_t window, uint64_t* local, GinLayout L,
                         const ExchangeArgs& a, cudaStream_t stream) {
  gin_exchange_kernel<<<1, kExchangeThreads, 0, stream>>>(dc, window, local, L, a);
}

}  // namespace lplb::cuda::detail
#endif  // LPLB_NCCL_GIN
