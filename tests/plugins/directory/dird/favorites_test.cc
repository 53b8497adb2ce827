// directory.dird favorites against a real PostgreSQL, through the REST routes
// the plugin mounts, with per-user tokens: PUT/GET/DELETE, isolation between
// users, sources without unique_column, and the favorite/personal columns of
// lookups (seed "Favorites": unique_column on the source, a favorite column in
// the display).
#include <dialtone/testing/fake_host.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <fstream>

#include "plugins/directory/csv/csv_source.h"
#include "plugins/directory/dird/dird_plugin.h"
#include "plugins/directory/personal/personal.h"
#include "tests/support/openapi_fields.h"
#include "tests/plugins/directory/common/plugin_test.h"

namespace {

namespace sdk = dialtone::sdk;
namespace dir = dialtone::plugins::directory;

constexpr const char* kAlice = "11111111-1111-4111-8111-111111111111";
constexpr const char* kBob = "22222222-2222-4222-8222-222222222222";

class FavoritesTest : public dialtone::testing::DirectoryPluginTest<dir::DirdPlugin> {
 protected:
  FavoritesTest() : DirectoryPluginTest("directory.dird", dir::kDirdOptions) {}
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(DirectoryPluginTest::SetUp());

    auto file = host_.data_dir() / "contacts.csv";
    std::ofstream(file) << "id,firstname,lastname,number\n"
                           "1,Alice,Abrams,1001\n"
                           "2,Bob,Brown,1002\n"
                           "3,Alicia,Keys,1003\n";
    auto csv = [&](const std::string& name, const std::string& unique) {
      std::map<std::string, std::string> o{{"source." + name + ".searched_columns", "firstname,lastname"},
                                           {"source." + name + ".first_matched_columns", "number"},
                                           {"source." + name + ".format_columns",
                                            "name = {firstname} {lastname}"}};
      if (!unique.empty()) o["source." + name + ".unique_column"] = unique;
      auto c = dir::read_source_config(sdk::Options(o), name);
      EXPECT_TRUE(c);
      return std::make_shared<dir::CsvSource>(dir::CsvConfig{*c, file, ','}, host_.log());
    };
    ASSERT_TRUE(host_.services().provide<sdk::DirectorySource>("csv", csv("csv", "id")));
    ASSERT_TRUE(host_.services().provide<sdk::DirectorySource>("nouid", csv("nouid", "")));

    personal_store_ = std::make_shared<dir::PersonalStore>(*store_);
    ASSERT_TRUE(personal_store_->migrate());
    auto pc = dir::read_source_config(
        sdk::Options(std::map<std::string, std::string>{
            {"source.personal.searched_columns", "firstname,lastname"},
            {"source.personal.first_matched_columns", "number"},
            {"source.personal.format_columns", "name = {firstname} {lastname}"}}),
        "personal");
    ASSERT_TRUE(pc);
    ASSERT_TRUE(host_.services().provide<sdk::DirectorySource>(
        "personal", std::make_shared<dir::PersonalSource>(*pc, personal_store_, host_.log())));
    for (auto& r : dir::personal_routes(personal_store_)) ASSERT_TRUE(host_.http()->mount("dird", std::move(r)));

    ASSERT_TRUE(harness_->run({{"profile.default.sources", "csv, nouid, personal"},
                               {"profile.default.display", "d"},
                               {"display.d.columns",
                                "Name|name|name, Number|number|number, Favorite|favorite|favorite, "
                                "Personal|personal|personal"}}));
    as(kAlice);
  }
  void as(const std::string& user) { DirectoryPluginTest::as(user, {"dird.#"}); }
  // "Name" -> {favorite, personal} of each result row, for the rows of `source`.
  static std::map<std::string, std::pair<bool, bool>> marks(const rapidjson::Document& d,
                                                            const std::string& source) {
    std::map<std::string, std::pair<bool, bool>> out;
    for (auto& r : d["results"].GetArray())
      if (r["source"].GetString() == source)
        out[r["column_values"][0].GetString()] = {r["column_values"][2].GetBool(),
                                                  r["column_values"][3].GetBool()};
    return out;
  }

  std::shared_ptr<dir::PersonalStore> personal_store_;
};

TEST_F(FavoritesTest, PutListsTheContactWithTheDisplayColumnsAndDeleteRemovesIt) {
  EXPECT_EQ(host_.http()->required_acl("PUT", "/0.1/directories/favorites/csv/2"),
            "dird.directories.favorites.csv.2.create");
  ASSERT_EQ(call("PUT", "/0.1/directories/favorites/csv/2").status, 204);
  // Marking twice keeps one favorite.
  ASSERT_EQ(call("PUT", "/0.1/directories/favorites/csv/2").status, 204);

  auto r = call("GET", "/0.1/directories/favorites/default");
  ASSERT_EQ(r.status, 200) << r.body;
  auto d = json(r.body);
  EXPECT_STREQ(d["column_headers"][2].GetString(), "Favorite");
  EXPECT_STREQ(d["column_types"][2].GetString(), "favorite");
  ASSERT_EQ(d["results"].Size(), 1u) << r.body;
  auto& row = d["results"][0];
  EXPECT_STREQ(row["column_values"][0].GetString(), "Bob Brown");
  EXPECT_STREQ(row["column_values"][1].GetString(), "1002");
  EXPECT_TRUE(row["column_values"][2].GetBool());
  EXPECT_FALSE(row["column_values"][3].GetBool());
  EXPECT_STREQ(row["relations"]["source_entry_id"].GetString(), "2");
  EXPECT_STREQ(row["source"].GetString(), "csv");

  ASSERT_EQ(call("DELETE", "/0.1/directories/favorites/csv/2").status, 204);
  EXPECT_EQ(json(call("GET", "/0.1/directories/favorites/default").body)["results"].Size(), 0u);
  EXPECT_EQ(call("DELETE", "/0.1/directories/favorites/csv/2").status, 404);
}

TEST_F(FavoritesTest, EachUserSeesOnlyTheirOwnFavorites) {
  ASSERT_EQ(call("PUT", "/0.1/directories/favorites/csv/1").status, 204);
  as(kBob);
  ASSERT_EQ(call("PUT", "/0.1/directories/favorites/csv/3").status, 204);
  auto bob = json(call("GET", "/0.1/directories/favorites/default").body);
  ASSERT_EQ(bob["results"].Size(), 1u);
  EXPECT_STREQ(bob["results"][0]["column_values"][0].GetString(), "Alicia Keys");
  // Bob cannot remove Alice's favorite.
  EXPECT_EQ(call("DELETE", "/0.1/directories/favorites/csv/1").status, 404);

  as(kAlice);
  auto alice = json(call("GET", "/0.1/directories/favorites/default").body);
  ASSERT_EQ(alice["results"].Size(), 1u);
  EXPECT_STREQ(alice["results"][0]["column_values"][0].GetString(), "Alice Abrams");
}

TEST_F(FavoritesTest, SourceWithoutUniqueColumnOrNotRunningIsRefusedWithTheFix) {
  auto r = call("PUT", "/0.1/directories/favorites/nouid/1");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("no unique_column"), std::string::npos) << r.body;
  auto ghost = call("PUT", "/0.1/directories/favorites/ghost/1");
  EXPECT_EQ(ghost.status, 404) << ghost.body;
  EXPECT_NE(ghost.body.find("ghost"), std::string::npos) << ghost.body;
  EXPECT_EQ(json(call("GET", "/0.1/directories/favorites/default").body)["results"].Size(), 0u);
  EXPECT_EQ(call("GET", "/0.1/directories/favorites/nope").status, 404);
}

TEST_F(FavoritesTest, LookupMarksTheUsersFavoritesAndPersonalContacts) {
  auto created = call("POST", "/0.1/personal", R"({"firstname":"Alix","lastname":"Perso","number":"2001"})");
  ASSERT_EQ(created.status, 201) << created.body;
  std::string personal_id = json(created.body)["id"].GetString();
  ASSERT_EQ(call("PUT", "/0.1/directories/favorites/csv/1").status, 204);
  ASSERT_EQ(call("PUT", "/0.1/directories/favorites/personal/" + personal_id).status, 204);

  auto r = call("GET", "/0.1/directories/lookup/default?term=ali");
  ASSERT_EQ(r.status, 200) << r.body;
  auto d = json(r.body);
  EXPECT_STREQ(d["column_types"][3].GetString(), "personal");
  auto csv = marks(d, "csv");
  EXPECT_EQ(csv["Alice Abrams"], std::make_pair(true, false));
  EXPECT_EQ(csv["Alicia Keys"], std::make_pair(false, false));
  EXPECT_EQ(marks(d, "nouid")["Alice Abrams"], std::make_pair(false, false));
  EXPECT_EQ(marks(d, "personal")["Alix Perso"], std::make_pair(true, true));

  // Favorites list personal contacts too, marked personal.
  auto fav = json(call("GET", "/0.1/directories/favorites/default").body);
  ASSERT_EQ(fav["results"].Size(), 2u);
  EXPECT_EQ(marks(fav, "personal")["Alix Perso"], std::make_pair(true, true));

  // Bob sees neither Alice's favorite mark nor her personal contact.
  as(kBob);
  auto b = json(call("GET", "/0.1/directories/lookup/default?term=ali").body);
  EXPECT_EQ(marks(b, "csv")["Alice Abrams"], std::make_pair(false, false));
  EXPECT_TRUE(marks(b, "personal").empty());
}

// xivo-dird-client's directories.personal(profile): GET
// /0.1/directories/personal/<profile> with the user's token; the client
// returns the lookup body, whose results are that user's personal contacts
// only, in the profile's display, marked personal.
TEST_F(FavoritesTest, PersonalOfAProfileListsOnlyTheUsersPersonalContacts) {
  EXPECT_EQ(host_.http()->required_acl("GET", "/0.1/directories/personal/default"),
            "dird.directories.personal.default.read");
  ASSERT_EQ(call("POST", "/0.1/personal", R"({"firstname":"Pat","lastname":"Perso","number":"2002"})").status, 201);
  ASSERT_EQ(call("POST", "/0.1/personal", R"({"firstname":"Zoe","lastname":"Zed","number":"2003"})").status, 201);
  as(kBob);
  ASSERT_EQ(call("POST", "/0.1/personal", R"({"firstname":"Bobby","lastname":"Own","number":"2004"})").status, 201);

  as(kAlice);
  auto r = call("GET", "/0.1/directories/personal/default");
  ASSERT_EQ(r.status, 200) << r.body;
  auto d = json(r.body);
  EXPECT_STREQ(d["column_headers"][0].GetString(), "Name");
  EXPECT_STREQ(d["term"].GetString(), "");
  auto mine = marks(d, "personal");
  EXPECT_EQ(mine.size(), 2u) << r.body;
  EXPECT_EQ(mine["Pat Perso"], std::make_pair(false, true));
  EXPECT_EQ(mine["Zoe Zed"], std::make_pair(false, true));
  EXPECT_TRUE(marks(d, "csv").empty()) << r.body;

  as(kBob);
  auto b = json(call("GET", "/0.1/directories/personal/default").body);
  ASSERT_EQ(b["results"].Size(), 1u);
  EXPECT_STREQ(b["results"][0]["column_values"][0].GetString(), "Bobby Own");
  EXPECT_EQ(call("GET", "/0.1/directories/personal/nope").status, 404);
}

// The field contract of plugins/directory/dird/api.yml (as served): every
// field declared for lookup, headers, reverse, favorites and personal is in
// the real answers, with results from a CSV and a personal source.
TEST_F(FavoritesTest, EveryDeclaredFieldIsReturned) {
  auto spec = YAML::Load(call("GET", "/0.1/api/api.yml").body);
  using dialtone::testing::missing_fields;
  ASSERT_EQ(call("POST", "/0.1/personal", R"({"firstname":"Alix","lastname":"Perso","number":"2001"})").status, 201);
  ASSERT_EQ(call("PUT", "/0.1/directories/favorites/csv/1").status, 204);
  const std::pair<std::string, std::string> routes[] = {
      {"/0.1/directories/lookup/{profile}", "/0.1/directories/lookup/default?term=ali"},
      {"/0.1/directories/lookup/{profile}/headers", "/0.1/directories/lookup/default/headers"},
      {"/0.1/directories/reverse/{profile}/{user_uuid}",
       std::string("/0.1/directories/reverse/default/") + kAlice + "?exten=1002"},
      {"/0.1/directories/favorites/{profile}", "/0.1/directories/favorites/default"},
      {"/0.1/directories/personal/{profile}", "/0.1/directories/personal/default"}};
  for (auto& [declared, path] : routes) {
    auto r = call("GET", path);
    ASSERT_EQ(r.status, 200) << path << ": " << r.body;
    EXPECT_EQ(missing_fields(spec, "GET", declared, r.body), "") << path << ": " << r.body;
  }
  // A result row is checked, not only the empty list around it.
  EXPECT_NE(call("GET", "/0.1/directories/personal/default").body.find("Alix"), std::string::npos);
}

}  // namespace
