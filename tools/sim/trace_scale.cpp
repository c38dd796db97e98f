#include "sim/trace_scale.hpp"

#include <algorithm>
#include <numeric>
#include <vector>

#include "lplb/errors.hpp"

namespace lplb::sim {

void scale_trace(Trace& trace, int64_t row_total) {
  check_arg(row_total > 0, "--tokens", "must be > 0");
  const int64_t E = trace.num_experts;
  std::vector<__int128> remainder(E);
  std::vector<int64_t> order(E);
  for (int64_t row = 0; row < trace.num_steps * trace.num_layers; ++row) {
    int64_t* c = trace.counts.data() + row * E;
    const int64_t sum = std::accumulate(c, c + E, int64_t{0});
    if (sum == 0) continue;
    int64_t assigned = 0;
    for (int64_t e = 0; e < E; ++e) {
      const __int128 scaled = static_cast<__int128>(c[e]) * row_total;
      c[e] = static_cast<int64_t>(scaled / sum);
      remainder[e] = scaled % sum;
      assigned += c[e];
    }
    std::iota(order.begin(), order.end(), 0);
    const int64_t missing = row_total - assigned;  // < E: one unit per remainder at most
    std::partial_sort(order.begin(), order.begin() + missing, order.end(), [&](int64_t a, int64_t b) {
      return remainder[a] != remainder[b] ? remainder[a] > remainder[b] : a < b;
    });
    for (int64_t k = 0; k < missing; ++k) ++c[order[k]];
  }
}

}  // namespace lplb::sim
