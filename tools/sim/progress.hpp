// A one-line progress bar on stderr for long runs: it appears only after the
// first second, redraws at most ten times a second, and stays silent when
// disabled (--quiet, or stderr is not a terminal).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace lplb::sim {

class ProgressBar {
 public:
  ProgressBar(std::string label, bool enabled);
  ~ProgressBar() { finish(); }
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void update(int64_t done, int64_t total);
  void finish();  // erases the bar if it was drawn

  // True when stderr is a terminal.
  static bool stderr_is_terminal();

 private:
  using Clock = std::chrono::steady_clock;
  std::string label_;
  bool enabled_;
  bool drawn_ = false;
  Clock::time_point start_, last_draw_;
};

}  // namespace lplb::sim
