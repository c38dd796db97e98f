// What the planner minimises: the token count of the busiest rank (LPLB's
// objective) or a modelled GPU time (CostModel), optionally followed by the
// fewest token moves. Plain data plus validation; the per-group solvers that
// use it are in lplb/lp_objective.hpp, docs/COST_MODEL.md explains the model.
//
// Thread safety: plain values; the functions are pure (no shared state).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

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
  kTokens,  // minimise the largest rank's token count (LPLB's per-group LP, lplb/lp.hpp)
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

}  // namespace lplb
