// Errors raised by lplb. Misuse (bad arguments, bad files) throws
// InvalidArgument, which nanobind turns into ValueError; internal or CUDA
// failures throw Error. Solver outcomes are data (see lp.hpp), not exceptions.
//
// One idiom for argument errors, everywhere: check_arg(cond, arg, message)
// when the message is cheap, `if (!cond) throw_arg(arg, message)` in loops.
//
// Thread safety: stateless.
#pragma once

#include <stdexcept>
#include <string>

namespace lplb {

class InvalidArgument : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws InvalidArgument("<arg>: <message>").
[[noreturn]] inline void throw_arg(const char* arg, const std::string& message) {
  throw InvalidArgument(std::string(arg) + ": " + message);
}

// Throws InvalidArgument("<arg>: <message>") when `cond` is false. The message
// is built before the call: in per-element loops on hot paths write
// `if (!cond) throw_arg(...)` instead, so it is built only on failure.
inline void check_arg(bool cond, const char* arg, const std::string& message) {
  if (!cond) throw_arg(arg, message);
}

}  // namespace lplb
