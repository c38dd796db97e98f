// Host entry points of the per-group LP (lplb/lp.hpp). The math lives in
// src/common/lp_exact.hpp and lp_ipm.hpp, shared with the CUDA kernels.
#include "lplb/lp.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "common/lp_exact.hpp"
#include "common/lp_ipm.hpp"
#include "core/input_checks.hpp"
#include "core/lp_host.hpp"
#include "lplb/errors.hpp"

namespace lplb {
namespace {

void check_group(const Topology& topology, const double* fixed, const double* block,
                 const double* probs) {
  const int64_t S = topology.group_size(), D = topology.slots();
  detail::check_entries(fixed, S, "fixed", detail::Bound::kNonNegative);
  detail::check_entries(block, S * D, "block", detail::Bound::kNonNegative);
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

LpResult solve_exact(const Topology& topology, const double* fixed, const double* block,
                     double* probs) {
  const int S = static_cast<int>(topology.group_size()), D = static_cast<int>(topology.slots());
  return detail::solve_exact_problem(
      {S, D, topology.r2o_data().data(), topology.o2r_data().data(), fixed, block}, probs);
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
  result.status = detail::to_status(info.code);
  result.iterations = detail::kIpmSteps;
  result.max_load =
      detail::group_max_load_hd(S, D, topology.r2o_data().data(), fixed, block, probs);
  result.ipm_d_max = info.d_max;
  result.ipm_big_m = info.big_m;
  result.ipm_residual = info.max_residual;
  return result;
}

}  // namespace

namespace detail {

LpStatus to_status(LpCode code) {
  switch (code) {
    case LpCode::kOptimal: return LpStatus::kOptimal;
    case LpCode::kIpmConverged: return LpStatus::kIpmConverged;
    case LpCode::kIpmFallback: return LpStatus::kIpmFallback;
    case LpCode::kTrivial: return LpStatus::kTrivial;
  }
  return LpStatus::kTrivial;
}

LpResult solve_exact_problem(const ExactProblem& pb, double* probs) {
  // Groups the kernels support fit on the stack; larger ones allocate.
  alignas(8) unsigned char stack[kExactWorkspaceMaxBytes];
  std::vector<uint64_t> heap;
  void* buffer = stack;
  const size_t bytes = exact_workspace_bytes(pb.S, pb.D);
  if (bytes > sizeof(stack)) {
    heap.resize((bytes + 7) / 8);
    buffer = heap.data();
  }
  const ExactInfo info = exact_solve(pb, exact_workspace_bind(buffer, pb.S, pb.D), probs);
  LpResult result;
  result.status = to_status(info.code);
  result.max_load = info.max_load;
  result.iterations = info.rounds;
  result.lower_bound = info.bound;
  return result;
}

}  // namespace detail

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
  throw_arg("solver", "unknown solver '" + std::string(name) + "' (expected 'exact' or 'ipm')");
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
