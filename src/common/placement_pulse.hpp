// The placement LP (common/placement_lp.hpp) on one thread block: the same
// Newton (Dinkelbach) iteration on the max load L and the same min cut for
// the next bound, with the max flow computed by synchronous ("pulse")
// push-relabel over the bipartite item/rank graph, every thread owning the
// nodes t, t + blockDim, ... (items 0..I-1, then ranks I..I+P-1).
//
// Network at target L: source -> item i (w(i), saturated from the start:
// the preflow), item -> each of its ranks (unbounded), rank r -> sink
// (L - F(r)). Labels are distances to the sink.
//
// Start: every item's weight split evenly over its ranks (a valid preflow:
// item arcs are unbounded); each rank sends what fits to the sink and keeps
// the rest as excess. A pulse is two barriers:
//  1. push: an active item sends all its excess along its first admissible
//     arc (unbounded, so one push empties it); an active rank sends to the
//     sink if labelled 1, then back along admissible arcs with flow, in
//     rank_arc order. An arc is written only by the endpoint that pushes
//     over it, and the labelling makes the two endpoints' conditions
//     exclusive within a pulse (h(i) = h(r) + 1 vs h(r) = h(i) + 1).
//  2. receive (each node sums the amounts pushed to it, fixed order) and
//     relabel into the other label buffer from the pulse's start labels;
//     every kRelabelEvery pulses exact labels instead (parallel BFS from the
//     sink: items from ranks, ranks from items, until nothing changes).
// When no node below `dead` holds excess the preflow is maximal. If the
// leftover excess exceeds 1e-12 of the total, the ranks that cannot reach
// the sink form the violated set Y; (F(Y) + w(items inside Y)) / |Y| is the
// next, strictly larger L, and the flow is kept (sink capacities only grow).
// Every sum has a fixed order, so the result is deterministic.
//
// Host/device: in a CUDA kernel every thread of the block calls
// pulse_solve; on the host it runs as a block of one thread (every phase
// loops over all nodes in order). Within a phase no node reads what another
// writes (see above), so the host run computes what the block computes, up
// to the order of the final reductions: CPU tests check the algorithm
// against the CPU solver without a GPU.
#pragma once

#include <math.h>
#include <stdint.h>

#include "common/hd.hpp"

namespace lplb::detail {

constexpr int kPlacementMaxPulses = 1 << 16;
constexpr int kRelabelEvery = 8;

// Shared-memory arrays of one block's solve.
struct PulseState {
  int32_t I, P;
  const int32_t *item_offset, *item_rank, *rank_offset, *rank_arc, *arc_item;
  const double *weight, *fixed;  // [I], [P]
  double *flow, *pfwd, *pback;   // [nnz]
  double *excess;                // [I + P]
  double *sink_res;              // [P]
  int32_t *lab0, *lab1;          // [I + P] two label buffers
  double* scratch;               // [64] reductions
  int32_t* iscratch;             // [32]
  // Latency paths; each leaves the result unchanged (A/B switches for the
  // benchmark). early_exit: stop when the even split already fits under the
  // trivial bound max(mean, max fixed load) (no flow to push, no relabel).
  // fused_stats: the three start-up reductions in one barrier pair.
  bool early_exit = true;
  bool fused_stats = true;
  bool bfs_early_stop = true;  // global relabel: stop after an item sweep that moved nothing
  // Optional [nnz]: arc_item[rank_arc[k]] per rank-side position k, one
  // dependent load less per arc in the rank loops (null: looked up).
  const int32_t* rank_item = nullptr;
};

LPLB_HD int pulse_rank_item(const PulseState& s, int k, int a) {
  return s.rank_item != nullptr ? s.rank_item[k] : s.arc_item[a];
}

struct PulseInfo {
  double bound = 0, leftover = 0;
  int32_t rounds = 0, pulses = 0, relabels = 0, code = 0;
};

// Block primitives: the CUDA block, or one host thread.
#if defined(__CUDA_ARCH__)
__device__ __forceinline__ int pulse_tid() { return threadIdx.x; }
__device__ __forceinline__ int pulse_threads() { return blockDim.x; }
__device__ __forceinline__ void pulse_sync() { __syncthreads(); }
__device__ __forceinline__ bool pulse_sync_or(bool b) { return __syncthreads_or(b) != 0; }
// Deterministic block reductions (fixed butterfly, then warps in order;
// every thread gets the same value). blockDim.x is a multiple of 32.
__device__ __forceinline__ double pulse_sum(double v, double* scratch) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  __syncthreads();  // earlier readers of scratch are done
  if ((threadIdx.x & 31) == 0) scratch[threadIdx.x >> 5] = v;
  __syncthreads();
  double s = 0.0;
  for (int w = 0; w < static_cast<int>(blockDim.x >> 5); ++w) s += scratch[w];
  return s;
}
__device__ __forceinline__ double pulse_max(double v, double* scratch) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmax(v, __shfl_xor_sync(0xffffffffu, v, o));
  __syncthreads();
  if ((threadIdx.x & 31) == 0) scratch[threadIdx.x >> 5] = v;
  __syncthreads();
  double m = scratch[0];
  for (int w = 1; w < static_cast<int>(blockDim.x >> 5); ++w) m = fmax(m, scratch[w]);
  return m;
}
// Two sums and a max in one barrier pair, each in pulse_sum's / pulse_max's
// exact order (bit-identical results). scratch holds 3 * warps doubles.
__device__ __forceinline__ void pulse_sum_sum_max(double& a, double& b, double& m,
                                                  double* scratch) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    a += __shfl_xor_sync(0xffffffffu, a, o);
    b += __shfl_xor_sync(0xffffffffu, b, o);
    m = fmax(m, __shfl_xor_sync(0xffffffffu, m, o));
  }
  __syncthreads();
  if ((threadIdx.x & 31) == 0) {
    const int w = threadIdx.x >> 5;
    scratch[3 * w] = a;
    scratch[3 * w + 1] = b;
    scratch[3 * w + 2] = m;
  }
  __syncthreads();
  a = 0.0;
  b = 0.0;
  m = scratch[2];
  for (int w = 0; w < static_cast<int>(blockDim.x >> 5); ++w) {
    a += scratch[3 * w];
    b += scratch[3 * w + 1];
    if (w > 0) m = fmax(m, scratch[3 * w + 2]);
  }
}
__device__ __forceinline__ int pulse_count(bool b, int32_t* scratch) {
  const int v = __popc(__ballot_sync(0xffffffffu, b));
  __syncthreads();
  if ((threadIdx.x & 31) == 0) scratch[threadIdx.x >> 5] = v;
  __syncthreads();
  int s = 0;
  for (int w = 0; w < static_cast<int>(blockDim.x >> 5); ++w) s += scratch[w];
  return s;
}
#else
inline int pulse_tid() { return 0; }
inline int pulse_threads() { return 1; }
inline void pulse_sync() {}
inline bool pulse_sync_or(bool b) { return b; }
inline double pulse_sum(double v, double*) { return v; }
inline double pulse_max(double v, double*) { return v; }
inline void pulse_sum_sum_max(double&, double&, double&, double*) {}
inline int pulse_count(bool b, int32_t*) { return b ? 1 : 0; }
#endif

LPLB_HD int pulse_min(int a, int b) { return a < b ? a : b; }

// Exact distance labels to the sink in `lab` (dead if none). Ends with a
// barrier.
LPLB_HD void pulse_global_relabel(const PulseState& s, int32_t* lab,
                                                     int32_t dead, PulseInfo& info) {
  const int I = s.I, P = s.P;
  for (int r = pulse_tid(); r < P; r += pulse_threads()) lab[I + r] = s.sink_res[r] > 0.0 ? 1 : dead;
  for (int i = pulse_tid(); i < I; i += pulse_threads()) lab[i] = dead;
  pulse_sync();
  for (;;) {
    ++info.relabels;
    bool changed = false;
    for (int i = pulse_tid(); i < I; i += pulse_threads()) {  // items from ranks
      int best = lab[i];
      for (int a = s.item_offset[i]; a < s.item_offset[i + 1]; ++a)
        best = pulse_min(best, lab[I + s.item_rank[a]] + 1);
      if (best < lab[i]) {
        lab[i] = best;
        changed = true;
      }
    }
    // Ranks take their labels from items only: when no item label moved,
    // the rank sweep would move nothing either (the last, confirming sweep).
    if (s.bfs_early_stop) {
      if (!pulse_sync_or(changed)) break;
    } else {
      pulse_sync();
    }
    for (int r = pulse_tid(); r < P; r += pulse_threads()) {  // ranks from items over flow
      int best = lab[I + r];
      for (int k = s.rank_offset[r]; k < s.rank_offset[r + 1]; ++k) {
        const int a = s.rank_arc[k];
        if (s.flow[a] > 0.0) best = pulse_min(best, lab[pulse_rank_item(s, k, a)] + 1);
      }
      if (best < lab[I + r]) {
        lab[I + r] = best;
        changed = true;
      }
    }
    if (!pulse_sync_or(changed)) break;
  }
}

LPLB_HD bool pulse_any_active(const PulseState& s, const int32_t* lab,
                                                 int32_t dead) {
  bool active = false;
  for (int v = pulse_tid(); v < s.I + s.P; v += pulse_threads())
    active |= s.excess[v] > 0.0 && lab[v] < dead;
  return pulse_sync_or(active);
}

// Solves the LP; on return s.flow holds f(i, r) per arc. All threads call
// it; item weights and fixed loads must be finite and >= 0.
LPLB_HD PulseInfo pulse_solve(const PulseState& s) {
  const int I = s.I, P = s.P, N = I + P;
  const int32_t dead = N + 2;
  PulseInfo info;
  double part = 0.0, fmax_local = 0.0, movable_part = 0.0;
  for (int r = pulse_tid(); r < P; r += pulse_threads()) {
    part += s.fixed[r];
    fmax_local = fmax(fmax_local, s.fixed[r]);
  }
  for (int i = pulse_tid(); i < I; i += pulse_threads()) movable_part += s.weight[i];
  double movable, total, max_fixed;
  if (s.fused_stats) {
    double fixed_sum = part;
    movable = movable_part;
    max_fixed = fmax_local;
    pulse_sum_sum_max(fixed_sum, movable, max_fixed, s.scratch);
    total = fixed_sum + movable;
  } else {
    movable = pulse_sum(movable_part, s.scratch);
    total = pulse_sum(part, s.scratch) + movable;
    max_fixed = pulse_max(fmax_local, s.scratch);
  }
  const double mean = total / P;
  double L = mean > max_fixed ? mean : max_fixed;
  info.bound = L;
  const int nnz = s.item_offset[I];
  if (!(movable > 0.0)) {
    for (int a = pulse_tid(); a < nnz; a += pulse_threads()) s.flow[a] = 0.0;
    pulse_sync();
    return info;
  }

  // Even split as the starting preflow.
  for (int i = pulse_tid(); i < I; i += pulse_threads()) {
    const int first = s.item_offset[i], last = s.item_offset[i + 1];
    const double share = s.weight[i] / (last - first);
    for (int a = first; a < last; ++a) s.flow[a] = share;
    s.excess[i] = 0.0;
  }
  pulse_sync();
  bool any_over = false;
  for (int r = pulse_tid(); r < P; r += pulse_threads()) {
    double in = 0.0;
    for (int k = s.rank_offset[r]; k < s.rank_offset[r + 1]; ++k) in += s.flow[s.rank_arc[k]];
    const double cap = L - s.fixed[r];
    const bool over = in > cap;
    s.sink_res[r] = over ? 0.0 : cap - in;
    s.excess[I + r] = over ? in - cap : 0.0;
    any_over |= over;
  }
  if (s.early_exit) {
    // No excess: the even split is a flow of every item under the lower
    // bound L, hence optimal (what the first round would conclude, without
    // its relabel sweeps).
    if (!pulse_sync_or(any_over)) {
      info.rounds = 1;
      return info;
    }
  } else {
    pulse_sync();
  }

  const double tol = 1e-12 * total;
  const int max_rounds = P + 2;  // cuts are nested: each round's violated set is smaller
  int32_t* lab = s.lab0;
  int32_t* nxt = s.lab1;
  for (;;) {
    ++info.rounds;
    pulse_global_relabel(s, lab, dead, info);
    bool active = pulse_any_active(s, lab, dead);
    while (active) {
      if (info.pulses >= kPlacementMaxPulses) {
        info.code = 1;
        break;
      }
      ++info.pulses;
      // 1. Push.
      for (int v = pulse_tid(); v < N; v += pulse_threads()) {
        double e = s.excess[v];
        const int h = lab[v];
        const bool on = e > 0.0 && h < dead;
        if (v < I) {
          for (int a = s.item_offset[v]; a < s.item_offset[v + 1]; ++a) {
            double d = 0.0;
            if (on && e > 0.0 && lab[I + s.item_rank[a]] == h - 1) {
              d = e;
              s.flow[a] += e;
              e = 0.0;
            }
            s.pfwd[a] = d;
          }
        } else {
          const int r = v - I;
          if (on && h == 1 && s.sink_res[r] > 0.0) {
            const double cap = s.sink_res[r];
            if (e >= cap) {
              e -= cap;
              s.sink_res[r] = 0.0;
            } else {
              s.sink_res[r] = cap - e;
              e = 0.0;
            }
          }
          for (int k = s.rank_offset[r]; k < s.rank_offset[r + 1]; ++k) {
            const int a = s.rank_arc[k];
            double d = 0.0;
            if (on && e > 0.0 && lab[pulse_rank_item(s, k, a)] == h - 1) {
              const double f = s.flow[a];
              if (f > 0.0) {
                if (e >= f) {
                  d = f;
                  s.flow[a] = 0.0;
                  e -= f;
                } else {
                  d = e;
                  s.flow[a] = f - e;
                  e = 0.0;
                }
              }
            }
            s.pback[a] = d;
          }
        }
        s.excess[v] = e;
      }
      pulse_sync();
      // 2. Receive, then relabel (unless exact labels follow).
      const bool exact = info.pulses % kRelabelEvery == 0;
      bool mine = false;
      for (int v = pulse_tid(); v < N; v += pulse_threads()) {
        double e = s.excess[v];
        const int h = lab[v];
        int best = dead;
        if (v < I) {
          for (int a = s.item_offset[v]; a < s.item_offset[v + 1]; ++a) {
            e += s.pback[a];
            best = pulse_min(best, lab[I + s.item_rank[a]] + 1);
          }
        } else {
          const int r = v - I;
          if (s.sink_res[r] > 0.0) best = 1;
          for (int k = s.rank_offset[r]; k < s.rank_offset[r + 1]; ++k) {
            const int a = s.rank_arc[k];
            e += s.pfwd[a];
            if (s.flow[a] > 0.0) best = pulse_min(best, lab[pulse_rank_item(s, k, a)] + 1);
          }
        }
        s.excess[v] = e;
        const int next = e > 0.0 && h < dead && best > h ? best : h;
        if (!exact) nxt[v] = next;
        mine |= e > 0.0 && next < dead;
      }
      if (exact) {
        pulse_sync();
        pulse_global_relabel(s, lab, dead, info);
        active = pulse_any_active(s, lab, dead);
      } else {
        active = pulse_sync_or(mine);
        int32_t* t = lab;
        lab = nxt;
        nxt = t;
      }
    }
    double left = 0.0;
    for (int v = pulse_tid(); v < N; v += pulse_threads()) left += s.excess[v];
    const double leftover = pulse_sum(left, s.scratch);
    info.leftover = leftover;
    if (info.code != 0 || leftover <= tol || info.rounds >= max_rounds) break;
    // Y = ranks that cannot reach the sink; items inside Y are the dead ones.
    pulse_global_relabel(s, lab, dead, info);
    double sum = 0.0;
    bool in_y = false;
    for (int r = pulse_tid(); r < P; r += pulse_threads())
      if (lab[I + r] == dead) sum += s.fixed[r];
    for (int i = pulse_tid(); i < I; i += pulse_threads())
      if (lab[i] == dead) sum += s.weight[i];
    sum = pulse_sum(sum, s.scratch);
    int size = 0;
    for (int base = 0; base < P; base += pulse_threads()) {
      const int r = base + pulse_tid();
      in_y = r < P && lab[I + r] == dead;
      size += pulse_count(in_y, s.iscratch);
    }
    const double next = size > 0 ? sum / size : L;
    if (!(next > L)) break;  // only rounding left
    for (int r = pulse_tid(); r < P; r += pulse_threads()) s.sink_res[r] += next - L;
    L = next;
    pulse_sync();
  }
  info.bound = L;
  pulse_sync();
  return info;
}

}  // namespace lplb::detail
