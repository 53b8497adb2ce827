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
#include <thread>

namespace dialtone::testing {

// Reaps `pid` once it exits (then sets it to -1) and returns its exit code
// (-1: ended by a signal); -2 while it still runs after `bound`.
inline int wait_exit(pid_t& pid, std::chrono::milliseconds bound) {
  auto deadline = std::chrono::steady_clock::now() + bound;
  int status = 0;
  do {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      pid = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (std::chrono::steady_clock::now() < deadline);
  return -2;
}

// The whole file; "" when it cannot be read.
inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace dialtone::testing
