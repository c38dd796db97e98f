// The per-batch LP over an arbitrary replica placement (lplb/placement.hpp),
// header-only and allocation-free so a CUDA kernel can run it too: plain
// arrays, no recursion, no exceptions, the caller provides the workspace.
//
// The problem. Ranks r = 0..P-1 carry a fixed load F(r) (experts whose every
// replica sits on r). Every other expert belongs to an "item": the experts
// that share one set of >= 2 distinct ranks, with weight w(i) = their tokens.
// Choose flows f(i, r) >= 0 over the item's ranks, sum_r f(i, r) = w(i), and
// minimise L = max_r F(r) + sum_i f(i, r).
//
// Why a max-flow solves it: load <= L is feasible iff the flow
//   source -> item i (capacity w(i)) -> its ranks (unbounded)
//          -> rank r -> sink (capacity L - F(r))
// saturates every source arc. By max-flow/min-cut that holds iff for every
// rank set Y:  F(Y) + w(items whose ranks all lie in Y) <= L |Y|, so
//   L* = max over non-empty Y of (F(Y) + w(items inside Y)) / |Y|.
// Newton (Dinkelbach) iteration on L: start from the lower bound
// max(mean load, max F); run the flow; if an item's supply is left over, the
// ranks reachable from the source in the residual graph form a violated set
// Y and its ratio is a strictly larger lower bound. L only grows, so each
// round keeps the previous flow (it stays feasible) and just raises the sink
// capacities: the rounds together cost about one max-flow.
//
// The flow is Dinic's algorithm (BFS levels from the source, then blocking
// augmenting paths along current arcs), iterative. Item -> rank arcs are
// unbounded, so a path's bottleneck is the item's leftover supply, a
// reverse arc's flow, or the last rank's sink capacity; the bottleneck arc is
// set to exactly zero, and residuals below `eps` (1e-13 of the total) count as
// zero, which bounds the number of augmentations.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/hd.hpp"

namespace lplb::detail {

// A placement's bipartite graph, built once on the host (placement_planner.cpp)
// and read-only during solves. nnz = item_offset[num_items].
struct PlacementGraph {
  int32_t num_ranks = 0;              // P
  int32_t num_items = 0;              // movable items (>= 2 distinct ranks each)
  const int32_t* item_offset = nullptr;  // [num_items + 1] into item_rank
  const int32_t* item_rank = nullptr;    // [nnz] the item's distinct ranks, ascending
  const int32_t* rank_offset = nullptr;  // [P + 1] into rank_arc
  const int32_t* rank_arc = nullptr;     // [nnz] arcs (indices into item_rank) ending at
                                         // the rank, by ascending item
  const int32_t* arc_item = nullptr;     // [nnz] the item of each arc
};

// Views into one caller buffer of placement_workspace_bytes(P, items, nnz)
// bytes, 8-byte aligned. Contents are scratch, except `flow` after a solve.
struct PlacementWorkspace {
  double* flow;        // [nnz] f(i, r) per arc
  double* supply;      // [num_items] leftover supply w(i) - sum_r f(i, r)
  double* sink_res;    // [P] residual capacity L - load(r)
  int32_t* level;      // [num_items + P] BFS level (items first, then ranks); -1: unreached
  int32_t* cur;        // [num_items + P] current arc: an index into item_rank for
                       // items, into rank_arc for ranks
  int32_t* queue;      // [num_items + P] BFS queue
  int32_t* path;       // [num_items + P + 1] DFS path (nodes)
};

LPLB_HD constexpr size_t placement_bytes(size_t count, size_t size) {
  return (count * size + 7) / 8 * 8;
}

LPLB_HD constexpr size_t placement_workspace_bytes(int P, int items, int nnz) {
  return placement_bytes(nnz, sizeof(double)) + placement_bytes(items, sizeof(double)) +
         placement_bytes(P, sizeof(double)) +
         3 * placement_bytes(size_t(items) + P, sizeof(int32_t)) +
         placement_bytes(size_t(items) + P + 1, sizeof(int32_t));
}

LPLB_HD PlacementWorkspace placement_workspace_bind(void* buffer, int P, int items, int nnz) {
  unsigned char* p = static_cast<unsigned char*>(buffer);
  PlacementWorkspace ws;
  ws.flow = reinterpret_cast<double*>(p);
  p += placement_bytes(nnz, sizeof(double));
  ws.supply = reinterpret_cast<double*>(p);
  p += placement_bytes(items, sizeof(double));
  ws.sink_res = reinterpret_cast<double*>(p);
  p += placement_bytes(P, sizeof(double));
  ws.level = reinterpret_cast<int32_t*>(p);
  p += placement_bytes(size_t(items) + P, sizeof(int32_t));
  ws.cur = reinterpret_cast<int32_t*>(p);
  p += placement_bytes(size_t(items) + P, sizeof(int32_t));
  ws.queue = reinterpret_cast<int32_t*>(p);
  p += placement_bytes(size_t(items) + P, sizeof(int32_t));
  ws.path = reinterpret_cast<int32_t*>(p);
  return ws;
}

struct PlacementInfo {
  int32_t rounds = 0;     // max-flow runs (Dinkelbach rounds)
  int32_t phases = 0;     // Dinic phases over all rounds
  double bound = 0;       // the optimum L* (a proven lower bound, reached up to rounding)
  double leftover = 0;    // supply that could not be routed at L* (rounding only)
};

// BFS levels from the source over the residual graph. Returns the level of
// the sink (-1 if unreachable). Node ids: items 0..I-1, ranks I..I+P-1.
LPLB_HD int32_t placement_bfs(const PlacementGraph& g, const PlacementWorkspace& ws, double eps) {
  const int32_t I = g.num_items, P = g.num_ranks;
  for (int32_t v = 0; v < I + P; ++v) ws.level[v] = -1;
  int32_t head = 0, tail = 0;
  for (int32_t i = 0; i < I; ++i)
    if (ws.supply[i] > eps) {
      ws.level[i] = 1;
      ws.queue[tail++] = i;
    }
  int32_t sink_level = -1;
  while (head < tail) {
    const int32_t v = ws.queue[head++];
    if (sink_level >= 0 && ws.level[v] >= sink_level) break;  // deeper nodes are useless
    if (v < I) {
      for (int32_t a = g.item_offset[v]; a < g.item_offset[v + 1]; ++a) {
        const int32_t r = I + g.item_rank[a];
        if (ws.level[r] < 0) {
          ws.level[r] = ws.level[v] + 1;
          ws.queue[tail++] = r;
        }
      }
    } else {
      const int32_t r = v - I;
      if (ws.sink_res[r] > eps && sink_level < 0) sink_level = ws.level[v] + 1;
      for (int32_t k = g.rank_offset[r]; k < g.rank_offset[r + 1]; ++k) {
        const int32_t a = g.rank_arc[k];
        const int32_t i = g.arc_item[a];
        if (ws.level[i] < 0 && ws.flow[a] > eps) {
          ws.level[i] = ws.level[v] + 1;
          ws.queue[tail++] = i;
        }
      }
    }
  }
  return sink_level;
}

// One Dinic blocking flow on the level graph. Returns the number of
// augmentations.
LPLB_HD int32_t placement_blocking_flow(const PlacementGraph& g, const PlacementWorkspace& ws,
                                        int32_t sink_level, double eps) {
  const int32_t I = g.num_items, P = g.num_ranks;
  for (int32_t i = 0; i < I; ++i) ws.cur[i] = g.item_offset[i];
  for (int32_t r = 0; r < P; ++r) ws.cur[I + r] = g.rank_offset[r];
  int32_t augmentations = 0;
  for (int32_t s = 0; s < I; ++s) {
    if (ws.level[s] != 1) continue;
    int32_t depth = 0;
    ws.path[0] = s;
    while (depth >= 0 && ws.supply[s] > eps) {
      const int32_t v = ws.path[depth];
      const int32_t lv = ws.level[v];
      int32_t next = -1;
      if (v < I) {
        for (; ws.cur[v] < g.item_offset[v + 1]; ++ws.cur[v]) {
          const int32_t r = I + g.item_rank[ws.cur[v]];
          if (ws.level[r] == lv + 1) {
            next = r;
            break;
          }
        }
      } else {
        const int32_t r = v - I;
        if (lv + 1 == sink_level && ws.sink_res[r] > eps) {
          // Augment along path[0..depth]: item, rank, item, rank, ..., rank.
          double delta = ws.supply[s];
          for (int32_t k = 2; k <= depth; k += 2) {  // reverse arcs rank path[k-1] -> item path[k]
            const double f = ws.flow[g.rank_arc[ws.cur[ws.path[k - 1]]]];
            delta = f < delta ? f : delta;
          }
          delta = ws.sink_res[r] < delta ? ws.sink_res[r] : delta;
          ws.supply[s] = ws.supply[s] == delta ? 0.0 : ws.supply[s] - delta;
          for (int32_t k = 0; k < depth; k += 2) {
            const int32_t item = ws.path[k];
            ws.flow[ws.cur[item]] += delta;  // forward arc item -> path[k+1]
            if (k + 2 <= depth) {
              const int32_t a = g.rank_arc[ws.cur[ws.path[k + 1]]];  // reverse arc rank -> path[k+2]
              ws.flow[a] = ws.flow[a] == delta ? 0.0 : ws.flow[a] - delta;
            }
          }
          ws.sink_res[r] = ws.sink_res[r] == delta ? 0.0 : ws.sink_res[r] - delta;
          ++augmentations;
          depth = 0;  // restart from the source item; current arcs persist
          continue;
        }
        for (; ws.cur[v] < g.rank_offset[r + 1]; ++ws.cur[v]) {
          const int32_t a = g.rank_arc[ws.cur[v]];
          const int32_t i = g.arc_item[a];
          if (ws.level[i] == lv + 1 && ws.flow[a] > eps) {
            next = i;
            break;
          }
        }
      }
      if (next >= 0 && ws.level[next] < sink_level) {
        ws.path[++depth] = next;
      } else if (next >= 0) {
        // A node at the sink's level that is not the sink: skip this arc.
        ++ws.cur[v];
      } else {
        ws.level[v] = -1;  // dead end for this phase
        if (--depth >= 0) ++ws.cur[ws.path[depth]];
      }
    }
  }
  return augmentations;
}

// Solves the placement LP. item_weight[num_items] and fixed[P] must be finite
// and >= 0 (checked by the caller). On return ws.flow holds f(i, r) per arc:
// every item's flows sum to its weight up to rounding (info.leftover), and
// F(r) + inflow(r) <= info.bound up to rounding. Deterministic.
LPLB_HD PlacementInfo placement_solve(const PlacementGraph& g, const PlacementWorkspace& ws,
                                      const double* item_weight, const double* fixed) {
  const int32_t I = g.num_items, P = g.num_ranks;
  PlacementInfo info;
  double total = 0.0, max_fixed = 0.0, movable = 0.0;
  for (int32_t r = 0; r < P; ++r) {
    total += fixed[r];
    max_fixed = fixed[r] > max_fixed ? fixed[r] : max_fixed;
  }
  for (int32_t i = 0; i < I; ++i) movable += item_weight[i];
  total += movable;
  const int32_t nnz = g.item_offset[I];
  for (int32_t a = 0; a < nnz; ++a) ws.flow[a] = 0.0;
  for (int32_t i = 0; i < I; ++i) ws.supply[i] = item_weight[i];
  const double mean = total / P;
  double L = mean > max_fixed ? mean : max_fixed;
  info.bound = L;
  if (!(movable > 0.0)) return info;

  // Residuals below eps count as zero: far above the rounding of sums of
  // ~P terms, far below the 1e-6 relative accuracy promised.
  const double eps = 1e-13 * total;
  for (int32_t r = 0; r < P; ++r) ws.sink_res[r] = L - fixed[r];
  const int32_t max_rounds = P + 2;  // cuts are nested: each round's violated set is smaller
  for (;;) {
    ++info.rounds;
    for (;;) {
      const int32_t sink_level = placement_bfs(g, ws, eps);
      if (sink_level < 0) break;
      ++info.phases;
      if (placement_blocking_flow(g, ws, sink_level, eps) == 0) break;
    }
    double left = 0.0;
    for (int32_t i = 0; i < I; ++i) left += ws.supply[i];
    if (left <= 1e-12 * total || info.rounds >= max_rounds) break;
    // Y = ranks reachable from the source (levels of the last, failed BFS).
    placement_bfs(g, ws, eps);
    double sum = 0.0;
    int32_t size = 0;
    for (int32_t r = 0; r < P; ++r)
      if (ws.level[I + r] >= 0) {
        sum += fixed[r];
        ++size;
      }
    for (int32_t i = 0; i < I; ++i) {
      bool inside = true;
      for (int32_t a = g.item_offset[i]; a < g.item_offset[i + 1] && inside; ++a)
        inside = ws.level[I + g.item_rank[a]] >= 0;
      if (inside) sum += item_weight[i];
    }
    const double next = size > 0 ? sum / size : L;
    if (!(next > L)) break;  // only rounding left
    for (int32_t r = 0; r < P; ++r) ws.sink_res[r] += next - L;
    L = next;
  }
  info.bound = L;
  double left = 0.0;
  for (int32_t i = 0; i < I; ++i) left += ws.supply[i];
  info.leftover = left;
  return info;
}

}  // namespace lplb::detail
