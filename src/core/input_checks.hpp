// Checks on caller-supplied arrays, shared by the planners and solvers of the
// core library so that every entry point words a bad value the same way:
//   "<arg>: entry <k> is not finite (<value>)"
//   "<arg>: entry <k> is negative (<value>)"
//   "<arg>: entry <k> is not > 0 (<value>)"
//   "<arg>: expected <n> entries (one per <what>), got <m>"
//   "ids: entry <k> = <id> is outside [-1, <E>)"
// The size limits that keep the planners' arithmetic exact live here too.
// Internal to the core library.
#pragma once

#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "lplb/errors.hpp"

namespace lplb::detail {

// Ids per count/map call: keeps the token split's products in int64.
constexpr int64_t kMaxIdsPerCall = int64_t{1} << 31;
// Largest total workload whose sums stay exact in double (2^53).
constexpr double kMaxExactTotal = 9007199254740992.0;

enum class Bound { kFinite, kNonNegative, kPositive };

inline bool within(double v, Bound bound) {
  if (!std::isfinite(v)) return false;
  return bound == Bound::kFinite || (bound == Bound::kNonNegative ? v >= 0 : v > 0);
}

[[noreturn]] inline void throw_bad_entry(const char* arg, int64_t k, double v, Bound bound) {
  const char* problem =
      !std::isfinite(v) ? "not finite" : bound == Bound::kPositive ? "not > 0" : "negative";
  throw_arg(arg, "entry " + std::to_string(k) + " is " + problem + " (" + std::to_string(v) + ")");
}

// Every entry finite and within `bound`; v may be null only when n == 0.
inline void check_entries(const double* v, int64_t n, const char* arg, Bound bound) {
  if (v == nullptr && n > 0) throw_arg(arg, "is null");
  for (int64_t k = 0; k < n; ++k)
    if (!within(v[k], bound)) throw_bad_entry(arg, k, v[k], bound);
}
inline void check_entries(std::span<const double> v, const char* arg, Bound bound) {
  check_entries(v.data(), static_cast<int64_t>(v.size()), arg, bound);
}

// `what`: what one entry stands for ("logical expert"), or null.
inline void check_length(size_t got, int64_t expected, const char* arg, const char* what) {
  if (static_cast<int64_t>(got) != expected)
    throw_arg(arg, "expected " + std::to_string(expected) + " entries" +
                       (what ? std::string(" (one per ") + what + ")" : std::string()) +
                       ", got " + std::to_string(got));
}

// A workload[E]: finite, >= 0, total <= 2^53.
inline void check_workload(std::span<const double> w, int64_t E, const char* arg) {
  check_length(w.size(), E, arg, "logical expert");
  check_entries(w, arg, Bound::kNonNegative);
  double total = 0;
  for (double x : w) total += x;
  check_arg(total <= kMaxExactTotal, arg, "total exceeds 2^53 and cannot be summed exactly");
}

// Integer counts as doubles; negative entries throw (sizes are checked by
// the double overloads that take the result).
inline std::vector<double> counts_as_workload(std::span<const int64_t> counts, const char* arg) {
  std::vector<double> w(counts.size());
  for (size_t e = 0; e < w.size(); ++e) {
    if (counts[e] < 0)
      throw_arg(arg, "entry " + std::to_string(e) + " is negative (" + std::to_string(counts[e]) +
                         ")");
    w[e] = static_cast<double>(counts[e]);
  }
  return w;
}

// counts[E] of ids in [-1, E); -1 skipped, anything else throws.
template <typename Id>
std::vector<int64_t> count_ids(std::span<const Id> ids, int64_t E) {
  std::vector<int64_t> counts(E, 0);
  for (size_t k = 0; k < ids.size(); ++k) {
    const Id e = ids[k];
    if (e >= 0 && e < E) {
      ++counts[e];
    } else if (e != -1) {
      throw_arg("ids", "entry " + std::to_string(k) + " = " + std::to_string(e) +
                           " is outside [-1, " + std::to_string(E) + ")");
    }
  }
  return counts;
}

}  // namespace lplb::detail
