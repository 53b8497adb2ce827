#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <future>

#include "plugins/directory/dird/dird_rest.h"
#include "tests/support/test_logger.h"

namespace dialtone::plugins::directory {
namespace {


// An in-memory source; with a `gate` it answers only once the test opens it,
// so "the service did not wait for it" is decided without a clock.
class TestSource final : public sdk::DirectorySource {
 public:
  TestSource(std::string name, std::vector<std::map<std::string, std::string>> rows,
             std::shared_future<void> gate = {})
      : name_(std::move(name)), gate_(std::move(gate)) {
    for (auto& r : rows) {
      sdk::DirectoryEntry e{name_, r.count("id") ? r.at("id") : "", r};
      entries_.push_back(e);
    }
  }
  std::string_view name() const override { return name_; }
  std::string_view type() const override { return "test"; }
  sdk::Result<std::vector<sdk::DirectoryEntry>> search(const sdk::DirectoryQuery& q) override {
    if (gate_.valid()) gate_.wait();
    std::vector<sdk::DirectoryEntry> out;
    for (auto& e : entries_)
      if (fold(e.field("name")).find(fold(q.term)) != std::string::npos) out.push_back(e);
    return out;
  }
  sdk::Result<std::optional<sdk::DirectoryEntry>> first_match(const sdk::DirectoryQuery& q) override {
    if (gate_.valid()) gate_.wait();
    for (auto& e : entries_)
      if (e.field("number") == q.term) return std::optional<sdk::DirectoryEntry>(e);
    return std::optional<sdk::DirectoryEntry>();
  }
  sdk::Result<std::vector<sdk::DirectoryEntry>> list(const std::vector<std::string>& ids,
                                                     const sdk::DirectoryQuery&) override {
    std::vector<sdk::DirectoryEntry> out;
    for (auto& e : entries_)
      if (std::find(ids.begin(), ids.end(), e.unique_id) != ids.end()) out.push_back(e);
    return out;
  }

 private:
  std::string name_;
  std::shared_future<void> gate_;
  std::vector<sdk::DirectoryEntry> entries_;
};

class LookupTest : public ::testing::Test {
 protected:
  // Released before the sources go, so no worker stays blocked in one.
  void TearDown() override { release(); }
  void release() {
    if (!std::exchange(released_, true)) open_gate_.set_value();
  }
  std::promise<void> open_gate_;
  std::shared_future<void> hung_gate_ = open_gate_.get_future().share();
  bool released_ = false;
  std::map<std::string, std::shared_ptr<sdk::DirectorySource>> sources_;
  dialtone::testing::TestLogger log_;

  std::unique_ptr<LookupService> make(std::map<std::string, std::string> conf) {
    auto p = read_profiles(sdk::Options(std::move(conf)));
    EXPECT_TRUE(p) << p.error().message;
    return std::make_unique<LookupService>(
        *p,
        [this](const std::string& n) {
          auto it = sources_.find(n);
          return it == sources_.end() ? nullptr : it->second;
        },
        log_);
  }
};

TEST_F(LookupTest, HangingSourceIsDroppedAndTheOthersAnswerWithinTheProfileTimeout) {
  sources_["fast"] = std::make_shared<TestSource>(
      "fast", std::vector<std::map<std::string, std::string>>{{{"name", "Alice Abrams"}, {"number", "101"}}});
  sources_["hung"] = std::make_shared<TestSource>(
      "hung", std::vector<std::map<std::string, std::string>>{{{"name", "Alice Hung"}, {"number", "102"}}},
      hung_gate_);
  auto svc = make({{"profile.default.sources", "fast,hung"}, {"profile.default.timeout", "300"}});
  // `hung` answers only after the lookup returned: a lookup that waited for
  // it would never return.
  auto r = svc->lookup({"default", "ali", ""});
  release();
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->entries.size(), 1u);
  EXPECT_EQ(r->entries[0].field("name"), "Alice Abrams");
  EXPECT_EQ(r->failed_sources, std::vector<std::string>{"hung"});
  EXPECT_TRUE(log_.contains("directory source hung did not answer"));
}

TEST_F(LookupTest, MissingSourceIsReportedAsFailedNotFatal) {
  sources_["fast"] = std::make_shared<TestSource>(
      "fast", std::vector<std::map<std::string, std::string>>{{{"name", "Bob"}, {"number", "1"}}});
  auto svc = make({{"profile.default.sources", "fast,ghost"}});
  auto r = svc->lookup({"default", "bob", ""});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->entries.size(), 1u);
  EXPECT_EQ(r->failed_sources, std::vector<std::string>{"ghost"});
  EXPECT_FALSE(svc->lookup({"nope", "bob", ""}));
}

TEST_F(LookupTest, OrderingIsWholeWordThenWordPrefixThenSubstringThenNameWithAccentsFolded) {
  std::vector<std::map<std::string, std::string>> rows = {
      {{"name", "Ajeanine Zed"}},   // substring
      {{"name", "Jeanne Martin"}},  // word prefix
      {{"name", "Zoé Jean"}},       // whole word
      {{"name", "Élodie Jean"}},    // whole word, sorts as "elodie"
      {{"name", "Jeannot Abel"}},   // word prefix
      {{"name", "Eric Jean"}},      // whole word
  };
  sources_["a"] = std::make_shared<TestSource>("a", rows);
  auto svc = make({{"profile.default.sources", "a"}});
  auto r = svc->lookup({"default", "jean", ""});
  ASSERT_TRUE(r);
  std::vector<std::string> names;
  for (auto& e : r->entries) names.push_back(e.field("name"));
  EXPECT_EQ(names, (std::vector<std::string>{"Élodie Jean", "Eric Jean", "Zoé Jean", "Jeanne Martin",
                                             "Jeannot Abel", "Ajeanine Zed"}));
}

TEST_F(LookupTest, ReverseTakesTheFirstSourceInProfileOrderWithoutWaitingForLaterOnes) {
  sources_["first"] = std::make_shared<TestSource>(
      "first", std::vector<std::map<std::string, std::string>>{{{"name", "Desk"}, {"number", "555"}}});
  sources_["slow"] = std::make_shared<TestSource>(
      "slow", std::vector<std::map<std::string, std::string>>{{{"name", "Other"}, {"number", "555"}}},
      hung_gate_);
  // `slow` answers only after the reverse lookup returned; had the lookup
  // waited for it, it would have run into the timeout and said so.
  auto svc = make({{"profile.default.sources", "first,slow"}, {"profile.default.reverse_timeout", "20000"}});
  auto r = svc->reverse({"default", "555", ""});
  release();
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->field("name"), "Desk");
  EXPECT_FALSE(log_.contains("did not answer"));
  auto none = svc->reverse({"default", "999", ""});
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
}

TEST_F(LookupTest, PhoneLookupRendersOneLinePerNumberWithTheNameFormat) {
  sources_["a"] = std::make_shared<TestSource>(
      "a", std::vector<std::map<std::string, std::string>>{
               {{"name", "Bob"}, {"display_name", ""}, {"phone", "101"}, {"phone_mobile", "102"}}});
  auto svc = make({{"profile.default.sources", "a"},
                   {"profile.default.phone_display", "ph"},
                   {"phone_display.ph.name", "display_name,name"},
                   {"phone_display.ph.numbers", "phone, phone_mobile:{name} (Mobile)"}});
  auto r = svc->phone_lookup({"default", "bob", ""});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].name, "Bob");
  EXPECT_EQ((*r)[0].number, "101");
  EXPECT_EQ((*r)[1].name, "Bob (Mobile)");
  EXPECT_EQ((*r)[1].number, "102");
}

TEST_F(LookupTest, UndefinedDisplayIsRefusedWithTheFix) {
  auto p = read_profiles(sdk::Options(std::map<std::string, std::string>{{"profile.default.sources", "a"}, {"profile.default.display", "x"}}));
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find("[display.x]"), std::string::npos);
}

TEST_F(LookupTest, RestLookupAnswersInTheDefaultJsonShape) {
  sources_["a"] = std::make_shared<TestSource>(
      "a", std::vector<std::map<std::string, std::string>>{
               {{"id", "7"}, {"name", "Alice \"Al\" Abrams"}, {"number", "101"}}});
  auto svc = make({{"profile.default.sources", "a"},
                   {"profile.default.display", "d"},
                   {"display.d.columns", "Name|name|name, Number|number|number, Location|country||Canada"}});
  DirdRest rest(*svc, nullptr);
  sdk::HttpRequest req;
  req.params["profile"] = "default";
  req.query["term"] = "ali";
  auto resp = rest.get_lookup(req);
  ASSERT_EQ(resp.status, 200) << resp.body;
  rapidjson::Document d;
  ASSERT_FALSE(d.Parse(resp.body.c_str()).HasParseError()) << resp.body;
  EXPECT_STREQ(d["column_headers"][0].GetString(), "Name");
  EXPECT_STREQ(d["column_types"][1].GetString(), "number");
  EXPECT_TRUE(d["column_types"][2].IsNull());
  ASSERT_EQ(d["results"].Size(), 1u);
  auto& row = d["results"][0];
  EXPECT_STREQ(row["column_values"][0].GetString(), "Alice \"Al\" Abrams");
  EXPECT_STREQ(row["column_values"][2].GetString(), "Canada");
  EXPECT_STREQ(row["relations"]["source_entry_id"].GetString(), "7");
  EXPECT_STREQ(row["source"].GetString(), "a");
  EXPECT_STREQ(d["term"].GetString(), "ali");

  req.query.clear();
  EXPECT_EQ(rest.get_lookup(req).status, 400);
  req.query["term"] = "x";
  req.params["profile"] = "unknown";
  EXPECT_EQ(rest.get_lookup(req).status, 404);

  sdk::HttpRequest rev;
  rev.params = {{"profile", "default"}, {"user_uuid", "u1"}};
  rev.query["exten"] = "101";
  auto rr = rest.get_reverse(rev);
  ASSERT_EQ(rr.status, 200);
  rapidjson::Document rd;
  rd.Parse(rr.body.c_str());
  EXPECT_STREQ(rd["display"].GetString(), "Alice \"Al\" Abrams");
  EXPECT_STREQ(rd["source"].GetString(), "a");
}

TEST_F(LookupTest, RestAnswersParseBackWhateverTheValuesHold) {
  const std::string nasty = "O'Hara \"Al\" back\\slash\ttab\x01 caf\xc3\xa9";
  sources_["a\"b"] = std::make_shared<TestSource>(
      "a\"b", std::vector<std::map<std::string, std::string>>{
                  {{"id", "x\"1"}, {"name", nasty}, {"number", "10\"1"}, {"k\"ey", "v\\"}}});
  auto svc = make({{"profile.default.sources", "a\"b"},
                   {"profile.default.display", "d"},
                   {"display.d.columns", "Na\"me|name|name, Number|number|number"}});
  DirdRest rest(*svc, nullptr);
  auto parsed = [](const sdk::HttpResponse& r) {
    auto d = std::make_unique<rapidjson::Document>();
    EXPECT_FALSE(d->Parse(r.body.c_str(), r.body.size()).HasParseError()) << r.body;
    return d;
  };
  sdk::HttpRequest req;
  req.params["profile"] = "default";
  req.query["term"] = "o'hara \"al";
  auto look = rest.get_lookup(req);
  ASSERT_EQ(look.status, 200) << look.body;
  auto d = parsed(look);
  ASSERT_EQ((*d)["results"].Size(), 1u) << look.body;
  auto& row = (*d)["results"][0];
  EXPECT_EQ(std::string(row["column_values"][0].GetString(), row["column_values"][0].GetStringLength()), nasty);
  EXPECT_STREQ(row["relations"]["source_entry_id"].GetString(), "x\"1");
  EXPECT_TRUE(row["relations"]["user_id"].IsNull()) << "not a users source";
  EXPECT_STREQ(row["source"].GetString(), "a\"b");
  EXPECT_STREQ((*d)["term"].GetString(), "o'hara \"al");
  EXPECT_STREQ((*d)["column_headers"][0].GetString(), "Na\"me");

  auto headers = rest.get_headers(req);
  ASSERT_EQ(headers.status, 200);
  EXPECT_EQ(headers.body, R"({"column_headers":["Na\"me","Number"],"column_types":["name","number"]})");

  sdk::HttpRequest rev;
  rev.params = {{"profile", "default"}, {"user_uuid", "u1"}};
  rev.query["exten"] = "10\"1";
  auto found = parsed(rest.get_reverse(rev));
  EXPECT_STREQ((*found)["exten"].GetString(), "10\"1");
  EXPECT_STREQ((*found)["fields"]["k\"ey"].GetString(), "v\\");
  EXPECT_STREQ((*found)["source"].GetString(), "a\"b");
  rev.query["exten"] = "999";
  auto none = rest.get_reverse(rev);
  EXPECT_EQ(none.body, R"({"exten":"999","display":null,"fields":{},"source":null})");
}

}  // namespace
}  // namespace dialtone::plugins::directory
