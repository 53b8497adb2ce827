#include <gtest/gtest.h>

#include "plugins/directory/common/directory_common.h"

namespace dialtone::plugins::directory {
namespace {

TEST(DirectoryCommon, FoldIgnoresCaseAndLatinAccents) {
  EXPECT_EQ(fold("Émile Zoé"), "emile zoe");
  EXPECT_EQ(fold("Jürgen MÜLLER"), "jurgen muller");
  EXPECT_EQ(fold("François Garçon"), "francois garcon");
  EXPECT_EQ(fold("Straße Łódź"), "strasse lodz");
}

TEST(DirectoryCommon, FormatColumnsRenderTemplatesOverRawColumns) {
  sdk::Options o(std::map<std::string, std::string>{{"source.x.format_columns", "name = {fn} {ln}, number = {num}, braces = {{x}}"},
                  {"source.x.unique_column", "id"}});
  auto c = read_source_config(o, "x");
  ASSERT_TRUE(c) << c.error().message;
  auto e = make_entry(*c, {{"fn", "Alice"}, {"ln", "Abrams"}, {"num", "123"}, {"id", "7"}});
  EXPECT_EQ(e.field("name"), "Alice Abrams");
  EXPECT_EQ(e.field("number"), "123");
  EXPECT_EQ(e.field("braces"), "{x}");
  EXPECT_EQ(e.unique_id, "7");
  EXPECT_EQ(e.source, "x");
  auto missing = make_entry(*c, {{"ln", "Solo"}});
  EXPECT_EQ(missing.field("name"), "Solo");
}

TEST(DirectoryCommon, MalformedFormatColumnNamesTheSourceAndTheFix) {
  sdk::Options o(std::map<std::string, std::string>{{"source.corp.format_columns", "{fn}"}});
  auto c = read_source_config(o, "corp");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("source corp"), std::string::npos);
  EXPECT_NE(c.error().message.find("field = template"), std::string::npos);
}

TEST(DirectoryCommon, MatchRankOrdersWholeWordThenPrefixThenAnywhere) {
  EXPECT_EQ(match_rank("jean dupont", "jean"), 0);
  EXPECT_EQ(match_rank("jeanne dupont", "jean"), 1);
  EXPECT_EQ(match_rank("marie-jeanne", "jean"), 1);
  EXPECT_EQ(match_rank("ajeanb", "jean"), 2);
  EXPECT_EQ(match_rank("paul", "jean"), 3);
}

}  // namespace
}  // namespace dialtone::plugins::directory
