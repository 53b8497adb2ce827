// dialtoned as an admin meets it: the start-up hint names the auth listener
// it really bound, and POST /0.1/reload is guarded by the dialtone.reload ACL.
#include <gtest/gtest.h>

#include "daemon.h"
#include "kernel/auth/auth_service.h"
#include "kernel/store/pg_store.h"
#include "tests/support/test_bus.h"
#include "tests/support/test_logger.h"

namespace dialtone::integration {
namespace {

Reply post_reload(const Daemon& d, const std::string& token) {
  Call c;
  c.method = "POST";
  c.path = "/0.1/reload";
  if (!token.empty()) c.headers = {{"X-Auth-Token", token}};
  return d.call("confd", c);
}

// Creates a user in the daemon's database the way an admin tool would.
void create_user(const Daemon& d, const std::string& name, const std::string& password,
                 std::vector<std::string> acls) {
  dialtone::testing::TestBus bus;
  dialtone::testing::TestLogger log;
  auto store = kernel::PgStore::open({.dsn = d.dsn(), .pool_size = 1}, bus, log);
  ASSERT_TRUE(store) << store.error().message;
  kernel::AuthService auth(**store, log);
  auto created = auth.create_user(name, password, std::move(acls));
  ASSERT_TRUE(created) << created.error().message;
  (*store)->close();
}

TEST(KernelDaemon, AdminHintNamesTheAuthListenerActuallyBound) {
  Daemon d;
  ASSERT_TRUE(d.start()) << d.output();
  const std::string url = "http://127.0.0.1:" + std::to_string(d.port("auth")) + "/0.1/token";
  auto out = d.out();
  const std::string hint = "admin password in " + (d.data() / "admin-password").string() +
                           " (get a token: curl -u admin:$(cat " + (d.data() / "admin-password").string() +
                           ") -X POST " + url + ")";
  EXPECT_NE(out.find(hint), std::string::npos) << out;
  EXPECT_EQ(out.find(":9497"), std::string::npos) << out;
  // The printed command works: the same URL and password give a token.
  EXPECT_FALSE(d.admin_token().empty()) << d.output();
  EXPECT_EQ(d.stop(), 0);
}

TEST(KernelDaemon, ReloadNeedsTheDialtoneReloadAcl) {
  Daemon d;
  ASSERT_TRUE(d.start()) << d.output();
  create_user(d, "reloader", "reload-secret-1", {"dialtone.reload"});
  create_user(d, "operator", "operator-secret-1", {"confd.#", "dird.#"});

  auto admin = d.admin_token();
  ASSERT_FALSE(admin.empty()) << d.output();
  auto r = post_reload(d, admin);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"applied":[],"restart_needed":[]})");
  EXPECT_EQ(r.header("Content-Type"), "application/json");

  auto reloader = d.token("reloader", "reload-secret-1");
  ASSERT_FALSE(reloader.empty());
  EXPECT_EQ(post_reload(d, reloader).status, 200);

  auto op = d.token("operator", "operator-secret-1");
  ASSERT_FALSE(op.empty());
  EXPECT_EQ(post_reload(d, op).status, 403);
  EXPECT_EQ(post_reload(d, "").status, 401);
  EXPECT_EQ(post_reload(d, "no-such-token").status, 401);
  EXPECT_EQ(d.count_err("reload: "), 2u) << d.err();  // only the two allowed reloads ran
  EXPECT_EQ(d.stop(), 0);
}

TEST(KernelDaemon, ReloadSummarizesKernelChangesAndRefusesBrokenFiles) {
  Daemon d;
  ASSERT_TRUE(d.start()) << d.output();
  auto admin = d.admin_token();
  ASSERT_FALSE(admin.empty()) << d.output();

  // 00-a-local.conf sorts before 00-kernel.conf, so its values win.
  auto local = d.write_conf("00-a-local.conf", "[plugin]\nname = kernel\n[log]\nlevel = debug\n[store]\npool_size = 3\n");
  auto r = post_reload(d, admin);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"applied":["kernel: log.level"],"restart_needed":["kernel: restart needed for store.pool_size"]})");

  write_file(local, "[plugin]\nname = kernel\n[log]\nlevel = loud\n");
  r = post_reload(d, admin);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find(local.string() + ":4: bad value 'loud' for log.level"), std::string::npos) << r.body;
  EXPECT_TRUE(d.running());
  EXPECT_EQ(d.stop(), 0);
}

TEST(KernelDaemon, ReloadReportsOnlyPluginsEnabledSinceStart) {
  Daemon d;
  auto ghost = d.write_conf("60-ghost.conf", "[plugin]\nname = fixture.ghost\n");
  ASSERT_TRUE(d.start()) << d.output();
  EXPECT_TRUE(d.wait_for_err(ghost.string() + ":2: plugin 'fixture.ghost' is not installed"))
      << d.err();
  auto admin = d.admin_token();
  ASSERT_FALSE(admin.empty()) << d.output();
  // Unchanged conf.d: nothing to report, the missing plugin was reported at start.
  auto r = post_reload(d, admin);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"applied":[],"restart_needed":[]})");

  d.write_conf("61-phantom.conf", "[plugin]\nname = fixture.phantom\n");
  r = post_reload(d, admin);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body,
            R"({"applied":[],"restart_needed":["fixture.phantom: newly enabled in conf.d; restart dialtoned to start it"]})");
  EXPECT_EQ(d.stop(), 0);
}

}  // namespace
}  // namespace dialtone::integration
