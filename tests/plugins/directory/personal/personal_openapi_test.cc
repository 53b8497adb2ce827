// plugins/directory/personal/api.yml against the routes directory.personal mounts
// on the fake host (real PostgreSQL): served at /0.1/api/personal.yml without a
// token, and the same (method, path, ACL) set; and every field it declares
// for an answer is in the real answer.
#include <dialtone/testing/fake_host.h>
#include <gtest/gtest.h>

#include "kernel/store/pg_store.h"
#include "plugins/directory/personal/personal_plugin.h"
#include "tests/support/openapi_drift.h"
#include "tests/support/openapi_fields.h"
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

    dialtone::testing::expect_served_spec_matches_routes(*host.http(), "/0.1/api/personal.yml", "dird");
  }
  (*store)->close();
}

// The field contract: each route's 200/201 answer carries every declared
// field (contact, list, import), for a user's own token.
TEST(PersonalOpenApi, EveryDeclaredFieldIsReturned) {
  dialtone::testing::FakeHost host("directory.personal");
  auto store = dialtone::kernel::PgStore::open({.dsn = dialtone::testing::test_dsn()}, host.bus(), host.log());
  ASSERT_TRUE(store) << store.error().message;
  host.set_store(store->get());
  {
    dialtone::testing::PluginHarness<dialtone::plugins::directory::PersonalPlugin> plugin(
        host, dialtone::plugins::directory::kPersonalOptions);
    ASSERT_TRUE(plugin.run({}));
    auto& http = *host.http();
    dialtone::sdk::TokenInfo t;
    t.token = "tok-alice";
    t.auth_id = "7f523550-03cf-4dac-a858-cb8afdb34775";
    t.acls = {"#"};
    http.set_token(t);
    auto spec = YAML::Load(http.call("GET", "/0.1/api/personal.yml").body);
    using dialtone::testing::missing_fields;
    auto created = http.call("POST", "/0.1/personal", R"({"firstname": "Ada", "lastname": "L", "number": "5550001"})");
    ASSERT_EQ(created.status, 201) << created.body;
    EXPECT_EQ(missing_fields(spec, "POST", "/0.1/personal", created.body, 201), "") << created.body;
    rapidjson::Document d;
    d.Parse(created.body.c_str());
    const std::string one = std::string("/0.1/personal/") + d["id"].GetString();
    dialtone::testing::expect_declared_fields(http, spec, {
        {"GET", "/0.1/personal", "/0.1/personal", ""},
        {"GET", "/0.1/personal/{contact_id}", one, ""},
        {"PUT", "/0.1/personal/{contact_id}", one, R"({"firstname": "Ada", "lastname": "Lovelace", "number": "5550001"})"},
        {"POST", "/0.1/personal/import", "/0.1/personal/import", "firstname,lastname,number\nBea,B,5550002\n"},
    });
  }
  (*store)->close();
}

}  // namespace
