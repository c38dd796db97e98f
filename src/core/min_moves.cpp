// The secondary objective (lplb/lp_objective.hpp): among splits that keep every
// rank within its cap, move the fewest tokens across nodes, then the fewest
// in all. Exact min-cost flow by successive shortest paths.
//
// Graph: ranks 0..S-1, a source and a sink. Block (i, d) is an arc
// i -> o2r(i, d) of capacity block(i, d): its flow is exactly the tokens of
// the block sent to the copy (tokens moved). Rank i with B(i) > cap(i) gets
// source -> i of capacity B(i) - cap(i); rank i with room gets i -> sink of
// capacity cap(i) - B(i). A flow that saturates the source arcs is a split
// meeting the caps, and its cost is what it moves.
//
// Costs are lexicographic integer pairs (cross-node tokens, all tokens):
// the shortest-path optimality argument holds in any ordered group, so the
// result is the exact lexicographic optimum with no big-M weight. Paths are
// found by Bellman-Ford (reverse arcs cost negative) with a third key, the
// hop count, which picks the fewest arcs among cheapest paths: within one
// cost level that is Edmonds-Karp, so the number of augmentations is
// bounded. Capacities are doubles; costs stay exact small integers.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "common/lp_common.hpp"
#include "lplb/lp_objective.hpp"
#include "lplb/errors.hpp"

namespace lplb {
namespace {

struct Cost {
  int64_t cross = 0, moved = 0, hops = 0;
};

bool operator<(const Cost& a, const Cost& b) {
  if (a.cross != b.cross) return a.cross < b.cross;
  if (a.moved != b.moved) return a.moved < b.moved;
  return a.hops < b.hops;
}

struct Arc {
  int32_t to;
  double res;   // residual capacity
  Cost cost;    // of one unit along this arc (hops always +1)
};

class FlowGraph {
 public:
  explicit FlowGraph(int nodes) : out_(nodes) {}
  // Adds u -> v and its reverse; returns the forward arc's index (the
  // reverse is index ^ 1).
  int add(int u, int v, double cap, int64_t cross, int64_t moved) {
    const int k = static_cast<int>(arcs_.size());
    arcs_.push_back({v, cap, {cross, moved, 1}});
    arcs_.push_back({u, 0.0, {-cross, -moved, 1}});
    out_[u].push_back(k);
    out_[v].push_back(k + 1);
    return k;
  }
  std::vector<Arc>& arcs() { return arcs_; }
  const std::vector<int>& out(int v) const { return out_[v]; }
  int nodes() const { return static_cast<int>(out_.size()); }

 private:
  std::vector<std::vector<int>> out_;
  std::vector<Arc> arcs_;
};

// Cheapest (then fewest-arc) path source -> sink over arcs with residual
// above `eps`; parent[v] = arc into v. False if the sink is unreachable.
bool shortest_path(FlowGraph& g, int source, int sink, double eps, std::vector<int>& parent) {
  const int n = g.nodes();
  std::vector<Cost> dist(n);
  std::vector<char> reached(n, 0), queued(n, 0);
  std::vector<int> queue;
  parent.assign(n, -1);
  reached[source] = 1;
  queue.push_back(source);
  queued[source] = 1;
  // SPFA; no negative cycle exists (successive shortest paths keep the
  // residual graph free of them), so it ends. The cap guards rounding bugs.
  size_t head = 0, relaxations = 0;
  const size_t max_relaxations = size_t(n) * g.arcs().size() + 16;
  while (head < queue.size()) {
    const int u = queue[head++];
    queued[u] = 0;
    for (int k : g.out(u)) {
      const Arc& a = g.arcs()[k];
      if (!(a.res > eps)) continue;
      Cost c = dist[u];
      c.cross += a.cost.cross;
      c.moved += a.cost.moved;
      c.hops += a.cost.hops;
      if (!reached[a.to] || c < dist[a.to]) {
        if (++relaxations > max_relaxations) return false;
        reached[a.to] = 1;
        dist[a.to] = c;
        parent[a.to] = k;
        if (!queued[a.to]) {
          queued[a.to] = 1;
          queue.push_back(a.to);
        }
      }
    }
  }
  return reached[sink] != 0;
}

}  // namespace

MoveResult solve_group_min_moves(const Topology& topology, const double* fixed,
                                 const double* block, const double* cap, const uint8_t* cross,
                                 double* probs) {
  const int S = static_cast<int>(topology.group_size()), D = static_cast<int>(topology.slots());
  check_arg(fixed != nullptr && block != nullptr && cap != nullptr && cross != nullptr &&
                probs != nullptr,
            "probs", "fixed, block, cap, cross and probs must not be null");
  double total = 0.0;
  std::vector<double> load(S);
  for (int i = 0; i < S; ++i) {
    if (!(std::isfinite(fixed[i]) && fixed[i] >= 0))
      throw_arg("fixed", "entry " + std::to_string(i) + " is negative or not finite");
    if (!std::isfinite(cap[i])) throw_arg("cap", "entry " + std::to_string(i) + " is not finite");
    load[i] = fixed[i];
    for (int d = 0; d < D; ++d) {
      const double b = block[i * D + d];
      if (!(std::isfinite(b) && b >= 0))
        throw_arg("block", "entry " + std::to_string(i * D + d) + " is negative or not finite");
      load[i] += b;
    }
    total += load[i];
  }

  const int source = S, sink = S + 1;
  FlowGraph g(S + 2);
  std::vector<int> block_arc(size_t(S) * D);
  for (int i = 0; i < S; ++i)
    for (int d = 0; d < D; ++d)
      block_arc[i * D + d] = g.add(i, topology.o2r(i, d), block[i * D + d],
                                   cross[i * D + d] != 0 ? 1 : 0, 1);
  double need = 0.0;
  std::vector<int> source_arc;
  for (int i = 0; i < S; ++i) {
    const double balance = load[i] - cap[i];
    if (balance > 0.0) {
      source_arc.push_back(g.add(source, i, balance, 0, 0));
      need += balance;
    } else if (balance < 0.0) {
      g.add(i, sink, -balance, 0, 0);
    }
  }

  // Residuals at or below eps count as saturated: leftovers of that size are
  // rounding, and skipping them keeps every augmentation meaningful.
  const double scale = total > 0.0 ? total : 1.0;
  const double eps = 1e-15 * scale;
  const int max_augmentations = 64 * (S + 2) * (S * D + 2 * S) + 1024;
  MoveResult result;
  std::vector<int> parent;
  std::vector<Arc>& arcs = g.arcs();
  while (need > 0.0 && result.augmentations < max_augmentations &&
         shortest_path(g, source, sink, eps, parent)) {
    double delta = std::numeric_limits<double>::infinity();
    for (int v = sink; v != source; v = arcs[parent[v] ^ 1].to) delta = std::min(delta, arcs[parent[v]].res);
    for (int v = sink; v != source; v = arcs[parent[v] ^ 1].to) {
      Arc& a = arcs[parent[v]];
      a.res = a.res == delta ? 0.0 : a.res - delta;  // the bottleneck saturates exactly
      arcs[parent[v] ^ 1].res += delta;
    }
    ++result.augmentations;
  }
  double left = 0.0;
  for (int k : source_arc) left += arcs[k].res;
  result.feasible = left <= 1e-12 * scale;

  for (int e = 0; e < S * D; ++e) {
    const double b = block[e];
    const double flow = arcs[block_arc[e] ^ 1].res;
    const double p = b > 0.0 ? 1.0 - flow / b : 1.0;
    probs[e] = p < 0.0 ? 0.0 : (p > 1.0 ? 1.0 : p);
  }
  const MoveResult moved = group_moves(topology, block, probs, cross);
  result.tokens_moved = moved.tokens_moved;
  result.tokens_cross_node = moved.tokens_cross_node;
  return result;
}

}  // namespace lplb
