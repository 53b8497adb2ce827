// directory.personal against a real PostgreSQL: /0.1/personal REST through
// the fake host's HTTP with per-user tokens, import/export, the source.
#include <gtest/gtest.h>

#include "plugins/directory/personal/personal_plugin.h"
#include "tests/plugins/directory/common/plugin_test.h"

namespace {

using dialtone::plugins::directory::PersonalPlugin;
namespace sdk = dialtone::sdk;

constexpr const char* kAlice = "11111111-1111-4111-8111-111111111111";
constexpr const char* kBob = "22222222-2222-4222-8222-222222222222";

class PersonalTest : public dialtone::testing::DirectoryPluginTest<PersonalPlugin> {
 protected:
  PersonalTest() : DirectoryPluginTest("directory.personal", dialtone::plugins::directory::kPersonalOptions) {}
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(DirectoryPluginTest::SetUp());
    ASSERT_TRUE(harness_->run({{"source.personal.searched_columns", "firstname,lastname,company"},
                               {"source.personal.first_matched_columns", "number,mobile"},
                               {"source.personal.format_columns", "name = {firstname} {lastname}"}}));
    as(kAlice);
  }

  void as(const std::string& user) { DirectoryPluginTest::as(user, {"dird.personal.#"}); }
  std::shared_ptr<sdk::DirectorySource> source() {
    return host_.services().find<sdk::DirectorySource>("personal");
  }
};

TEST_F(PersonalTest, CrudAclsAndDuplicateConflict) {
  EXPECT_EQ(host_.http()->required_acl("GET", "/0.1/personal"), "dird.personal.read");
  EXPECT_EQ(host_.http()->required_acl("POST", "/0.1/personal/import"), "dird.personal.import.create");
  EXPECT_EQ(host_.http()->required_acl("PUT", "/0.1/personal/abc"), "dird.personal.abc.update");

  auto c = call("POST", "/0.1/personal", R"({"firstname":"John","lastname":"Doe","number":"1111"})");
  ASSERT_EQ(c.status, 201) << c.body;
  std::string id = json(c.body)["id"].GetString();
  auto dup = call("POST", "/0.1/personal", R"({"lastname":"Doe","number":"1111","firstname":"John","email":""})");
  EXPECT_EQ(dup.status, 409) << dup.body;
  EXPECT_EQ(call("POST", "/0.1/personal", R"({"nickname":"JD"})").status, 400);

  auto got = call("GET", "/0.1/personal/" + id);
  ASSERT_EQ(got.status, 200);
  EXPECT_STREQ(json(got.body)["lastname"].GetString(), "Doe");
  auto put = call("PUT", "/0.1/personal/" + id, R"({"firstname":"Jane","lastname":"Doe","number":"2222"})");
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_STREQ(json(call("GET", "/0.1/personal/" + id).body)["firstname"].GetString(), "Jane");
  EXPECT_EQ(json(call("GET", "/0.1/personal").body)["total"].GetInt(), 1);
  EXPECT_EQ(call("DELETE", "/0.1/personal/" + id).status, 204);
  EXPECT_EQ(call("GET", "/0.1/personal/" + id).status, 404);
}

TEST_F(PersonalTest, UsersSeeOnlyTheirOwnContacts) {
  ASSERT_EQ(call("POST", "/0.1/personal", R"({"firstname":"Alice's","lastname":"Friend","number":"3001"})").status, 201);
  as(kBob);
  auto bobs = call("POST", "/0.1/personal", R"({"firstname":"Bob's","lastname":"Friend","number":"3002"})");
  ASSERT_EQ(bobs.status, 201);
  std::string bob_contact = json(bobs.body)["id"].GetString();
  EXPECT_EQ(json(call("GET", "/0.1/personal").body)["total"].GetInt(), 1);

  as(kAlice);
  EXPECT_EQ(call("GET", "/0.1/personal/" + bob_contact).status, 404);
  EXPECT_EQ(call("DELETE", "/0.1/personal/" + bob_contact).status, 404);

  auto r = source()->search(q("friend", kAlice));
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].field("name"), "Alice's Friend");
  EXPECT_FALSE((*r)[0].unique_id.empty());
  EXPECT_TRUE(source()->search(q("friend"))->empty());  // no user, no personal contacts
  EXPECT_TRUE(*source()->first_match(q("3001", kAlice)));
  EXPECT_FALSE(*source()->first_match(q("3002", kAlice)));
  EXPECT_EQ(source()->list({bob_contact}, q("", kAlice))->size(), 0u);
  EXPECT_EQ(source()->list({bob_contact}, q("", kBob))->size(), 1u);

  // Deleting all of Alice's contacts leaves Bob's.
  EXPECT_EQ(call("DELETE", "/0.1/personal").status, 204);
  EXPECT_EQ(json(call("GET", "/0.1/personal").body)["total"].GetInt(), 0);
  as(kBob);
  EXPECT_EQ(json(call("GET", "/0.1/personal").body)["total"].GetInt(), 1);
}

TEST_F(PersonalTest, ImportReportsFailedLinesAndExportRoundTrips) {
  std::string csv =
      "company,email,fax,firstname,lastname,mobile,number\n"
      "corp,jdoe@company.corp,3333,John,Doe,2222,1111\n"
      "corp,,,Bruce,Wayne,,5555,extra\n"
      "\"Hawking, Inc\",,,Stephen,Hawking,,4444\n"
      "corp,jdoe@company.corp,3333,John,Doe,2222,1111\n";
  auto r = host_.http()->call("POST", "/0.1/personal/import", csv, {{"content-type", "text/csv; charset=utf-8"}});
  ASSERT_EQ(r.status, 201) << r.body;
  auto d = json(r.body);
  ASSERT_EQ(d["created"].Size(), 2u);
  ASSERT_EQ(d["failed"].Size(), 2u);
  EXPECT_EQ(d["failed"][0]["line"].GetInt(), 3);
  EXPECT_STREQ(d["failed"][0]["errors"][0].GetString(), "too many fields");
  EXPECT_EQ(d["failed"][1]["line"].GetInt(), 5);
  EXPECT_STREQ(d["failed"][1]["errors"][0].GetString(), "duplicate contact");

  // Importing the same file again creates nothing: every contact exists.
  auto again = json(call("POST", "/0.1/personal/import", csv).body);
  EXPECT_EQ(again["created"].Size(), 0u);
  EXPECT_EQ(again["failed"].Size(), 4u);

  auto exp = call("GET", "/0.1/personal?format=text/csv");
  ASSERT_EQ(exp.status, 200);
  EXPECT_EQ(exp.content_type.rfind("text/csv", 0), 0u);
  // RFC 4180 records end in CRLF, as xivo-dird's csv writer ends them.
  EXPECT_EQ(exp.body.substr(0, exp.body.find("\r\n")), "company,email,fax,firstname,lastname,mobile,number");
  EXPECT_NE(exp.body.find("\"Hawking, Inc\",,,Stephen,Hawking,,4444"), std::string::npos) << exp.body;

  // The export imports into another user's contacts unchanged.
  as(kBob);
  auto imported = json(call("POST", "/0.1/personal/import", exp.body).body);
  EXPECT_EQ(imported["created"].Size(), 2u);
  EXPECT_EQ(imported["failed"].Size(), 0u);
}

TEST_F(PersonalTest, RefusesTokensWithoutUser) {
  sdk::TokenInfo t;
  t.token = "service";
  host_.http()->set_token(t);
  EXPECT_EQ(call("GET", "/0.1/personal").status, 401);
}

}  // namespace
