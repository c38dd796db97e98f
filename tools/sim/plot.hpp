// --plot: the figure is drawn by scripts/plot_simulation.py (matplotlib) from
// the simulator's JSON, run as `python3 SCRIPT JSON OUT`.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace lplb::sim {

// The script: $LPLB_PLOT_SCRIPT if set, else scripts/plot_simulation.py of
// the source tree this binary was built from. Throws InvalidArgument
// ("--plot: ...") when it cannot be found.
std::string find_plot_script();

// Checks, before a long run, that a plot can be made: the extension, the
// script, python3 with matplotlib. Throws InvalidArgument("--plot: ...").
void check_plot_target(const std::string& out_path);

// Writes `doc` to a temporary file and runs the script to make `out_path`
// (.png, .svg or .pdf). Throws InvalidArgument("--plot: ...") when the
// checks above fail or the script does.
void write_plot(const nlohmann::json& doc, const std::string& out_path);

}  // namespace lplb::sim
