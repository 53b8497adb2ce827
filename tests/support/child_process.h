// A test's child process (dialtoned, a peer): wait for it to exit, within a
// generous bound, and read the files it writes.
//
// @code
//   ::kill(pid, SIGTERM);
//   int code = dialtone::testing::wait_exit(pid, std::chrono::seconds(120));  // pid is -1 once reaped
// @endcode
#pragma once

#include <sys/types.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include "tests/support/eventually.h"

namespace dialtone::testing {

// Reaps `pid` once it exits (then sets it to -1) and returns its exit code
// (-1: ended by a signal); -2 while it still runs after `bound`.
inline int wait_exit(pid_t& pid, std::chrono::milliseconds bound) {
  int code = -2;
  eventually(
      [&] {
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) != pid) return false;
        pid = -1;
        code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        return true;
      },
      bound);
  return code;
}

// The whole file; "" when it cannot be read.
inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Waits until `file` holds `text`: true; false once `pid` has exited without
// writing it (then reaped and set to -1), or still not after `bound`.
inline bool wait_file_holds(pid_t& pid, const std::filesystem::path& file, const std::string& text,
                            std::chrono::milliseconds bound) {
  auto holds = [&] { return slurp(file).find(text) != std::string::npos; };
  eventually(
      [&] {
        if (holds()) return true;
        if (pid > 0 && ::waitpid(pid, nullptr, WNOHANG) == pid) pid = -1;
        return pid <= 0;
      },
      bound);
  return holds();
}

}  // namespace dialtone::testing
