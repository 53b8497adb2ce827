// plugins/directory/phonebook/api.yml against the routes directory.phonebook mounts
// on the fake host (real PostgreSQL): served at /0.1/api/phonebook.yml without a
// token, and the same (method, path, ACL) set; and every field it declares
// for an answer is in the real answer.
#include <dialtone/testing/fake_host.h>
#include <gtest/gtest.h>

#include "plugins/directory/phonebook/phonebook_plugin.h"
#include "tests/plugins/directory/common/plugin_test.h"
#include "tests/support/openapi_drift.h"
#include "tests/support/openapi_fields.h"

namespace {

class PhonebookOpenApi : public dialtone::testing::DirectoryPluginTest<dialtone::plugins::directory::PhonebookPlugin> {
 protected:
  PhonebookOpenApi() : DirectoryPluginTest("directory.phonebook", dialtone::plugins::directory::kPhonebookOptions) {}
  void SetUp() override {
    DirectoryPluginTest::SetUp();
    ASSERT_TRUE(harness_->run({{"source.pb.phonebook_name", "main"}}));
  }
};

TEST_F(PhonebookOpenApi, ServedSpecDescribesExactlyTheMountedRoutes) {
  host_.http()->set_token(std::nullopt);
  dialtone::testing::expect_served_spec_matches_routes(*host_.http(), "/0.1/api/phonebook.yml", "dird");
}

// The field contract: each route's 200/201 answer carries every declared
// field (phonebook, list, contact, contact list, both kinds of import).
TEST_F(PhonebookOpenApi, EveryDeclaredFieldIsReturned) {
  auto& http = *host_.http();
  auto spec = YAML::Load(http.call("GET", "/0.1/api/phonebook.yml").body);
  using dialtone::testing::missing_fields;
  const std::string pbs = "/0.1/tenants/default/phonebooks";
  auto pb = http.call("POST", pbs, R"({"name": "main", "description": "HQ"})");
  ASSERT_EQ(pb.status, 201) << pb.body;
  EXPECT_EQ(missing_fields(spec, "POST", "/0.1/tenants/{tenant}/phonebooks", pb.body, 201), "") << pb.body;
  rapidjson::Document d;
  d.Parse(pb.body.c_str());
  const std::string one = pbs + "/" + std::to_string(d["id"].GetInt());
  const std::string contacts = one + "/contacts";
  auto contact = http.call("POST", contacts, R"({"firstname": "Ada", "lastname": "L", "officenumbers": "5550001"})");
  ASSERT_EQ(contact.status, 201) << contact.body;
  d.Parse(contact.body.c_str());
  const std::string contact_path = contacts + "/" + d["id"].GetString();
  dialtone::testing::expect_declared_fields(http, spec, {
      {"POST", "/0.1/tenants/{tenant}/phonebooks/{phonebook_id}/contacts", contacts,
       R"({"firstname": "Bea", "officenumbers": "5550002"})"},
      {"GET", "/0.1/tenants/{tenant}/phonebooks", pbs, ""},
      {"GET", "/0.1/tenants/{tenant}/phonebooks/{phonebook_id}", one, ""},
      {"PUT", "/0.1/tenants/{tenant}/phonebooks/{phonebook_id}", one, R"({"name": "main", "description": "x"})"},
      {"GET", "/0.1/tenants/{tenant}/phonebooks/{phonebook_id}/contacts", contacts, ""},
      {"GET", "/0.1/tenants/{tenant}/phonebooks/{phonebook_id}/contacts/{contact_uuid}", contact_path, ""},
      {"PUT", "/0.1/tenants/{tenant}/phonebooks/{phonebook_id}/contacts/{contact_uuid}", contact_path,
       R"({"firstname": "Ada", "lastname": "Lovelace", "officenumbers": "5550001"})"},
      {"POST", "/0.1/tenants/{tenant}/phonebooks/{phonebook_id}/contacts/import", contacts + "/import",
       "firstname,lastname,officenumbers\nCyd,C,5550003\n,,\n"},
      {"POST", "/0.1/tenants/{tenant}/phonebooks/{phonebook_id}/contacts/import", contacts + "/import",
       "title|displayname|firstname|lastname|officenumbers\nmr|Dee D|Dee|D|5550004\n"},
  });
}

}  // namespace
