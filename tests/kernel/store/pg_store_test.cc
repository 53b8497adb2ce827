#include "kernel/store/pg_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "kernel/store/pg_util.h"
#include "tests/support/eventually.h"
#include "tests/support/pg_fixture.h"
#include "tests/support/test_bus.h"
#include "tests/support/test_logger.h"

namespace dialtone::kernel {
namespace {

using sdk::ErrorCode;
using sdk::Migration;
using sdk::Status;
using sdk::Transaction;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dsn_ = dialtone::testing::test_dsn();
    store_ = open_store(8);
  }

  std::unique_ptr<PgStore> open_store(std::size_t pool) {
    StoreConfig cfg;
    cfg.dsn = dsn_;
    cfg.pool_size = pool;
    auto s = PgStore::open(cfg, bus_, log_);
    EXPECT_TRUE(s) << s.error().message;
    return s ? std::move(*s) : nullptr;
  }

  long count(const std::string& table) {
    auto r = store_->exec("SELECT count(*) FROM " + table);
    EXPECT_TRUE(r) << r.error().message;
    return r ? std::stol(*r->rows[0][0]) : -1;
  }

  std::string dsn_;
  dialtone::testing::TestBus bus_;
  dialtone::testing::TestLogger log_;
  std::unique_ptr<PgStore> store_;
};

// Collects payloads delivered to a LISTEN callback.
using testing::eventually;

struct Inbox {
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::string> payloads;
  void push(const std::string& p) {
    std::lock_guard lk(m);
    payloads.push_back(p);
    cv.notify_all();
  }
  bool wait_for(const std::string& p, std::chrono::milliseconds bound = std::chrono::seconds(15)) {
    std::unique_lock lk(m);
    return cv.wait_for(lk, bound, [&] { return std::find(payloads.begin(), payloads.end(), p) != payloads.end(); });
  }
  std::size_t size() {
    std::lock_guard lk(m);
    return payloads.size();
  }
};

TEST_F(StoreTest, ExecPassesTextParamsAndNulls) {
  ASSERT_TRUE(store_->exec("CREATE TABLE contact (id serial PRIMARY KEY, name text NOT NULL, number text)"));
  auto ins = store_->exec("INSERT INTO contact (name, number) VALUES ($1, $2), ($3, $4)",
                          {"Alice O'Hara", "1001", "Bob", std::nullopt});
  ASSERT_TRUE(ins) << ins.error().message;
  EXPECT_EQ(ins->affected, 2u);

  auto r = store_->exec("SELECT name, number FROM contact WHERE name = $1 OR number IS NULL ORDER BY id",
                        {"Alice O'Hara"});
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->columns, (std::vector<std::string>{"name", "number"}));
  ASSERT_EQ(r->rows.size(), 2u);
  EXPECT_EQ(r->get(0, "name"), "Alice O'Hara");
  EXPECT_EQ(r->get(0, "number"), "1001");
  EXPECT_EQ(r->rows[1][1], std::nullopt);
  EXPECT_EQ(r->get(1, "number", "none"), "none");

  auto upd = store_->exec("UPDATE contact SET number = $1 WHERE number IS NULL", {"2002"});
  ASSERT_TRUE(upd);
  EXPECT_EQ(upd->affected, 1u);
}

TEST_F(StoreTest, TextArrayLiteralsRoundTripThroughPostgres) {
  // Elements PostgreSQL's array syntax gives a meaning to stay literal.
  const std::vector<std::string> nasty{"a,b", "{c}", "say \"hi\"", "back\\slash", "NULL", "", " sp "};
  auto r = store_->exec("SELECT array_length(a, 1) AS n, a[1] AS first, a[4] AS fourth, a::text AS back "
                        "FROM (SELECT $1::text[] AS a) t",
                        {sdk::text_array(nasty)});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->get(0, "n"), "7");
  EXPECT_EQ(r->get(0, "first"), "a,b");
  EXPECT_EQ(r->get(0, "fourth"), "back\\slash");
  EXPECT_EQ(sdk::parse_text_array(r->get(0, "back")), nasty);

  const std::vector<std::optional<std::string>> with_null{"x", std::nullopt};
  auto n = store_->exec("SELECT a[2] IS NULL AS is_null FROM (SELECT $1::text[] AS a) t", {sdk::text_array(with_null)});
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(n->get(0, "is_null"), "t");
  EXPECT_EQ(sdk::text_array(std::vector<std::string>{}), "{}");
}

TEST_F(StoreTest, ErrorsAreMappedBySqlstateWithPostgresMessage) {
  ASSERT_TRUE(store_->exec("CREATE TABLE line (name text PRIMARY KEY, ctx text NOT NULL)"));
  ASSERT_TRUE(store_->exec("INSERT INTO line VALUES ($1, $2)", {"1001", "default"}));

  auto dup = store_->exec("INSERT INTO line VALUES ($1, $2)", {"1001", "default"});
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, ErrorCode::conflict);
  EXPECT_NE(dup.error().message.find("duplicate key value violates unique constraint"), std::string::npos)
      << dup.error().message;

  auto null = store_->exec("INSERT INTO line VALUES ($1, $2)", {"1002", std::nullopt});
  ASSERT_FALSE(null);
  EXPECT_EQ(null.error().code, ErrorCode::invalid) << null.error().message;

  auto cast = store_->exec("SELECT $1::int", {"not a number"});
  ASSERT_FALSE(cast);
  EXPECT_EQ(cast.error().code, ErrorCode::invalid) << cast.error().message;

  auto missing = store_->exec("SELECT * FROM no_such_table");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::internal);
  EXPECT_NE(missing.error().message.find("no_such_table"), std::string::npos);

  // The connection is still usable after errors.
  EXPECT_TRUE(store_->exec("SELECT 1"));
}

TEST_F(StoreTest, TransactionCommits) {
  ASSERT_TRUE(store_->exec("CREATE TABLE t (v int)"));
  Status s = store_->transaction([](Transaction& tx) -> Status {
    for (int i = 0; i < 3; ++i)
      if (auto r = tx.exec("INSERT INTO t VALUES ($1)", {std::to_string(i)}); !r) return r.error();
    return {};
  });
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(count("t"), 3);
}

TEST_F(StoreTest, TransactionRollsBackWhenBodyReturnsError) {
  ASSERT_TRUE(store_->exec("CREATE TABLE t (v int PRIMARY KEY)"));
  Status s = store_->transaction([](Transaction& tx) -> Status {
    if (auto r = tx.exec("INSERT INTO t VALUES (1)"); !r) return r.error();
    if (auto r = tx.exec("INSERT INTO t VALUES (1)"); !r) return r.error();  // duplicate
    return {};
  });
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::conflict);
  EXPECT_EQ(count("t"), 0);

  Status user_error = store_->transaction([](Transaction& tx) -> Status {
    if (auto r = tx.exec("INSERT INTO t VALUES (2)"); !r) return r.error();
    return sdk::Error::invalid("line 2 has no context");
  });
  ASSERT_FALSE(user_error);
  EXPECT_EQ(user_error.error().message, "line 2 has no context");
  EXPECT_EQ(count("t"), 0);
}

TEST_F(StoreTest, TransactionRollsBackWhenBodyThrows) {
  ASSERT_TRUE(store_->exec("CREATE TABLE t (v int)"));
  Status s = store_->transaction([](Transaction& tx) -> Status {
    (void)tx.exec("INSERT INTO t VALUES (1)");
    throw std::runtime_error("boom");
  });
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::internal);
  EXPECT_NE(s.error().message.find("boom"), std::string::npos);
  EXPECT_EQ(count("t"), 0);
}

TEST_F(StoreTest, TransactionWithIgnoredFailedStatementDoesNotCommit) {
  ASSERT_TRUE(store_->exec("CREATE TABLE t (v int PRIMARY KEY)"));
  Status s = store_->transaction([](Transaction& tx) -> Status {
    (void)tx.exec("INSERT INTO t VALUES (1)");
    (void)tx.exec("INSERT INTO t VALUES (1)");
    return {};
  });
  ASSERT_FALSE(s);
  EXPECT_EQ(count("t"), 0);
}

constexpr Migration kPhonebook[] = {
    {1, "create contact", "CREATE TABLE pb_contact (id serial PRIMARY KEY, name text)"},
    {2, "add number", "ALTER TABLE pb_contact ADD COLUMN number text"},
    {3, "seed", "INSERT INTO pb_contact (name, number) VALUES ('reception', '100'); "
                "INSERT INTO pb_contact (name, number) VALUES ('helpdesk', '101')"},
};

TEST_F(StoreTest, MigrationsApplyInOrderRecordedAndIdempotent) {
  ASSERT_TRUE(store_->migrate("directory.phonebook", kPhonebook));
  EXPECT_EQ(count("pb_contact"), 2);
  auto rec = store_->exec("SELECT version, name, applied_at FROM dialtone_migrations WHERE owner = $1 ORDER BY version",
                          {"directory.phonebook"});
  ASSERT_TRUE(rec);
  ASSERT_EQ(rec->rows.size(), 3u);
  EXPECT_EQ(rec->get(0, "version"), "1");
  EXPECT_EQ(rec->get(1, "name"), "add number");
  EXPECT_EQ(rec->get(2, "version"), "3");
  std::string first_applied = rec->get(0, "applied_at");

  ASSERT_TRUE(store_->migrate("directory.phonebook", kPhonebook));
  EXPECT_EQ(count("pb_contact"), 2) << "seed ran twice";
  auto again = store_->exec("SELECT applied_at FROM dialtone_migrations WHERE owner = $1 AND version = 1",
                            {"directory.phonebook"});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->get(0, "applied_at"), first_applied);
  EXPECT_EQ(count("dialtone_migrations"), 3);
}

TEST_F(StoreTest, FailingMigrationLeavesEarlierOnesAndNamesOwnerVersion) {
  constexpr Migration broken[] = {
      {1, "one", "CREATE TABLE m1 (v int)"},
      {2, "two", "CREATE TABLE m2 (v int)"},
      {3, "three", "CREATE TABLE m3 (v int); SELEC oops"},
      {4, "four", "CREATE TABLE m4 (v int)"},
  };
  Status s = store_->migrate("test.broken", broken);
  ASSERT_FALSE(s);
  const std::string& msg = s.error().message;
  EXPECT_NE(msg.find("test.broken"), std::string::npos) << msg;
  EXPECT_NE(msg.find("v3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("syntax error"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos);

  auto rec = store_->exec("SELECT version FROM dialtone_migrations WHERE owner = 'test.broken' ORDER BY version");
  ASSERT_TRUE(rec);
  ASSERT_EQ(rec->rows.size(), 2u);
  EXPECT_EQ(rec->get(1, "version"), "2");
  EXPECT_TRUE(store_->exec("SELECT * FROM m2"));
  EXPECT_FALSE(store_->exec("SELECT * FROM m3")) << "half of migration 3 was kept";
  EXPECT_FALSE(store_->exec("SELECT * FROM m4")) << "migration 4 ran after 3 failed";
}

TEST_F(StoreTest, OwnersHaveIndependentVersions) {
  constexpr Migration a[] = {{1, "a1", "CREATE TABLE own_a (v int)"}};
  constexpr Migration b[] = {{1, "b1", "CREATE TABLE own_b (v int)"}, {2, "b2", "INSERT INTO own_b VALUES (1)"}};
  ASSERT_TRUE(store_->migrate("plugin.a", a));
  ASSERT_TRUE(store_->migrate("plugin.b", b));
  EXPECT_EQ(count("own_b"), 1);
  auto r = store_->exec("SELECT owner, count(*) AS n FROM dialtone_migrations GROUP BY owner ORDER BY owner");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->rows.size(), 2u);
  EXPECT_EQ(r->get(0, "n"), "1");
  EXPECT_EQ(r->get(1, "n"), "2");
}

TEST_F(StoreTest, MigrationsOutOfOrderOrDuplicatedAreRefused) {
  constexpr Migration reversed[] = {{2, "b", "SELECT 1"}, {1, "a", "SELECT 1"}};
  Status s = store_->migrate("test.order", reversed);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::invalid);
  EXPECT_NE(s.error().message.find("test.order"), std::string::npos);

  constexpr Migration dup[] = {{1, "a", "SELECT 1"}, {1, "a again", "SELECT 1"}};
  ASSERT_FALSE(store_->migrate("test.order", dup));

  // A version inserted below one already applied would never run on other nodes.
  constexpr Migration first[] = {{1, "a", "CREATE TABLE ord (v int)"}, {3, "c", "INSERT INTO ord VALUES (3)"}};
  ASSERT_TRUE(store_->migrate("test.order", first));
  constexpr Migration late[] = {{1, "a", "CREATE TABLE ord (v int)"},
                                {2, "b", "INSERT INTO ord VALUES (2)"},
                                {3, "c", "INSERT INTO ord VALUES (3)"}};
  Status l = store_->migrate("test.order", late);
  ASSERT_FALSE(l);
  EXPECT_EQ(l.error().code, ErrorCode::invalid);
  EXPECT_NE(l.error().message.find("v2"), std::string::npos) << l.error().message;
  EXPECT_EQ(count("ord"), 1);
}

TEST_F(StoreTest, ConcurrentMigrateFromTwoStoresAppliesOnce) {
  auto other = open_store(2);
  ASSERT_TRUE(other);
  for (int round = 0; round < 5; ++round) {
    std::string owner = "race." + std::to_string(round);
    std::string table = "race_" + std::to_string(round);
    std::string create = "CREATE TABLE " + table + " (v int)";
    std::string insert = "INSERT INTO " + table + " VALUES (1)";
    const Migration ms[] = {{1, "create", create.c_str()}, {2, "insert", insert.c_str()}};
    Status s1, s2;
    std::thread t1([&] { s1 = store_->migrate(owner, ms); });
    std::thread t2([&] { s2 = other->migrate(owner, ms); });
    t1.join();
    t2.join();
    ASSERT_TRUE(s1) << s1.error().message;
    ASSERT_TRUE(s2) << s2.error().message;
    EXPECT_EQ(count(table), 1);
  }
}

TEST_F(StoreTest, ListenDeliversToCallbackAndBus) {
  Inbox inbox;
  auto sub = store_->listen("dt_events", [&](const std::string& p) { inbox.push(p); });
  ASSERT_TRUE(store_->exec("SELECT pg_notify('dt_events', $1)", {"user 42 changed"}));
  ASSERT_TRUE(inbox.wait_for("user 42 changed"));
  auto ev = bus_.wait_for("store.notify.dt_events");
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->body, "user 42 changed");
  EXPECT_EQ(sub->delivered(), 1u);

  // After the subscription is gone its callback is not called any more.
  Inbox other;
  auto sub2 = store_->listen("dt_events", [&](const std::string& p) { other.push(p); });
  sub.reset();
  ASSERT_TRUE(store_->exec("NOTIFY dt_events, 'second'"));
  ASSERT_TRUE(other.wait_for("second"));
  EXPECT_EQ(inbox.size(), 1u);
}

TEST_F(StoreTest, ListenSurvivesLostConnection) {
  Inbox inbox;
  auto sub = store_->listen("dt_reconnect", [&](const std::string& p) { inbox.push(p); });
  ASSERT_TRUE(store_->exec("NOTIFY dt_reconnect, 'before'"));
  ASSERT_TRUE(inbox.wait_for("before"));

  auto killed = store_->exec(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
      "WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()");
  ASSERT_TRUE(killed) << killed.error().message;
  ASSERT_EQ(killed->rows.size(), 1u);

  // pg_terminate_backend only signals the backend: until the listener has seen
  // its connection go, a NOTIFY may still be delivered on the old one. So wait
  // for the loss, then for the new connection to have run its LISTEN (idle
  // after it), and only then notify: that one notification must arrive.
  ASSERT_TRUE(eventually([&] { return log_.contains("LISTEN connection lost"); }));
  ASSERT_TRUE(eventually([&] {
    auto r = store_->exec(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle' "
        "AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()");
    return r && r->rows.size() == 1 && r->rows[0][0] && *r->rows[0][0] == "1";
  }));
  ASSERT_TRUE(store_->exec("NOTIFY dt_reconnect, 'after'"));
  EXPECT_TRUE(inbox.wait_for("after"));
}

TEST_F(StoreTest, PoolServesManyThreadsCorrectly) {
  auto small = open_store(4);
  ASSERT_TRUE(small);
  std::atomic<int> wrong{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        int v = t * 1000 + i;
        auto r = small->exec("SELECT $1::int + 1 AS n", {std::to_string(v)});
        if (!r) {
          ++failed;
          continue;
        }
        if (r->get(0, "n") != std::to_string(v + 1)) ++wrong;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
  auto conns = store_->exec(
      "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'dialtoned'");
  ASSERT_TRUE(conns);
  // 4 from the small pool plus at most 1 opened by store_ for this query.
  EXPECT_LE(std::stol(*conns->rows[0][0]), 5);
}

TEST_F(StoreTest, BrokenPooledConnectionIsReestablished) {
  auto single = open_store(1);
  ASSERT_TRUE(single);
  auto pid = single->exec("SELECT pg_backend_pid() AS pid");
  ASSERT_TRUE(pid);
  ASSERT_TRUE(store_->exec("SELECT pg_terminate_backend($1::int)", {pid->get(0, "pid")}));
  // Wait until the server has really ended that backend.
  ASSERT_TRUE(dialtone::testing::eventually([&] {
    auto left = store_->exec("SELECT 1 FROM pg_stat_activity WHERE pid = $1::int", {pid->get(0, "pid")});
    return left && left->rows.empty();
  }));
  auto r = single->exec("SELECT pg_backend_pid() AS pid");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_NE(r->get(0, "pid"), pid->get(0, "pid"));
}

TEST_F(StoreTest, AcquireGivesUpWhenPoolStaysBusy) {
  StoreConfig cfg;
  cfg.dsn = dsn_;
  cfg.pool_size = 1;
  cfg.acquire_timeout = std::chrono::milliseconds(200);
  auto one = PgStore::open(cfg, bus_, log_);
  ASSERT_TRUE(one);
  auto& store = **one;
  Status inner;
  Status outer = store.transaction([&](Transaction&) -> Status {
    auto r = store.exec("SELECT 1");
    if (!r) inner = r.error();
    return {};
  });
  ASSERT_TRUE(outer);
  ASSERT_FALSE(inner);
  EXPECT_EQ(inner.error().code, ErrorCode::timeout);
  EXPECT_NE(inner.error().message.find("store.pool_size"), std::string::npos);
}

TEST_F(StoreTest, ExecAsyncRunsOnStoreThread) {
  std::mutex m;
  std::condition_variable cv;
  std::optional<sdk::Result<sdk::QueryResult>> result;
  std::thread::id ran_on;
  store_->exec_async("SELECT $1::text || '!' AS s", {"hi"}, [&](sdk::Result<sdk::QueryResult> r) {
    std::lock_guard lk(m);
    ran_on = std::this_thread::get_id();
    result.emplace(std::move(r));
    cv.notify_all();
  });
  std::unique_lock lk(m);
  ASSERT_TRUE(cv.wait_for(lk, std::chrono::seconds(15), [&] { return result.has_value(); }));
  ASSERT_TRUE(*result);
  EXPECT_EQ((*result)->get(0, "s"), "hi!");
  EXPECT_NE(ran_on, std::this_thread::get_id());
}

TEST_F(StoreTest, ClosedStoreReportsUnavailable) {
  store_->close();
  auto r = store_->exec("SELECT 1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::unavailable);
}

TEST(StoreOpen, UnreachableServerGivesOneLineWithoutPassword) {
  dialtone::testing::TestBus bus;
  dialtone::testing::TestLogger log;
  auto s = PgStore::open({.dsn = "host=127.0.0.1 port=1 dbname=dialtone user=dialtone password=Xyzzy-S3cret"}, bus, log);
  ASSERT_FALSE(s);
  const std::string& msg = s.error().message;
  EXPECT_EQ(s.error().code, ErrorCode::unavailable);
  EXPECT_EQ(msg.find("Xyzzy-S3cret"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_EQ(msg.rfind("store: cannot connect to \"", 0), 0u) << msg;
  EXPECT_NE(msg.find("(password omitted)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("127.0.0.1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("check store.dsn in conf.d/00-kernel.conf"), std::string::npos) << msg;
  for (const auto& l : log.lines()) EXPECT_EQ(l.find("Xyzzy-S3cret"), std::string::npos);
}

TEST(StoreOpen, UnknownDatabaseIsNamed) {
  dialtone::testing::TestBus bus;
  dialtone::testing::TestLogger log;
  auto dsn = pg::with_param(dialtone::testing::test_dsn(), "dbname", "dt_no_such_db");
  ASSERT_TRUE(dsn);
  auto s = PgStore::open({.dsn = *dsn}, bus, log);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("database \"dt_no_such_db\" does not exist"), std::string::npos)
      << s.error().message;
}

TEST(StoreOpen, MalformedDsnIsInvalid) {
  dialtone::testing::TestBus bus;
  dialtone::testing::TestLogger log;
  auto s = PgStore::open({.dsn = "host=db password=Xyzzy-S3cret nonsense"}, bus, log);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::invalid);
  EXPECT_EQ(s.error().message.find("Xyzzy-S3cret"), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("store.dsn"), std::string::npos);
}

TEST(StoreDsn, RedactionDropsPasswordInBothForms) {
  EXPECT_EQ(pg::redact_dsn("host=db user=x password='a b' dbname=d"), "host=db user=x dbname=d");
  bool had = false;
  std::string uri = pg::redact_dsn("postgresql://x:Xyzzy@db:5433/d", &had);
  EXPECT_TRUE(had);
  EXPECT_EQ(uri.find("Xyzzy"), std::string::npos) << uri;
}

}  // namespace
}  // namespace dialtone::kernel
