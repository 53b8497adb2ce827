// dialtone/json.h: every value written by RapidJSON's writer, so the text
// parses back to what was given, whatever the value holds.
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <dialtone/http.h>
#include <dialtone/json.h>
#include <dialtone/json_member.h>

namespace {

namespace json = dialtone::sdk::json;

TEST(Json, ObjectKeepsOrderAndTypes) {
  EXPECT_EQ(json::object({{"id", 7}, {"big", 5'000'000'000LL}, {"ok", true}, {"ratio", 0.5}, {"none", nullptr},
                          {"name", "a"}}),
            R"({"id":7,"big":5000000000,"ok":true,"ratio":0.5,"none":null,"name":"a"})");
  EXPECT_EQ(json::object({}), "{}");
}

TEST(Json, StringsWithQuotesBackslashesAndControlCharactersParseBack) {
  const std::string nasty = "say \"hi\"\\ \n\t\x01 caf\xc3\xa9";
  auto text = json::object({{"detail", nasty}, {"k\"ey", "v"}});
  rapidjson::Document d;
  ASSERT_FALSE(d.Parse(text.c_str()).HasParseError()) << text;
  EXPECT_EQ(std::string(d["detail"].GetString(), d["detail"].GetStringLength()), nasty);
  EXPECT_STREQ(d["k\"ey"].GetString(), "v");
  EXPECT_EQ(json::string("a\"b"), R"("a\"b")");
}

TEST(Json, ArraysRawValuesAndOptionalStrings) {
  std::vector<std::string> tags{"x", "y\"z"};
  EXPECT_EQ(json::array(tags), R"(["x","y\"z"])");
  EXPECT_EQ(json::array(std::vector<std::string>{}), "[]");
  EXPECT_EQ(json::array({1, "two", nullptr}), R"([1,"two",null])");
  EXPECT_EQ(json::object({{"list", json::Raw{json::array(tags)}}}), R"({"list":["x","y\"z"]})");
  std::optional<std::string> none, some = "d";
  EXPECT_EQ(json::object({{"a", none}, {"b", some}}), R"({"a":null,"b":"d"})");
}

TEST(Json, ObjectsAndArraysBuiltAtRunTime) {
  std::vector<std::string> keys{"b\"", "a"};
  std::vector<json::Member> members;
  for (auto& k : keys) members.emplace_back(k, k.size());
  members.emplace_back("nested", json::Raw{json::object({{"x", 1}})});
  EXPECT_EQ(json::object(members), R"({"b\"":2,"a":1,"nested":{"x":1}})");
  std::vector<json::Value> rows{json::Raw{json::object({{"id", 1}})}, 2, "three"};
  EXPECT_EQ(json::array(rows), R"([{"id":1},2,"three"])");
  EXPECT_EQ(json::object(std::vector<json::Member>{}), "{}");
}

TEST(Json, HttpErrorBodyIsAListOfEscapedMessages) {
  auto r = dialtone::sdk::HttpResponse::error(400, {"bad \"name\"", "second"});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, R"(["bad \"name\"","second"])");
}

TEST(Json, MembersReadAsTheirFallbackWhenAbsentOrOfAnotherType) {
  rapidjson::Document d;
  d.Parse(R"({"name":"a\u0000b","id":"7","n":5000000000,"half":0.5})");
  ASSERT_TRUE(d.IsObject());
  EXPECT_EQ(json::string_member(d, "name"), std::string("a\0b", 3));  // the whole string
  EXPECT_EQ(json::string_member(d, "n"), "");
  EXPECT_EQ(json::string_member(d, "missing"), "");
  EXPECT_EQ(json::int_member(d, "n"), 5'000'000'000LL);
  EXPECT_EQ(json::int_member(d, "id", -1), -1);
  EXPECT_EQ(json::int_member(d, "half", -1), -1);
  rapidjson::Document list;
  list.Parse("[1]");
  EXPECT_EQ(json::string_member(list, "name"), "");
  EXPECT_EQ(json::int_member(list, "n", 3), 3);
}

TEST(Json, TextMemberPrintsNumbersAndBooleansAndIsEmptyForNull) {
  rapidjson::Document d;
  d.Parse(R"({"port":8667,"sport":"5060","on":true,"none":null,"obj":{"a":[1,"x"]}})");
  ASSERT_TRUE(d.IsObject());
  EXPECT_EQ(json::text_member(d, "port"), "8667");
  EXPECT_EQ(json::text_member(d, "sport"), "5060");
  EXPECT_EQ(json::text_member(d, "on"), "true");
  EXPECT_EQ(json::text_member(d, "obj"), R"({"a":[1,"x"]})");
  EXPECT_EQ(json::text_member(d, "none"), std::nullopt);
  EXPECT_EQ(json::text_member(d, "missing"), std::nullopt);
  EXPECT_TRUE(json::bool_member(d, "on"));
  EXPECT_TRUE(json::bool_member(d, "port", true));  // not a boolean: the fallback
  EXPECT_EQ(json::to_text(d["obj"]), R"({"a":[1,"x"]})");
}

}  // namespace
