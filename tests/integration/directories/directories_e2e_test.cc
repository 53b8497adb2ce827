// directory.{csv,phonebook,ldap,dird} and view.{phoned,cisco,yealink} in the
// real dialtoned: lookups, headers and reverse over the dird REST API, phone
// pages on the phoned listener, a dead LDAP server mid-test.
#include <Poco/DOM/DOMParser.h>
#include <Poco/DOM/Document.h>
#include <Poco/DOM/Element.h>
#include <Poco/DOM/NodeList.h>
#include <Poco/AutoPtr.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "tests/integration/support/dialtoned_fixture.h"
#include "tests/plugins/directory/ldap/slapd_fixture.h"

namespace {

namespace fs = std::filesystem;
using dialtone::testing::Dialtoned;
using dialtone::testing::json_size;
using dialtone::testing::json_string;

constexpr const char* kUserUuid = "6b3d0c2e-3a1f-4c55-9d1e-0a1b2c3d4e5f";

std::string phoned_conf(const std::string& subnets) {
  return "[plugin]\nname = view.phoned\n\n[phoned]\nauthorized_subnets = " + subnets + "\n";
}

// The slapd fixture has no stop(): find its process by the URI on its command line.
bool kill_slapd(const std::string& uri) {
  for (auto& e : fs::directory_iterator("/proc")) {
    auto name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "cmdline");
    std::string cmd((std::istreambuf_iterator<char>(in)), {});
    if (cmd.find("slapd") != std::string::npos && cmd.find(uri) != std::string::npos) {
      int pid = std::stoi(name);
      ::kill(pid, SIGTERM);
      dialtone::testing::eventually([&] { return ::kill(pid, 0) != 0; });
      return true;
    }
  }
  return false;
}

class DirectoriesE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    slapd_ = new dialtone::testing::Slapd();
    if (!slapd_->running()) return;
    std::string base = std::string("ou=people,") + dialtone::testing::Slapd::kSuffix;
    slapd_->add("dn: cn=Alicia Ldap," + base +
                "\nobjectClass: inetOrgPerson\ncn: Alicia Ldap\nsn: Ldap\ntelephoneNumber: 301\n\n"
                "dn: cn=Zed Ldap," + base + "\nobjectClass: inetOrgPerson\ncn: Zed Ldap\nsn: Ldap\ntelephoneNumber: 302\n");
    std::string csv = "[plugin]\nname = directory.csv\n\n[source.dmc]\nfile = " + std::string(INTEGRATION_DATA) +
                      "/contacts.csv\nunique_column = id\nsearched_columns = firstname, lastname\n"
                      "first_matched_columns = phone, mobile\n"
                      "format_columns = name = {firstname} {lastname}, number = {phone}, mobile = {mobile}\n";
    std::string pb = "[plugin]\nname = directory.phonebook\n\n[source.pb]\nphonebook_name = main\nunique_column = id\n"
                     "searched_columns = firstname, lastname\nfirst_matched_columns = officenumbers\n"
                     "format_columns = name = {fullname}, number = {officenumbers}\n";
    std::string ldap = "[plugin]\nname = directory.ldap\n\n[source.corp]\nuri = " + slapd_->uri() +
                       "\nbase_dn = " + base +
                       "\nunique_column = entryUUID\nsearched_columns = cn, sn\n"
                       "first_matched_columns = telephoneNumber\nformat_columns = name = {cn}, number = {telephoneNumber}\n"
                       "network_timeout = 200ms\nsearch_timeout = 500ms\n";
    std::string dird = "[plugin]\nname = directory.dird\n\n[profile.default]\nsources = dmc, pb, corp\n"
                       "timeout = 2s\ndisplay = d\nphone_display = p\n\n[display.d]\n"
                       "columns = Name|name|name, Number|number|number, Mobile|mobile|mobile\n\n"
                       "[phone_display.p]\nname = name\nnumbers = number, mobile:{name} (Mobile)\n";
    d_ = new Dialtoned({.plugin_files = {{"20-directory-csv.conf", csv},
                                         {"21-directory-phonebook.conf", pb},
                                         {"22-directory-ldap.conf", ldap},
                                         {"25-directory-dird.conf", dird},
                                         {"30-view-phoned.conf", phoned_conf("127.0.0.0/8")},
                                         {"31-view-cisco.conf", "[plugin]\nname = view.cisco\n"},
                                         {"32-view-yealink.conf", "[plugin]\nname = view.yealink\n"}}});
    if (!d_->ready()) return;
    auto h = headers();
    auto book = d_->http("POST", "dird", "/0.1/tenants/default/phonebooks", R"({"name":"main"})", h);
    auto id = json_string(book.body, "/id");
    if (book.status != 201 || id.empty()) {
      setup_error_ = "phonebook: " + std::to_string(book.status) + " " + book.body;
      return;
    }
    for (auto* c : {R"({"firstname":"Alix","lastname":"Book","officenumbers":"201"})",
                    R"({"firstname":"Yann","lastname":"Book","officenumbers":"202"})"}) {
      auto r = d_->http("POST", "dird", "/0.1/tenants/default/phonebooks/" + id + "/contacts", c, h);
      if (r.status != 201) setup_error_ = "contact: " + std::to_string(r.status) + " " + r.body;
    }
  }
  static void TearDownTestSuite() {
    delete d_;
    delete slapd_;
    d_ = nullptr;
    slapd_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(slapd_->running()) << slapd_->error();
    ASSERT_TRUE(d_->ready()) << d_->error();
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
  }
  static dialtone::testing::Headers headers() { return {{"X-Auth-Token", d_->token()}}; }
  static dialtone::testing::HttpAnswer dird(const std::string& path) {
    return d_->http("GET", "dird", path, "", headers());
  }
  static std::vector<std::string> names(const std::string& body) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < json_size(body, "/results"); ++i)
      out.push_back(json_string(body, "/results/" + std::to_string(i) + "/column_values/0"));
    return out;
  }

  static Dialtoned* d_;
  static dialtone::testing::Slapd* slapd_;
  static std::string setup_error_;
};
Dialtoned* DirectoriesE2E::d_ = nullptr;
dialtone::testing::Slapd* DirectoriesE2E::slapd_ = nullptr;
std::string DirectoriesE2E::setup_error_;

// Runs first (alphabetical order is not guaranteed; the slapd-stopping test checks it is last).
TEST_F(DirectoriesE2E, A_LookupMergesTheThreeSourcesInDefaultJsonOrder) {
  auto r = dird("/0.1/directories/lookup/default?term=ali");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json_string(r.body, "/term"), "ali");
  EXPECT_EQ(json_size(r.body, "/failed_sources"), 0u) << r.body;
  // Whole word, then word prefix (by name), then anywhere.
  std::vector<std::string> want{"Ali Baba", "Alice Abrams", "Alicia Ldap", "Alix Book", "Bob Alison", "Natalie Sub"};
  EXPECT_EQ(names(r.body), want) << r.body;
  EXPECT_EQ(json_string(r.body, "/results/0/source"), "dmc");
  EXPECT_EQ(json_string(r.body, "/results/2/source"), "corp");
  EXPECT_EQ(json_string(r.body, "/results/3/source"), "pb");
  EXPECT_EQ(json_string(r.body, "/results/1/column_values/2"), "0611111111");
  // Accents are folded.
  EXPECT_EQ(names(dird("/0.1/directories/lookup/default?term=emile").body), std::vector<std::string>{"Émile Zola"});
  EXPECT_EQ(dird("/0.1/directories/lookup/default").status, 400);
  EXPECT_EQ(dird("/0.1/directories/lookup/nosuch?term=a").status, 404);
  EXPECT_EQ(d_->http("GET", "dird", "/0.1/directories/lookup/default?term=ali").status, 401);
}

TEST_F(DirectoriesE2E, A_HeadersAndReverse) {
  auto h = dird("/0.1/directories/lookup/default/headers");
  ASSERT_EQ(h.status, 200) << h.body;
  EXPECT_EQ(json_string(h.body, "/column_headers/0"), "Name");
  EXPECT_EQ(json_string(h.body, "/column_headers/2"), "Mobile");
  EXPECT_EQ(json_string(h.body, "/column_types/1"), "number");

  auto base = std::string("/0.1/directories/reverse/default/") + kUserUuid + "?exten=";
  auto csv = dird(base + "102");
  ASSERT_EQ(csv.status, 200) << csv.body;
  EXPECT_EQ(json_string(csv.body, "/display"), "Émile Zola") << csv.body;
  EXPECT_EQ(json_string(csv.body, "/source"), "dmc");
  auto mobile = dird(base + "06.11.11.11.11");
  EXPECT_EQ(json_string(mobile.body, "/display"), "Alice Abrams") << mobile.body;
  auto pb = dird(base + "202");
  EXPECT_EQ(json_string(pb.body, "/display"), "Yann Book") << pb.body;
  EXPECT_EQ(json_string(pb.body, "/source"), "pb");
  auto ldap = dird(base + "301");
  EXPECT_EQ(json_string(ldap.body, "/display"), "Alicia Ldap") << ldap.body;
  auto none = dird(base + "999999");
  EXPECT_TRUE(json_string(none.body, "/display").empty()) << none.body;
}

// xivo-dird's import: comma CSV with a header line and RFC 4180 quoting, sent
// as text/csv; every good line is created, the others come back with their
// line. The web interface's '|' file stays accepted, all or nothing.
TEST_F(DirectoriesE2E, A_PhonebookImportTakesXivoDirdCommaCsvAndTheWebInterfacePipeFile) {
  auto h = headers();
  auto book = d_->http("POST", "dird", "/0.1/tenants/default/phonebooks", R"({"name":"imported"})", h);
  ASSERT_EQ(book.status, 201) << book.body;
  auto base = "/0.1/tenants/default/phonebooks/" + json_string(book.body, "/id") + "/contacts";
  auto csv_headers = h;
  csv_headers["Content-Type"] = "text/csv; charset=utf-8";
  std::string comma =
      "firstname,lastname,officenumbers,society,description\r\n"
      "Ada,Lovelace,4101,\"Analytical Engines, Ltd\",\"said \"\"hello\"\"\"\r\n"
      "Bad,Number,41x1,,\r\n"
      "Multi,Line,4102,,\"first\nsecond\"\r\n"
      "Ada,Lovelace,4101,\"Analytical Engines, Ltd\",\"said \"\"hello\"\"\"\r\n";
  auto r = d_->http("POST", "dird", base + "/import", comma, csv_headers);
  ASSERT_EQ(r.status, 201) << r.body;
  ASSERT_EQ(json_size(r.body, "/created"), 2u) << r.body;
  EXPECT_EQ(json_string(r.body, "/created/0/society"), "Analytical Engines, Ltd");
  EXPECT_EQ(json_string(r.body, "/created/0/description"), "said \"hello\"");
  EXPECT_EQ(json_string(r.body, "/created/1/description"), "first\nsecond");
  EXPECT_FALSE(json_string(r.body, "/created/0/id").empty());
  ASSERT_EQ(json_size(r.body, "/failed"), 2u) << r.body;
  const std::string bad_number =
      R"x({"line":3,"errors":["officenumbers '41x1' must be digits or video:<room> (without ?&'\"%:#)"]})x";
  const std::string repeated = R"({"line":6,"errors":["duplicates line 2"]})";
  EXPECT_NE(r.body.find(bad_number), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(repeated), std::string::npos) << r.body;

  // A bad header refuses the whole file, naming the header.
  auto bad = d_->http("POST", "dird", base + "/import", "firstname,number\nZoe,4103\n", csv_headers);
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("line 1: unknown header 'number'"), std::string::npos) << bad.body;

  auto pipe = d_->http("POST", "dird", base + "/import",
                       "title|displayname|firstname|officenumbers\nmr|Carl Pipe|Carl|4104\n", csv_headers);
  ASSERT_EQ(pipe.status, 201) << pipe.body;
  EXPECT_EQ(pipe.body, R"({"created":1})");

  auto all = d_->http("GET", "dird", base, "", h);
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(json_size(all.body, "/items"), 3u) << all.body;
}

TEST_F(DirectoriesE2E, A_PhoneViewsRenderCiscoAndYealinkXml) {
  auto r = d_->http("GET", "phoned", "/0.1/directories/lookup/default/cisco?term=ali");
  ASSERT_EQ(r.status, 200) << r.body;
  Poco::XML::DOMParser parser;
  Poco::AutoPtr<Poco::XML::Document> doc = parser.parseString(r.body);
  ASSERT_EQ(doc->documentElement()->nodeName(), "CiscoIPPhoneDirectory") << r.body;
  Poco::AutoPtr<Poco::XML::NodeList> entries = doc->getElementsByTagName("DirectoryEntry");
  // Six matches, Alice Abrams twice (number and mobile).
  ASSERT_EQ(entries->length(), 7u) << r.body;
  auto first = static_cast<Poco::XML::Element*>(entries->item(0));
  EXPECT_EQ(first->getChildElement("Name")->innerText(), "Ali Baba");
  EXPECT_EQ(first->getChildElement("Telephone")->innerText(), "104");
  EXPECT_NE(r.body.find("Alice Abrams (Mobile)"), std::string::npos) << r.body;

  auto input = d_->http("GET", "phoned", "/0.1/directories/input/default/cisco");
  ASSERT_EQ(input.status, 200);
  EXPECT_NE(input.body.find("CiscoIPPhoneInput"), std::string::npos) << input.body;

  auto y = d_->http("GET", "phoned", "/0.1/directories/lookup/default/yealink?term=book");
  ASSERT_EQ(y.status, 200) << y.body;
  Poco::AutoPtr<Poco::XML::Document> ydoc = parser.parseString(y.body);
  EXPECT_EQ(ydoc->documentElement()->nodeName(), "YealinkIPPhoneDirectory") << y.body;
  EXPECT_NE(y.body.find("Yann Book"), std::string::npos);
  EXPECT_EQ(d_->http("GET", "phoned", "/0.1/directories/lookup/default/nosuchvendor?term=a").status, 404);
}

// xivo-phoned's Cisco directory menu: the phone's directory URL answers a
// CiscoIPPhoneMenu whose one item opens the search form, the user kept in the
// path so the form's lookups include that user's personal contacts.
TEST_F(DirectoriesE2E, A_CiscoDirectoryMenuOpensTheSearchForm) {
  auto m = d_->http("GET", "phoned", "/0.1/directories/menu/default/cisco?xivo_user_uuid=" + std::string(kUserUuid),
                    "", {{"Host", "pbx.example.com:9498"}});
  ASSERT_EQ(m.status, 200) << m.body;
  EXPECT_EQ(m.body,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CiscoIPPhoneMenu>\n<MenuItem>\n<Name>Directory</Name>\n"
            "<URL>http://pbx.example.com:9498/0.1/directories/input/default/" + std::string(kUserUuid) +
                "/cisco</URL>\n</MenuItem>\n</CiscoIPPhoneMenu>\n");
  // The path form, and the all-zero uuid of a phone without user.
  auto p = d_->http("GET", "phoned", "/0.1/directories/menu/default/" + std::string(kUserUuid) + "/cisco", "",
                    {{"Host", "pbx"}});
  ASSERT_EQ(p.status, 200) << p.body;
  EXPECT_NE(p.body.find("<URL>http://pbx/0.1/directories/input/default/" + std::string(kUserUuid) + "/cisco</URL>"),
            std::string::npos) << p.body;
  auto none = d_->http("GET", "phoned",
                       "/0.1/directories/menu/default/cisco?xivo_user_uuid=00000000-0000-0000-0000-000000000000",
                       "", {{"Host", "pbx"}});
  EXPECT_NE(none.body.find("<URL>http://pbx/0.1/directories/input/default/cisco</URL>"), std::string::npos)
      << none.body;
  // The item's URL is the form the phone then opens.
  auto form = d_->http("GET", "phoned", "/0.1/directories/input/default/" + std::string(kUserUuid) + "/cisco");
  ASSERT_EQ(form.status, 200) << form.body;
  EXPECT_NE(form.body.find("<CiscoIPPhoneInput>"), std::string::npos) << form.body;
  // Other vendors open the form directly: no menu, one line saying where to go.
  auto y = d_->http("GET", "phoned", "/0.1/directories/menu/default/yealink");
  EXPECT_EQ(y.status, 404);
  EXPECT_NE(y.body.find("have no directory menu; point them at /0.1/directories/input/<profile>/yealink"),
            std::string::npos) << y.body;
}

// authorized_subnets is reloadable: rewrite the file, POST /0.1/reload, and
// this host (127.0.0.1) is outside 10.0.0.0/8.
TEST_F(DirectoriesE2E, B_PhoneOutsideAuthorizedSubnetsGets403) {
  auto file = d_->dir() / "conf.d" / "30-view-phoned.conf";
  std::ofstream(file, std::ios::trunc) << phoned_conf("10.0.0.0/8");
  auto reload = d_->http("POST", "confd", "/0.1/reload", "", headers());
  ASSERT_EQ(reload.status, 200) << reload.body;
  auto r = d_->http("GET", "phoned", "/0.1/directories/lookup/default/cisco?term=ali");
  EXPECT_EQ(r.status, 403) << r.body;
  std::ofstream(file, std::ios::trunc) << phoned_conf("127.0.0.0/8");
  ASSERT_EQ(d_->http("POST", "confd", "/0.1/reload", "", headers()).status, 200);
  EXPECT_EQ(d_->http("GET", "phoned", "/0.1/directories/lookup/default/cisco?term=ali").status, 200);
}

TEST_F(DirectoriesE2E, Z_DeadLdapServerLeavesTheOtherSourcesAndOneLogLine) {
  ASSERT_TRUE(kill_slapd(slapd_->uri()));
  for (int i = 0; i < 4; ++i) {
    auto r = dird("/0.1/directories/lookup/default?term=ali");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(names(r.body),
              (std::vector<std::string>{"Ali Baba", "Alice Abrams", "Alix Book", "Bob Alison", "Natalie Sub"}))
        << r.body;
    EXPECT_EQ(json_string(r.body, "/failed_sources/0"), "corp") << r.body;
  }
  auto rev = dird(std::string("/0.1/directories/reverse/default/") + kUserUuid + "?exten=202");
  EXPECT_EQ(json_string(rev.body, "/display"), "Yann Book") << rev.body;
  // The logger is asynchronous: the line may reach stderr after the answer.
  EXPECT_TRUE(d_->wait_output("directory source corp")) << d_->output();
  auto out = d_->output();
  std::istringstream lines(out);
  std::string line;
  int count = 0;
  while (std::getline(lines, line))
    if (line.find("directory source corp") != std::string::npos) ++count;
  EXPECT_EQ(count, 1) << out;
}

}  // namespace

namespace {

TEST_F(DirectoriesE2E, Z_StopsCleanlyOnSigtermAfterTraffic) {
  for (int i = 0; i < 20; ++i) ASSERT_EQ(dird("/0.1/directories/lookup/default?term=ali").status, 200);
  kill_slapd(slapd_->uri());  // already gone when the whole suite runs in one process
  ASSERT_EQ(dird("/0.1/directories/lookup/default?term=ali").status, 200);
  EXPECT_EQ(d_->stop(), 0) << d_->output();
}

}  // namespace
