#include "glue_planner.hpp"

#include <algorithm>
#include <string>
#include <type_traits>
#include <vector>

#include "lplb/errors.hpp"

namespace lplb::python {
namespace {

// First index of chunk `c` of n items over n_chunks chunks whose size is
// ceil(n / n_chunks) rounded up to a multiple of `align` (the reference's
// split_and_align).
int64_t chunk_begin(int64_t n, int64_t c, int64_t n_chunks, int64_t align) {
  int64_t per = (n + n_chunks - 1) / n_chunks;
  per = (per + align - 1) / align * align;
  return std::min(n, per * c);
}

void check_size(size_t got, int64_t want, const char* arg) {
  check_arg(static_cast<int64_t>(got) == want, arg,
            "expected " + std::to_string(want) + " entries, got " + std::to_string(got));
}

}  // namespace

template <typename Id>
void count_by_chunks(const Planner& planner, std::span<const Id> ids, int64_t n_chunks,
                     int64_t align, std::span<int32_t> counts, std::span<int32_t> by_chunk) {
  const int64_t E = planner.options().num_experts;
  check_arg(n_chunks >= 1, "n_sms", "must be >= 1, got " + std::to_string(n_chunks));
  check_arg(align >= 1, "align", "must be >= 1, got " + std::to_string(align));
  check_arg(static_cast<int64_t>(ids.size()) <= INT32_MAX, "idx",
            "at most 2^31 - 1 ids per call (counts are int32)");
  check_size(counts.size(), E, "counts");
  check_size(by_chunk.size(), n_chunks * E, "by_chunk");
  const std::vector<int64_t> total = planner.count(ids);  // validates every id
  const int64_t n = static_cast<int64_t>(ids.size());
  std::vector<int32_t> running(E, 0);
  for (int64_t c = 0; c < n_chunks; ++c) {
    const int64_t end = chunk_begin(n, c + 1, n_chunks, align);
    for (int64_t k = chunk_begin(n, c, n_chunks, align); k < end; ++k)
      if (ids[k] >= 0) ++running[ids[k]];
    std::copy(running.begin(), running.end(), by_chunk.begin() + c * E);
  }
  for (int64_t e = 0; e < E; ++e) counts[e] = static_cast<int32_t>(total[e]);
}

template <typename Prob>
int64_t solve_into(const Planner& planner, std::span<const double> workload,
                   std::span<Prob> probs) {
  check_size(probs.size(), planner.num_probs(), "probs");
  const SolveOutput out = planner.solve(workload);
  for (size_t k = 0; k < probs.size(); ++k) probs[k] = static_cast<Prob>(out.probs[k]);
  return planner.num_groups() - out.ipm_fallbacks;
}

template <typename Id, typename Prob>
void map_into(const Planner& planner, std::span<const Id> ids, std::span<const Prob> probs,
              std::span<Id> out) {
  if constexpr (std::is_same_v<Prob, double>) {
    planner.map(ids, probs, out);
  } else {
    const std::vector<double> p(probs.begin(), probs.end());
    planner.map(ids, std::span<const double>(p), out);
  }
}

template void count_by_chunks<int32_t>(const Planner&, std::span<const int32_t>, int64_t, int64_t,
                                       std::span<int32_t>, std::span<int32_t>);
template void count_by_chunks<int64_t>(const Planner&, std::span<const int64_t>, int64_t, int64_t,
                                       std::span<int32_t>, std::span<int32_t>);
template int64_t solve_into<float>(const Planner&, std::span<const double>, std::span<float>);
template int64_t solve_into<double>(const Planner&, std::span<const double>, std::span<double>);
template void map_into<int32_t, float>(const Planner&, std::span<const int32_t>,
                                       std::span<const float>, std::span<int32_t>);
template void map_into<int32_t, double>(const Planner&, std::span<const int32_t>,
                                        std::span<const double>, std::span<int32_t>);
template void map_into<int64_t, float>(const Planner&, std::span<const int64_t>,
                                       std::span<const float>, std::span<int64_t>);
template void map_into<int64_t, double>(const Planner&, std::span<const int64_t>,
                                        std::span<const double>, std::span<int64_t>);

}  // namespace lplb::python
