// The call path never waits on PostgreSQL: with every backend process of the
// database stopped (SIGSTOP) for 5 s, calls between registered SIPp phones
// through the shipped lua-dialplan keep completing, credentials and routing
// coming from the configuration snapshot. After the stall, a change made by
// "another node" (UPDATE + pg_notify on its own connection, no refresh asked)
// reaches the next calls through LISTEN/NOTIFY.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include "plugins/backend/sip/sip_plugin.h"
#include "tests/plugins/backend/sip/sip_fixture.h"
#include "tests/support/pg_fixture.h"

namespace sip = dialtone::plugins::backend::sip;
using dialtone::testing::free_port;
using dialtone::testing::run_sipp;
using dialtone::testing::scenario;

namespace {

// One libpq connection of the test's own (not the store's pool).
class Conn {
 public:
  explicit Conn(const std::string& dsn) : c_(PQconnectdb(dsn.c_str())) {}
  ~Conn() { PQfinish(c_); }
  bool ok() const { return PQstatus(c_) == CONNECTION_OK; }
  std::vector<std::string> column(const std::string& sql, const std::vector<std::string>& params = {}) {
    std::vector<const char*> values;
    for (auto& p : params) values.push_back(p.c_str());
    PGresult* r = PQexecParams(c_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                               nullptr, 0);
    std::vector<std::string> out;
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
      for (int i = 0; i < PQntuples(r); ++i) out.emplace_back(PQgetvalue(r, i, 0));
    else if (PQresultStatus(r) != PGRES_COMMAND_OK)
      ADD_FAILURE() << sql << ": " << PQerrorMessage(c_);
    PQclear(r);
    return out;
  }

 private:
  PGconn* c_;
};

// SIGSTOPs every backend process serving `database` until destroyed.
class Stall {
 public:
  Stall(Conn& admin, const std::string& database) {
    for (auto& pid : admin.column("SELECT pid FROM pg_stat_activity WHERE datname = $1", {database}))
      if (kill(std::stoi(pid), SIGSTOP) == 0) pids_.push_back(std::stoi(pid));
  }
  ~Stall() {
    for (int pid : pids_) kill(pid, SIGCONT);
  }
  std::size_t stopped() const { return pids_.size(); }

 private:
  std::vector<int> pids_;
};

class ConfigStall : public dialtone::testing::SipPluginTest {
 protected:
  static void SetUpTestSuite() {
    make_host({{"alice", "1001"}, {"bob", "1002"}},
              std::filesystem::path(SIP_LUA_LIB_DIR).parent_path() / "extensions.lua");
  }
  void SetUp() override {
    // Credentials are asked for again after a second, so the stalled calls
    // also fetch them (from the snapshot).
    start_plugin({{"auth.ban_failures", "1000"}, {"auth.credential_cache", "1s"}, {"sip.node", "stall-test"}});
  }
};

TEST_F(ConfigStall, CallsCompleteWhilePostgresIsStoppedAndANotifiedChangeReachesTheNextCall) {
  constexpr int kCalls = 6;
  std::string out, bob_out;
  int bob_port = free_port();
  auto bob = std::async(std::launch::async, [&] {
    return run_sipp({"-sf", scenario("uas_answer.xml"), "-i", "127.0.0.1", "-p", std::to_string(bob_port), "-m",
                     std::to_string(kCalls), "-timeout", "60s", "-timeout_error"},
                    &bob_out);
  });
  ASSERT_TRUE(dialtone::testing::wait_udp_bound(bob_port));
  ASSERT_EQ(register_contact("bob", bob_port, &out), 0) << out;
  // Alice's credentials leave the stack's cache before the stall.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));

  const std::string database = host_->sql("SELECT current_database()");
  Conn admin(dialtone::testing::test_admin_dsn());
  ASSERT_TRUE(admin.ok());
  {
    Stall stall(admin, database);
    ASSERT_GT(stall.stopped(), 0u) << "no backend of " << database << " to stop";
    const auto stalled_at = std::chrono::steady_clock::now();
    // A store query issued now cannot be answered until the stall ends.
    auto probe = std::make_shared<std::promise<bool>>();
    auto probe_done = probe->get_future();
    host_->pg().exec_async("SELECT 1", {}, [probe](auto r) { probe->set_value(static_cast<bool>(r)); });

    // Alice calls Bob, one call after the other: each completes (SIPp fails
    // on any call not answered and hung up within its timeout).
    int rc = client("uac_call_hangup.xml", {"-l", "1", "-s", "1002", "-au", "alice",
                                            "-ap", "alicepw", "-key", "user", "alice"},
                    &out, kCalls);
    EXPECT_EQ(rc, 0) << out;
    // ...and they completed while PostgreSQL was still stopped.
    EXPECT_EQ(probe_done.wait_for(std::chrono::seconds(0)), std::future_status::timeout)
        << "the store answered during the stall: it was not stalled";
    std::this_thread::sleep_until(stalled_at + std::chrono::seconds(5));
  }
  EXPECT_EQ(bob.get(), 0) << bob_out;

  // Another node (its own connection, as api.confd does it) turns Bob's DND
  // on and notifies; no refresh is asked of this process.
  Conn other(host_->dsn());
  ASSERT_TRUE(other.ok());
  other.column("BEGIN");
  other.column("UPDATE confd_users SET service_dnd_enabled = true WHERE id = $1::int", {user_ids_["bob"]});
  other.column("SELECT pg_notify('dialtone_config', 'user.edited:' || $1)", {user_ids_["bob"]});
  other.column("COMMIT");
  // The next calls see it: Bob is busy (486). Eventually, not on a timer.
  EXPECT_TRUE(dialtone::testing::eventually([&] {
    return client("uac_call_486.xml", {"-s", "1002", "-au", "alice", "-ap", "alicepw", "-key", "user", "alice"},
                  &out) == 0;
  }, std::chrono::seconds(30))) << out;
}

}  // namespace
