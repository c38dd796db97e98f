// `lplb`: JSON in, JSON out. Errors print `error: ...` on stderr and exit
// non-zero: 2 for bad input, 1 for internal failures.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>

#include "cli/commands.hpp"
#include "lplb/config.hpp"
#include "lplb/errors.hpp"

namespace lplb::cli {
std::vector<CommandEntry>& command_registry() {
  static std::vector<CommandEntry> registry;
  return registry;
}
}  // namespace lplb::cli

int main(int argc, char** argv) {
  CLI::App app{"lplb: MoE expert-parallel load balancing (EPLB placement + per-batch LP)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "lplb " LPLB_VERSION);
  auto& registry = lplb::cli::command_registry();
  std::sort(registry.begin(), registry.end(),
            [](const auto& a, const auto& b) { return std::string(a.name) < b.name; });
  for (const auto& entry : registry) entry.setup(app);
  if (argc > 1 && argv[1][0] != '-' &&
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
