// Subcommands of the `lplb` tool. Each tools/cli/cmd_*.cpp defines a setup
// function that adds its CLI11 subcommand (with a callback that does the work)
// and registers it with LPLB_REGISTER_COMMAND; main.cpp knows none of them.
#pragma once

#include <CLI/CLI.hpp>
#include <vector>

namespace lplb::cli {

using CommandSetup = void (*)(CLI::App& app);

struct CommandEntry {
  const char* name;
  CommandSetup setup;
};

std::vector<CommandEntry>& command_registry();

struct CommandRegistrar {
  CommandRegistrar(const char* name, CommandSetup setup) {
    command_registry().push_back({name, setup});
  }
};

#define LPLB_REGISTER_COMMAND(name, setup) \
  static ::lplb::cli::CommandRegistrar lplb_command_registrar_##setup(name, &setup)

}  // namespace lplb::cli
