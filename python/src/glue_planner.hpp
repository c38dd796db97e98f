// Glue between the Python bindings and lplb::Planner: the few operations the
// reference's Python API needs that the C++ API does not offer as such
// (per-SM prefix counts, float32 probs, feasible-group counts). Plain spans
// in, plain spans out; no nanobind here, so this file stays testable C++.
#pragma once

#include <cstdint>
#include <span>

#include "lplb/planner.hpp"

namespace lplb::python {

// Counts ids like Planner::count and also per chunk, chunked exactly as the
// reference's count kernel splits a flat array over n_chunks SMs (chunk sizes
// rounded up to a multiple of `align`). by_chunk[c][e] is the inclusive prefix:
// tokens of expert e in chunks 0..c. counts[E] equals the last row.
// Throws InvalidArgument on ids outside [-1, E) or n_chunks / align < 1.
template <typename Id>
void count_by_chunks(const Planner& planner, std::span<const Id> ids, int64_t n_chunks,
                     int64_t align, std::span<int32_t> counts, std::span<int32_t> by_chunk);

// Solves every group's LP for workload[E] and writes probs[P * D] as `Prob`.
// Returns how many groups have a feasible, converged solution (the
// reference's avail counter increment): all of them except IPM fallbacks.
template <typename Prob>
int64_t solve_into(const Planner& planner, std::span<const double> workload,
                   std::span<Prob> probs);

// Planner::map with probs given as float or double.
template <typename Id, typename Prob>
void map_into(const Planner& planner, std::span<const Id> ids, std::span<const Prob> probs,
              std::span<Id> out);

}  // namespace lplb::python
