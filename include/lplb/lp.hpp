// The per-group LP of LPLB: how much of each replicated block a redundancy
// group keeps on its original rank (docs/ARCHITECTURE.md for the notation,
// docs/SOLVERS.md for the two solvers).
//
// Thread safety: pure functions (no shared state); concurrent calls are safe.
//
// For one redundancy group of S ranks with D replicated blocks each:
//   fixed[i]      tokens on rank i that cannot move (its non-replicated experts),
//   block[i*D+d]  tokens of block (i, d), which may be split between rank i and
//                 rank o2r(i, d).
// probs[i*D+d] is the share of block (i, d) kept on rank i. The LP minimises
// max_i load(i), load(i) = fixed[i] + sum_d probs[i,d] block[i,d]
//                          + sum_d (1 - probs[j,d]) block[j,d], j = r2o(i, d).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "lplb/topology.hpp"

namespace lplb {

enum class SolverKind {
  kExact,  // exact optimum (parametric max-flow); the default
  kIpm,    // deepseek-ai/LPLB's 5-step affine-scaling IPM, float32, as shipped
};

const char* solver_name(SolverKind kind);           // "exact" / "ipm"
SolverKind parse_solver(std::string_view name);     // throws InvalidArgument

enum class LpStatus {
  kOptimal,        // exact solver: optimum reached
  kIpmConverged,   // IPM: its own convergence test passed
  kIpmFallback,    // IPM: test failed, probs set to 0.5 (reference behaviour)
  kTrivial,        // zero load or no redundancy (all blocks empty): probs = 1
};

struct LpResult {
  LpStatus status = LpStatus::kTrivial;
  double max_load = 0;  // max_i load(i) with probs as returned (clamped to [0,1])
  int iterations = 0;   // max-flow rounds (exact) or IPM steps (always 5)
  // Exact: a proven lower bound on the optimum, max_load - lower_bound is
  // rounding only (<= 1e-12 * total load). IPM: 0.
  double lower_bound = 0;
  // IPM only: the inputs of its convergence test (d_max < 0.1,
  // 0 <= big_m < 1e-4, residual < 0.05), in normalised units.
  double ipm_d_max = 0;
  double ipm_big_m = 0;
  double ipm_residual = 0;
};

// Inputs must be finite and >= 0 (throws InvalidArgument naming `fixed` or
// `block` otherwise). probs has S*D entries. Deterministic: same inputs,
// bit-identical probs. Thread-safe (no shared state).
// kExact: any S, D; probs in [0, 1]. kIpm: S <= 64 and D <= 4 (throws
// otherwise); normalises by the group's own largest fixed/block entry (1 if
// the group is empty), which is solve_group_ipm's scale when one rank holds
// the batch's largest expert and C = 1 -- call solve_group_ipm to match the
// reference exactly.
LpResult solve_group(const Topology& topology, SolverKind kind, const double* fixed,
                     const double* block, double* probs);

// The reference IPM with the reference's normaliser: `scale` = the largest
// per-expert count of the whole batch (all groups), finite and >= 0; 0 means
// an empty batch, where the reference's 0/0 fails its test (probs 0.5,
// kIpmFallback). Raw probs may leave [0, 1] (see docs/SOLVERS.md); max_load
// and group_loads clamp them. S <= 64, D <= 4.
LpResult solve_group_ipm(const Topology& topology, const double* fixed, const double* block,
                         double* probs, double scale);

// load(i) for every rank of the group given probs (clamped to [0, 1]).
void group_loads(const Topology& topology, const double* fixed, const double* block,
                 const double* probs, double* load);

}  // namespace lplb
