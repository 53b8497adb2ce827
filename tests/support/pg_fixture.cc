#include "tests/support/pg_fixture.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <random>
#include <vector>

#include "kernel/store/pg_util.h"
#include "kernel/store/private_cluster.h"

namespace dialtone::testing {
namespace {

namespace pg = kernel::pg;

class StderrLogger final : public sdk::Logger {
 public:
  void log(sdk::LogLevel level, std::string_view m) override {
    if (level >= sdk::LogLevel::warn) std::fprintf(stderr, "test_dsn: %.*s\n", int(m.size()), m.data());
  }
  bool enabled(sdk::LogLevel level) const override { return level >= sdk::LogLevel::warn; }
};

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "test_dsn: %s\n", msg.c_str());
  std::fflush(stderr);
  // _Exit: callers hold g_mutex, which the atexit cleanup needs. Databases
  // left behind are swept by the next run.
  std::_Exit(2);
}

std::mutex g_mutex;
std::optional<std::string> g_admin_dsn;
std::vector<std::string> g_created;

pg::ConnPtr admin_conn(const std::string& dsn) {
  pg::ConnPtr c = pg::connect(dsn);
  if (PQstatus(c.get()) != CONNECTION_OK) die(pg::connect_error(dsn, c.get(), "the test database server"));
  return c;
}

std::string quote_ident(PGconn* c, const std::string& name) {
  char* q = PQescapeIdentifier(c, name.data(), name.size());
  std::string out = q ? q : name;
  if (q) PQfreemem(q);
  return out;
}

void drop_created() {
  std::lock_guard lk(g_mutex);
  if (!g_admin_dsn || g_created.empty()) return;
  pg::ConnPtr c = pg::connect(*g_admin_dsn);
  if (PQstatus(c.get()) != CONNECTION_OK) return;
  for (const auto& db : g_created)
    (void)pg::exec(c.get(), "DROP DATABASE IF EXISTS " + quote_ident(c.get(), db) + " WITH (FORCE)", {});
  g_created.clear();
}

// Databases left by test processes that crashed before their atexit ran.
void sweep_orphans(PGconn* c) {
  auto r = pg::exec(c, "SELECT datname FROM pg_database WHERE datname LIKE 'dt\\_test\\_%'", {});
  if (!r) return;
  for (auto& row : r->rows) {
    std::string name = row[0].value_or("");
    long pid = std::strtol(name.c_str() + 8, nullptr, 10);
    if (pid <= 0 || (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH)) continue;
    (void)pg::exec(c, "DROP DATABASE IF EXISTS " + quote_ident(c, name) + " WITH (FORCE)", {});
  }
}

std::string start_shared_cluster() {
  const char* env_dir = std::getenv("DIALTONE_TEST_PGDIR");
  std::string dir = env_dir && *env_dir ? env_dir : "/tmp/dialtone-test-pg";
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  std::string lock_path = dir + ".lock";
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) die("cannot open lock file " + lock_path);
  while (::flock(fd, LOCK_EX) != 0 && errno == EINTR) {
  }
  std::string admin = "host=" + pg::quote_value(dir) + " dbname=postgres user=postgres";
  if (PQping(admin.c_str()) != PQPING_OK) {
    StderrLogger log;
    kernel::PrivateClusterOptions opts;
    // Throw-away data: durability buys nothing here and costs a lot of time.
    opts.settings = {{"fsync", "off"},          {"synchronous_commit", "off"}, {"full_page_writes", "off"},
                     {"max_connections", "300"}, {"shared_buffers", "32MB"}};
    auto cluster = kernel::PrivateCluster::start(dir, log, opts);
    if (!cluster) die(cluster.error().message + " (set DIALTONE_TEST_DSN to use another server)");
    (*cluster)->detach();
    admin = (*cluster)->admin_dsn();
  }
  pg::ConnPtr c = admin_conn(admin);
  sweep_orphans(c.get());
  ::flock(fd, LOCK_UN);
  ::close(fd);
  return admin;
}

const std::string& server_dsn_locked() {
  if (!g_admin_dsn) {
    const char* env = std::getenv("DIALTONE_TEST_DSN");
    g_admin_dsn = env && *env ? std::string(env) : start_shared_cluster();
    std::atexit(drop_created);
  }
  return *g_admin_dsn;
}

}  // namespace

std::string test_admin_dsn() {
  std::lock_guard lk(g_mutex);
  return server_dsn_locked();
}

std::string test_dsn() {
  std::lock_guard lk(g_mutex);
  const std::string& admin = server_dsn_locked();
  static std::mt19937_64 rng{std::random_device{}()};
  char name[64];
  std::snprintf(name, sizeof name, "dt_test_%ld_%08llx", static_cast<long>(::getpid()),
                static_cast<unsigned long long>(rng() & 0xffffffffULL));
  pg::ConnPtr c = admin_conn(admin);
  // template0 accepts no connections, so concurrent creators never collide on it.
  auto r = pg::exec(c.get(), std::string("CREATE DATABASE ") + name + " TEMPLATE template0", {});
  if (!r) die("cannot create test database " + std::string(name) + ": " + r.error().message);
  g_created.emplace_back(name);
  auto dsn = pg::with_param(admin, "dbname", name);
  if (!dsn) die("DIALTONE_TEST_DSN " + dsn.error().message);
  return *dsn;
}

}  // namespace dialtone::testing
