// Host entry points of the per-group LP (lplb/lp.hpp). The math lives in
// src/common/lp_exact.hpp and lp_ipm.hpp, shared with the CUDA kernels.
#include "lplb/lp.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "common/lp_exact.hpp"
#include "common/lp_ipm.hpp"
#include "lplb/errors.hpp"

namespace lplb {
namespace {

// Finite and >= 0, as the solvers assume.
void check_loads(const double* values, int64_t n, const char* what) {
  check_arg(values != nullptr || n == 0, what, "is null");
  for (int64_t k = 0; k < n; ++k)
    if (!(values[k] >= 0.0) || !std::isfinite(values[k]))
      check_arg(false, what,
                "entry " + std::to_string(k) + " = " + std::to_string(values[k]) +
                    " is negative or not finite");
}

void check_group(const Topology& topology, const double* fixed, const double* block,
                 const double* probs) {
  const int64_t S = topology.group_size(), D = topology.slots();
  check_loads(fixed, S, "fixed");
  check_loads(block, S * D, "block");
  check_arg(probs != nullptr, "probs", "is null");
}

void check_ipm_size(const Topology& topology) {
  check_arg(topology.group_size() <= detail::kMaxGroupSize && topology.slots() <= detail::kMaxSlots,
            "topology",
            "the reference IPM supports groups of at most " +
                std::to_string(detail::kMaxGroupSize) + " ranks and " +
                std::to_string(detail::kMaxSlots) + " slots, got " +
                std::to_string(topology.group_size()) + " x " + std::to_string(topology.slots()));
}

LpStatus to_status(detail::LpCode code) {
  switch (code) {
    case detail::LpCode::kOptimal: return LpStatus::kOptimal;
    case detail::LpCode::kIpmConverged: return LpStatus::kIpmConverged;
    case detail::LpCode::kIpmFallback: return LpStatus::kIpmFallback;
    case detail::LpCode::kTrivial: return LpStatus::kTrivial;
  }
  return LpStatus::kTrivial;
}

LpResult solve_exact(const Topology& topology, const double* fixed, const double* block,
                     double* probs) {
  const int S = static_cast<int>(topology.group_size()), D = static_cast<int>(topology.slots());
  const detail::ExactProblem pb{S, D, topology.r2o_data().data(), topology.o2r_data().data(),
                                fixed, block};
  // Groups the kernels support fit on the stack; larger ones allocate.
  alignas(8) unsigned char stack[detail::kExactWorkspaceMaxBytes];
  std::vector<uint64_t> heap;
  void* buffer = stack;
  const size_t bytes = detail::exact_workspace_bytes(S, D);
  if (bytes > sizeof(stack)) {
    heap.resize((bytes + 7) / 8);
    buffer = heap.data();
  }
  const detail::ExactInfo info =
      detail::exact_solve(pb, detail::exact_workspace_bind(buffer, S, D), probs);
  LpResult result;
  result.status = to_status(info.code);
  result.max_load = info.max_load;
  result.iterations = info.rounds;
  result.lower_bound = info.bound;
  return result;
}

LpResult solve_ipm(const Topology& topology, const double* fixed, const double* block,
                   double* probs, double scale) {
  const int S = static_cast<int>(topology.group_size()), D = static_cast<int>(topology.slots());
  std::vector<uint64_t> buffer((detail::ipm_workspace_bytes(S, D) + 7) / 8);
  std::vector<float> w(static_cast<size_t>(S) * D), f(S);
  const detail::IpmInfo info = detail::ipm_solve(
      S, D, topology.r2o_data().data(), fixed, block, scale, w.data(), f.data(),
      detail::ipm_workspace_bind(buffer.data(), S, D), probs);
  LpResult result;
  result.status = to_status(info.code);
  result.iterations = detail::kIpmSteps;
  result.max_load =
      detail::group_max_load_hd(S, D, topology.r2o_data().data(), fixed, block, probs);
  result.ipm_d_max = info.d_max;
  result.ipm_big_m = info.big_m;
  result.ipm_residual = info.max_residual;
  return result;
}

}  // namespace

const char* solver_name(SolverKind kind) {
  switch (kind) {
    case SolverKind::kExact: return "exact";
    case SolverKind::kIpm: return "ipm";
  }
  return "unknown";
}

SolverKind parse_solver(std::string_view name) {
  if (name == "exact") return SolverKind::kExact;
  if (name == "ipm") return SolverKind::kIpm;
  throw InvalidArgument("solver: unknown solver '" + std::string(name) +
                        "' (expected 'exact' or 'ipm')");
}

LpResult solve_group(const Topology& topology, SolverKind kind, const double* fixed,
                     const double* block, double* probs) {
  check_group(topology, fixed, block, probs);
  if (kind == SolverKind::kExact) return solve_exact(topology, fixed, block, probs);
  check_arg(kind == SolverKind::kIpm, "kind", "unknown solver kind");
  check_ipm_size(topology);
  // The group's own largest entry; an empty group normalises to zeros for any
  // positive scale, so 1 reproduces the reference there.
  const int64_t S = topology.group_size(), D = topology.slots();
  double scale = 0.0;
  for (int64_t i = 0; i < S; ++i) scale = std::max(scale, fixed[i]);
  for (int64_t e = 0; e < S * D; ++e) scale = std::max(scale, block[e]);
  return solve_ipm(topology, fixed, block, probs, scale > 0.0 ? scale : 1.0);
}

LpResult solve_group_ipm(const Topology& topology, const double* fixed, const double* block,
                         double* probs, double scale) {
  check_group(topology, fixed, block, probs);
  check_ipm_size(topology);
  check_arg(scale >= 0.0 && std::isfinite(scale), "scale",
            "must be finite and >= 0, got " + std::to_string(scale));
  return solve_ipm(topology, fixed, block, probs, scale);
}

void group_loads(const Topology& topology, const double* fixed, const double* block,
                 const double* probs, double* load) {
  detail::group_loads_hd(static_cast<int>(topology.group_size()),
                         static_cast<int>(topology.slots()), topology.r2o_data().data(), fixed,
                         block, probs, load);
}

}  // namespace lplb
