// `lplb simulate --sweep-moves`: quality versus weight traffic. online_lp
// over move budgets K in {1, 2, 4, 8, 16} x refresh intervals {5, 10, 50},
// next to the full hybrid re-placement (hybrid_lp) refreshed every
// {5, 10, 50, 100, 500} steps, all on the same stream and options.
#pragma once

#include <string>

#include "sim/simulator.hpp"

namespace lplb::sim {

// Runs the sweep (SimOptions::methods, refresh and move_budget are set per
// row) and returns the table, ending with a newline.
std::string sweep_moves(const SimOptions& options, const SimHooks& hooks = {});

}  // namespace lplb::sim
