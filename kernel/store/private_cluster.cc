#include "kernel/store/private_cluster.h"

#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include <dialtone/files.h>

#include "kernel/store/pg_util.h"

extern char** environ;

namespace dialtone::kernel {
namespace fs = std::filesystem;
using sdk::Error;

namespace {

struct RunAs {
  bool drop = false;  // true when root: run as `postgres`
  uid_t uid = 0;
  gid_t gid = 0;
};

struct Outcome {
  int exit_code = -1;
  std::string output;
};

// Runs `argv` (optionally as the postgres user), capturing stdout+stderr.
// Only async-signal-safe calls happen between fork and exec.
Outcome run(const std::vector<std::string>& argv, const RunAs& as) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // PG* variables (PGHOST, PGDATA...) of the caller must not steer these tools.
  std::vector<std::string> env_store;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "PG", 2) != 0 && std::strncmp(*e, "LC_", 3) != 0 && std::strncmp(*e, "LANG", 4) != 0)
      env_store.emplace_back(*e);
  env_store.emplace_back("LC_ALL=C");
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);

  Outcome out;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    out.output = std::string("pipe: ") + std::strerror(errno);
    return out;
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    out.output = std::string("fork: ") + std::strerror(errno);
    ::close(fds[0]);
    ::close(fds[1]);
    return out;
  }
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    // PostgreSQL tools refuse an unreadable working directory.
    if (::chdir("/") != 0) _exit(126);
    if (as.drop) {
      gid_t g = as.gid;
      if (::setgroups(1, &g) != 0 || ::setgid(as.gid) != 0 || ::setuid(as.uid) != 0) _exit(126);
    }
    ::execve(args[0], args.data(), envp.data());
    _exit(127);
  }
  ::close(fds[1]);
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n > 0) {
      out.output.append(buf, n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) out.exit_code = WEXITSTATUS(status);
  return out;
}

// The tool's error lines if it printed any, else its last `n` lines.
std::string last_lines(const std::string& text, std::size_t n) {
  std::vector<std::string> lines, errors;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (l.empty()) continue;
    lines.push_back(l);
    if (l.find("error:") != std::string::npos || l.find("FATAL:") != std::string::npos) errors.push_back(l);
  }
  if (!errors.empty()) lines = errors;
  std::string out;
  for (std::size_t i = lines.size() > n ? lines.size() - n : 0; i < lines.size(); ++i) {
    if (!out.empty()) out += "; ";
    out += lines[i];
  }
  return pg::one_line(out);
}

// The file's text; empty when it cannot be read (not there yet).
std::string read_file(const fs::path& p) { return sdk::read_file(p).value_or(""); }

std::string conf_quote(const std::string& v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

void give_to(const fs::path& p, const RunAs& as) {
  if (as.drop) [[maybe_unused]] int rc = ::chown(p.c_str(), as.uid, as.gid);
}

bool write_owned(const fs::path& p, const std::string& text, const RunAs& as) {
  std::ofstream out(p, std::ios::trunc);
  out << text;
  out.close();
  if (!out) return false;
  give_to(p, as);
  return true;
}

}  // namespace

fs::path PrivateCluster::find_bin_dir() {
  fs::path best;
  int best_version = -1;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    int v = std::stoi(name);
    if (v > best_version && fs::exists(e.path() / "bin" / "pg_ctl", ec)) {
      best_version = v;
      best = e.path() / "bin";
    }
  }
  return best;
}

sdk::Result<std::unique_ptr<PrivateCluster>> PrivateCluster::start(const fs::path& dir, sdk::Logger& log) {
  return start(dir, log, {});
}

sdk::Result<std::unique_ptr<PrivateCluster>> PrivateCluster::start(const fs::path& dir_in, sdk::Logger& log,
                                                                   const PrivateClusterOptions& options) {
  std::error_code ec;
  fs::path bin = find_bin_dir();
  if (bin.empty())
    return Error::unavailable(
        "store: no PostgreSQL server found in /usr/lib/postgresql/*/bin — install the postgresql package or set "
        "store.dsn in conf.d/00-kernel.conf");
  fs::path dir = fs::absolute(dir_in, ec).lexically_normal();
  if (!dir.empty() && !dir.has_filename()) dir = dir.parent_path();
  const std::string where = "\"" + dir.string() + "\"";
  // sun_path holds 107 bytes; the socket is <dir>/.s.PGSQL.5432.
  if (dir.string().size() + 15 > 107)
    return Error::invalid("store: private cluster directory " + where +
                          " is too long for a unix socket path (max 92 characters) — choose a shorter data dir");

  RunAs as;
  if (::geteuid() == 0) {
    struct passwd* pw = ::getpwnam("postgres");
    if (!pw)
      return Error::unavailable("store: running as root but there is no \"postgres\" system user to run "
                                "PostgreSQL — install the postgresql package or set store.dsn");
    as = {true, pw->pw_uid, pw->pw_gid};
  }

  fs::create_directories(dir, ec);
  if (ec) return Error::unavailable("store: cannot create private cluster directory " + where + ": " + ec.message());
  if (as.drop) {
    // PostgreSQL runs as `postgres`, which must be able to walk down to `dir`.
    for (fs::path p = dir.parent_path(); !p.empty(); p = p.parent_path()) {
      struct stat sb {};
      if (::stat(p.c_str(), &sb) != 0) break;
      mode_t need = sb.st_uid == as.uid ? S_IXUSR : sb.st_gid == as.gid ? S_IXGRP : S_IXOTH;
      if (!(sb.st_mode & need))
        return Error::unavailable("store: the postgres user cannot reach " + where + " because \"" + p.string() +
                                  "\" is not searchable by it — run chmod o+x \"" + p.string() +
                                  "\" or choose another data dir");
      if (p == p.root_path()) break;
    }
  }
  const bool fresh = !fs::exists(dir / "PG_VERSION", ec);
  if (fresh) {
    give_to(dir, as);
    ::chmod(dir.c_str(), 0700);
  }

  std::unique_ptr<PrivateCluster> cluster(new PrivateCluster(dir, bin, log));

  Outcome st = run({(bin / "pg_ctl").string(), "status", "-D", dir.string()}, as);
  if (st.exit_code == 0) {
    std::string pid = read_file(dir / "postmaster.pid");
    pid = pid.substr(0, pid.find('\n'));
    return Error::conflict("store: the private PostgreSQL cluster in " + where + " is already running (pid " + pid +
                           ") — another dialtoned uses this data dir; stop it or give this one its own data dir");
  }

  if (fresh) {
    log.info("store: creating a private PostgreSQL cluster in " + where);
    Outcome init = run({(bin / "initdb").string(), "-D", dir.string(), "-U", "postgres", "--auth=trust",
                        "--encoding=UTF8", "--no-locale"},
                       as);
    if (init.exit_code != 0)
      return Error::unavailable("store: initdb in " + where + " failed: " + last_lines(init.output, 3));
  }

  // Settings live in dialtone.conf, rewritten at each start so a moved data dir follows.
  std::string conf = read_file(dir / "postgresql.conf");
  if (conf.find("include_if_exists = 'dialtone.conf'") == std::string::npos) {
    std::ofstream out(dir / "postgresql.conf", std::ios::app);
    out << "\n# Managed by dialtoned: listen only on the unix socket in the data dir.\n"
           "include_if_exists = 'dialtone.conf'\n";
  }
  std::string settings = "# Written by dialtoned at each start; edits are lost.\n"
                         "listen_addresses = ''\n"
                         "unix_socket_directories = " + conf_quote(dir.string()) + "\n";
  for (const auto& [k, v] : options.settings) settings += k + " = " + conf_quote(v) + "\n";
  if (!write_owned(dir / "dialtone.conf", settings, as))
    return Error::unavailable("store: cannot write " + (dir / "dialtone.conf").string());

  fs::path logfile = dir / "server.log";
  Outcome started;
  for (int attempt = 0; attempt < 3; ++attempt) {
    const std::size_t log_before = read_file(logfile).size();
    started = run({(bin / "pg_ctl").string(), "start", "-D", dir.string(), "-w", "-t", "30", "-s", "-l",
                   logfile.string()},
                  as);
    // After a crash, old backends may hold the shared memory for a moment.
    if (started.exit_code == 0 ||
        read_file(logfile).find("pre-existing shared memory block", log_before) == std::string::npos)
      break;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  if (started.exit_code != 0) {
    std::string detail = last_lines(started.output, 2);
    std::string tail = last_lines(read_file(logfile), 2);
    return Error::unavailable("store: PostgreSQL in " + where + " did not start: " + detail +
                              (tail.empty() ? "" : "; server.log: " + tail) + " — see " + logfile.string());
  }
  cluster->running_ = true;

  // pg_ctl -w already waited; this bounds the wait for the socket to answer.
  const std::string admin = cluster->admin_dsn();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (PQping(admin.c_str()) != PQPING_OK) {
    if (std::chrono::steady_clock::now() > deadline)
      return Error::timeout("store: PostgreSQL in " + where + " did not accept connections within 30 s — see " +
                            logfile.string());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  pg::ConnPtr conn = pg::connect(admin);
  if (PQstatus(conn.get()) != CONNECTION_OK)
    return Error::unavailable(pg::connect_error(admin, conn.get(), "see " + logfile.string()));
  auto exists = pg::exec(conn.get(), "SELECT 1 FROM pg_database WHERE datname = 'dialtone'", {});
  if (!exists) return Error{exists.error().code, "store: private cluster: " + exists.error().message};
  if (exists->rows.empty()) {
    auto created = pg::exec(conn.get(), "CREATE DATABASE dialtone", {});
    // A concurrent creator is fine.
    if (!created && created.error().code != sdk::ErrorCode::conflict)
      return Error{created.error().code, "store: cannot create database dialtone: " + created.error().message};
  }
  log.info("store: private PostgreSQL (" + bin.parent_path().filename().string() + ") running in " + where +
           ", unix socket only");
  return cluster;
}

std::string PrivateCluster::dsn() const {
  return "host=" + pg::quote_value(dir_.string()) + " dbname=dialtone user=postgres";
}

std::string PrivateCluster::admin_dsn() const {
  return "host=" + pg::quote_value(dir_.string()) + " dbname=postgres user=postgres";
}

void PrivateCluster::stop() {
  if (!running_) return;
  running_ = false;
  RunAs as;
  if (::geteuid() == 0) {
    if (struct passwd* pw = ::getpwnam("postgres")) as = {true, pw->pw_uid, pw->pw_gid};
  }
  Outcome r = run({(bin_ / "pg_ctl").string(), "stop", "-D", dir_.string(), "-m", "fast", "-w", "-t", "30", "-s"}, as);
  if (r.exit_code != 0)
    log_.warn("store: pg_ctl stop in \"" + dir_.string() + "\" failed: " + last_lines(r.output, 2));
  else
    log_.info("store: private PostgreSQL in \"" + dir_.string() + "\" stopped");
}

PrivateCluster::~PrivateCluster() { stop(); }

}  // namespace dialtone::kernel
