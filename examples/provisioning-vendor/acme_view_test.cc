#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>
#include <vector>

#include "acme_view.h"

namespace sdk = dialtone::sdk;
using dialtone::plugins::view::DescribedView;

namespace {

sdk::PhoneViewRequest lookup(const std::string& term, std::size_t offset) {
  sdk::PhoneViewRequest r;
  r.profile = "default";
  r.term = term;
  r.offset = offset;
  r.self_url = "http://10.0.0.1:9498/0.1/directories/lookup/default/acme";
  return r;
}

std::vector<sdk::PhoneEntry> people(std::size_t n) {
  std::vector<sdk::PhoneEntry> out;
  for (std::size_t i = 0; i < n; ++i)
    out.push_back({"Zoë \"Z\" <Smith> & Sons number " + std::to_string(i), "+33 1 23 45 " + std::to_string(i)});
  return out;
}

}  // namespace

TEST(AcmeView, TemplatesParse) { EXPECT_TRUE(DescribedView::check(acme_view())); }

TEST(AcmeView, RendersTheFormTheResultsAndNothingFound) {
  DescribedView v{acme_view()};
  auto form = v.render_input(lookup("", 0));
  EXPECT_EQ(form.content_type, "text/xml; charset=utf-8");
  EXPECT_EQ(form.body,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<AcmeInput url=\"http://10.0.0.1:9498/0.1/directories/lookup/default/acme\" param=\"term\" "
            "prompt=\"Name or number\"/>\n");
  auto page = v.render_results(lookup("al", 0), {{"Alice & Bob", "1001"}, {"Carol", "1002"}});
  EXPECT_EQ(page.body,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<AcmeBook title=\"Directory 1-2 of 2\">\n"
            "<Entry name=\"Alice &amp; Bob\" number=\"1001\"/>\n"
            "<Entry name=\"Carol\" number=\"1002\"/>\n"
            "</AcmeBook>\n");
  EXPECT_EQ(v.render_results(lookup("zz", 0), {}).body,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<AcmeText>No entries</AcmeText>\n");
}

// 500 long names full of characters XML must escape: every page stays within
// the phone's limits, names are cut to 24 characters, and following Next
// from the first page shows every entry exactly once.
TEST(AcmeView, PagesRespectThePhoneLimitsAndNextVisitsEveryEntryOnce) {
  DescribedView v{acme_view()};
  auto all = people(500);
  std::set<std::string> seen;
  std::size_t offset = 0, pages = 0;
  const std::regex entry(R"re(<Entry name="([^"]*)" number="([^"]*)"/>)re");
  const std::regex next(R"re(<Link label="Next" url="[^"]*offset=(\d+)"/>)re");
  for (;;) {
    ASSERT_LT(++pages, 100u) << "Next links loop";
    auto body = v.render_results(lookup("s", offset), all).body;
    EXPECT_LE(body.size(), 4000u);
    std::size_t items = 0;
    for (std::sregex_iterator m(body.begin(), body.end(), entry), end; m != end; ++m, ++items) {
      EXPECT_EQ((*m)[1].str().find_first_of("<>\""), std::string::npos) << (*m)[1];
      EXPECT_TRUE(seen.insert((*m)[2].str()).second) << "shown twice: " << (*m)[2];
    }
    EXPECT_GE(items, 1u);
    EXPECT_LE(items, 32u);
    std::smatch n;
    if (!std::regex_search(body, n, next)) break;
    offset = std::stoul(n[1].str());
  }
  EXPECT_EQ(seen.size(), all.size());
  EXPECT_GT(pages, 1u);
}
