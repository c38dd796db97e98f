// Launch configuration of the count and map kernels as a pure host function
// of the sizes (count and map of the same ids must agree on it).
#pragma once

#include <algorithm>
#include <cstdint>

#include "cuda/device_types.cuh"

namespace lplb::cuda::detail {

// Warps per block: as many as fit (<= kMaxWarps, a power of two) with one
// int32 counter per warp and expert plus the 24-byte expert table.
inline int32_t warps_for_experts(int64_t E) {
  int32_t w = kMaxWarps;
  while (w > 1 && (int64_t{w} * 4 + 24) * E > kMapSharedBytes) w /= 2;
  return w;
}

inline size_t map_shared_bytes(int64_t E, int32_t warps) {
  return static_cast<size_t>((int64_t{warps} * 4 + 24) * E);
}
// Row stride of the count kernel's histograms.
inline int64_t count_row_ints(int64_t E, int32_t copies) { return copies > 1 ? E + 1 : E; }

// Per-warp histograms (copies of each).
inline size_t count_shared_bytes(int64_t E, int32_t warps, int32_t copies) {
  return static_cast<size_t>(int64_t{warps} * copies * count_row_ints(E, copies) * 4);
}

// Whether map() reads count()'s per-warp counts instead of counting its ids
// again: when each warp's ids are at least 3x the bytes of its counts
// written and read back (8 bytes per expert). Measured at one point (8M ids,
// E = 256, H200: 8 KB int32 / 16 KB int64 of ids per warp against 2 KB of
// counts: count + map -2% / -12%); below it (small batches, many experts)
// the extra count traffic is not paid back, so map counts again.
inline bool map_reuses_count(const Tiling& t, int64_t E, size_t id_bytes) {
  const int64_t warp_ids = int64_t{t.chunks} * kChunkIds;
  return warp_ids * static_cast<int64_t>(id_bytes) >= 3 * 8 * E;
}

// At most max_tiles tiles, each a whole number of warp chunks per warp.
inline Tiling make_tiling(int64_t n, int64_t E, int32_t warps, int32_t max_tiles) {
  Tiling t{};
  t.n = n;
  t.warps = warps;
  t.copies = 4;
  while (t.copies > 1 && count_shared_bytes(E, warps, t.copies) > kCountCopyBytes) t.copies /= 2;
  const int64_t per_round = int64_t{warps} * kChunkIds;  // one chunk per warp
  const int64_t rounds = std::max<int64_t>(1, (n + per_round - 1) / per_round);
  t.chunks = static_cast<int32_t>((rounds + max_tiles - 1) / max_tiles);
  t.tile_ids = per_round * t.chunks;
  t.num_tiles = static_cast<int32_t>(std::max<int64_t>(1, (n + t.tile_ids - 1) / t.tile_ids));
  t.inline_prefix = t.num_tiles <= kInlinePrefixTiles;
  return t;
}

}  // namespace lplb::cuda::detail
