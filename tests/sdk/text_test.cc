// dialtone/text.h, dialtone/base64.h and dialtone/topic.h: the string
// helpers and the bus's topic matching the kernel, the fake host and the
// plugins share.
#include <dialtone/base64.h>
#include <dialtone/files.h>
#include <dialtone/random.h>
#include <dialtone/text.h>
#include <dialtone/topic.h>
#include <dialtone/url.h>
#include <dialtone/option_check.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace text = dialtone::sdk::text;
using dialtone::sdk::topic_matches;

namespace {

TEST(Text, TrimDropsSpacesTabsAndLineEndsOnBothSides) {
  EXPECT_EQ(text::trim("  a b \r\n"), "a b");
  EXPECT_EQ(text::trim("\t\t"), "");
  EXPECT_EQ(text::trim(""), "");
  EXPECT_EQ(text::trim_view(" x "), "x");
}

TEST(Text, SplitKeepsEmptyPiecesAndGivesNoneForEmptyText) {
  EXPECT_EQ(text::split("a,b,,c", ','), (std::vector<std::string>{"a", "b", "", "c"}));
  EXPECT_EQ(text::split(",", ','), (std::vector<std::string>{"", ""}));
  EXPECT_TRUE(text::split("", ',').empty());
}

TEST(Text, SplitListTrimsAndDropsEmptyItems) {
  EXPECT_EQ(text::split_list(" a, b ,,c, "), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(text::split_list("x; y", ';'), (std::vector<std::string>{"x", "y"}));
  EXPECT_TRUE(text::split_list(" , ").empty());
}

TEST(Text, LowerUpperAndJoin) {
  EXPECT_EQ(text::to_lower("YeaLink-T46S"), "yealink-t46s");
  EXPECT_EQ(text::to_upper("sip/Alice-1"), "SIP/ALICE-1");
  EXPECT_EQ(text::to_lower('Q'), 'q');
  EXPECT_EQ(text::to_upper('d'), 'D');
  EXPECT_EQ(text::to_upper('#'), '#');
  EXPECT_EQ(text::to_lower("CAF\xC3\x89"), "caf\xC3\x89") << "bytes above 0x7F are left alone";
  EXPECT_EQ(text::join({"a", "b", "c"}, ", "), "a, b, c");
  EXPECT_EQ(text::join({}, ","), "");
}

TEST(Text, CaseInsensitiveEqualityAndYesWords) {
  EXPECT_TRUE(text::iequals("Digest", "dIGEST"));
  EXPECT_FALSE(text::iequals("Digest", "Digest "));
  EXPECT_FALSE(text::iequals("a", "b"));
  EXPECT_TRUE(text::istarts_with("basic YWRtaW4=", "Basic "));
  EXPECT_FALSE(text::istarts_with("Bearer x", "Basic "));
  EXPECT_FALSE(text::istarts_with("Basic", "Basic "));
  for (auto yes : {"yes", "YES", "True", "on", "1"}) EXPECT_TRUE(text::is_true(yes)) << yes;
  for (auto no : {"no", "false", "off", "0", "", "2", "yess"}) EXPECT_FALSE(text::is_true(no)) << no;
}

TEST(Text, BooleanWordsReadAsTheOptionValidatorReadsThem) {
  using dialtone::sdk::parse_boolean;
  for (auto yes : {"yes", "True", "ON", "1", " yes "}) EXPECT_EQ(parse_boolean(yes), true) << yes;
  for (auto no : {"no", "FALSE", "off", "0"}) EXPECT_EQ(parse_boolean(no), false) << no;
  for (auto neither : {"", "maybe", "2", "yess"}) EXPECT_EQ(parse_boolean(neither), std::nullopt) << neither;
}

TEST(Url, PercentDecodingKeepsPlusInAPathAndMakesItASpaceInAQuery) {
  using dialtone::sdk::percent_decode;
  EXPECT_EQ(percent_decode("a%20b+c", false), "a b+c");
  EXPECT_EQ(percent_decode("a%20b+c", true), "a b c");
  EXPECT_EQ(percent_decode("%e9t%C3%A9", false), "\xe9t\xc3\xa9");
  EXPECT_EQ(percent_decode("100%", false), "100%") << "a malformed escape is kept as written";
  EXPECT_EQ(percent_decode("%zz%4", false), "%zz%4");
}

TEST(Url, PercentEncodingKeepsOnlyUnreservedCharactersAndDecodesBack) {
  using dialtone::sdk::percent_decode;
  using dialtone::sdk::percent_encode;
  EXPECT_EQ(percent_encode("Zo\xc3\xab O'Hara/2"), "Zo%C3%AB%20O%27Hara%2F2");
  EXPECT_EQ(percent_encode("a-b.c_d~E9"), "a-b.c_d~E9");
  EXPECT_EQ(percent_encode("?&=#+%"), "%3F%26%3D%23%2B%25");
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  EXPECT_EQ(percent_decode(percent_encode(all), true), all);
}

TEST(Text, UuidLikeAndLdapEscapes) {
  EXPECT_TRUE(text::is_uuid("11111111-1111-4111-8111-11111111111A"));
  EXPECT_FALSE(text::is_uuid("11111111-1111-4111-8111-11111111111"));
  EXPECT_FALSE(text::is_uuid("11111111x1111-4111-8111-111111111111"));
  EXPECT_FALSE(text::is_uuid("g1111111-1111-4111-8111-111111111111"));
  EXPECT_EQ(text::like_escape("50%_off\\x"), "50\\%\\_off\\\\x");
  EXPECT_EQ(text::ldap_filter_escape(std::string("a*(b)\\\0", 7)), "a\\2a\\28b\\29\\5c\\00");
  EXPECT_EQ(text::xml_escape("<a href=\"x?a=1&b='2'\">"), "&lt;a href=&quot;x?a=1&amp;b=&apos;2&apos;&quot;&gt;");
}

// RFC 4648's test vectors, binary bytes, and a round trip of every length.
TEST(Base64, EncodesWithPaddingAndDecodesBack) {
  const char* vectors[][2] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                              {"foo", "Zm9v"},  {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
                              {"foobar", "Zm9vYmFy"}};
  for (auto& [plain, encoded] : vectors) {
    EXPECT_EQ(dialtone::sdk::base64_encode(plain), encoded);
    std::string back;
    EXPECT_TRUE(dialtone::sdk::base64_decode(encoded, back));
    EXPECT_EQ(back, plain);
  }
  EXPECT_EQ(dialtone::sdk::base64_encode("admin:pw"), "YWRtaW46cHc=");
  EXPECT_EQ(dialtone::sdk::base64_encode(std::string("\xff\xfe\0\x80", 4)), "//4AgA==");
  std::string all;
  for (int i = 0; i < 256; ++i) {
    std::string back;
    ASSERT_TRUE(dialtone::sdk::base64_decode(dialtone::sdk::base64_encode(all), back));
    EXPECT_EQ(back, all);
    all += static_cast<char>(i);
  }
  std::string out;
  EXPECT_FALSE(dialtone::sdk::base64_decode("Zm9v!", out)) << "a character outside the alphabet";
  EXPECT_FALSE(dialtone::sdk::base64_decode(std::string("Zm\0v", 4), out));
}

TEST(Files, AtomicWriteReplacesWholeLeavesNoTemporaryAndReadsBack) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("dialtone-files-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const auto file = dir / "greeting.txt";
  EXPECT_EQ(dialtone::sdk::read_file(file), std::nullopt) << "not there yet";

  std::string bytes("line 1\n\0binary\xff", 15);
  ASSERT_TRUE(dialtone::sdk::write_file_atomically(file, bytes));
  EXPECT_EQ(dialtone::sdk::read_file(file), bytes);
  ASSERT_TRUE(dialtone::sdk::write_file_atomically(file, "shorter", 0640));
  EXPECT_EQ(dialtone::sdk::read_file(file), "shorter") << "replaced whole, not overwritten in place";
  EXPECT_EQ(fs::status(file).permissions() & fs::perms::others_read, fs::perms::none);
  std::size_t entries = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator(dir)) ++entries;
  EXPECT_EQ(entries, 1u) << "no temporary file left beside it";

  auto refused = dialtone::sdk::write_file_atomically(dir / "missing" / "x.txt", "x");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("missing"), std::string::npos) << refused.error().message;
  EXPECT_EQ(dialtone::sdk::read_file(dir), std::nullopt) << "a directory is not a file's bytes";
  fs::remove_all(dir);
}

TEST(Random, TokensHaveTheLengthAndAlphabetAskedAndDiffer) {
  using dialtone::sdk::random_token;
  std::string seen;
  for (int i = 0; i < 200; ++i) {
    auto t = random_token(20);
    ASSERT_EQ(t.size(), 20u);
    for (char c : t) {
      ASSERT_NE(dialtone::sdk::kTokenAlphabet.find(c), std::string_view::npos) << t;
      if (seen.find(c) == std::string::npos) seen += c;
    }
  }
  EXPECT_EQ(seen.size(), dialtone::sdk::kTokenAlphabet.size()) << "every character is drawn: " << seen;
  EXPECT_NE(random_token(16), random_token(16));
  auto hex = random_token(64, "0123456789abcdef");
  EXPECT_EQ(hex.find_first_not_of("0123456789abcdef"), std::string::npos) << hex;
  EXPECT_EQ(random_token(0), "");
}

TEST(Topic, StarIsOneSegmentHashIsZeroOrMore) {
  EXPECT_TRUE(topic_matches("call.*.answered", "call.42.answered"));
  EXPECT_FALSE(topic_matches("call.*.answered", "call.42.x.answered"));
  EXPECT_TRUE(topic_matches("config.user.#", "config.user"));
  EXPECT_TRUE(topic_matches("config.user.#", "config.user.created.now"));
  EXPECT_FALSE(topic_matches("config.*", "config.user.created"));
  EXPECT_TRUE(topic_matches("#", "anything.at.all"));
  EXPECT_TRUE(topic_matches("#.ended", "calls.channel.ended"));
  EXPECT_FALSE(topic_matches("#.ended", "calls.channel.state"));
  EXPECT_TRUE(topic_matches("a.#.z", "a.z"));
  EXPECT_TRUE(topic_matches("a.#.z", "a.b.c.z"));
  EXPECT_FALSE(topic_matches("a.b", "a.b.c"));
}

}  // namespace
