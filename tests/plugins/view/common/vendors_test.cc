// Every vendor view through the same checks: golden pages, a real XML parser,
// and the vendor's byte/item/field limits over a long result list.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <regex>
#include <set>
#include <sstream>

#include <Poco/AutoPtr.h>
#include <Poco/DOM/DOMParser.h>
#include <Poco/DOM/Document.h>
#include <Poco/DOM/Element.h>
#include <Poco/DOM/NamedNodeMap.h>
#include <Poco/DOM/Node.h>
#include <Poco/DOM/NodeList.h>
#include <Poco/SAX/InputSource.h>
#include <Poco/XML/XMLException.h>
#include <gtest/gtest.h>

#include "plugins/view/aastra/aastra_view.h"
#include "plugins/view/cisco/cisco_view.h"
#include "plugins/view/polycom/polycom_view.h"
#include "plugins/view/snom/snom_view.h"
#include "plugins/view/thomson/thomson_view.h"
#include "plugins/view/yealink/yealink_view.h"

namespace dialtone::plugins::view {
namespace {

using Poco::AutoPtr;
using Poco::XML::Document;
using Poco::XML::Element;
using Poco::XML::Node;

struct Vendor {
  std::string name;
  std::function<std::unique_ptr<sdk::PhoneView>()> make;
  PageLimits limits;
  std::size_t name_chars;
  std::string root;        // results document element
  std::string item_tag;    // element counted against limits.max_items
  bool nav_counts;         // navigation items are item_tag elements too
  const ViewDescription* description;
};

Vendor vendor(const ViewDescription& d, std::string root, std::string item_tag,
              bool nav_counts = false) {
  return {d.vendor, [&d] { return std::make_unique<DescribedView>(d); }, d.limits, d.name_chars,
          std::move(root), std::move(item_tag), nav_counts, &d};
}

std::vector<Vendor> all_vendors() {
  return {vendor(cisco_view(), "CiscoIPPhoneDirectory", "DirectoryEntry"),
          vendor(yealink_view(), "YealinkIPPhoneDirectory", "DirectoryEntry"),
          vendor(snom_view(), "SnomIPPhoneDirectory", "DirectoryEntry"),
          vendor(aastra_view(), "AastraIPPhoneTextMenu", "MenuItem", true),
          vendor(polycom_view(), "html", "a", true),
          vendor(thomson_view(), "ThomsonPhoneBook", "DirectoryEntry")};
}

constexpr const char* kSelf = "http://pbx.example.com:9498/0.1/directories/lookup/default/";

sdk::PhoneViewRequest request(const Vendor& v, std::string term, std::size_t offset = 0) {
  sdk::PhoneViewRequest r;
  r.profile = "default";
  r.term = std::move(term);
  r.offset = offset;
  r.self_url = kSelf + v.name;
  return r;
}

AutoPtr<Document> parse(const std::string& xml) {
  Poco::XML::DOMParser parser;
  // Never fetch anything while parsing.
  parser.setFeature(Poco::XML::XMLReader::FEATURE_EXTERNAL_GENERAL_ENTITIES, false);
  parser.setFeature(Poco::XML::XMLReader::FEATURE_EXTERNAL_PARAMETER_ENTITIES, false);
  return parser.parseString(xml);
}

// Text of every element named `tag`, in document order.
std::vector<std::string> texts(Document* doc, const std::string& tag) {
  std::vector<std::string> out;
  AutoPtr<Poco::XML::NodeList> list = doc->getElementsByTagName(tag);
  for (unsigned long i = 0; i < list->length(); ++i) out.push_back(list->item(i)->innerText());
  return out;
}

// The numbers a page offers to dial, whatever the vendor's format.
std::vector<std::string> numbers(Document* doc) {
  auto out = texts(doc, "Telephone");
  for (auto& d : texts(doc, "Dial")) out.push_back(d);
  AutoPtr<Poco::XML::NodeList> links = doc->getElementsByTagName("a");
  for (unsigned long i = 0; i < links->length(); ++i) {
    auto* e = static_cast<Element*>(links->item(i));
    auto href = e->getAttribute("href");
    if (href.rfind("tel://", 0) == 0) out.push_back(href.substr(6));
  }
  return out;
}

std::size_t counted_items(Document* doc, const Vendor& v) {
  AutoPtr<Poco::XML::NodeList> list = doc->getElementsByTagName(v.item_tag);
  return list->length();
}

// The offsets the page links to (next is the one above `current`).
std::optional<std::size_t> next_offset(const std::string& body, std::size_t current) {
  std::regex re("offset=([0-9]+)");
  std::optional<std::size_t> next;
  for (auto it = std::sregex_iterator(body.begin(), body.end(), re); it != std::sregex_iterator();
       ++it) {
    std::size_t o = std::stoul((*it)[1]);
    if (o > current) next = o;
  }
  return next;
}

std::size_t code_points(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// ---- golden files

std::string golden_path(const Vendor& v, const std::string& name) {
  return std::string(DIALTONE_VIEW_GOLDEN_ROOT) + "/" + v.name + "/golden/" + name;
}

void expect_golden(const Vendor& v, const std::string& name, const sdk::PhoneViewPage& page) {
  std::string path = golden_path(v, name + (v.name == "polycom" ? ".html" : ".xml"));
  const char* update = std::getenv("DIALTONE_UPDATE_GOLDEN");
  if (update && std::string(update) == "1") {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path, std::ios::binary) << page.body;
  }
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in) << "missing golden file " << path
                  << "; run the test with DIALTONE_UPDATE_GOLDEN=1 to create it";
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(page.body, ss.str()) << "golden file " << path
                                 << " differs; if the change is intended, rerun with "
                                    "DIALTONE_UPDATE_GOLDEN=1 and review the diff";
  EXPECT_NO_THROW(parse(page.body)) << page.body;
}

std::vector<sdk::PhoneEntry> people(std::size_t n) {
  std::vector<sdk::PhoneEntry> out;
  for (std::size_t i = 0; i < n; ++i)
    out.push_back({"Person " + std::to_string(i + 1), std::to_string(1000 + i)});
  return out;
}

std::vector<sdk::PhoneEntry> tricky() {
  return {
      {"\xc3\x89lodie M\xc3\xbcller & Fils <CEO>", "+33 1 23 45 67 89"},
      {"O'Brien \"Bob\"", "1001"},
      {"\x01Tab\there\nnew line\x7f", "1002"},
      {"Bad byte \xff here", "10\x03" "03"},
      // 31 ASCII characters then multi-byte ones across the 32-character cut.
      {"abcdefghijklmnopqrstuvwxyz01234\xc3\xa9\xe5\xb1\xb1\xf0\x9f\x98\x80", "1004"},
      {"\xe5\xb1\xb1\xe7\x94\xb0\xe5\xa4\xaa\xe9\x83\x8e \xf0\x9f\x98\x80", "*1005#"},
  };
}

class VendorView : public ::testing::TestWithParam<Vendor> {};

TEST_P(VendorView, InputPageMatchesGoldenAndSubmitsToSelf) {
  const auto& v = GetParam();
  auto page = v.make()->render_input(request(v, ""));
  expect_golden(v, "input", page);
  if (v.name != "thomson") {
    EXPECT_NE(page.body.find(kSelf + v.name), std::string::npos);
  }
}

TEST_P(VendorView, ResultsPageMatchesGolden) {
  const auto& v = GetParam();
  auto page = v.make()->render_results(request(v, "pers"), people(5));
  expect_golden(v, "results", page);
  auto doc = parse(page.body);
  EXPECT_EQ(doc->documentElement()->localName(), v.root);
  EXPECT_EQ(numbers(doc), (std::vector<std::string>{"1000", "1001", "1002", "1003", "1004"}));
  EXPECT_EQ(page.body.find("offset="), std::string::npos) << "one page needs no paging links";
}

TEST_P(VendorView, SecondPageFollowsTheNextLinkAndLinksBack) {
  const auto& v = GetParam();
  auto list = people(80);
  auto first = v.make()->render_results(request(v, "p&q"), list);
  auto next = next_offset(first.body, 0);
  ASSERT_TRUE(next) << first.body;
  EXPECT_NE(first.body.find("term=p%26q&amp;offset="), std::string::npos) << first.body;
  auto second = v.make()->render_results(request(v, "p&q", *next), list);
  expect_golden(v, "second_page", second);
  auto doc = parse(second.body);
  ASSERT_FALSE(numbers(doc).empty());
  EXPECT_EQ(numbers(doc).front(), std::to_string(1000 + *next));
  EXPECT_NE(second.body.find("offset=0"), std::string::npos) << "previous link to the first page";
}

TEST_P(VendorView, EmptyResultSaysNoEntries) {
  const auto& v = GetParam();
  auto page = v.make()->render_results(request(v, "zzz"), {});
  expect_golden(v, "empty", page);
  EXPECT_NE(page.body.find("No entries"), std::string::npos);
  EXPECT_TRUE(numbers(parse(page.body)).size() <= 1);
}

TEST_P(VendorView, AccentsAndXmlSpecialsAreEscapedAndCut) {
  const auto& v = GetParam();
  auto page = v.make()->render_results(request(v, "\xc3\xa9<&>"), tricky());
  expect_golden(v, "special", page);
  auto doc = parse(page.body);
  auto body = page.body;
  EXPECT_NE(body.find("\xc3\x89lodie M\xc3\xbcller &amp; Fils &lt;CEO&gt;"), std::string::npos);
  EXPECT_NE(body.find("O&apos;Brien &quot;Bob&quot;"), std::string::npos);
  EXPECT_NE(body.find("Tab here new line"), std::string::npos);
  EXPECT_EQ(body.find('\xff'), std::string::npos);
  // 31 ASCII + "é" is exactly 32 characters; 山 and 😀 are cut whole.
  EXPECT_NE(body.find("abcdefghijklmnopqrstuvwxyz01234\xc3\xa9"), std::string::npos);
  EXPECT_EQ(body.find("abcdefghijklmnopqrstuvwxyz01234\xc3\xa9\xe5"), std::string::npos);
  for (unsigned char c : body) EXPECT_TRUE(c >= 0x20 || c == '\n') << int(c);
}

TEST_P(VendorView, LongListPagesStayWithinLimitsAndVisitEveryEntryOnce) {
  const auto& v = GetParam();
  std::vector<sdk::PhoneEntry> list;
  for (std::size_t i = 0; i < 2000; ++i) {
    list.push_back({"\xc3\x89l\xc3\xa9onore-&-<Fran\xc3\xa7oise> de la Tr\xc3\xa9moille-"
                    "Saint-\xc3\x89tienne du Rouvray " + std::to_string(i),
                    std::to_string(100000 + i)});
  }
  auto view = v.make();
  std::multiset<std::string> seen;
  std::size_t offset = 0, pages = 0;
  while (true) {
    auto page = view->render_results(request(v, "\xc3\xa9l\xc3\xa9onore & co", offset), list);
    ASSERT_LE(page.body.size(), v.limits.max_bytes) << "page at offset " << offset;
    auto doc = parse(page.body);
    EXPECT_LE(counted_items(doc, v), v.limits.max_items) << "page at offset " << offset;
    for (const auto& n : texts(doc, "Name"))
      EXPECT_LE(code_points(n), v.name_chars) << n;
    auto nums = numbers(doc);
    ASSERT_FALSE(nums.empty());
    EXPECT_EQ(nums.front(), std::to_string(100000 + offset));
    seen.insert(nums.begin(), nums.end());
    ++pages;
    auto next = next_offset(page.body, offset);
    if (!next) break;
    EXPECT_EQ(*next, offset + nums.size());
    offset = *next;
    ASSERT_LT(pages, 2000u);
  }
  EXPECT_EQ(seen.size(), 2000u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 2000u) << "an entry twice";
}

TEST_P(VendorView, DescriptionPassesItsCheck) {
  DescribedView view(*GetParam().description);
  auto ok = DescribedView::check(view.description());
  EXPECT_TRUE(ok) << (ok ? "" : ok.error().message);
}

TEST(ViewDescriptionCheck, UnparsableTemplateIsRefusedNamingIt) {
  ViewDescription d{.vendor = "broken", .input = "<x/>", .empty = "<x/>", .head = "<x>",
                    .item = "{{#name}}", .tail = "</x>"};
  auto ok = DescribedView::check(d);
  ASSERT_FALSE(ok);
  EXPECT_NE(ok.error().message.find("view broken: template 'item' does not parse"),
            std::string::npos) << ok.error().message;
}

INSTANTIATE_TEST_SUITE_P(Vendors, VendorView, ::testing::ValuesIn(all_vendors()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace dialtone::plugins::view
