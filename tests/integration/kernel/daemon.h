// The real dialtoned as a child process for integration tests: a scratch
// conf.d, plugin and data directory, every listener on an ephemeral port of
// 127.0.0.1, and the store on a fresh database of the test PostgreSQL.
//
//   Daemon d;
//   d.write_conf("50-hello.conf", "[plugin]\nname = example.hello\n");
//   ASSERT_TRUE(d.start()) << d.output();
//   auto token = d.admin_token();
//   auto r = d.call({.path = "/0.1/hello", .headers = {{"X-Auth-Token", token}}});
#pragma once

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/kernel/http/http_test_util.h"
#include "tests/support/child_process.h"
#include "tests/support/pg_fixture.h"

namespace dialtone::integration {

using dialtone::testing::Call;
using dialtone::testing::Reply;

using dialtone::testing::slurp;

inline void write_file(const std::filesystem::path& file, const std::string& text) {
  std::filesystem::create_directories(file.parent_path());
  std::ofstream(file) << text;
}

class Daemon {
 public:
  // `dsn` empty: a fresh database of the test server (tests/support).
  explicit Daemon(std::string dsn = {}) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "dialtone-it-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    dsn_ = dsn.empty() ? dialtone::testing::test_dsn() : std::move(dsn);
    std::string k = "[plugin]\nname = kernel\n[store]\ndsn = " + dsn_ + "\npool_size = 2\n[lua]\nstates = 1\n";
    for (auto l : {"confd", "auth", "dird", "phoned", "provd", "provd_phones", "calld"})
      k += std::string("[http.") + l + "]\nlisten = 127.0.0.1:0\n";
    write_conf("00-kernel.conf", k);
    std::filesystem::create_directories(plugins());
  }
  ~Daemon() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  const std::string& dsn() const { return dsn_; }
  std::filesystem::path conf() const { return dir_ / "conf.d"; }
  std::filesystem::path plugins() const { return dir_ / "plugins"; }
  std::filesystem::path data() const { return dir_ / "data"; }
  std::filesystem::path write_conf(const std::string& name, const std::string& text) {
    write_file(conf() / name, text);
    return conf() / name;
  }
  pid_t pid() const { return pid_; }
  bool running() const {
    if (pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == pid_) pid_ = -1;
    return pid_ > 0;
  }
  std::string out() const { return slurp(dir_ / "out"); }
  std::string err() const { return slurp(dir_ / "err"); }
  std::string output() const { return "stdout:\n" + out() + "\nstderr:\n" + err(); }

  // Runs dialtoned with `args` after the directory flags; returns exit code and stdout.
  std::pair<int, std::string> run_once(const std::vector<std::string>& args) const {
    auto file = dir_ / "once";
    pid_t p = fork();
    if (p == 0) {
      exec(args, file, file);
    }
    int status = 0;
    waitpid(p, &status, 0);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(file)};
  }

  // Starts dialtoned and waits (bounded) until it prints its listeners.
  bool start() {
    pid_ = fork();
    if (pid_ == 0) exec({}, dir_ / "out", dir_ / "err");
    if (!wait_for_out("listening: provd_phones ")) return false;
    // The admin hint is printed right after the listener lines.
    if (!wait_for_out("admin password in ")) return false;
    std::regex re("listening: (\\w+) http://127\\.0\\.0\\.1:([0-9]+)");
    auto text = out();
    for (std::sregex_iterator it(text.begin(), text.end(), re), end; it != end; ++it)
      ports_[(*it)[1]] = std::stoi((*it)[2]);
    return port("confd") > 0 && port("auth") > 0;
  }
  int port(const std::string& listener) const {
    auto it = ports_.find(listener);
    return it == ports_.end() ? 0 : it->second;
  }

  // Polls stdout / stderr for `text`; a generous bound for a loaded machine.
  bool wait_for_out(const std::string& text, int seconds = 120) const { return wait_for(dir_ / "out", text, seconds); }
  bool wait_for_err(const std::string& text, int seconds = 120) const { return wait_for(dir_ / "err", text, seconds); }
  std::size_t count_err(const std::string& text) const {
    auto e = err();
    std::size_t n = 0;
    for (auto at = e.find(text); at != std::string::npos; at = e.find(text, at + 1)) ++n;
    return n;
  }

  // SIGTERM, then the exit code (-2 when it did not exit in time).
  int stop() {
    if (pid_ <= 0) return -1;
    kill(pid_, SIGTERM);
    return dialtone::testing::wait_exit(pid_, std::chrono::seconds(120));
  }

  Reply call(const std::string& listener, Call c) const { return dialtone::testing::send(port(listener), c); }

  // POST /0.1/token with HTTP Basic auth on the auth listener; "" on failure.
  std::string token(const std::string& user, const std::string& password) const {
    Call c;
    c.method = "POST";
    c.path = "/0.1/token";
    c.user = user;
    c.password = password;
    auto r = call("auth", c);
    std::smatch m;
    if (r.status != 200 || !std::regex_search(r.body, m, std::regex("\"token\": ?\"([^\"]+)\""))) return "";
    return m[1];
  }
  std::string admin_password() const {
    auto p = slurp(data() / "admin-password");
    while (!p.empty() && (p.back() == '\n' || p.back() == '\r')) p.pop_back();
    return p;
  }
  std::string admin_token() const { return token("admin", admin_password()); }

 private:
  [[noreturn]] void exec(const std::vector<std::string>& extra, const std::filesystem::path& out,
                         const std::filesystem::path& err) const {
    if (!freopen(out.c_str(), "w", stdout) || !freopen(err.c_str(), "w", stderr)) _exit(126);
    std::vector<std::string> args = {"dialtoned",   "--config-dir", conf().string(), "--plugin-dir",
                                     plugins().string(), "--data-dir", data().string()};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(DIALTONED_BIN, argv.data());
    _exit(127);
  }
  bool wait_for(const std::filesystem::path& file, const std::string& text, int seconds) const {
    return dialtone::testing::wait_file_holds(pid_, file, text, std::chrono::seconds(seconds));
  }

  std::filesystem::path dir_;
  std::string dsn_;
  mutable pid_t pid_ = -1;  // -1 once reaped
  std::map<std::string, int> ports_;
};

}  // namespace dialtone::integration
