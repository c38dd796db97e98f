// Trace replay at a chosen batch size: recorded traces hold small batches
// (about 1k token-slots per rank), far below serving or training batches,
// where relative noise is smaller. `simulate --trace --tokens N` rescales
// every (step, layer) row to N tokens per rank.
#pragma once

#include <cstdint>

#include "sim/trace.hpp"

namespace lplb::sim {

// Scales every (step, layer) row of counts to sum exactly `row_total`,
// proportionally, by largest-remainder rounding: each expert first gets
// floor(count * row_total / row_sum) (exact integer arithmetic), and the
// units still missing go one each to the largest remainders, ties to the
// lower expert index. Deterministic; all-zero rows stay zero. row_total > 0.
void scale_trace(Trace& trace, int64_t row_total);

}  // namespace lplb::sim
