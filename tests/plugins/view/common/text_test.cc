#include <dialtone/view/text.h>

#include <gtest/gtest.h>

#include <dialtone/mustache.h>

namespace dialtone::plugins::view {
namespace {

// Views escape through the template engine, as provisioning files do.
TEST(ViewText, EscapesAllFiveXmlSpecials) {
  EXPECT_EQ(mustache::escape_xml("a&b<c>d\"e'f"), "a&amp;b&lt;c&gt;d&quot;e&apos;f");
  sdk::TemplateData ctx;
  ctx.set("v", "a&b<c>d\"e'f");
  auto out = mustache::render("<x a=\"{{v}}\">{{v}}</x>", ctx, sdk::Escape::xml);
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, "<x a=\"a&amp;b&lt;c&gt;d&quot;e&apos;f\">a&amp;b&lt;c&gt;d&quot;e&apos;f</x>");
}

TEST(ViewText, ControlCharactersBecomeSingleSpaces) {
  EXPECT_EQ(clean_utf8("\x01" "Bob\t\n  Smith\x7f"), "Bob Smith");
  EXPECT_EQ(clean_utf8("a\xc2\x85" "b"), "a b");  // C1 control NEL
}

TEST(ViewText, InvalidUtf8IsReplacedNotPassedThrough) {
  EXPECT_EQ(clean_utf8("ab\xff" "cd"), "ab?cd");
  EXPECT_EQ(clean_utf8("\xc3"), "?");                 // truncated sequence
  EXPECT_EQ(clean_utf8("\xed\xa0\x80"), "???");       // UTF-16 surrogate
  EXPECT_EQ(clean_utf8("\xc0\xaf"), "??");            // overlong '/'
  EXPECT_EQ(clean_utf8("\xef\xbf\xbf"), "?");         // U+FFFF, not allowed in XML
}

TEST(ViewText, TruncationCountsCharactersAndKeepsSequencesWhole) {
  std::string s = "\xc3\xa9\xc3\xa9\xe5\xb1\xb1\xf0\x9f\x98\x80z";  // é é 山 😀 z
  EXPECT_EQ(truncate_chars(s, 3), "\xc3\xa9\xc3\xa9\xe5\xb1\xb1");
  EXPECT_EQ(truncate_chars(s, 4), "\xc3\xa9\xc3\xa9\xe5\xb1\xb1\xf0\x9f\x98\x80");
  EXPECT_EQ(truncate_chars(s, 10), s);
  EXPECT_EQ(display_text("Jean Dupont", 5), "Jean");  // no trailing space left
}

TEST(ViewText, PageUrlEncodesTheTerm) {
  EXPECT_EQ(page_url("http://pbx/x", "é & b", 32), "http://pbx/x?term=%C3%A9%20%26%20b&offset=32");
}

}  // namespace
}  // namespace dialtone::plugins::view
