// The per-group LP of LPLB (SPEC section 5.3).
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
  kTrivial,        // zero load or no redundancy: probs = 1
};

struct LpResult {
  LpStatus status = LpStatus::kTrivial;
  double max_load = 0;  // max_i load(i) with probs as returned (clamped to [0,1])
  int iterations = 0;   // max-flow rounds (exact) or IPM steps
};

// Inputs must be finite and >= 0 (validated by callers at the API boundary).
// probs has S*D entries. Deterministic: same inputs, bit-identical probs.
LpResult solve_group(const Topology& topology, SolverKind kind, const double* fixed,
                     const double* block, double* probs);

// load(i) for every rank of the group given probs (clamped to [0, 1]).
void group_loads(const Topology& topology, const double* fixed, const double* block,
                 const double* probs, double* load);

}  // namespace lplb
