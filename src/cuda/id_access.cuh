// Device helpers shared by the count and map kernels: the range a warp owns,
// wide loads, and reporting an invalid id.
#pragma once

#include <stdint.h>

#include "cuda/device_types.cuh"
#include "lplb/cuda/planner_cuda.hpp"  // ErrorBit: the bits' one definition

namespace lplb::cuda::detail {

// ErrorState::bits as the kernels set them: the host's ErrorBit values, so
// check_errors() and the kernels cannot disagree.
constexpr int32_t kBadIdBit = kErrorBadId;
constexpr int32_t kBadWorkloadBit = kErrorBadWorkload;
constexpr int32_t kStaleCountBit = kErrorStaleCount;

// [begin, end) of the ids owned by `warp` of tile `tile`.
struct WarpRange {
  int64_t begin, end;
};
__device__ __forceinline__ WarpRange warp_range(const Tiling& t, int tile, int warp) {
  const int64_t span = int64_t{t.chunks} * kChunkIds;
  const int64_t begin = int64_t{tile} * t.tile_ids + int64_t{warp} * span;
  const int64_t end = begin + span < t.n ? begin + span : t.n;
  return {begin, end < begin ? begin : end};
}

template <typename Id>
__device__ __forceinline__ void report_bad_id(ErrorState* err, int64_t index, Id value) {
  const long long v = static_cast<long long>(value);
  const long long clamped = v < INT32_MIN ? INT32_MIN : (v > INT32_MAX ? INT32_MAX : v);
  const unsigned long long packed = (static_cast<unsigned long long>(index) << 32) |
                                    static_cast<uint32_t>(static_cast<int32_t>(clamped));
  atomicOr(&err->bits, kBadIdBit);
  atomicMin(&err->first_bad_id, packed);
}

// 16 bytes of ids.
template <typename Id>
struct alignas(16) IdVec {
  static constexpr int kCount = 16 / sizeof(Id);
  Id v[kCount];
};

// Calls f(id, index) for every id in [begin, end) of this warp, in no
// particular order, with 16-byte loads where the pointer allows and eight of
// them in flight per lane.
template <typename Id, typename F>
__device__ __forceinline__ void for_each_id_unordered(const Id* __restrict__ ids, int64_t begin,
                                                      int64_t end, int lane, F&& f) {
  constexpr int kVec = IdVec<Id>::kCount;
  constexpr int kUnroll = 8;
  int64_t pos = begin;
  if ((reinterpret_cast<uintptr_t>(ids + begin) & 15) == 0) {
    const IdVec<Id>* vec = reinterpret_cast<const IdVec<Id>*>(ids + begin);
    const int64_t num_vec = (end - begin) / kVec;
    for (int64_t base = 0; base < num_vec; base += 32 * kUnroll) {
      IdVec<Id> buf[kUnroll];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int64_t k = base + u * 32 + lane;
        if (k < num_vec) buf[u] = vec[k];
      }
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int64_t k = base + u * 32 + lane;
        if (k < num_vec) {
#pragma unroll
          for (int c = 0; c < kVec; ++c) f(buf[u].v[c], begin + k * kVec + c);
        }
      }
    }
    pos = begin + num_vec * kVec;
  }
  for (int64_t k = pos + lane; k < end; k += 32) f(ids[k], k);
}

}  // namespace lplb::cuda::detail
