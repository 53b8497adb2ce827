// directory.phonebook against a real PostgreSQL: REST CRUD through the fake
// host's HTTP, the source's search and first_match, all-or-nothing import.
#include <gtest/gtest.h>

#include "plugins/directory/phonebook/phonebook_plugin.h"
#include "tests/plugins/directory/common/plugin_test.h"

namespace {

using dialtone::plugins::directory::PhonebookPlugin;
namespace sdk = dialtone::sdk;

class PhonebookTest : public dialtone::testing::DirectoryPluginTest<PhonebookPlugin> {
 protected:
  PhonebookTest() : DirectoryPluginTest("directory.phonebook", dialtone::plugins::directory::kPhonebookOptions) {}
  void start_with_source() {
    ASSERT_TRUE(harness_->run({{"source.pb.phonebook_name", "main"},
                               {"source.pb.searched_columns", "firstname,lastname,displayname"},
                               {"source.pb.first_matched_columns", "officenumbers,mobilenumbers"},
                               {"source.pb.format_columns", "name = {fullname}, number = {officenumbers}"},
                               {"source.pb.unique_column", "id"}}));
  }

  std::string create_phonebook(const std::string& name) {
    auto r = host_.http()->call("POST", "/0.1/tenants/default/phonebooks",
                                "{\"name\":\"" + name + "\",\"description\":\"the company\"}");
    EXPECT_EQ(r.status, 201) << r.body;
    return std::to_string(json(r.body)["id"].GetInt());
  }

  std::shared_ptr<sdk::DirectorySource> source() { return host_.services().find<sdk::DirectorySource>("pb"); }
};

TEST_F(PhonebookTest, PhonebookCrudAndAcls) {
  start_with_source();
  auto id = create_phonebook("main");
  auto base = "/0.1/tenants/default/phonebooks";
  EXPECT_EQ(host_.http()->required_acl("GET", base), "dird.tenants.default.phonebooks.read");
  EXPECT_EQ(host_.http()->required_acl("POST", std::string(base) + "/" + id + "/contacts/import"),
            "dird.tenants.default.phonebooks." + id + ".contacts.import.create");

  EXPECT_EQ(host_.http()->call("POST", base, "{\"name\":\"main\"}").status, 409);
  auto list = host_.http()->call("GET", base);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(json(list.body)["total"].GetInt(), 1);
  // Another tenant sees none of them.
  EXPECT_EQ(json(host_.http()->call("GET", "/0.1/tenants/other/phonebooks").body)["total"].GetInt(), 0);
  EXPECT_EQ(host_.http()->call("GET", "/0.1/tenants/other/phonebooks/" + id).status, 404);

  auto put = host_.http()->call("PUT", std::string(base) + "/" + id, "{\"name\":\"main\",\"description\":\"HQ\"}");
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_STREQ(json(put.body)["description"].GetString(), "HQ");
  EXPECT_EQ(host_.http()->call("DELETE", std::string(base) + "/" + id).status, 204);
  EXPECT_EQ(host_.http()->call("GET", std::string(base) + "/" + id).status, 404);
}

TEST_F(PhonebookTest, ContactCrudSearchAndFirstMatch) {
  start_with_source();
  auto id = create_phonebook("main");
  auto contacts = "/0.1/tenants/default/phonebooks/" + id + "/contacts";
  auto c = host_.http()->call("POST", contacts,
                              R"({"title":"ms","displayname":"Hélène Dupré","firstname":"Hélène",)"
                              R"("lastname":"Dupré","officenumbers":"01 23 45","mobilenumbers":"0600"})");
  ASSERT_EQ(c.status, 201) << c.body;
  std::string cid = json(c.body)["id"].GetString();
  ASSERT_EQ(host_.http()->call("POST", contacts, R"({"title":"mr","displayname":"Bob","firstname":"Bob"})").status,
            201);
  EXPECT_EQ(host_.http()->call("POST", contacts, R"({"title":"mr","displayname":"Bob","firstname":"Bob"})").status,
            409);
  auto bad = host_.http()->call("POST", contacts, R"({"title":"dr","officenumbers":"12ab"})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("officenumbers '12ab'"), std::string::npos) << bad.body;

  // Accents and case are ignored; the term must be in a searched column.
  auto r = source()->search(q("helene"));
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].field("name"), "Hélène Dupré");
  EXPECT_EQ((*r)[0].field("phonebook.firstname"), "Hélène");
  EXPECT_EQ((*r)[0].unique_id, cid);
  EXPECT_TRUE(source()->search(q("0600"))->empty());  // numbers are not searched columns

  auto m = source()->first_match(q("012345"));
  ASSERT_TRUE(m && *m);
  EXPECT_EQ((*m)->field("number"), "01 23 45");
  EXPECT_TRUE(source()->first_match(q("0600")) && (*source()->first_match(q("0600"))));
  EXPECT_FALSE(*source()->first_match(q("0123")));

  auto listed = source()->list({cid}, {});
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);

  auto upd = host_.http()->call("PUT", contacts + "/" + cid,
                                R"({"title":"ms","displayname":"H D","firstname":"Helga","officenumbers":"999"})");
  ASSERT_EQ(upd.status, 200) << upd.body;
  EXPECT_TRUE(source()->search(q("helene"))->empty());
  EXPECT_TRUE(*source()->first_match(q("999")));
  EXPECT_EQ(host_.http()->call("GET", contacts + "/" + cid).status, 200);
  EXPECT_EQ(host_.http()->call("DELETE", contacts + "/" + cid).status, 204);
  EXPECT_EQ(host_.http()->call("GET", contacts + "/" + cid).status, 404);
  EXPECT_EQ(host_.http()->call("GET", contacts + "/not-a-uuid").status, 404);
  auto all = host_.http()->call("GET", contacts);
  EXPECT_EQ(json(all.body)["total"].GetInt(), 1);
}

TEST_F(PhonebookTest, ImportIsAllOrNothingAndNamesTheBadLine) {
  start_with_source();
  auto id = create_phonebook("main");
  auto url = "/0.1/tenants/default/phonebooks/" + id + "/contacts/import";
  std::string bad =
      "title|displayname|firstname|lastname|officenumbers\n"
      "mr|Emmett Brown|Emmett|Brown|5555551234\n"
      "\n"
      "ms|Alice W|Alice|Wonderland|55x5\n";
  auto r = host_.http()->call("POST", url, bad, {{"content-type", "text/csv"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("line 4: officenumbers '55x5'"), std::string::npos) << r.body;
  EXPECT_TRUE(source()->search(q("emmett"))->empty());

  auto missing = host_.http()->call("POST", url, "firstname|lastname\nA|B\n");
  EXPECT_EQ(missing.status, 400);
  EXPECT_NE(missing.body.find("line 1: mandatory header 'title'"), std::string::npos) << missing.body;

  std::string good =
      "title|displayname|firstname|lastname|officenumbers|homecountry\n"
      "mr|Emmett Brown|Emmett|Brown|5555551234|US\n"
      "ms|Alice W|Alice|Wonderland|5555551235|\n";
  auto ok = host_.http()->call("POST", url, good);
  ASSERT_EQ(ok.status, 201) << ok.body;
  EXPECT_EQ(json(ok.body)["created"].GetInt(), 2);
  EXPECT_EQ(source()->search(q("alice"))->size(), 1u);

  // Distinct contacts import; a line equal to an existing contact fails the whole file.
  auto more = host_.http()->call("POST", url,
                                "title|displayname|firstname\nmr|Carl|Carl\nmr|Emmett Brown|Emmett\n");
  auto again = host_.http()->call("POST", url, good);
  EXPECT_EQ(again.status, 400);
  EXPECT_NE(again.body.find("line 2: the phonebook already has this contact"), std::string::npos) << again.body;
  EXPECT_EQ(more.status, 201);
  EXPECT_EQ(json(host_.http()->call("GET", "/0.1/tenants/default/phonebooks/" + id + "/contacts").body)["total"]
                .GetInt(),
            4);
}

TEST_F(PhonebookTest, SourceWithoutItsPhonebookIsUnavailable) {
  start_with_source();
  auto r = source()->search(q("a"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, sdk::ErrorCode::unavailable);
  EXPECT_TRUE(host_.log().contains("phonebook 'main' of tenant default was not found"));
}

TEST_F(PhonebookTest, LargeImportIsSearchedThroughTheIndex) {
  start_with_source();
  auto id = create_phonebook("main");
  std::string csv = "title|displayname|firstname|lastname|officenumbers\n";
  for (int i = 0; i < 5000; ++i)
    csv += "mr|User " + std::to_string(i) + "|First" + std::to_string(i) + "|Last|" + std::to_string(100000 + i) + "\n";
  auto r = host_.http()->call("POST", "/0.1/tenants/default/phonebooks/" + id + "/contacts/import", csv);
  ASSERT_EQ(r.status, 201) << r.body.substr(0, 300);
  EXPECT_EQ(json(r.body)["created"].GetInt(), 5000);
  auto idx = store_->exec("SELECT count(*) AS n FROM pg_indexes WHERE indexname = 'dird_phonebook_contact_folded'");
  ASSERT_TRUE(idx);
  EXPECT_EQ(idx->get(0, "n"), "1");
  auto s = source()->search(q("first4321"));
  ASSERT_TRUE(s);
  ASSERT_EQ(s->size(), 1u);
  auto m = source()->first_match(q("104321"));
  ASSERT_TRUE(m && *m);
  EXPECT_EQ((*m)->field("firstname"), "First4321");
}

}  // namespace
