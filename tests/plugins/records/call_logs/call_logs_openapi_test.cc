// plugins/records/call_logs/api.yml against the routes records.call_logs
// mounts on the fake host (real PostgreSQL): served at
// /1.1/api/call_logs.yml without a token, and the same (method, path, ACL) set.
#include <dialtone/testing/fake_host.h>
#include <gtest/gtest.h>

#include "kernel/store/pg_store.h"
#include "plugins/records/call_logs/call_logs_plugin.h"
#include "tests/support/openapi_spec.h"
#include "tests/support/pg_fixture.h"

namespace {

TEST(CallLogsOpenApi, ServedSpecDescribesExactlyTheMountedRoutes) {
  dialtone::testing::FakeHost host("records.call_logs");
  auto store = dialtone::kernel::PgStore::open({.dsn = dialtone::testing::test_dsn()}, host.bus(), host.log());
  ASSERT_TRUE(store) << store.error().message;
  host.set_store(store->get());
  {
    dialtone::testing::PluginHarness<dialtone::plugins::records::CallLogsPlugin> plugin(
        host, dialtone::plugins::records::kCallLogsOptions);
    ASSERT_TRUE(plugin.run({{"call_logs.catch_up", "0"}}));
    host.http()->set_token(std::nullopt);

    auto served = host.http()->call("GET", "/1.1/api/call_logs.yml");
    ASSERT_EQ(served.status, 200) << served.body;
    EXPECT_EQ(served.content_type, "application/x-yaml");
    auto spec = dialtone::testing::read_openapi(served.body);
    EXPECT_TRUE(spec.problems.empty()) << spec.problems.front();

    std::map<std::string, std::string> mounted;
    for (auto& m : host.http()->routes()) {
      EXPECT_EQ(m.listener, "confd") << m.route.path;
      if (m.route.auth == dialtone::sdk::RouteAuth::token) {
        EXPECT_EQ(host.http()->call(m.route.method, m.route.path).status, 401) << m.route.path;
      }
      mounted[dialtone::testing::route_key(m.route.method, m.route.path)] = m.route.acl;
    }
    EXPECT_EQ(spec.operations, mounted);
  }
  (*store)->close();
}

}  // namespace
