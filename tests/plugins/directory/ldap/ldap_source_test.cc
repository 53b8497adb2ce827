#include <gtest/gtest.h>

#include <cstdio>
#include <memory>

#include "plugins/directory/ldap/ldap_source.h"
#include "tests/plugins/directory/ldap/slapd_fixture.h"
#include "tests/support/test_logger.h"

namespace dialtone::plugins::directory {
namespace {

using namespace std::chrono_literals;

constexpr int kPeople = 3000;
const char* const kFirst[10] = {"Alice", "Bob", "Charles", "Denise", "Émile",
                                "Jürgen", "François", "Gaëlle", "Hugo", "Inès"};

std::string number(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "555%07d", i);
  return buf;
}
std::string surname(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "Name%04d", i);
  return buf;
}

class LdapSourceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    slapd_ = new dialtone::testing::Slapd();
    if (!slapd_->running()) return;
    std::string ldif;
    auto person = [&](const std::string& uid, const std::string& given, const std::string& sn,
                      const std::string& phone) {
      ldif += "dn: uid=" + uid + ",ou=people," + dialtone::testing::Slapd::kSuffix + "\n";
      ldif += "objectClass: inetOrgPerson\nuid: " + uid + "\n";
      ldif += dialtone::testing::ldif_value("cn", given + " " + sn);
      ldif += dialtone::testing::ldif_value("givenName", given);
      ldif += dialtone::testing::ldif_value("sn", sn);
      ldif += "telephoneNumber: " + phone + "\n\n";
    };
    for (int i = 0; i < kPeople; ++i) person("p" + std::to_string(i), kFirst[i % 10], surname(i), number(i));
    person("star", "Star", "* Man", "5559990001");
    person("paren", "Paren", "(Test)", "5559990002");
    person("backslash", "Back\\slash", "Person", "5559990003");
    ldif += std::string("dn: cn=reader,") + dialtone::testing::Slapd::kSuffix +
            "\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: reader\n"
            "userPassword: readerpw\n\n";
    loaded_ = slapd_->add(ldif);
  }
  static void TearDownTestSuite() {
    delete slapd_;
    slapd_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(slapd_->running()) << slapd_->error();
    ASSERT_TRUE(loaded_) << "ldapadd of the test entries failed";
  }

  LdapConfig config(std::string uri = {}) {
    sdk::Options o(std::map<std::string, std::string>{{"source.corp.searched_columns", "cn,sn"},
                    {"source.corp.first_matched_columns", "telephoneNumber,mobile"},
                    {"source.corp.unique_column", "entryUUID"},
                    {"source.corp.format_columns", "name = {cn}, number = {telephoneNumber}"}});
    LdapConfig c;
    c.source = *read_source_config(o, "corp");
    c.uri = uri.empty() ? slapd_->uri() : uri;
    c.base_dn = std::string("ou=people,") + dialtone::testing::Slapd::kSuffix;
    c.size_limit = 5000;
    return c;
  }

  static inline dialtone::testing::Slapd* slapd_ = nullptr;
  static inline bool loaded_ = false;
  dialtone::testing::TestLogger log_;
};

TEST_F(LdapSourceTest, SearchMatchesThePrefixOfSearchedColumns) {
  LdapSource src(config(), log_);
  auto r = src.search({"alice"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->size(), static_cast<std::size_t>(kPeople / 10));
  for (auto& e : *r) EXPECT_EQ(e.field("name").rfind("Alice ", 0), 0u) << e.field("name");
  auto by_sn = src.search({"Name0042"});
  ASSERT_TRUE(by_sn);
  ASSERT_EQ(by_sn->size(), 1u);
  EXPECT_EQ((*by_sn)[0].field("name"), "Charles Name0042");
  auto inner = src.search({"lice"});  // seed: `cn=%Q*`, a prefix, not a substring
  ASSERT_TRUE(inner);
  EXPECT_TRUE(inner->empty());
}

TEST_F(LdapSourceTest, AccentedTermsFindAccentedNames) {
  LdapSource src(config(), log_);
  for (const char* term : {"Émile", "jürgen", "François", "Gaëlle", "INÈS"}) {
    auto r = src.search({term});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->size(), static_cast<std::size_t>(kPeople / 10)) << term;
  }
}

TEST_F(LdapSourceTest, SpecialCharactersAreEscapedAndCannotInjectAFilter) {
  LdapSource src(config(), log_);
  auto inj = src.search({"*)(cn=*"});
  ASSERT_TRUE(inj) << inj.error().message;
  EXPECT_TRUE(inj->empty());
  auto star = src.search({"Star *"});
  ASSERT_TRUE(star);
  ASSERT_EQ(star->size(), 1u);
  EXPECT_EQ((*star)[0].field("name"), "Star * Man");
  auto paren = src.search({"Paren (T"});
  ASSERT_TRUE(paren);
  ASSERT_EQ(paren->size(), 1u);
  auto bs = src.search({"Back\\s"});
  ASSERT_TRUE(bs);
  ASSERT_EQ(bs->size(), 1u);
  EXPECT_EQ((*bs)[0].field("givenName"), "Back\\slash");
  auto nul = src.search({std::string("Ali\0ce", 6)});
  ASSERT_TRUE(nul);
  EXPECT_TRUE(nul->empty());
}

TEST_F(LdapSourceTest, FirstMatchFindsTheEntryByExactNumber) {
  LdapSource src(config(), log_);
  auto r = src.first_match({number(1234)});
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->field("name"), "Émile Name1234");
  EXPECT_EQ((*r)->field("number"), number(1234));
  auto none = src.first_match({"555"});
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
}

TEST_F(LdapSourceTest, EntryUuidIsTheUniqueIdAndListsFavorites) {
  LdapSource src(config(), log_);
  auto r = src.search({"Name0007"});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 1u);
  auto id = (*r)[0].unique_id;
  EXPECT_EQ(id.size(), 36u) << id;
  auto l = src.list({id, "00000000-0000-0000-0000-000000000000"}, {});
  ASSERT_TRUE(l) << l.error().message;
  ASSERT_EQ(l->size(), 1u);
  EXPECT_EQ((*l)[0].field("name"), "Gaëlle Name0007");
}

TEST_F(LdapSourceTest, CustomFilterIsAndedWithTheSearchedColumns) {
  auto c = config();
  c.custom_filter = "(|(givenName=Bob)(givenName=Alice))";
  EXPECT_EQ(ldap_search_filter(c, "x*"),
            "(&(|(givenName=Bob)(givenName=Alice))(|(cn=x\\2a*)(sn=x\\2a*)))");
  LdapSource src(c, log_);
  auto r = src.search({"Name00"});  // Name0000..Name0099, of which 20 are Alice or Bob
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->size(), 20u);
}

TEST_F(LdapSourceTest, UnreachableServerFailsQuicklyWithOneLogLine) {
  int port = dialtone::testing::free_port();
  LdapSource src(config("ldap://127.0.0.1:" + std::to_string(port)), log_);
  for (int i = 0; i < 3; ++i) {
    auto r = src.search({"alice"});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, sdk::ErrorCode::unavailable);
  }
  ASSERT_EQ(log_.lines().size(), 1u);
  EXPECT_TRUE(log_.contains("directory source corp"));
  EXPECT_TRUE(log_.contains("source.corp.uri"));
}

TEST_F(LdapSourceTest, WrongBindPasswordFailsWithAClearLineAndRecoversOnceFixed) {
  auto c = config();
  c.bind_dn = std::string("cn=reader,") + dialtone::testing::Slapd::kSuffix;
  c.bind_password = "newpass";
  LdapSource src(c, log_);
  for (int i = 0; i < 2; ++i) {
    auto r = src.search({"alice"});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, sdk::ErrorCode::unavailable);
  }
  ASSERT_EQ(log_.lines().size(), 1u);
  EXPECT_TRUE(log_.contains("bind_password"));
  // The admin fixes the password on the server side; the same source recovers.
  ASSERT_TRUE(slapd_->modify(std::string("dn: cn=reader,") + dialtone::testing::Slapd::kSuffix +
                             "\nchangetype: modify\nreplace: userPassword\nuserPassword: newpass\n"));
  auto ok = src.search({"alice"});
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->size(), static_cast<std::size_t>(kPeople / 10));
  EXPECT_TRUE(log_.contains("answers again"));
}

TEST(LdapHelpers, GuidBytesBecomeTheUuidStringActiveDirectoryShows) {
  const unsigned char b[16] = {0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66,
                               0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
  auto s = guid_to_string(std::string_view(reinterpret_cast<const char*>(b), 16));
  EXPECT_EQ(s, "00112233-4455-6677-8899-aabbccddeeff");
  EXPECT_EQ(guid_to_filter_value(s), "\\33\\22\\11\\00\\55\\44\\77\\66\\88\\99\\aa\\bb\\cc\\dd\\ee\\ff");
  EXPECT_EQ(ldap_escape(std::string("a*(b)\\\0", 7)), "a\\2a\\28b\\29\\5c\\00");
}

}  // namespace
}  // namespace dialtone::plugins::directory
