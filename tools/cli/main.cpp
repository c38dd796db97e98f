// `lplb`: JSON in, JSON out. Errors print `error: ...` on stderr and exit
// non-zero: 2 for bad input, 1 for internal failures. Without arguments it
// prints the usage and exits 0. Every file argument takes `-` for
// stdin/stdout; --pretty indents JSON output.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>

#include "cli/build_info.hpp"
#include "cli/commands.hpp"
#include "cli/json_io.hpp"
#include "lplb/config.hpp"
#include "lplb/errors.hpp"

namespace lplb::cli {
std::vector<CommandEntry>& command_registry() {
  static std::vector<CommandEntry> registry;
  return registry;
}
namespace {

std::string version_text() {
  auto on = [](bool b) { return b ? "on" : "off"; };
  return std::string("lplb ") + LPLB_VERSION + " (commit " + kGitCommit + ")\nbuilt with: CUDA " +
         on(kBuiltWithCuda) + ", MPI " + on(kBuiltWithMpi) + ", NCCL " + on(kBuiltWithNccl);
}

}  // namespace
}  // namespace lplb::cli

int main(int argc, char** argv) {
  CLI::App app{"lplb: MoE expert-parallel load balancing (EPLB placement + per-batch LP)", "lplb"};
  app.require_subcommand(1);
  app.fallthrough();  // --pretty / --version also after the subcommand
  app.set_version_flag("--version", lplb::cli::version_text());
  bool pretty = false;
  app.add_flag("--pretty", pretty, "indent JSON output (default: compact)");
  auto& registry = lplb::cli::command_registry();
  std::sort(registry.begin(), registry.end(),
            [](const auto& a, const auto& b) { return std::string(a.name) < b.name; });
  for (const auto& entry : registry) entry.setup(app);
  if (argc == 1) {  // usage, not an error: nothing was asked yet
    std::fputs(app.help().c_str(), stdout);
    return 0;
  }
  app.parse_complete_callback([&] { lplb::cli::set_pretty(pretty); });  if (argc > 1 && argv[1][0] != '-' &&
      std::none_of(registry.begin(), registry.end(),
                   [&](const auto& e) { return std::string(e.name) == argv[1]; })) {
    std::string names;
    for (const auto& e : registry) names += std::string(names.empty() ? "" : ", ") + e.name;
    std::fprintf(stderr, "error: unknown subcommand '%s' (expected one of: %s)\n", argv[1],
                 names.c_str());
    return 2;
  }
  try {
    app.parse(argc, argv);  // the chosen subcommand's callback runs here
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "error: %s (run with --help for usage)\n", e.what());
    return 2;
  } catch (const lplb::InvalidArgument& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
