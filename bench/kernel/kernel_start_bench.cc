// kernel_start_bench: how long dialtoned takes from exec to serving, with 30
// plugins enabled (bench_plugin.cc built 30 times: chains of `requires`, a
// few options each) and the database already running.
//
//   build/bin/kernel_start_bench [runs]      (default 10)
//
// Time is measured from fork() to the first "listening:" line on dialtoned's
// stdout, which it prints once every plugin has started and the listeners are
// bound. Database: $DIALTONE_TEST_DSN when set, else the shared test cluster
// (tests/support), started before the first run and not counted. One untimed
// start first applies the migrations and creates the admin user.
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/pg_fixture.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kPlugins = 30;

void write_file(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

struct Run {
  double ms = -1;
  int started = 0;
  std::string error;
};

// Starts dialtoned, waits for its first listener line, stops it with SIGTERM.
Run start_once(const fs::path& dir) {
  Run run;
  int out[2];
  if (pipe(out) != 0) return {.error = "pipe failed"};
  auto t0 = Clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    close(out[0]);
    close(out[1]);
    if (!freopen((dir / "err").c_str(), "w", stderr)) _exit(126);
    execl(DIALTONED_BIN, "dialtoned", "--config-dir", (dir / "conf.d").c_str(), "--plugin-dir", BENCH_PLUGIN_DIR,
          "--data-dir", (dir / "data").c_str(), nullptr);
    _exit(127);
  }
  close(out[1]);
  std::string seen;
  char buf[4096];
  while (seen.find("listening:") == std::string::npos) {
    ssize_t n = read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    seen.append(buf, static_cast<std::size_t>(n));
  }
  auto t1 = Clock::now();
  if (seen.find("listening:") != std::string::npos)
    run.ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
  else
    run.error = "dialtoned exited before listening:\n" + slurp(dir / "err");
  kill(pid, SIGTERM);
  // Drain stdout so dialtoned never blocks on a full pipe while stopping.
  while (read(out[0], buf, sizeof buf) > 0) {
  }
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  auto err = slurp(dir / "err");
  for (auto at = err.find("started bench.p"); at != std::string::npos; at = err.find("started bench.p", at + 1))
    ++run.started;
  return run;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = argc > 1 ? std::max(1, std::atoi(argv[1])) : 10;
  std::string tmpl = (fs::temp_directory_path() / "dialtone-kbench-XXXXXX").string();
  fs::path dir = mkdtemp(tmpl.data());
  const std::string dsn = dialtone::testing::test_dsn();

  std::string k = "[plugin]\nname = kernel\n[log]\nlevel = info\n[store]\ndsn = " + dsn + "\n[lua]\nscript = " +
                  (dir / "extensions.lua").string() + "\n";
  for (auto l : {"confd", "auth", "dird", "phoned", "provd", "provd_phones", "calld"})
    k += std::string("[http.") + l + "]\nlisten = 127.0.0.1:0\n";
  write_file(dir / "conf.d" / "00-kernel.conf", k);
  write_file(dir / "extensions.lua", "-- kernel start benchmark: an empty dialplan\n");
  for (int i = 1; i <= kPlugins; ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "50-bench-p%02d.conf", i);
    write_file(dir / "conf.d" / name, "[plugin]\nname = bench.p" + std::to_string(i) +
                                          "\n[bench]\nlabel = plugin " + std::to_string(i) + "\nworkers = " +
                                          std::to_string(1 + i % 8) + "\ntimeout = 250ms\nmode = safe\n");
  }

  auto warm = start_once(dir);
  if (warm.ms < 0 || warm.started != kPlugins) {
    std::fprintf(stderr, "warm-up start failed (%d of %d plugins started): %s\n", warm.started, kPlugins,
                 warm.error.c_str());
    return 1;
  }
  std::printf("warm-up (migrations, admin user): %.1f ms\n", warm.ms);
  std::vector<double> times;
  for (int i = 0; i < runs; ++i) {
    auto r = start_once(dir);
    if (r.ms < 0 || r.started != kPlugins) {
      std::fprintf(stderr, "run %d failed (%d of %d plugins started): %s\n", i + 1, r.started, kPlugins,
                   r.error.c_str());
      return 1;
    }
    std::printf("run %2d: %.1f ms (%d plugins started)\n", i + 1, r.ms, r.started);
    times.push_back(r.ms);
  }
  std::sort(times.begin(), times.end());
  double median = times.size() % 2 ? times[times.size() / 2]
                                   : (times[times.size() / 2 - 1] + times[times.size() / 2]) / 2;
  std::printf("kernel start, %d plugins, %d runs: median %.1f ms, max %.1f ms (target < 300 ms)\n", kPlugins, runs,
              median, times.back());
  std::error_code ec;
  fs::remove_all(dir, ec);
  return 0;
}
