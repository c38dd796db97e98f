// An independent LP oracle for the per-group LP (lplb/lp.hpp): the textbook
// formulation handed to COIN-OR CLP's dual simplex. Only with LPLB_HAVE_CLP.
//
//   min z  s.t.  for every rank i:
//     fixed[i] + sum_d p[i,d] W[i,d] + sum_d (1 - p[j,d]) W[j,d] <= z,  j = r2o(i,d)
//     0 <= p <= 1
//
// The data is divided by its largest entry first (the LP is scale-invariant;
// CLP's tolerances are absolute).
#pragma once

#ifdef LPLB_HAVE_CLP

#include <ClpSimplex.hpp>
#include <CoinPackedMatrix.hpp>
#include <CoinPackedVector.hpp>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "lplb/topology.hpp"

namespace lplb::test {

struct OracleResult {
  double objective = 0;       // optimal max load, in the caller's units
  std::vector<double> probs;  // an optimal p (one of many)
};

class ClpOracle {
 public:
  ClpOracle(const Topology& topology, const double* fixed, const double* block) {
    const int64_t S = topology.group_size(), D = topology.slots(), SD = S * D;
    scale_ = 0;
    for (int64_t i = 0; i < S; ++i) scale_ = std::max(scale_, fixed[i]);
    for (int64_t e = 0; e < SD; ++e) scale_ = std::max(scale_, block[e]);
    if (scale_ <= 0) scale_ = 1;
    const int ncols = static_cast<int>(SD + 1);  // p then z
    CoinPackedMatrix matrix(false, 0, 0);
    matrix.setDimensions(0, ncols);
    std::vector<double> row_lo, row_hi;
    for (int64_t i = 0; i < S; ++i) {
      CoinPackedVector row;
      double rhs = -fixed[i] / scale_;
      for (int64_t d = 0; d < D; ++d) row.insert(static_cast<int>(i * D + d), block[i * D + d] / scale_);
      for (int64_t d = 0; d < D; ++d) {
        const int64_t e = topology.r2o(i, d) * D + d;
        row.insert(static_cast<int>(e), -block[e] / scale_);
        rhs -= block[e] / scale_;
      }
      row.insert(static_cast<int>(SD), -1.0);
      matrix.appendRow(row);
      row_lo.push_back(-COIN_DBL_MAX);
      row_hi.push_back(rhs);
    }
    std::vector<double> col_lo(ncols, 0.0), col_hi(ncols, 1.0), cost(ncols, 0.0);
    col_hi[SD] = COIN_DBL_MAX;
    cost[SD] = 1.0;
    model_.setLogLevel(0);
    model_.loadProblem(matrix, col_lo.data(), col_hi.data(), cost.data(), row_lo.data(),
                       row_hi.data());
    model_.setPrimalTolerance(1e-10);
    model_.setDualTolerance(1e-10);
  }

  // Re-solves from scratch (for benchmarks: the same work every call).
  OracleResult solve() {
    ClpSimplex model(model_);
    model.dual();
    if (model.status() != 0) throw std::runtime_error("CLP did not reach an optimum");
    OracleResult out;
    out.objective = model.objectiveValue() * scale_;
    const double* x = model.primalColumnSolution();
    out.probs.assign(x, x + model.numberColumns() - 1);
    return out;
  }

 private:
  ClpSimplex model_;
  double scale_ = 1;
};

inline OracleResult clp_solve(const Topology& topology, const double* fixed, const double* block) {
  return ClpOracle(topology, fixed, block).solve();
}

}  // namespace lplb::test

#endif  // LPLB_HAVE_CLP
