// The exact per-group LP solver (lplb/lp.hpp), header-only so CUDA kernels can
// run it too (one thread per group): no allocation, no recursion, no
// exceptions; the caller provides the workspace.
//
// Why a max-flow solves the LP: rank i may shift any amount f in
// [0, block(i,d)] of block (i,d) to rank j = o2r(i,d), and shifts compose
// along paths (i -> j with i's block, j -> k with j's own block), so the
// loads reachable are exactly those of a flow on the graph with an edge
// i -> o2r(i,d) of capacity block(i,d) and supply B(i) = fixed(i) +
// sum_d block(i,d) at every rank. Max load <= L is feasible iff the flow
// source -> i (capacity max(0, B(i)-L)), i -> sink (max(0, L-B(i))) saturates
// every source edge; by max-flow/min-cut that holds iff for every rank set X
//   B(X) - L |X| <= cap(edges leaving X),
// so the optimum is L* = max over non-empty X of (B(X) - cap_out(X)) / |X|.
//
// Newton (Dinkelbach) iteration on L: start from the lower bound
// max(mean, max fixed); run the flow; if excess is left, the ranks R it can
// still reach form a violated set and (B(R) - cap_out(R)) / |R| is a strictly
// larger lower bound. Each round continues from the previous round's flow
// (shifts compose, so any flow is a valid starting point). It ends after a
// few rounds (at most S; usually 1-2) with a flow at L*, whose shares are the
// probs.
//
// The flow is a FIFO push-relabel preflow with exact initial labels and the
// gap heuristic (no current-arc pointers: a rank has only 2D arcs, and one
// scan both pushes and finds the new label). It needs no explicit source (a
// rank's excess is its load above L) and no second phase: any preflow gives
// feasible shifts, and a rank's load is at most L plus its leftover excess.
// Saturating pushes set residuals to exactly 0, so flows stay within
// [0, block].
//
// Rank weights and offsets (the time objective, optional): minimise
// max_i offset(i) + load(i) / weight(i) instead, e.g. a modelled time with
// weight = tokens per microsecond and offset = the rank's fixed cost. Target T
// is feasible iff rank i can take cap_i(T) = weight(i) (T - offset(i)) tokens,
// the same flow with per-rank sink capacities; the cut argument gives
//   T* = max over X of (B(X) - cap_out(X) + sum_X weight offset) / sum_X weight,
// and the Newton iteration above carries over with these sums. With no
// weights the arithmetic is exactly the unweighted one.
#pragma once

#include "common/lp_common.hpp"

namespace lplb::detail {

// Views into one caller buffer of exact_workspace_bytes(S, D) bytes, 8-byte
// aligned (exact_workspace_bind). Contents are scratch. Rank v has A = 2D
// residual arcs v*A + a: a < D is block edge (v, a) to o2r(v, a); a = D + d is
// the reverse of block edge (r2o(v, d), d), back to r2o(v, d).
struct ExactWorkspace {
  double* load;          // [S] B(v)
  double* excess;        // [S]
  double* sink_res;      // [S] room below L (residual of v -> sink)
  double* res;           // [S*A] residual capacity per arc
  int32_t* head;         // [S*A] arc's head rank
  int32_t* rev;          // [S*A] index of the reverse arc
  int32_t* label;        // [S] distance labels, S + 1 = cannot reach the sink
  int32_t* label_count;  // [S+2] ranks per label
  int32_t* queue;        // [S] FIFO ring of active ranks
  int32_t* bfs;          // [S] BFS queue
  int32_t* mark;         // [S] in the FIFO (int32: char stores would alias everything)
  int32_t* reach;        // [S] reached by the last BFS
};

LPLB_HD constexpr size_t exact_workspace_bytes(int S, int D) {
  return 3 * aligned_bytes(S, sizeof(double)) + aligned_bytes(size_t(S) * 2 * D, sizeof(double)) +
         2 * aligned_bytes(size_t(S) * 2 * D, sizeof(int32_t)) +
         aligned_bytes(S + 2, sizeof(int32_t)) + 5 * aligned_bytes(S, sizeof(int32_t));
}

// Largest workspace the CUDA kernels need (S <= 64, D <= 4): about 11 KiB.
constexpr size_t kExactWorkspaceMaxBytes = exact_workspace_bytes(kMaxGroupSize, kMaxSlots);

// Takes n objects of `size` bytes from the buffer cursor p.
LPLB_HD void* exact_take(unsigned char*& p, size_t n, size_t size) {
  void* out = p;
  p += aligned_bytes(n, size);
  return out;
}

LPLB_HD ExactWorkspace exact_workspace_bind(void* buffer, int S, int D) {
  unsigned char* p = static_cast<unsigned char*>(buffer);
  const size_t arcs = size_t(S) * 2 * D;
  ExactWorkspace ws;
  ws.load = static_cast<double*>(exact_take(p, S, sizeof(double)));
  ws.excess = static_cast<double*>(exact_take(p, S, sizeof(double)));
  ws.sink_res = static_cast<double*>(exact_take(p, S, sizeof(double)));
  ws.res = static_cast<double*>(exact_take(p, arcs, sizeof(double)));
  ws.head = static_cast<int32_t*>(exact_take(p, arcs, sizeof(int32_t)));
  ws.rev = static_cast<int32_t*>(exact_take(p, arcs, sizeof(int32_t)));
  ws.label = static_cast<int32_t*>(exact_take(p, S, sizeof(int32_t)));
  ws.label_count = static_cast<int32_t*>(exact_take(p, S + 2, sizeof(int32_t)));
  ws.queue = static_cast<int32_t*>(exact_take(p, S, sizeof(int32_t)));
  ws.bfs = static_cast<int32_t*>(exact_take(p, S, sizeof(int32_t)));
  ws.mark = static_cast<int32_t*>(exact_take(p, S, sizeof(int32_t)));
  ws.reach = static_cast<int32_t*>(exact_take(p, S, sizeof(int32_t)));
  return ws;
}

struct ExactInfo {
  LpCode code = LpCode::kTrivial;
  int32_t rounds = 0;   // max-flow runs
  double max_load = 0;  // realised max load of the returned probs
  double bound = 0;     // proven lower bound on the optimum (up to rounding)
};

// One group's problem (layouts in lp_common.hpp).
struct ExactProblem {
  int S, D;
  const int32_t* r2o;
  const int32_t* o2r;
  const double* fixed;
  const double* block;
  // Optional, both or neither ([S], null: the plain max load). weight > 0 and
  // finite, offset finite (checked by the caller). The objective becomes
  // max_i offset[i] + load(i) / weight[i], and every "load" figure returned
  // (max_load, bound) is in its units.
  const double* weight = nullptr;
  const double* offset = nullptr;
};

// Tokens rank v may hold at objective level L: L itself without weights.
LPLB_HD double exact_rank_cap(const ExactProblem& pb, int v, double L) {
  return pb.weight == nullptr ? L : pb.weight[v] * (L - pb.offset[v]);
}

// Objective value of rank v holding `load` tokens.
LPLB_HD double exact_rank_cost(const ExactProblem& pb, int v, double load) {
  return pb.weight == nullptr ? load : pb.offset[v] + load / pb.weight[v];
}

// Arcs of the zero flow.
LPLB_HD void exact_build_arcs(const ExactProblem& pb, const ExactWorkspace& ws) {
  const int D = pb.D, A = 2 * D;
  for (int v = 0; v < pb.S; ++v)
    for (int d = 0; d < D; ++d) {
      const int w = pb.o2r[v * D + d], u = pb.r2o[v * D + d];
      ws.head[v * A + d] = w;
      ws.rev[v * A + d] = w * A + D + d;  // at w, r2o(w, d) = v
      ws.res[v * A + d] = pb.block[v * D + d];
      ws.head[v * A + D + d] = u;
      ws.rev[v * A + D + d] = u * A + d;
      ws.res[v * A + D + d] = 0.0;
    }
}

// Flow on block edge (v, d): the residual of its reverse arc.
LPLB_HD double exact_edge_flow(const ExactWorkspace& ws, int A, int v, int d) {
  return ws.res[ws.rev[v * A + d]];
}

// Ranks that can reach the sink in the residual graph get their exact
// distance to it as label (others: S + 1).
LPLB_HD void exact_label(const ExactProblem& pb, const ExactWorkspace& ws) {
  const int S = pb.S, A = 2 * pb.D;
  int head = 0, tail = 0;
  for (int i = 0; i < S; ++i) {
    ws.label[i] = ws.sink_res[i] > 0.0 ? 1 : S + 1;
    if (ws.label[i] == 1) ws.bfs[tail++] = i;
  }
  while (head < tail) {
    const int w = ws.bfs[head++];
    for (int a = 0; a < A; ++a) {
      const int u = ws.head[w * A + a];  // arc rev(w, a) goes u -> w
      if (ws.label[u] == S + 1 && ws.res[ws.rev[w * A + a]] > 0.0) {
        ws.label[u] = ws.label[w] + 1;
        ws.bfs[tail++] = u;
      }
    }
  }
}

// Max preflow for target load L, starting from the current residuals. A
// rank's balance is its load under the current flow minus L: positive is
// excess to push, negative is room (its arc to the sink). Returns the excess
// that cannot reach the sink (0 iff L is feasible, up to rounding).
LPLB_HD double exact_preflow(const ExactProblem& pb, const ExactWorkspace& ws, double L) {
  const int S = pb.S, D = pb.D, A = 2 * D;
  const int dead = S + 1;  // label of ranks that cannot reach the sink
  double* const res = ws.res;
  const int32_t* const head_of = ws.head;
  const int32_t* const rev = ws.rev;
  int32_t* const label = ws.label;
  double* const excess = ws.excess;
  for (int v = 0; v < S; ++v) {
    double balance = ws.load[v] - exact_rank_cap(pb, v, L);
    for (int d = 0; d < D; ++d) balance -= res[rev[v * A + d]];  // out along own blocks
    for (int d = 0; d < D; ++d) balance += res[v * A + D + d];    // in from copies held
    excess[v] = balance > 0.0 ? balance : 0.0;
    ws.sink_res[v] = balance < 0.0 ? -balance : 0.0;
    ws.mark[v] = 0;
  }
  exact_label(pb, ws);
  for (int k = 0; k <= dead; ++k) ws.label_count[k] = 0;
  for (int v = 0; v < S; ++v) ++ws.label_count[label[v]];

  // FIFO of active ranks (excess > 0, label < dead), as a ring of size S.
  int qhead = 0, qtail = 0, count = 0;
  for (int v = 0; v < S; ++v)
    if (excess[v] > 0.0 && label[v] < dead) {
      ws.queue[qtail] = v;
      qtail = qtail + 1 == S ? 0 : qtail + 1;
      ++count;
      ws.mark[v] = 1;
    }

  while (count > 0) {
    const int v = ws.queue[qhead];
    qhead = qhead + 1 == S ? 0 : qhead + 1;
    --count;
    ws.mark[v] = 0;
    // Discharge v: push along admissible arcs (label drops by one), then
    // relabel to one more than the lowest residual neighbour seen, repeat.
    while (excess[v] > 0.0 && label[v] < dead) {
      int best = dead;
      if (ws.sink_res[v] > 0.0) {
        if (label[v] == 1) {
          const double room = ws.sink_res[v];
          if (excess[v] < room) {
            ws.sink_res[v] = room - excess[v];
            excess[v] = 0.0;
            break;
          }
          excess[v] -= room;
          ws.sink_res[v] = 0.0;
        } else {
          best = 1;
        }
      }
      bool done = false;
      for (int a = 0; a < A; ++a) {
        const int arc = v * A + a;
        const double r = res[arc];
        if (!(r > 0.0)) continue;
        const int w = head_of[arc];
        const int lw = label[w] + 1;
        if (lw != label[v]) {
          best = lw < best ? lw : best;
          continue;
        }
        const bool saturate = excess[v] >= r;
        const double delta = saturate ? r : excess[v];
        res[arc] = saturate ? 0.0 : r - delta;
        res[rev[arc]] += delta;
        excess[v] = saturate ? excess[v] - delta : 0.0;
        excess[w] += delta;
        if (!ws.mark[w] && label[w] < dead) {
          ws.queue[qtail] = w;
          qtail = qtail + 1 == S ? 0 : qtail + 1;
          ++count;
          ws.mark[w] = 1;
        }
        if (!saturate) {
          done = true;
          break;
        }
      }
      if (done || !(excess[v] > 0.0)) break;
      const int old = label[v];
      if (--ws.label_count[old] == 0) {
        // Gap: nobody is left at `old`, so ranks above it cannot reach the sink.
        for (int u = 0; u < S; ++u)
          if (label[u] > old && label[u] < dead) {
            --ws.label_count[label[u]];
            label[u] = dead;
            ++ws.label_count[dead];
          }
        best = dead;
      }
      label[v] = best;
      ++ws.label_count[best];
    }
  }

  double leftover = 0.0;
  for (int v = 0; v < S; ++v) leftover += excess[v];
  return leftover;
}

// After exact_preflow: R = ranks reachable from leftover excess in the
// residual graph. No residual arc leaves R and every rank in R is at or above
// L, so R's load is B(R) - cap_out(R) = L |R| + leftover: R is violated, and
// as the smallest such set it gives the largest next bound
// (B(R) - cap_out(R)) / |R| (<= the optimum, as for any set). -1 if R is empty.
// With weights: (B(R) - cap_out(R) + sum_R weight offset) / sum_R weight.
LPLB_HD double exact_cut_bound(const ExactProblem& pb, const ExactWorkspace& ws) {
  const int S = pb.S, D = pb.D, A = 2 * D;
  int head = 0, tail = 0;
  for (int v = 0; v < S; ++v) {
    ws.reach[v] = ws.excess[v] > 0.0;
    if (ws.reach[v]) ws.bfs[tail++] = v;
  }
  while (head < tail) {
    const int v = ws.bfs[head++];
    for (int a = 0; a < A; ++a) {
      const int w = ws.head[v * A + a];
      if (!ws.reach[w] && ws.res[v * A + a] > 0.0) {
        ws.reach[w] = 1;
        ws.bfs[tail++] = w;
      }
    }
  }
  double sum = 0.0, weights = 0.0;
  for (int k = 0; k < tail; ++k) {
    const int v = ws.bfs[k];
    sum += ws.load[v];
    for (int d = 0; d < D; ++d)
      if (!ws.reach[pb.o2r[v * D + d]]) sum -= pb.block[v * D + d];
    if (pb.weight != nullptr) {
      sum += pb.weight[v] * pb.offset[v];
      weights += pb.weight[v];
    }
  }
  if (tail == 0) return -1.0;
  return pb.weight == nullptr ? sum / tail : sum / weights;
}

// Solves the group's LP exactly. probs (S*D) receives the shares kept on the
// original rank, all in [0, 1]; a zero block gets 1. Deterministic.
// S >= 2, D >= 1, inputs finite and >= 0 (checked by the caller).
LPLB_HD ExactInfo exact_solve(const ExactProblem& pb, const ExactWorkspace& ws, double* probs) {
  const int S = pb.S, D = pb.D, A = 2 * D;
  ExactInfo info;
  const bool weighted = pb.weight != nullptr;
  double total = 0.0, max_load = 0.0, lower = 0.0, blocks = 0.0;
  double weights = 0.0, weighted_offsets = 0.0;
  for (int i = 0; i < S; ++i) {
    double b = pb.fixed[i];
    for (int d = 0; d < D; ++d) b += pb.block[i * D + d];
    for (int d = 0; d < D; ++d) blocks += pb.block[i * D + d];
    ws.load[i] = b;
    total += b;
    if (!weighted) {
      max_load = b > max_load ? b : max_load;
      lower = pb.fixed[i] > lower ? pb.fixed[i] : lower;  // X = {i}: B(i) - its blocks
    } else {
      const double cost = exact_rank_cost(pb, i, b), floor = exact_rank_cost(pb, i, pb.fixed[i]);
      max_load = i == 0 || cost > max_load ? cost : max_load;
      lower = i == 0 || floor > lower ? floor : lower;
      weights += pb.weight[i];
      weighted_offsets += pb.weight[i] * pb.offset[i];
    }
  }
  for (int e = 0; e < S * D; ++e) probs[e] = 1.0;
  if (!(total > 0.0) || !(blocks > 0.0)) {  // nothing to move
    info.code = LpCode::kTrivial;
    info.max_load = max_load;
    info.bound = max_load;
    return info;
  }
  const double mean = weighted ? (total + weighted_offsets) / weights : total / S;  // X = all
  double L = mean > lower ? mean : lower;
  info.code = LpCode::kOptimal;
  if (max_load <= L) {  // already as balanced as the bound allows
    info.max_load = max_load;
    info.bound = max_load;
    return info;
  }

  // Saturation tolerance: far above the rounding of flows on S*D edges, far
  // below the 1e-6 relative accuracy promised.
  const double tol = 1e-12 * total;
  const int max_rounds = S + 8;
  exact_build_arcs(pb, ws);
  for (;;) {
    const double leftover = exact_preflow(pb, ws, L);
    ++info.rounds;
    if (leftover <= tol || info.rounds >= max_rounds) break;
    const double next = exact_cut_bound(pb, ws);
    if (!(next > L)) break;  // only rounding left
    L = next;
  }

  for (int v = 0; v < S; ++v)
    for (int d = 0; d < D; ++d) {
      const double w = pb.block[v * D + d];
      if (w > 0.0) {
        const double p = 1.0 - exact_edge_flow(ws, A, v, d) / w;
        probs[v * D + d] = p < 0.0 ? 0.0 : (p > 1.0 ? 1.0 : p);
      }
    }
  info.bound = L;
  if (!weighted) {
    info.max_load = group_max_load_hd(S, D, pb.r2o, pb.fixed, pb.block, probs);
  } else {
    group_loads_hd(S, D, pb.r2o, pb.fixed, pb.block, probs, ws.excess);  // scratch now
    for (int v = 0; v < S; ++v) {
      const double cost = exact_rank_cost(pb, v, ws.excess[v]);
      info.max_load = v == 0 || cost > info.max_load ? cost : info.max_load;
    }
  }
  return info;
}

// The optimal max load only (same algorithm, same value as exact_solve's
// bound). probs_scratch has S*D entries.
LPLB_HD double exact_optimum(const ExactProblem& pb, const ExactWorkspace& ws,
                             double* probs_scratch) {
  return exact_solve(pb, ws, probs_scratch).bound;
}

}  // namespace lplb::detail
