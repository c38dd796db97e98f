// The per-group LP under an objective other than the token count
// (lplb/objective.hpp): balance a modelled GPU time, and among near-optimal
// splits move the fewest tokens, across nodes last of all.
//
// The functions below solve one redundancy group's LP exactly under rank
// weights and offsets (the parametric max-flow of lp.hpp, generalised) and
// pick, among the splits within a tolerance of the optimum, one that moves
// the fewest tokens (an exact min-cost flow). Planner reaches them through
// PlannerOptions::objective (planner.hpp); docs/COST_MODEL.md explains both.
//
// Thread safety: pure functions (no shared state); concurrent calls are safe.
#pragma once

#include <cstdint>
#include <vector>

#include "lplb/lp.hpp"
#include "lplb/objective.hpp"
#include "lplb/topology.hpp"

namespace lplb {

// ---- Per-group solvers (one redundancy group; layouts as in lp.hpp). ----

// Exact optimum of min max_i offset[i] + load(i) / weight[i] over probs in
// [0, 1]: weight[S] > 0 (tokens per unit of the objective), offset[S], all
// finite (throws InvalidArgument naming the argument otherwise). The
// returned max_load and lower_bound are in the objective's units. With
// weight = 1, offset = 0 it is solve_group's exact solver, bit for bit.
LpResult solve_group_weighted(const Topology& topology, const double* fixed, const double* block,
                              const double* weight, const double* offset, double* probs);

struct MoveResult {
  // false when no split meets the caps: probs then meet them as far as a
  // maximum flow can (the rest of the excess stays where it is).
  bool feasible = true;
  double tokens_moved = 0;       // sum over blocks of (1 - p) * block
  double tokens_cross_node = 0;  // the part on blocks with cross[e] != 0
  int augmentations = 0;         // shortest paths the min-cost flow used
};

// Among probs with load(i) <= cap[i] for every rank i, one that minimises the
// tokens moved over cross-node blocks first and the tokens moved in all
// second (lexicographically, exactly: a min-cost flow by successive shortest
// paths on the group's graph). cap[S] finite; cross[S*D]: non-zero where block
// (i, d)'s copy rank o2r(i, d) is on another node than rank i. A cap that is
// met to within 1e-12 of the group's total load counts as met.
MoveResult solve_group_min_moves(const Topology& topology, const double* fixed,
                                 const double* block, const double* cap, const uint8_t* cross,
                                 double* probs);

// Tokens a split moves: (1 - p) * block summed over blocks, and the part on
// blocks marked in cross (may be null: none cross).
MoveResult group_moves(const Topology& topology, const double* block, const double* probs,
                       const uint8_t* cross);

// cross[S*D] of group `group` when nodes hold gpus_per_node consecutive
// global ranks (global rank = group * S + i).
std::vector<uint8_t> cross_node_blocks(const Topology& topology, int64_t group,
                                       int64_t gpus_per_node);

}  // namespace lplb
