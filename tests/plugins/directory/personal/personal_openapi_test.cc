// plugins/directory/personal/api.yml against the routes directory.personal mounts
// on the fake host (real PostgreSQL): served at /0.1/api/personal.yml without a
// token, and the same (method, path, ACL) set.
#include <dialtone/testing/fake_host.h>
#include <gtest/gtest.h>

#include "kernel/store/pg_store.h"
#include "plugins/directory/personal/personal_plugin.h"
#include "tests/support/openapi_spec.h"
#include "tests/support/pg_fixture.h"

namespace {

TEST(PersonalOpenApi, ServedSpecDescribesExactlyTheMountedRoutes) {
  dialtone::testing::FakeHost host("directory.personal");
  auto store = dialtone::kernel::PgStore::open({.dsn = dialtone::testing::test_dsn()}, host.bus(), host.log());
  ASSERT_TRUE(store) << store.error().message;
  host.set_store(store->get());
  {
    dialtone::testing::PluginHarness<dialtone::plugins::directory::PersonalPlugin> plugin(
        host, dialtone::plugins::directory::kPersonalOptions);
    ASSERT_TRUE(plugin.run({}));
    host.http()->set_token(std::nullopt);

    auto served = host.http()->call("GET", "/0.1/api/personal.yml");
    ASSERT_EQ(served.status, 200) << served.body;
    EXPECT_EQ(served.content_type, "application/x-yaml");
    auto spec = dialtone::testing::read_openapi(served.body);
    EXPECT_TRUE(spec.problems.empty()) << spec.problems.front();

    std::map<std::string, std::string> mounted;
    for (auto& m : host.http()->routes()) {
      EXPECT_EQ(m.listener, "dird") << m.route.path;
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
