// directory.users against a real PostgreSQL holding api.confd's schema.
#include <gtest/gtest.h>

#include "plugins/api/confd/schema.h"
#include "plugins/directory/users/users_plugin.h"
#include "tests/plugins/directory/common/plugin_test.h"

namespace {

using dialtone::plugins::directory::UsersPlugin;
namespace sdk = dialtone::sdk;

class UsersTest : public dialtone::testing::DirectoryPluginTest<UsersPlugin> {
 protected:
  UsersTest() : DirectoryPluginTest("directory.users", dialtone::plugins::directory::kUsersOptions) {}
  void start() {
    ASSERT_TRUE(harness_->run({{"source.users.searched_columns", "firstname,lastname"},
                               {"source.users.first_matched_columns", "exten,mobile_phone_number"},
                               {"source.users.format_columns", "name = {firstname} {lastname}, number = {exten}"},
                               {"source.users.unique_column", "uuid"}}));
  }

  void confd_schema_with_users() {
    namespace confd = dialtone::plugins::api::confd;
    ASSERT_TRUE(store_->migrate(confd::kOwner, confd::migrations()));
    auto sql = [&](const std::string& q) {
      auto r = store_->exec(q);
      ASSERT_TRUE(r) << q << ": " << r.error().message;
    };
    sql("INSERT INTO confd_contexts (name) VALUES ('default')");
    sql("INSERT INTO confd_users (id, firstname, lastname, email, mobile_phone_number) VALUES "
        "(1, 'Hélène', 'Martin', 'helene@example.com', '06 12 34 56 78'), (2, 'Bob', 'Stone', NULL, NULL),"
        "(3, 'Carol', 'Off', NULL, NULL)");
    sql("UPDATE confd_users SET enabled = false WHERE id = 3");
    sql("INSERT INTO confd_lines (id, context) VALUES (10, 'default'), (11, 'default')");
    sql("INSERT INTO confd_extensions (id, exten, context) VALUES (20, '1001', 'default'), (21, '1002', 'default')");
    sql("INSERT INTO confd_user_lines VALUES (1, 10, true, true), (2, 11, true, true)");
    sql("INSERT INTO confd_line_extensions VALUES (10, 20), (11, 21)");
    sql("INSERT INTO confd_voicemails (id, number, context, name) VALUES (30, '8001', 'default', 'Hélène')");
    sql("INSERT INTO confd_user_voicemails VALUES (1, 30)");
  }

  std::shared_ptr<sdk::DirectorySource> source() { return host_.services().find<sdk::DirectorySource>("users"); }
};

TEST_F(UsersTest, SearchesUsersWithExtensionMobileAndVoicemail) {
  confd_schema_with_users();
  start();
  auto r = source()->search(q("helene"));
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  auto& e = (*r)[0];
  EXPECT_EQ(e.field("name"), "Hélène Martin");
  EXPECT_EQ(e.field("number"), "1001");
  EXPECT_EQ(e.field("mobile_phone_number"), "06 12 34 56 78");
  EXPECT_EQ(e.field("email"), "helene@example.com");
  EXPECT_EQ(e.field("voicemail_number"), "8001");
  EXPECT_EQ(e.unique_id.size(), 36u);

  EXPECT_TRUE(source()->search(q("carol"))->empty());  // disabled users are not listed
  auto m = source()->first_match(q("1002"));
  ASSERT_TRUE(m && *m);
  EXPECT_EQ((*m)->field("name"), "Bob Stone");
  auto mobile = source()->first_match(q("0612345678"));
  ASSERT_TRUE(mobile && *mobile);
  EXPECT_EQ((*mobile)->field("firstname"), "Hélène");
  EXPECT_FALSE(*source()->first_match(q("9999")));

  auto listed = source()->list({e.unique_id}, {});
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].field("lastname"), "Martin");
}

TEST_F(UsersTest, UnavailableWithOneLogLineUntilConfdTablesExist) {
  start();
  EXPECT_TRUE(host_.log().contains("users tables of api.confd do not exist yet"));
  for (int i = 0; i < 3; ++i) {
    auto r = source()->search(q("bob"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, sdk::ErrorCode::unavailable);
  }
  EXPECT_EQ(host_.log().count(sdk::LogLevel::error), 1u);
  EXPECT_TRUE(store_->exec("SELECT to_regclass('confd_users') IS NULL AS missing")->get(0, "missing") == "t");

  confd_schema_with_users();
  auto r = source()->search(q("bob"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->size(), 1u);
  EXPECT_TRUE(host_.log().contains("answers again"));
}

TEST_F(UsersTest, RejectsUnknownColumns) {
  auto s = harness_->run({{"source.users.searched_columns", "fullname"}});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("unknown column 'fullname'"), std::string::npos);
}

}  // namespace
