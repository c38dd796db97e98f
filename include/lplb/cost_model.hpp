// Beyond token counts (issue 11): balance a modelled GPU time instead of the
// token count, and among optimal splits move the fewest tokens, across nodes
// last of all.
//
// A rank's MoE time is a grouped GEMM over its active experts: a fixed cost
// per active expert (its weights stream from memory), a cost per token, and
// tile effects the linear model averages out. CostModel is that model; the
// per-group functions below solve the LP under it exactly (the parametric
// max-flow of lp.hpp with rank weights and offsets) and pick, among the
// splits within a tolerance of the optimum, one that moves the fewest tokens
// (an exact min-cost flow). Planner reaches them through
// PlannerOptions::objective (planner.hpp).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "lplb/lp.hpp"
#include "lplb/topology.hpp"

namespace lplb {

// Modelled MoE GEMM time of one EP rank, in microseconds:
//   time(r) = extra_us[r] + (a_us + b_us_per_token * tokens + c_us_per_expert * active) / speed[r]
// tokens: tokens the rank's experts process; active: its experts with at
// least one token. The defaults were fitted by least squares on an NVIDIA
// H200 (bf16, a DeepSeek-V3-like expert: hidden 7168, intermediate 2048,
// gate+up and down projections, one cuBLAS GEMM per expert in one CUDA graph,
// 1..16 active experts x 1..512 tokens each): relative error mean 7.4 %,
// max 18.7 % on the grid, mean 5.8 % on uneven held-out splits. The table and
// the script are bench/data/gemm_h200.json and scripts/measure_gemm.py.
struct CostModel {
  double a_us = 4.0126;             // per rank and step (launch, tails)
  double b_us_per_token = 0.075556; // > 0
  double c_us_per_expert = 32.208;  // per active expert (its weights' reads)
  // Per rank, empty or one entry per rank of the planner (ep_size):
  // speed[r] > 0: rank r runs GEMMs speed[r] times as fast as the measured
  // GPU (1 when empty); extra_us[r] >= 0: other work rank r does in the same
  // step (0 when empty).
  std::vector<double> speed;
  std::vector<double> extra_us;

  // time(r) above; rank indexes speed / extra_us when they are set.
  double time_us(int64_t rank, double tokens, double active) const;
};

// Throws InvalidArgument naming `arg` unless a_us, c_us_per_expert >= 0,
// b_us_per_token > 0 (all finite), speed / extra_us empty or of num_ranks
// entries with speed > 0 and extra_us >= 0, finite.
void validate_cost_model(const CostModel& model, int64_t num_ranks, const char* arg);

enum class ObjectiveKind {
  kTokens,  // minimise the largest rank's token count (SPEC 5.3)
  kTime,    // minimise the largest rank's modelled time (CostModel)
};

const char* objective_name(ObjectiveKind kind);        // "tokens" / "time"
ObjectiveKind parse_objective(std::string_view name);  // throws InvalidArgument

// What the planner minimises. Needs the exact solver for anything but the
// default (kTokens without min_moves).
struct Objective {
  ObjectiveKind kind = ObjectiveKind::kTokens;
  // kTime's model, with the active set fixed by the placement: a rank counts
  // every expert it holds (original or copy) whose logical expert has tokens
  // in the batch. The planner also reports modelled times with it.
  CostModel model;
  // Secondary objective: among splits whose maximum (tokens or time) is at
  // most (1 + move_tolerance) * the optimum, take one that moves the fewest
  // tokens across nodes, then the fewest tokens in all. Nodes are
  // consecutive runs of PlannerOptions::gpus_per_node ranks.
  bool min_moves = false;
  double move_tolerance = 0;  // >= 0, relative
};

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
