// plugins/records/call_logs/api.yml against the routes records.call_logs
// mounts on the fake host (real PostgreSQL): served at
// /1.1/api/call_logs.yml without a token, and the same (method, path, ACL) set.
#include <dialtone/testing/fake_host.h>
#include <gtest/gtest.h>

#include "kernel/store/pg_store.h"
#include "plugins/records/call_logs/call_logs_plugin.h"
#include "tests/support/openapi_drift.h"
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

    dialtone::testing::expect_served_spec_matches_routes(*host.http(), "/1.1/api/call_logs.yml", "confd");
  }
  (*store)->close();
}

}  // namespace
