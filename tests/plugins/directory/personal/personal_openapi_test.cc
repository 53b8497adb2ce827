// plugins/directory/personal/api.yml against the routes directory.personal mounts
// on the fake host (real PostgreSQL): served at /0.1/api/personal.yml without a
// token, and the same (method, path, ACL) set; and every field it declares
// for an answer is in the real answer.
#include <dialtone/testing/fake_host.h>
#include <gtest/gtest.h>

#include "plugins/directory/personal/personal_plugin.h"
#include "tests/plugins/directory/common/plugin_test.h"
#include "tests/support/openapi_drift.h"
#include "tests/support/openapi_fields.h"

namespace {

class PersonalOpenApi : public dialtone::testing::DirectoryPluginTest<dialtone::plugins::directory::PersonalPlugin> {
 protected:
  PersonalOpenApi() : DirectoryPluginTest("directory.personal", dialtone::plugins::directory::kPersonalOptions) {}
  void SetUp() override {
    DirectoryPluginTest::SetUp();
    ASSERT_TRUE(harness_->run({}));
  }
};

TEST_F(PersonalOpenApi, ServedSpecDescribesExactlyTheMountedRoutes) {
  host_.http()->set_token(std::nullopt);
  dialtone::testing::expect_served_spec_matches_routes(*host_.http(), "/0.1/api/personal.yml", "dird");
}

// The field contract: each route's 200/201 answer carries every declared
// field (contact, list, import), for a user's own token.
TEST_F(PersonalOpenApi, EveryDeclaredFieldIsReturned) {
  as("7f523550-03cf-4dac-a858-cb8afdb34775", {"#"});
  auto& http = *host_.http();
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

}  // namespace
