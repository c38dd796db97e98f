// The library names its parameters in errors ("num_replicas: ..."); the CLI
// reports them under the option the user typed ("--replicas: ...").
#pragma once

#include <initializer_list>
#include <string>
#include <utility>

#include "lplb/errors.hpp"

namespace lplb::cli {

using OptionNames = std::initializer_list<std::pair<const char*, const char*>>;

// Rethrows e with its leading "parameter: " replaced by the matching option.
[[noreturn]] inline void rethrow_with_option_name(const InvalidArgument& e, OptionNames names) {
  const std::string what = e.what();
  for (const auto& [lib, opt] : names) {
    const std::string prefix = std::string(lib) + ": ";
    if (what.rfind(prefix, 0) == 0) throw InvalidArgument(opt + what.substr(prefix.size() - 2));
  }
  throw e;
}

}  // namespace lplb::cli
