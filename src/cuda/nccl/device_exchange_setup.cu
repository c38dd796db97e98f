// NcclDeviceExchange's collective set-up: the options check, the symmetric
// window, the LSA or GIN set-up, the mode choice (the same on every rank)
// and the release of what was set up.
#include <cuda_runtime.h>

#include <string>
#include <utility>
#include <vector>

#include "cuda/cuda_check.cuh"
#include "cuda/nccl/device_exchange_impl.cuh"
#include "cuda/nccl/window_peers.cuh"
#include "lplb/errors.hpp"

namespace lplb::cuda {
namespace {

#ifdef LPLB_NCCL_DEVICE_API
// out[p][w] = word w of rank p's header, read through the window.
__global__ void read_headers_kernel(ncclWindow_t window, int ranks, uint64_t* out) {
  const detail::WindowPeers peers{window};
  for (int k = threadIdx.x; k < ranks * detail::kExchangeHeaderWords; k += blockDim.x) {
    const int p = k / detail::kExchangeHeaderWords;
    const int w = k % detail::kExchangeHeaderWords;
    out[k] = *reinterpret_cast<volatile uint64_t*>(peers.at(p, w));
  }
}

#endif  // LPLB_NCCL_DEVICE_API

}  // namespace

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
  if (!detail::all_ranks_ok(*comm, alloc_ok)) {
    why = alloc_ok ? "ncclMemAlloc failed on another rank"
                   : "ncclMemAlloc(" + std::to_string(window_bytes) + " bytes) failed: " +
                         detail::nccl_error(r, comm->comm());
    if (alloc_ok) api.mem_free(window_mem);
    window_mem = nullptr;
    return false;
  }
  r = api.window_register(comm->comm(), window_mem, window_bytes, &window, NCCL_WIN_COLL_SYMMETRIC);
  const bool reg_ok = r == ncclSuccess && window != nullptr;
  if (!detail::all_ranks_ok(*comm, reg_ok)) {
    why = reg_ok ? "ncclCommWindowRegister failed on another rank"
          : r != ncclSuccess
              ? "ncclCommWindowRegister(NCCL_WIN_COLL_SYMMETRIC) failed: " + detail::nccl_error(r, comm->comm())
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
  detail::all_ranks_ok(*comm, true);
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
  if (!detail::all_ranks_ok(*comm, bad.empty()))
    throw Error("NcclDeviceExchange: the window check failed on rank " + std::to_string(rank) +
                (bad.empty() ? " (another rank saw a bad header)" : ": " + bad));
  return true;
}

bool NcclDeviceExchange::Impl::setup_gin(std::string& why) {
#ifdef LPLB_NCCL_GIN
  gin_layout = detail::GinLayout{size, options.capacity};
  if (!allocate_window(static_cast<size_t>(gin_layout.total_words()), why)) return false;
  ncclDevCommRequirements_t reqs{};  // zero: no barriers, no multimem
  reqs.ginForceEnable = true;
  reqs.ginContextCount = 1;
  reqs.ginSignalCount = size;  // signal s counts puts from rank s
  const ncclResult_t r = api.devcomm_create(comm->comm(), &reqs, &devcomm);
  const bool created = r == ncclSuccess;
  if (!detail::all_ranks_ok(*comm, created)) {
    why = created ? "ncclDevCommCreate (GIN) failed on another rank"
                  : "ncclDevCommCreate with GIN failed: " + detail::nccl_error(r, comm->comm());
    has_devcomm = false;  // partly created: left to NCCL's clean-up
    return false;
  }
  has_devcomm = true;
  if (!detail::all_ranks_ok(*comm, devcomm.ginContextCount > 0)) {
    why = "this NCCL build or system offers no GIN context (no supported NIC or plugin)";
    return false;
  }
  detail::launch_gin_reset(devcomm, size);
  LPLB_CUDA_CHECK(cudaGetLastError());
  write_header_and_sync();
  return true;
#else
  why = "built against NCCL " + detail::version_string(NCCL_VERSION_CODE) + " headers, without GIN (needs 2.28.7)";
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
      why = "the loaded NCCL " + detail::version_string(version) + " is not the " +
            detail::version_string(built) + " whose device API (window layout) the kernels were built with";
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

}  // namespace lplb::cuda
