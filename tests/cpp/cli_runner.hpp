// Runs the `lplb` command for the CLI tests: stdout and stderr captured, an
// optional file as stdin, inside a per-process scratch directory.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace lplb::test {

struct CliRun {
  int status = -1;
  std::string out, err;
};

class CliScratch {
 public:
  explicit CliScratch(const std::string& tag)
      : dir_(std::filesystem::temp_directory_path() /
             ("lplb_" + tag + "_" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(dir_);
  }
  ~CliScratch() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  CliScratch(const CliScratch&) = delete;
  CliScratch& operator=(const CliScratch&) = delete;

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }
  static std::string slurp(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  // `lplb <args>` (args go through the shell), stdin from `stdin_file` when given.
  CliRun run(const std::string& args, const std::string& stdin_file = "") const {
    const std::string out = path("stdout.txt"), err = path("stderr.txt");
    std::string cmd = std::string("'") + LPLB_CLI_PATH + "' " + args + " >'" + out + "' 2>'" +
                      err + "'";
    if (!stdin_file.empty()) cmd += " <'" + stdin_file + "'";
    const int raw = std::system(cmd.c_str());
    return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, slurp(out), slurp(err)};
  }

 private:
  std::filesystem::path dir_;
};

}  // namespace lplb::test
