// The exact per-group LP on one warp: the algorithm of common/lp_exact.hpp
// (Newton iteration on the max load L, a max preflow per round, the min cut
// giving the next lower bound), with the preflow computed by synchronous
// ("pulse") push-relabel in which lane v % 32 owns rank v.
//
// Per pulse every active rank pushes its excess along admissible arcs in a
// fixed order (sink, its block edges d = 0..D-1, then reverse arcs of the
// edges into it), all ranks at once; then ranks that still hold excess
// relabel to 1 + the lowest label across a residual arc. Synchronous pushes
// and relabels keep the labelling valid (a push v -> w needs h(v) = h(w) + 1,
// so w cannot push back along the same edge in that pulse). Exact labels
// come from a parallel BFS (Bellman-Ford rounds from the sink) at the start
// of every max-flow and every 8 pulses; ranks that cannot reach the sink
// get the label `dead` and keep their excess. Every sum runs in a fixed
// order, so the result is deterministic; it reaches the same optimum as the
// CPU solver (the optimum max load is unique), though the probs achieving it
// may differ when the optimum is not unique.
#pragma once

#include <stdint.h>

#include "common/lp_common.hpp"

namespace lplb::cuda::detail {

constexpr int kWarpExactMaxPulses = 1 << 14;
constexpr int kGlobalRelabelPulses = 8;

struct WarpExactResult {
  int32_t code;  // lplb::detail::LpCode
  int32_t rounds;
  int32_t pulses;
  int32_t relabels;
  double max_load;
  double bound;
};

// Sum / max over the warp in a fixed butterfly order (same on every lane).
__device__ __forceinline__ double warp_sum(double v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ double warp_max(double v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmax(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
__device__ __forceinline__ int warp_sum_int(int v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Rank w's copy of x (held by lane w % 32 in slot w / 32).
template <int H, typename T>
__device__ __forceinline__ T fetch(const T (&x)[H], int w) {
  T v = __shfl_sync(0xffffffffu, x[0], w & 31);
  if constexpr (H == 2) {
    const T hi = __shfl_sync(0xffffffffu, x[1], w & 31);
    v = (w >> 5) ? hi : v;
  }
  return v;
}

// Groups of at most this many ranks start the Newton iteration at the
// optimum itself (densest_subset_bound), so their max-flow needs one round.
constexpr int kEnumMaxRanks = 8;

// The LP optimum of a small group: the largest (fixed(Y) + blocks with both
// ranks in Y) / |Y| over rank subsets Y, the load Y must carry whatever the
// split (the min-cut bound of lp_exact.hpp, maximised). 2^S - 1 subsets over
// the 32 lanes, from registers (the group is read once), compared by cross
// multiplication (one division at the end); every lane returns the maximum.
template <int D>
__device__ double densest_subset_bound(int S, const double* fixed, const double* block,
                                       const int32_t* o2r) {
  constexpr int kN = kEnumMaxRanks;
  double f[kN], c[kN][D];
  int head[kN][D];
#pragma unroll
  for (int v = 0; v < kN; ++v) {
    const bool on = v < S;
    f[v] = on ? fixed[v] : 0.0;
#pragma unroll
    for (int d = 0; d < D; ++d) {
      c[v][d] = on ? block[v * D + d] : 0.0;
      head[v][d] = on ? o2r[v * D + d] : 0;
    }
  }
  double best_num = 0.0;
  int best_size = 1;
  for (int m = (threadIdx.x & 31) + 1; m < (1 << S); m += 32) {
    double num = 0.0;
#pragma unroll
    for (int v = 0; v < kN; ++v) {
      if (!((m >> v) & 1)) continue;
      num += f[v];
#pragma unroll
      for (int d = 0; d < D; ++d)
        if ((m >> head[v][d]) & 1) num += c[v][d];
    }
    const int size = __popc(m);
    if (num * best_size > best_num * size) {
      best_num = num;
      best_size = size;
    }
  }
  return warp_max(best_num / best_size);
}

// H = ranks per lane (1: S <= 32, 2: S <= 64), D = slots, both compile-time
// so that the unrolled code stays small (the solver is latency- and
// instruction-fetch-bound). fixed, block, r2o, o2r as in lp_common.hpp
// (shared memory); probs receives S*D entries. All 32 lanes call it with the
// same arguments.
template <int H, int D>
__device__ WarpExactResult warp_exact_solve(int S, const int32_t* r2o, const int32_t* o2r,
                                            const double* fixed, const double* block,
                                            double* probs, bool subset_start = true) {
  constexpr int kD = D;
  const int lane = threadIdx.x & 31;
  const int dead = S + 1;

  bool valid[H];
  double load[H], cap[H][kD], flow[H][kD], excess[H], sink_res[H];
  int head[H][kD], tail[H][kD], label[H];
  double my_total = 0.0, my_blocks = 0.0, my_max = 0.0, my_lower = 0.0;
#pragma unroll
  for (int h = 0; h < H; ++h) {
    const int v = h * 32 + lane;
    valid[h] = v < S;
    double b = valid[h] ? fixed[v] : 0.0;
    if (valid[h]) my_lower = fmax(my_lower, fixed[v]);
#pragma unroll
    for (int d = 0; d < kD; ++d) {
      const bool on = valid[h];
      cap[h][d] = on ? block[v * D + d] : 0.0;
      head[h][d] = on ? o2r[v * D + d] : 0;
      tail[h][d] = on ? r2o[v * D + d] : 0;
      b += cap[h][d];
      my_blocks += cap[h][d];
      flow[h][d] = 0.0;
    }
    load[h] = b;
    my_total += b;
    if (valid[h]) my_max = fmax(my_max, b);
    label[h] = dead;
    excess[h] = 0.0;
    sink_res[h] = 0.0;
  }
  const double total = warp_sum(my_total), blocks = warp_sum(my_blocks);
  const double max_load = warp_max(my_max), lower = warp_max(my_lower);

  WarpExactResult result{};
  auto write_probs = [&](bool keep_all) {
#pragma unroll
    for (int h = 0; h < H; ++h)
#pragma unroll
      for (int d = 0; d < kD; ++d) {
        if (!valid[h]) continue;
        double p = 1.0;
        if (!keep_all && cap[h][d] > 0.0) {
          p = 1.0 - flow[h][d] / cap[h][d];
          p = p < 0.0 ? 0.0 : (p > 1.0 ? 1.0 : p);
        }
        probs[(h * 32 + lane) * D + d] = p;
      }
  };
  if (!(total > 0.0) || !(blocks > 0.0)) {
    write_probs(true);
    result.code = static_cast<int32_t>(lplb::detail::LpCode::kTrivial);
    result.max_load = result.bound = max_load;
    return result;
  }
  const double mean = total / S;
  double L = mean > lower ? mean : lower;
  if (subset_start && S <= kEnumMaxRanks) L = fmax(L, densest_subset_bound<D>(S, fixed, block, o2r));
  result.code = static_cast<int32_t>(lplb::detail::LpCode::kOptimal);
  if (max_load <= L) {
    write_probs(true);
    result.max_load = result.bound = max_load;
    return result;
  }

  // Reverse residual of in-edge (tail(v,d), d): the flow its tail holds.
  auto in_flow = [&](int h, int d) {
    double f[H];
#pragma unroll
    for (int k = 0; k < H; ++k) f[k] = flow[k][d];
    return fetch<H>(f, tail[h][d]);
  };
  // Exact distance labels to the sink over residual arcs; dead if none.
  auto global_relabel = [&]() {
#pragma unroll
    for (int h = 0; h < H; ++h) label[h] = valid[h] && sink_res[h] > 0.0 ? 1 : dead;
    double fin[H][kD];
#pragma unroll
    for (int h = 0; h < H; ++h)
#pragma unroll
      for (int d = 0; d < kD; ++d) fin[h][d] = in_flow(h, d);
    for (;;) {
      ++result.relabels;
      int next[H];
      bool changed = false;
#pragma unroll
      for (int h = 0; h < H; ++h) {
        int best = label[h];
#pragma unroll
        for (int d = 0; d < kD; ++d) {
          const int lh = fetch<H>(label, head[h][d]);
          const int lt = fetch<H>(label, tail[h][d]);
          if (cap[h][d] - flow[h][d] > 0.0 && lh + 1 < best) best = lh + 1;
          if (fin[h][d] > 0.0 && lt + 1 < best) best = lt + 1;
        }
        next[h] = valid[h] ? best : dead;
        changed |= next[h] != label[h];
      }
#pragma unroll
      for (int h = 0; h < H; ++h) label[h] = next[h];
      if (!__any_sync(0xffffffffu, changed)) break;
    }
  };

  const double tol = 1e-12 * total;
  const int max_rounds = S + 8;
  double leftover = 0.0;
  for (;;) {
    // Max preflow at target L.
#pragma unroll
    for (int h = 0; h < H; ++h) {
      const double e = valid[h] ? load[h] - L : 0.0;
      excess[h] = e > 0.0 ? e : 0.0;
      sink_res[h] = e < 0.0 ? -e : 0.0;
#pragma unroll
      for (int d = 0; d < kD; ++d) flow[h][d] = 0.0;
    }
    global_relabel();
    for (int pulse = 1; pulse <= kWarpExactMaxPulses; ++pulse) {
      bool active = false;
#pragma unroll
      for (int h = 0; h < H; ++h) active |= excess[h] > 0.0 && label[h] < dead;
      if (!__any_sync(0xffffffffu, active)) break;
      ++result.pulses;

      // Push phase. Neighbour labels are those of the pulse's start, reused
      // by the relabel phase.
      double push_out[H][kD], push_back[H][kD];
      int head_label[H][kD], tail_label[H][kD];
#pragma unroll
      for (int h = 0; h < H; ++h) {
        double e = excess[h];
        const bool on = valid[h] && e > 0.0 && label[h] < dead;
        if (on && label[h] == 1 && sink_res[h] > 0.0) {
          const bool sat = e >= sink_res[h];
          const double delta = sat ? sink_res[h] : e;
          sink_res[h] = sat ? 0.0 : sink_res[h] - delta;
          e = sat ? e - delta : 0.0;
        }
#pragma unroll
        for (int d = 0; d < kD; ++d) {
          push_out[h][d] = 0.0;
          const int lh = fetch<H>(label, head[h][d]);
          head_label[h][d] = lh;
          const double res = cap[h][d] - flow[h][d];
          if (on && e > 0.0 && res > 0.0 && lh == label[h] - 1) {
            const bool sat = e >= res;
            const double delta = sat ? res : e;
            const double f = flow[h][d] + delta;
            flow[h][d] = sat || f > cap[h][d] ? cap[h][d] : f;
            push_out[h][d] = delta;
            e = sat ? e - delta : 0.0;
          }
        }
#pragma unroll
        for (int d = 0; d < kD; ++d) {
          push_back[h][d] = 0.0;
          const int lt = fetch<H>(label, tail[h][d]);
          tail_label[h][d] = lt;
          const double res = in_flow(h, d);
          if (on && e > 0.0 && res > 0.0 && lt == label[h] - 1) {
            const bool sat = e >= res;
            const double delta = sat ? res : e;
            push_back[h][d] = sat ? -1.0 : delta;  // -1: the edge's flow drops to 0
            e = sat ? e - delta : 0.0;
          }
        }
        excess[h] = e < 0.0 ? 0.0 : e;
      }
      // Receive: forward pushes over edges into each rank, then pushes back
      // over its own edges (fixed order).
#pragma unroll
      for (int h = 0; h < H; ++h) {
#pragma unroll
        for (int d = 0; d < kD; ++d) {
          double po[H];
#pragma unroll
          for (int k = 0; k < H; ++k) po[k] = push_out[k][d];
          const double got = fetch<H>(po, tail[h][d]);
          if (valid[h] && got > 0.0) excess[h] += got;
        }
#pragma unroll
        for (int d = 0; d < kD; ++d) {
          double pb[H];
#pragma unroll
          for (int k = 0; k < H; ++k) pb[k] = push_back[k][d];
          const double back = fetch<H>(pb, head[h][d]);
          if (valid[h] && back != 0.0) {
            const double amount = back < 0.0 ? flow[h][d] : back;
            const double f = flow[h][d] - amount;
            flow[h][d] = back < 0.0 || f < 0.0 ? 0.0 : f;
            excess[h] += amount;
          }
        }
      }
      // Relabel phase (labels of the pulse's start, residuals after it).
      // Exact labels every kGlobalRelabelPulses pulses: on hard S = 64
      // instances this cuts the pulses ~6x (132 -> 20) for the same number
      // of BFS sweeps (CPU emulation of this kernel).
      if (pulse % kGlobalRelabelPulses == 0) {
        global_relabel();
        continue;
      }
      int next[H];
#pragma unroll
      for (int h = 0; h < H; ++h) {
        int best = sink_res[h] > 0.0 ? 1 : dead;
#pragma unroll
        for (int d = 0; d < kD; ++d) {
          const int lh = head_label[h][d];
          const int lt = tail_label[h][d];
          const double fin = in_flow(h, d);
          if (cap[h][d] - flow[h][d] > 0.0 && lh + 1 < best) best = lh + 1;
          if (fin > 0.0 && lt + 1 < best) best = lt + 1;
        }
        const bool relabel = valid[h] && excess[h] > 0.0 && label[h] < dead && best > label[h];
        next[h] = relabel ? (best < dead ? best : dead) : label[h];
      }
#pragma unroll
      for (int h = 0; h < H; ++h) label[h] = next[h];
    }
    ++result.rounds;
    double mine = 0.0;
#pragma unroll
    for (int h = 0; h < H; ++h) mine += valid[h] ? excess[h] : 0.0;
    leftover = warp_sum(mine);
    if (leftover <= tol || result.rounds >= max_rounds) break;

    // Min cut: X = ranks that cannot reach the sink. Next bound
    // (B(X) - cap_out(X)) / |X|.
    global_relabel();
    double sum = 0.0;
    int size = 0;
#pragma unroll
    for (int h = 0; h < H; ++h) {
      const bool in_x = valid[h] && label[h] == dead;
      double s = in_x ? load[h] : 0.0;
#pragma unroll
      for (int d = 0; d < kD; ++d) {
        const int lh = fetch<H>(label, head[h][d]);
        if (in_x && lh != dead) s -= cap[h][d];
      }
      sum += s;
      size += in_x;
    }
    sum = warp_sum(sum);
    size = warp_sum_int(size);
    if (size == 0) break;
    const double next = sum / size;
    if (!(next > L)) break;
    L = next;
  }
  write_probs(false);
  __syncwarp();
  // Realised max load with the probs as written (group_loads_hd's formula).
  double my_load = 0.0;
#pragma unroll
  for (int h = 0; h < H; ++h) {
    const int v = h * 32 + lane;
    if (!valid[h]) continue;
    double sum = fixed[v];
    for (int d = 0; d < D; ++d) sum += lplb::detail::clamp_prob(probs[v * D + d]) * block[v * D + d];
    for (int d = 0; d < D; ++d) {
      const int e = r2o[v * D + d] * D + d;
      sum += (1.0 - lplb::detail::clamp_prob(probs[e])) * block[e];
    }
    my_load = h == 0 ? sum : fmax(my_load, sum);
  }
  result.max_load = warp_max(my_load);
  result.bound = L;
  return result;
}

}  // namespace lplb::cuda::detail
