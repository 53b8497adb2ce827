// plugins/directory/dird/api.yml against the routes directory.dird mounts on
// the fake host: served without a token, and the same (method, path, ACL) set.
#include <dialtone/testing/fake_host.h>
#include <gtest/gtest.h>

#include "plugins/directory/dird/dird_plugin.h"
#include "tests/support/openapi_spec.h"

namespace {

TEST(DirdOpenApi, ServedSpecDescribesExactlyTheMountedRoutes) {
  dialtone::testing::FakeHost host("directory.dird");
  dialtone::testing::PluginHarness<dialtone::plugins::directory::DirdPlugin> plugin(
      host, dialtone::plugins::directory::kDirdOptions);
  ASSERT_TRUE(plugin.run({{"profile.default.sources", ""}}));
  host.http()->set_token(std::nullopt);

  auto served = host.http()->call("GET", "/0.1/api/api.yml");
  ASSERT_EQ(served.status, 200) << served.body;
  EXPECT_EQ(served.content_type, "application/x-yaml");
  EXPECT_EQ(host.http()->call("GET", "/0.1/directories/lookup/default?term=a").status, 401);
  auto spec = dialtone::testing::read_openapi(served.body);
  EXPECT_TRUE(spec.problems.empty()) << spec.problems.front();

  std::map<std::string, std::string> mounted;
  for (auto& m : host.http()->routes()) {
    EXPECT_EQ(m.listener, "dird") << m.route.path;
    mounted[dialtone::testing::route_key(m.route.method, m.route.path)] = m.route.acl;
  }
  EXPECT_EQ(spec.operations, mounted);
}

}  // namespace
