// Independent LP oracles for the cost model's objectives, in COIN-OR CLP (only with
// LPLB_HAVE_CLP). Textbook formulations, nothing shared with the solvers:
//
// Weighted min-max (the time objective), variables p[S*D] in [0, 1] and z:
//   min z  s.t.  offset[i] + load_i(p) / weight[i] <= z   for every rank i.
//
// Min moves (the secondary objective) as a lexicographic LP over the moved
// tokens f[e] in [0, block[e]] of every block e = (i, d) (sent to o2r(i, d)):
//   load_i(f) = B(i) - sum_d f[i,d] + sum_d f[r2o(i,d), d] <= cap[i],
//   phase 1: C* = min sum_{cross e} f[e];
//   phase 2: min sum_e f[e]  s.t. also  sum_{cross e} f[e] <= C*.
//
// Data are divided by their largest entry (and z by its natural scale):
// CLP's tolerances are absolute.
#pragma once

#ifdef LPLB_HAVE_CLP

#include <ClpSimplex.hpp>
#include <CoinPackedMatrix.hpp>
#include <CoinPackedVector.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <utility>
#include <vector>

#include "lplb/topology.hpp"

namespace lplb::test {

// A small LP: min cost.x, rows sum_k a_k x_k <= upper, column bounds.
class SmallLp {
 public:
  explicit SmallLp(int ncols) : lo_(ncols, 0.0), hi_(ncols, COIN_DBL_MAX), cost_(ncols, 0.0) {
    matrix_.setDimensions(0, ncols);
  }
  void bounds(int col, double lo, double hi) {
    lo_[col] = lo;
    hi_[col] = hi;
  }
  void cost(int col, double c) { cost_[col] = c; }
  void row(const std::vector<std::pair<int, double>>& coeffs, double upper) {
    CoinPackedVector v;
    for (const auto& [col, a] : coeffs) v.insert(col, a);
    matrix_.appendRow(v);
    row_lo_.push_back(-COIN_DBL_MAX);
    row_hi_.push_back(upper);
  }
  // Optimal objective value; x (if given) receives a solution.
  double solve(std::vector<double>* x = nullptr) {
    ClpSimplex model;
    model.setLogLevel(0);
    model.loadProblem(matrix_, lo_.data(), hi_.data(), cost_.data(), row_lo_.data(), row_hi_.data());
    model.setPrimalTolerance(1e-10);
    model.setDualTolerance(1e-10);
    model.dual();
    if (model.status() != 0) throw std::runtime_error("CLP did not reach an optimum");
    if (x != nullptr) {
      const double* s = model.primalColumnSolution();
      x->assign(s, s + model.numberColumns());
    }
    return model.objectiveValue();
  }

 private:
  CoinPackedMatrix matrix_{false, 0, 0};
  std::vector<double> lo_, hi_, cost_, row_lo_, row_hi_;
};

inline double largest_entry(const Topology& t, const double* fixed, const double* block) {
  const int64_t S = t.group_size(), SD = S * t.slots();
  double s = 0;
  for (int64_t i = 0; i < S; ++i) s = std::max(s, fixed[i]);
  for (int64_t e = 0; e < SD; ++e) s = std::max(s, block[e]);
  return s > 0 ? s : 1.0;
}

// min over p of max_i offset[i] + load_i(p) / weight[i].
inline double clp_weighted_optimum(const Topology& t, const double* fixed, const double* block,
                                   const double* weight, const double* offset) {
  const int64_t S = t.group_size(), D = t.slots(), SD = S * D;
  const double ts = largest_entry(t, fixed, block);
  double zs = 0;
  for (int64_t i = 0; i < S; ++i) {
    double b = fixed[i];
    for (int64_t d = 0; d < D; ++d) b += block[i * D + d];
    zs = std::max(zs, std::abs(offset[i]) + b / weight[i]);
  }
  if (zs <= 0) zs = 1;
  const int z = static_cast<int>(SD);
  SmallLp lp(static_cast<int>(SD + 1));
  for (int64_t e = 0; e < SD; ++e) lp.bounds(static_cast<int>(e), 0.0, 1.0);
  lp.bounds(z, -COIN_DBL_MAX, COIN_DBL_MAX);
  lp.cost(z, 1.0);
  for (int64_t i = 0; i < S; ++i) {
    // load_i - weight z <= -weight offset, in units of ts (z in units of zs).
    std::vector<std::pair<int, double>> row;
    double rhs = -weight[i] * offset[i] - fixed[i];
    for (int64_t d = 0; d < D; ++d) row.emplace_back(static_cast<int>(i * D + d), block[i * D + d] / ts);
    for (int64_t d = 0; d < D; ++d) {
      const int64_t e = t.r2o(i, d) * D + d;
      row.emplace_back(static_cast<int>(e), -block[e] / ts);
      rhs -= block[e];
    }
    row.emplace_back(z, -weight[i] * zs / ts);
    lp.row(row, rhs / ts);
  }
  return lp.solve() * zs;
}

struct MovesOptimum {
  double cross = 0;  // C*: tokens moved over cross-node blocks
  double moved = 0;  // all tokens moved, given C*
};

inline MovesOptimum clp_min_moves(const Topology& t, const double* fixed, const double* block,
                                  const double* cap, const uint8_t* cross) {
  const int64_t S = t.group_size(), D = t.slots(), SD = S * D;
  const double ts = largest_entry(t, fixed, block);
  auto build = [&](SmallLp& lp) {
    for (int64_t e = 0; e < SD; ++e) lp.bounds(static_cast<int>(e), 0.0, block[e] / ts);
    for (int64_t i = 0; i < S; ++i) {
      std::vector<std::pair<int, double>> row;
      double b = fixed[i];
      for (int64_t d = 0; d < D; ++d) {
        b += block[i * D + d];
        row.emplace_back(static_cast<int>(i * D + d), -1.0);
        row.emplace_back(static_cast<int>(t.r2o(i, d) * D + d), 1.0);
      }
      lp.row(row, (cap[i] - b) / ts);
    }
  };
  SmallLp first(static_cast<int>(SD));
  build(first);
  std::vector<std::pair<int, double>> cross_row;
  for (int64_t e = 0; e < SD; ++e)
    if (cross[e] != 0) {
      first.cost(static_cast<int>(e), 1.0);
      cross_row.emplace_back(static_cast<int>(e), 1.0);
    }
  MovesOptimum out;
  const double c = std::max(0.0, first.solve());
  out.cross = c * ts;
  SmallLp second(static_cast<int>(SD));
  build(second);
  if (!cross_row.empty()) second.row(cross_row, c + 1e-9);
  for (int64_t e = 0; e < SD; ++e) second.cost(static_cast<int>(e), 1.0);
  out.moved = second.solve() * ts;
  return out;
}

}  // namespace lplb::test

#endif  // LPLB_HAVE_CLP
