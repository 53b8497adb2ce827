// plugins/directory/phonebook/api.yml against the routes directory.phonebook mounts
// on the fake host (real PostgreSQL): served at /0.1/api/phonebook.yml without a
// token, and the same (method, path, ACL) set.
#include <dialtone/testing/fake_host.h>
#include <gtest/gtest.h>

#include "kernel/store/pg_store.h"
#include "plugins/directory/phonebook/phonebook_plugin.h"
#include "tests/support/openapi_drift.h"
#include "tests/support/pg_fixture.h"

namespace {

TEST(PhonebookOpenApi, ServedSpecDescribesExactlyTheMountedRoutes) {
  dialtone::testing::FakeHost host("directory.phonebook");
  auto store = dialtone::kernel::PgStore::open({.dsn = dialtone::testing::test_dsn()}, host.bus(), host.log());
  ASSERT_TRUE(store) << store.error().message;
  host.set_store(store->get());
  {
    dialtone::testing::PluginHarness<dialtone::plugins::directory::PhonebookPlugin> plugin(
        host, dialtone::plugins::directory::kPhonebookOptions);
    ASSERT_TRUE(plugin.run({{"source.pb.phonebook_name", "main"}}));
    host.http()->set_token(std::nullopt);

    dialtone::testing::expect_served_spec_matches_routes(*host.http(), "/0.1/api/phonebook.yml", "dird");
  }
  (*store)->close();
}

}  // namespace
