// Host glue of the shared per-group solvers (src/common/lp_*.hpp): the one
// mapping from their device-usable codes to lplb::LpStatus, and the one
// host call of the exact solver. Internal to the core library.
#pragma once

#include "common/lp_common.hpp"
#include "common/lp_exact.hpp"
#include "lplb/lp.hpp"

namespace lplb::detail {

// An explicit mapping: the two enums need not share their order.
LpStatus to_status(LpCode code);

// Runs the exact solver on `problem` (workspace on the stack for the group
// sizes the kernels support, on the heap beyond) and reports its outcome.
LpResult solve_exact_problem(const ExactProblem& problem, double* probs);

}  // namespace lplb::detail
