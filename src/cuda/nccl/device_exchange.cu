// NcclDeviceExchange (lplb/cuda/nccl_device_exchange.hpp): set-up, mode choice
// and the kernels over NCCL's device API (nccl_device.h, NCCL >= 2.28).
//
// The NCCL entry points of the device API are looked up with dlsym at set-up
// rather than linked, so that lplb_nccl still loads (and falls back to the
// host all-reduce, saying why) with an older libnccl at run time.
#include "lplb/cuda/nccl_device_exchange.hpp"

#include <cuda_runtime.h>
#include <dlfcn.h>
#include <nccl.h>

#include <string>
#include <vector>

#include "cuda/cuda_check.cuh"
#include "cuda/nccl/exchange_protocol.cuh"
#include "lplb/errors.hpp"

#if defined(NCCL_VERSION_CODE) && NCCL_VERSION_CODE >= 22800 && __has_include(<nccl_device.h>)
#define LPLB_NCCL_DEVICE_API 1
#include <nccl_device.h>
#if NCCL_VERSION_CODE >= 22807  // GIN (GPU-initiated networking) since 2.28.7
#define LPLB_NCCL_GIN 1
#endif
#endif

namespace lplb::cuda {
namespace {

using detail::ExchangeArgs;
using detail::ExchangeError;
using detail::ExchangeLayout;
using detail::kExchangeThreads;

std::string version_string(int code) {
  if (code <= 0) return "unknown";
  return std::to_string(code / 10000) + "." + std::to_string(code / 100 % 100) + "." +
         std::to_string(code % 100);
}

std::string nccl_error(ncclResult_t r, ncclComm_t comm) {
  std::string s = ncclGetErrorString(r);
  const char* last = comm != nullptr ? ncclGetLastError(comm) : nullptr;
  if (last != nullptr && *last != '\0') s += std::string(" (") + last + ")";
  return s;
}

using detail::DeviceGuard;

// Every rank learns whether all ranks succeeded (a host all-reduce, so also
// a barrier). Fixed length: safe whatever the ranks disagree on.
bool all_ranks_ok(NcclCommunicator& comm, bool ok) {
  int64_t failed = ok ? 0 : 1;
  comm.all_reduce_max(std::span<int64_t>(&failed, 1));
  return failed == 0;
}

#ifdef LPLB_NCCL_DEVICE_API

// The device-API entry points, resolved in the loaded libnccl.
struct NcclDeviceApi {
  ncclResult_t (*mem_alloc)(void**, size_t) = nullptr;
  ncclResult_t (*mem_free)(void*) = nullptr;
  ncclResult_t (*window_register)(ncclComm_t, void*, size_t, ncclWindow_t*, int) = nullptr;
  ncclResult_t (*window_deregister)(ncclComm_t, ncclWindow_t) = nullptr;
  ncclTeam_t (*team_lsa)(ncclComm_t) = nullptr;
  ncclResult_t (*devcomm_create)(ncclComm_t, const ncclDevCommRequirements_t*,
                                 ncclDevComm_t*) = nullptr;
  ncclResult_t (*devcomm_destroy)(ncclComm_t, const ncclDevComm_t*) = nullptr;
  std::string missing;  // names not found, space-separated

  NcclDeviceApi() {
    find(mem_alloc, "ncclMemAlloc");
    find(mem_free, "ncclMemFree");
    find(window_register, "ncclCommWindowRegister");
    find(window_deregister, "ncclCommWindowDeregister");
    find(team_lsa, "ncclTeamLsa");
    find(devcomm_create, "ncclDevCommCreate");
    find(devcomm_destroy, "ncclDevCommDestroy");
  }
  bool has_lsa() const {
    return mem_alloc && mem_free && window_register && window_deregister && team_lsa;
  }
  bool has_gin() const { return has_lsa() && devcomm_create && devcomm_destroy; }

 private:
  template <typename F>
  void find(F& f, const char* name) {
    f = reinterpret_cast<F>(dlsym(RTLD_DEFAULT, name));
    if (f == nullptr) missing += (missing.empty() ? "" : " ") + std::string(name);
  }
};

// Peers through the symmetric window (world ranks; one LSA team).
struct WindowPeers {
  ncclWindow_t window;
  __device__ uint64_t* at(int peer, int64_t word) const {
    return static_cast<uint64_t*>(
        ncclGetPeerPointer(window, static_cast<size_t>(word) * sizeof(uint64_t), peer));
  }
};

// out[p][w] = word w of rank p's header, read through the window.
__global__ void read_headers_kernel(ncclWindow_t window, int ranks, uint64_t* out) {
  const WindowPeers peers{window};
  for (int k = threadIdx.x; k < ranks * detail::kExchangeHeaderWords; k += blockDim.x) {
    const int p = k / detail::kExchangeHeaderWords;
    const int w = k % detail::kExchangeHeaderWords;
    out[k] = *reinterpret_cast<volatile uint64_t*>(peers.at(p, w));
  }
}

#ifdef LPLB_NCCL_GIN
// GIN layout: header, then slot[2][ranks] of (n, data[capacity]) words;
// rank s puts its slot[q][s] into slot[q][s] of every peer, incrementing the
// peer's signal s. Call `epoch` has arrived from s when signal s >= epoch.
struct GinLayout {
  int32_t ranks;
  int64_t capacity;
  __host__ __device__ int64_t slot_words() const { return detail::round_up16(1 + capacity); }
  __host__ __device__ int64_t slot(int q, int src) const {
    return detail::kExchangeHeaderWords + (int64_t{q} * ranks + src) * slot_words();
  }
  __host__ __device__ int64_t total_words() const { return slot(2, 0); }
};

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
#endif  // LPLB_NCCL_GIN
#endif  // LPLB_NCCL_DEVICE_API

}  // namespace

const char* to_string(ExchangeMode mode) {
  switch (mode) {
    case ExchangeMode::kLsa: return "lsa";
    case ExchangeMode::kGin: return "gin";
    case ExchangeMode::kHostAllReduce: return "host-allreduce";
  }
  return "?";
}

struct NcclDeviceExchange::Impl {
  NcclCommunicator* comm = nullptr;
  DeviceExchangeOptions options;
  ExchangeMode mode = ExchangeMode::kHostAllReduce;
  std::string reason;
  int version = 0;
  int rank = 0, size = 1, device = 0;
  ExchangeLayout layout;
  int64_t timeout_ns = 0;
  uint64_t* epochs = nullptr;      // device [blocks]
  ExchangeError* error = nullptr;  // device
  void* window_mem = nullptr;      // ncclMemAlloc'd, registered as `window`
  size_t window_bytes = 0;
#ifdef LPLB_NCCL_DEVICE_API
  NcclDeviceApi api;
  ncclWindow_t window = nullptr;
  bool window_registered = false;
  ncclDevComm devcomm{};
  bool has_devcomm = false;
#ifdef LPLB_NCCL_GIN
  GinLayout gin_layout{};
#endif
#endif

  void check_options_agree();
  void choose_mode();
  void release_device_resources() noexcept;
#ifdef LPLB_NCCL_DEVICE_API
  bool allocate_window(size_t words, std::string& why);
  void write_header_and_sync();
  bool setup_lsa(std::string& why);
  bool setup_gin(std::string& why);
#endif
};

// One fixed-length max-reduction of [fields, -fields]: every rank sees each
// field's range and throws the same message on a disagreement.
void NcclDeviceExchange::Impl::check_options_agree() {
  const uint64_t h = options.config_hash;
  const std::vector<std::pair<const char*, int64_t>> fields = {
      {"capacity", options.capacity},
      {"config_hash (high half)", static_cast<int64_t>(h >> 32)},
      {"config_hash (low half)", static_cast<int64_t>(h & 0xffffffffu)},
      {"allow_gin", options.allow_gin ? 1 : 0},
      {"force_host", options.force_host ? 1 : 0},
  };
  const size_t k = fields.size();
  std::vector<int64_t> v(2 * k);
  for (size_t i = 0; i < k; ++i) {
    v[i] = fields[i].second;
    v[k + i] = -fields[i].second;
  }
  comm->all_reduce_max(v);
  std::string diff;
  for (size_t i = 0; i < k; ++i) {
    const int64_t hi = v[i], lo = -v[k + i];
    if (hi == lo) continue;
    diff += diff.empty() ? "" : "; ";
    diff += std::string(fields[i].first) + " ranges over [" + std::to_string(lo) + ", " +
            std::to_string(hi) + "]";
  }
  check_arg(diff.empty(), "options",
            "the " + std::to_string(size) + " ranks disagree on the device exchange set-up (" + diff +
                "); every rank must pass the same capacity, config_hash, allow_gin and force_host");
}

void NcclDeviceExchange::Impl::release_device_resources() noexcept {
#ifdef LPLB_NCCL_DEVICE_API
  if (has_devcomm && api.devcomm_destroy) api.devcomm_destroy(comm->comm(), &devcomm);
  has_devcomm = false;
  if (window_registered && api.window_deregister) api.window_deregister(comm->comm(), window);
  window_registered = false;
  window = nullptr;
  if (window_mem != nullptr && api.mem_free) api.mem_free(window_mem);
#endif
  window_mem = nullptr;
}

#ifdef LPLB_NCCL_DEVICE_API
// ncclMemAlloc + ncclCommWindowRegister (collective), with every rank
// agreeing on the outcome of each step. A registration that failed on some
// ranks only is left in place (deregistering is collective too); NCCL frees
// it with the communicator.
bool NcclDeviceExchange::Impl::allocate_window(size_t words, std::string& why) {
  const size_t align = NCCL_WIN_REQUIRED_ALIGNMENT;
  window_bytes = (words * sizeof(uint64_t) + align - 1) / align * align;
  ncclResult_t r = api.mem_alloc(&window_mem, window_bytes);
  const bool alloc_ok = r == ncclSuccess && window_mem != nullptr;
  if (!all_ranks_ok(*comm, alloc_ok)) {
    why = alloc_ok ? "ncclMemAlloc failed on another rank"
                   : "ncclMemAlloc(" + std::to_string(window_bytes) + " bytes) failed: " +
                         nccl_error(r, comm->comm());
    if (alloc_ok) api.mem_free(window_mem);
    window_mem = nullptr;
    return false;
  }
  r = api.window_register(comm->comm(), window_mem, window_bytes, &window, NCCL_WIN_COLL_SYMMETRIC);
  const bool reg_ok = r == ncclSuccess && window != nullptr;
  if (!all_ranks_ok(*comm, reg_ok)) {
    why = reg_ok ? "ncclCommWindowRegister failed on another rank"
          : r != ncclSuccess
              ? "ncclCommWindowRegister(NCCL_WIN_COLL_SYMMETRIC) failed: " + nccl_error(r, comm->comm())
              : "ncclCommWindowRegister returned no window (symmetric memory unsupported here; "
                "NCCL_CUMEM_ENABLE=0?)";
    if (!reg_ok) {
      api.mem_free(window_mem);
      window_mem = nullptr;
    }
    return false;
  }
  window_registered = true;
  return true;
}

// Zero the window, write the header, synchronise; then a host barrier, so no
// rank's first arrival can land before a peer has zeroed its inbox.
void NcclDeviceExchange::Impl::write_header_and_sync() {
  LPLB_CUDA_CHECK(cudaMemset(window_mem, 0, window_bytes));
  uint64_t header[detail::kExchangeHeaderWords] = {};
  header[detail::kHeaderMagic] = detail::kExchangeMagic;
  header[detail::kHeaderCapacity] = static_cast<uint64_t>(options.capacity);
  header[detail::kHeaderHash] = options.config_hash;
  header[detail::kHeaderRanks] = static_cast<uint64_t>(size);
  header[detail::kHeaderRank] = static_cast<uint64_t>(rank);
  LPLB_CUDA_CHECK(cudaMemcpy(window_mem, header, sizeof(header), cudaMemcpyHostToDevice));
  LPLB_CUDA_CHECK(cudaDeviceSynchronize());
  all_ranks_ok(*comm, true);
}

bool NcclDeviceExchange::Impl::setup_lsa(std::string& why) {
  if (!allocate_window(static_cast<size_t>(layout.total_words()), why)) return false;
  write_header_and_sync();
  // Read every rank's header through the window: proves the mapping and that
  // all ranks registered the same exchange.
  const int64_t words = int64_t{size} * detail::kExchangeHeaderWords;
  uint64_t* d_headers = nullptr;
  LPLB_CUDA_CHECK(cudaMalloc(&d_headers, words * sizeof(uint64_t)));
  read_headers_kernel<<<1, 256>>>(window, size, d_headers);
  std::vector<uint64_t> h(words);
  const cudaError_t launch = cudaGetLastError();
  const cudaError_t copy =
      cudaMemcpy(h.data(), d_headers, words * sizeof(uint64_t), cudaMemcpyDeviceToHost);
  cudaFree(d_headers);
  LPLB_CUDA_CHECK(launch);
  LPLB_CUDA_CHECK(copy);
  std::string bad;
  for (int p = 0; p < size && bad.empty(); ++p) {
    const uint64_t* w = h.data() + int64_t{p} * detail::kExchangeHeaderWords;
    if (w[detail::kHeaderMagic] != detail::kExchangeMagic || w[detail::kHeaderRank] != uint64_t(p) ||
        w[detail::kHeaderRanks] != uint64_t(size))
      bad = "rank " + std::to_string(p) + "'s window header is not where the LSA mapping points";
    else if (w[detail::kHeaderCapacity] != uint64_t(options.capacity) ||
             w[detail::kHeaderHash] != options.config_hash)
      bad = "rank " + std::to_string(p) + " registered capacity " +
            std::to_string(w[detail::kHeaderCapacity]) + ", this rank " +
            std::to_string(options.capacity);
  }
  if (!all_ranks_ok(*comm, bad.empty()))
    throw Error("NcclDeviceExchange: the window check failed on rank " + std::to_string(rank) +
                (bad.empty() ? " (another rank saw a bad header)" : ": " + bad));
  return true;
}

bool NcclDeviceExchange::Impl::setup_gin(std::string& why) {
#ifdef LPLB_NCCL_GIN
  gin_layout = GinLayout{size, options.capacity};
  if (!allocate_window(static_cast<size_t>(gin_layout.total_words()), why)) return false;
  ncclDevCommRequirements_t reqs{};  // zero: no barriers, no multimem
  reqs.ginForceEnable = true;
  reqs.ginContextCount = 1;
  reqs.ginSignalCount = size;  // signal s counts puts from rank s
  const ncclResult_t r = api.devcomm_create(comm->comm(), &reqs, &devcomm);
  const bool created = r == ncclSuccess;
  if (!all_ranks_ok(*comm, created)) {
    why = created ? "ncclDevCommCreate (GIN) failed on another rank"
                  : "ncclDevCommCreate with GIN failed: " + nccl_error(r, comm->comm());
    has_devcomm = false;  // partly created: left to NCCL's clean-up
    return false;
  }
  has_devcomm = true;
  if (!all_ranks_ok(*comm, devcomm.ginContextCount > 0)) {
    why = "this NCCL build or system offers no GIN context (no supported NIC or plugin)";
    return false;
  }
  gin_reset_kernel<<<1, 256>>>(devcomm, size);
  LPLB_CUDA_CHECK(cudaGetLastError());
  write_header_and_sync();
  return true;
#else
  why = "built against NCCL " + version_string(NCCL_VERSION_CODE) + " headers, without GIN (needs 2.28.7)";
  return false;
#endif
}
#endif  // LPLB_NCCL_DEVICE_API

// Picks the mode once, the same on every rank: each rank proposes the best
// mode it can use (lsa 2 > gin 1 > host 0), all take the minimum, then set it
// up, falling back to the host all-reduce if any rank fails.
void NcclDeviceExchange::Impl::choose_mode() {
  int proposal = 0;
  std::string why;
  if (options.force_host) {
    why = "forced by DeviceExchangeOptions::force_host";
  } else {
#ifdef LPLB_NCCL_DEVICE_API
    const int built = NCCL_VERSION_CODE;
    if (version / 100 != built / 100) {
      why = "the loaded NCCL " + version_string(version) + " is not the " +
            version_string(built) + " whose device API (window layout) the kernels were built with";
    } else if (!api.has_lsa()) {
      why = "the loaded NCCL lacks device-API symbols: " + api.missing;
    } else {
      const ncclTeam_t lsa = api.team_lsa(comm->comm());
      if (lsa.nRanks <= 0) {  // NCCL returns an empty team when its device runtime fails
        why = "ncclTeamLsa returned an empty team: NCCL's device runtime could not start "
              "(no CUDA VMM / cuMem support? NCCL_CUMEM_ENABLE=0?)";
      } else if (lsa.nRanks == size) {
        proposal = 2;
      } else if (!options.allow_gin) {
        why = "the ranks span " + std::to_string(size / lsa.nRanks) +
              " LSA teams and GIN is disabled by the options";
      } else {
#ifdef LPLB_NCCL_GIN
        if (api.has_gin()) proposal = 1;
        else why = "the loaded NCCL lacks ncclDevCommCreate (GIN)";
#else
        why = "the ranks span several LSA teams and these NCCL headers have no GIN";
#endif
      }
    }
#else
    why = "built against NCCL headers without the device API (nccl_device.h, NCCL >= 2.28)";
#endif
  }
  int64_t neg = -proposal;
  comm->all_reduce_max(std::span<int64_t>(&neg, 1));
  const int agreed = static_cast<int>(-neg);
  if (agreed < proposal) why = "another rank cannot use the " +
                                std::string(proposal == 2 ? "LSA" : "GIN") + " path";
#ifdef LPLB_NCCL_DEVICE_API
  if (agreed == 2 && setup_lsa(why)) {
    mode = ExchangeMode::kLsa;
    reason = "all " + std::to_string(size) + " ranks are load/store accessible (one LSA team)";
    return;
  }
  if (agreed == 1 && setup_gin(why)) {
    mode = ExchangeMode::kGin;
    reason = "ranks span several LSA teams; NCCL GIN is available";
    return;
  }
  if (agreed > 0) release_device_resources();
#endif
  mode = ExchangeMode::kHostAllReduce;
  reason = why;
}

NcclDeviceExchange::NcclDeviceExchange(NcclCommunicator& comm, const DeviceExchangeOptions& options)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.comm = &comm;
  m.options = options;
  m.rank = comm.rank();
  m.size = comm.size();
  m.device = comm.device();
  check_arg(options.capacity > 0 && options.capacity <= (int64_t{1} << 30), "options.capacity",
            "must be in [1, 2^30], got " + std::to_string(options.capacity));
  check_arg(options.timeout_ms > 0 && options.timeout_ms <= int64_t{1} << 40, "options.timeout_ms",
            "must be > 0, got " + std::to_string(options.timeout_ms));
  m.timeout_ns = options.timeout_ms * 1000000;
  const ncclResult_t vr = ncclGetVersion(&m.version);
  if (vr != ncclSuccess) m.version = 0;
  m.layout.ranks = m.size;
  m.layout.blocks = detail::exchange_blocks(options.capacity);
  m.layout.capacity = options.capacity;

  DeviceGuard guard(m.device);
  m.check_options_agree();  // before anything size-dependent is collective
  LPLB_CUDA_CHECK(cudaMalloc(&m.epochs, m.layout.blocks * sizeof(uint64_t)));
  LPLB_CUDA_CHECK(cudaMalloc(&m.error, sizeof(ExchangeError)));
  LPLB_CUDA_CHECK(cudaMemset(m.epochs, 0, m.layout.blocks * sizeof(uint64_t)));
  LPLB_CUDA_CHECK(cudaMemset(m.error, 0, sizeof(ExchangeError)));
  try {
    m.choose_mode();
  } catch (...) {
    m.release_device_resources();
    cudaFree(m.epochs);
    cudaFree(m.error);
    throw;
  }
}

NcclDeviceExchange::~NcclDeviceExchange() {
  if (!impl_) return;
  Impl& m = *impl_;
  int previous = 0;
  const bool have_previous = cudaGetDevice(&previous) == cudaSuccess;
  cudaSetDevice(m.device);
  cudaDeviceSynchronize();  // no kernel may still read the window
  m.release_device_resources();
  cudaFree(m.epochs);
  cudaFree(m.error);
  if (have_previous) cudaSetDevice(previous);
}

ExchangeMode NcclDeviceExchange::mode() const { return impl_->mode; }
const std::string& NcclDeviceExchange::mode_reason() const { return impl_->reason; }
int64_t NcclDeviceExchange::capacity() const { return impl_->options.capacity; }
int NcclDeviceExchange::nccl_version() const { return impl_->version; }
NcclCommunicator& NcclDeviceExchange::host_comm() const { return *impl_->comm; }
int NcclDeviceExchange::rank() const { return impl_->rank; }
int NcclDeviceExchange::size() const { return impl_->size; }

void NcclDeviceExchange::all_reduce_sum_device(const int64_t* send, int64_t* recv, size_t n,
                                               cudaStream_t stream) {
  if (n == 0) return;  // every rank has the same n, so every rank skips
  Impl& m = *impl_;
  check_arg(send != nullptr, "send", "is null");
  check_arg(recv != nullptr, "recv", "is null");
  check_arg(n <= static_cast<size_t>(m.options.capacity), "n",
            std::to_string(n) + " exceeds the exchange's capacity " +
                std::to_string(m.options.capacity) + " (DeviceExchangeOptions::capacity)");
  if (m.mode == ExchangeMode::kHostAllReduce) {
    m.comm->all_reduce_sum_device(send, recv, n, stream);
    return;
  }
#ifdef LPLB_NCCL_DEVICE_API
  ExchangeArgs args{send, recv, static_cast<int64_t>(n), m.rank, m.layout, m.epochs, m.error,
                    m.timeout_ns};
  if (m.mode == ExchangeMode::kLsa) {
    detail::lsa_exchange_kernel<WindowPeers>
        <<<m.layout.blocks, kExchangeThreads, 0, stream>>>(WindowPeers{m.window}, args);
  }
#ifdef LPLB_NCCL_GIN
  if (m.mode == ExchangeMode::kGin) {
    gin_exchange_kernel<<<1, kExchangeThreads, 0, stream>>>(
        m.devcomm, m.window, static_cast<uint64_t*>(m.window_mem), m.gin_layout, args);
  }
#endif
  LPLB_CUDA_CHECK_LAUNCH();
#endif
}

void NcclDeviceExchange::all_reduce_sum(std::span<int64_t> values) {
  impl_->comm->all_reduce_sum(values);
}
void NcclDeviceExchange::all_reduce_max(std::span<int64_t> values) {
  impl_->comm->all_reduce_max(values);
}

void NcclDeviceExchange::check_errors(cudaStream_t stream) {
  Impl& m = *impl_;
  LPLB_CUDA_CHECK(cudaStreamSynchronize(stream));
  if (m.mode == ExchangeMode::kHostAllReduce) {
    ncclResult_t async = ncclSuccess;
    const ncclResult_t r = ncclCommGetAsyncError(m.comm->comm(), &async);
    if (r != ncclSuccess) throw Error("ncclCommGetAsyncError: " + nccl_error(r, m.comm->comm()));
    if (async != ncclSuccess && async != ncclInProgress)
      throw Error("ncclAllReduce (asynchronous): " + nccl_error(async, m.comm->comm()));
    return;
  }
  ExchangeError e{};
  LPLB_CUDA_CHECK(cudaMemcpy(&e, m.error, sizeof(e), cudaMemcpyDeviceToHost));
  if (e.bits == 0) return;
  const std::string where = "rank " + std::to_string(m.rank) + ", call #" + std::to_string(e.epoch) +
                            " of this exchange (" + to_string(m.mode) + ")";
  const std::string tail = "; the exchange is unusable now: destroy it on every rank";
  if (e.kind == detail::kExchangeSizeMismatch)
    throw InvalidArgument("n: the ranks passed different lengths to the same all_reduce_sum_device "
                          "call (" + where + ": this rank " + std::to_string(e.my_n) + ", rank " +
                          std::to_string(e.peer) + " " + std::to_string(e.peer_n) + ")" + tail);
  throw Error("NcclDeviceExchange: " + where + " waited more than " +
              std::to_string(m.options.timeout_ms) + " ms for rank " + std::to_string(e.peer) +
              " at the device barrier (a rank skipped or reordered a call, failed, or stopped "
              "exchanging after an error)" + tail);
}

}  // namespace lplb::cuda
