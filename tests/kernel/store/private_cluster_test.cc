#include "kernel/store/private_cluster.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <fstream>
#include <sstream>

#include "kernel/store/pg_store.h"
#include "kernel/store/pg_util.h"
#include "tests/support/eventually.h"
#include "tests/support/test_bus.h"
#include "tests/support/test_logger.h"

namespace dialtone::kernel {
namespace {

namespace fs = std::filesystem;

// One test: starting a cluster takes seconds.
TEST(PrivateCluster, StartsOnSocketOnlyRefusesSecondStartKeepsDataAcrossRestart) {
  char tmpl[] = "/tmp/dt-pc-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  // Under root the server runs as `postgres`, which must be able to enter the parent.
  fs::permissions(tmpl, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  fs::path dir = fs::path(tmpl) / "pg";
  dialtone::testing::TestLogger log;
  dialtone::testing::TestBus bus;

  auto cluster = PrivateCluster::start(dir, log);
  ASSERT_TRUE(cluster) << cluster.error().message;
  EXPECT_TRUE(fs::exists(dir / "PG_VERSION"));
  EXPECT_EQ((*cluster)->dsn(), "host=" + dir.string() + " dbname=dialtone user=postgres");
  {
    auto store = PgStore::open({.dsn = (*cluster)->dsn(), .pool_size = 2}, bus, log);
    ASSERT_TRUE(store) << store.error().message;
    auto listen = (*store)->exec("SHOW listen_addresses");
    ASSERT_TRUE(listen);
    EXPECT_EQ(*listen->rows[0][0], "") << "the private cluster must not listen on TCP";
    ASSERT_TRUE((*store)->exec("CREATE TABLE kept (v text)"));
    ASSERT_TRUE((*store)->exec("INSERT INTO kept VALUES ('survives restart')"));

    // A wrong password gives the clear line without the password.
    ASSERT_TRUE((*store)->exec("CREATE ROLE pwuser LOGIN PASSWORD 'Right-Pass-1'"));
    {
      std::string hba;
      {
        std::ifstream in(dir / "pg_hba.conf");
        std::stringstream ss;
        ss << in.rdbuf();
        hba = ss.str();
      }
      std::ofstream out(dir / "pg_hba.conf", std::ios::trunc);
      out << "local all pwuser scram-sha-256\n" << hba;
    }
    ASSERT_TRUE((*store)->exec("SELECT pg_reload_conf()"));
    auto bad = PgStore::open({.dsn = "host=" + dir.string() + " dbname=dialtone user=pwuser password=Xyzzy-Wr0ng"},
                             bus, log);
    ASSERT_FALSE(bad);
    const std::string& msg = bad.error().message;
    EXPECT_NE(msg.find("password authentication failed for user \"pwuser\""), std::string::npos) << msg;
    EXPECT_NE(msg.find("(password omitted)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("check store.dsn in conf.d/00-kernel.conf"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("Xyzzy-Wr0ng"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    auto good = PgStore::open({.dsn = "host=" + dir.string() + " dbname=dialtone user=pwuser password=Right-Pass-1"},
                              bus, log);
    EXPECT_TRUE(good) << good.error().message;
  }

  auto second = PrivateCluster::start(dir, log);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, sdk::ErrorCode::conflict);
  EXPECT_NE(second.error().message.find("already running"), std::string::npos) << second.error().message;

  (*cluster)->stop();
  EXPECT_FALSE(fs::exists(dir / "postmaster.pid"));
  EXPECT_NE(PQping((*cluster)->admin_dsn().c_str()), PQPING_OK);

  auto again = PrivateCluster::start(dir, log);
  ASSERT_TRUE(again) << again.error().message;
  {
    auto store = PgStore::open({.dsn = (*again)->dsn()}, bus, log);
    ASSERT_TRUE(store) << store.error().message;
    auto r = (*store)->exec("SELECT v FROM kept");
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_EQ(r->rows.size(), 1u);
    EXPECT_EQ(*r->rows[0][0], "survives restart");
  }

  // A crash leaves postmaster.pid behind; the next start still succeeds.
  {
    std::ifstream pidfile(dir / "postmaster.pid");
    pid_t pid = 0;
    pidfile >> pid;
    ASSERT_GT(pid, 0);
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    ASSERT_TRUE(dialtone::testing::eventually([&] { return ::kill(pid, 0) != 0; }));
  }
  (*again)->detach();
  ASSERT_TRUE(fs::exists(dir / "postmaster.pid"));
  auto after_crash = PrivateCluster::start(dir, log);
  ASSERT_TRUE(after_crash) << after_crash.error().message;
  {
    auto store = PgStore::open({.dsn = (*after_crash)->dsn()}, bus, log);
    ASSERT_TRUE(store) << store.error().message;
    auto r = (*store)->exec("SELECT count(*) FROM kept");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(*r->rows[0][0], "1");
  }
  (*after_crash)->stop();
  fs::remove_all(tmpl);
}

TEST(PrivateCluster, UnreachableDirectoryIsExplainedWhenRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "only root hands the cluster to the postgres user";
  char tmpl[] = "/tmp/dt-pc-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);  // mode 0700: postgres cannot enter
  dialtone::testing::TestLogger log;
  auto cluster = PrivateCluster::start(fs::path(tmpl) / "pg", log);
  ASSERT_FALSE(cluster);
  EXPECT_NE(cluster.error().message.find(std::string("chmod o+x \"") + tmpl + "\""), std::string::npos)
      << cluster.error().message;
  fs::remove_all(tmpl);
}

}  // namespace
}  // namespace dialtone::kernel
