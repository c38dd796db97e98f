// What lplb_nccl knows about the loaded NCCL: which device-API headers it
// was built with (LPLB_NCCL_DEVICE_API, LPLB_NCCL_GIN), the device-API entry
// points looked up with dlsym at set-up (so that lplb_nccl still loads, and
// falls back to the host all-reduce saying why, with an older libnccl), and
// small host helpers of the exchange's set-up.
#pragma once

#include <dlfcn.h>
#include <nccl.h>

#include <cstdint>
#include <span>
#include <string>

#include "lplb/cuda/comm_nccl.hpp"

#if defined(NCCL_VERSION_CODE) && NCCL_VERSION_CODE >= 22800 && __has_include(<nccl_device.h>)
#define LPLB_NCCL_DEVICE_API 1
#include <nccl_device.h>
#if NCCL_VERSION_CODE >= 22807  // GIN (GPU-initiated networking) since 2.28.7
#define LPLB_NCCL_GIN 1
#endif
#endif

namespace lplb::cuda::detail {

inline std::string version_string(int code) {
  if (code <= 0) return "unknown";
  return std::to_string(code / 10000) + "." + std::to_string(code / 100 % 100) + "." +
         std::to_string(code % 100);
}

inline std::string nccl_error(ncclResult_t r, ncclComm_t comm) {
  std::string s = ncclGetErrorString(r);
  const char* last = comm != nullptr ? ncclGetLastError(comm) : nullptr;
  if (last != nullptr && *last != '\0') s += std::string(" (") + last + ")";
  return s;
}

// Every rank learns whether all ranks succeeded (a host all-reduce, so also
// a barrier). Fixed length: safe whatever the ranks disagree on.
inline bool all_ranks_ok(NcclCommunicator& comm, bool ok) {
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

#endif  // LPLB_NCCL_DEVICE_API

}  // namespace lplb::cuda::detail
