// An independent LP oracle for the placement LP (COIN-OR CLP), built from the
// phy2log directly (one variable per physical slot, no grouping):
//   min L  s.t.  sum_{s holds e} x_s = w_e  for every expert e,
//                sum_{s on rank r} x_s - L <= 0  for every rank r,  x >= 0.
// Only compiled when CLP is found (LPLB_HAVE_CLP).
#pragma once

#ifdef LPLB_HAVE_CLP

#include <coin/ClpSimplex.hpp>
#include <coin/CoinPackedMatrix.hpp>
#include <cstdint>
#include <vector>

namespace lplb::test {

// Slot s holds expert phy2log[s] on rank rank_of[s] (ranks may hold any
// number of slots). Returns the optimal max rank load, or -1 if CLP did not
// report optimal. Absent slots (optional mask, nonzero = absent) get x_s = 0.
inline double placement_lp_oracle_ranks(const std::vector<int32_t>& phy2log,
                                        const std::vector<int32_t>& rank_of, int64_t E, int64_t P,
                                        const std::vector<double>& w,
                                        const std::vector<uint8_t>& absent = {}) {
  const int64_t n = static_cast<int64_t>(phy2log.size());
  const int ncols = static_cast<int>(n + 1), nrows = static_cast<int>(E + P);
  const int L = static_cast<int>(n);
  std::vector<int> rows, cols;
  std::vector<double> vals;
  for (int64_t s = 0; s < n; ++s) {
    rows.push_back(phy2log[s]);  // expert balance row
    cols.push_back(static_cast<int>(s));
    vals.push_back(1.0);
    rows.push_back(static_cast<int>(E + rank_of[s]));  // rank capacity row
    cols.push_back(static_cast<int>(s));
    vals.push_back(1.0);
  }
  for (int64_t r = 0; r < P; ++r) {
    rows.push_back(static_cast<int>(E + r));
    cols.push_back(L);
    vals.push_back(-1.0);
  }
  CoinPackedMatrix matrix(true, rows.data(), cols.data(), vals.data(),
                          static_cast<CoinBigIndex>(vals.size()));
  std::vector<double> col_lb(ncols, 0.0), col_ub(ncols, COIN_DBL_MAX), obj(ncols, 0.0);
  obj[L] = 1.0;
  for (size_t s = 0; s < absent.size(); ++s)
    if (absent[s]) col_ub[s] = 0.0;
  std::vector<double> row_lb(nrows), row_ub(nrows);
  for (int64_t e = 0; e < E; ++e) row_lb[e] = row_ub[e] = w[e];
  for (int64_t r = 0; r < P; ++r) {
    row_lb[E + r] = -COIN_DBL_MAX;
    row_ub[E + r] = 0.0;
  }
  ClpSimplex model;
  model.setLogLevel(0);
  model.loadProblem(matrix, col_lb.data(), col_ub.data(), obj.data(), row_lb.data(),
                    row_ub.data());
  model.dual();
  if (model.status() != 0) model.primal();
  if (model.status() != 0) return -1.0;
  return model.objectiveValue();
}

// The same for a placement with n / P slots on every rank (slot s on rank
// s / n_local).
inline double placement_lp_oracle(const std::vector<int32_t>& phy2log, int64_t E, int64_t P,
                                  const std::vector<double>& w,
                                  const std::vector<uint8_t>& absent = {}) {
  const int64_t n = static_cast<int64_t>(phy2log.size()), n_local = n / P;
  std::vector<int32_t> rank_of(n);
  for (int64_t s = 0; s < n; ++s) rank_of[s] = static_cast<int32_t>(s / n_local);
  return placement_lp_oracle_ranks(phy2log, rank_of, E, P, w, absent);
}

}  // namespace lplb::test

#endif  // LPLB_HAVE_CLP
