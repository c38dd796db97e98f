#include "sim/plot.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

#include "lplb/errors.hpp"

extern char** environ;

namespace lplb::sim {
namespace {

namespace fs = std::filesystem;

// Runs argv[0] (searched in PATH) and returns its exit status (-1: not run).
// With quiet, its stdout and stderr go to /dev/null.
int run_process(const std::vector<std::string>& args, bool quiet) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (quiet) {
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  }
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return -1;
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Deletes the temporary JSON on every path out.
struct TempFile {
  std::string path;
  ~TempFile() {
    if (!path.empty()) std::remove(path.c_str());
  }
};

}  // namespace

std::string find_plot_script() {
  if (const char* env = std::getenv("LPLB_PLOT_SCRIPT"); env != nullptr && *env != '\0') {
    check_arg(fs::is_regular_file(env), "--plot",
              std::string("LPLB_PLOT_SCRIPT points to '") + env + "', which is not a file");
    return env;
  }
  // scripts/plot_simulation.py of the source tree this was built from
  // (an absolute path from CMake: __FILE__ is relative under some generators).
  const fs::path script = LPLB_PLOT_SCRIPT_PATH;
  check_arg(fs::is_regular_file(script), "--plot",
            "cannot find " + script.string() +
                "; set LPLB_PLOT_SCRIPT to the path of scripts/plot_simulation.py");
  return script.string();
}

void check_plot_target(const std::string& out_path) {
  const fs::path out(out_path);
  const std::string ext = out.extension().string();
  check_arg(ext == ".png" || ext == ".svg" || ext == ".pdf", "--plot",
            "'" + out_path + "' must end in .png, .svg or .pdf");
  const fs::path dir = out.parent_path();
  check_arg(dir.empty() || fs::is_directory(dir), "--plot",
            "directory '" + dir.string() + "' does not exist");
  find_plot_script();
  check_arg(run_process({"python3", "-c", "import matplotlib"}, true) == 0, "--plot",
            "needs python3 with matplotlib (pip install matplotlib)");
}

void write_plot(const nlohmann::json& doc, const std::string& out_path) {
  check_plot_target(out_path);
  const std::string script = find_plot_script();

  fs::path dir = fs::temp_directory_path();
  std::string tmpl = (dir / "lplb_simulate_XXXXXX.json").string();
  const int fd = mkstemps(tmpl.data(), 5);
  check_arg(fd >= 0, "--plot", "cannot create a temporary file in " + dir.string());
  close(fd);
  TempFile tmp{tmpl};
  {
    std::ofstream f(tmp.path, std::ios::binary);
    f << doc.dump();
    f.close();
    check_arg(static_cast<bool>(f), "--plot", "cannot write the temporary file " + tmp.path);
  }
  const int rc = run_process({"python3", script, tmp.path, out_path}, false);
  check_arg(rc == 0, "--plot", script + " failed (exit status " + std::to_string(rc) + ")");
}

}  // namespace lplb::sim
