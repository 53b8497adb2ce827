#include "plugins/view/phoned/phoned.h"

#include <mutex>

#include <dialtone/mustache.h>
#include <dialtone/testing/fake_host.h>
#include <dialtone/view/described_view.h>
#include <gtest/gtest.h>

#include "plugins/view/cisco/cisco_view.h"
#include "plugins/view/phoned/subnets.h"
#include "plugins/view/snom/snom_view.h"
#include "plugins/view/thomson/thomson_view.h"
#include "plugins/view/yealink/yealink_view.h"
#include "plugins/provisioning/thomson/thomson_description.h"
#include "plugins/provisioning/yealink/yealink_description.h"
#include "tests/support/openapi_spec.h"

namespace dialtone::plugins::view {
namespace {

using testing::FakeHost;
using testing::PluginHarness;

// A lookup service answering from a fixed list, remembering what it was asked.
class FakeLookup final : public sdk::DirectoryLookup {
 public:
  std::vector<sdk::PhoneEntry> entries;
  std::optional<sdk::Error> fail;
  std::vector<sdk::LookupRequest> asked;

  sdk::Result<sdk::LookupResult> lookup(const sdk::LookupRequest&) override {
    return sdk::Error::unsupported("not used by phone views");
  }
  sdk::Result<std::vector<sdk::PhoneEntry>> phone_lookup(const sdk::LookupRequest& r) override {
    std::lock_guard l(mutex_);
    asked.push_back(r);
    if (fail) return *fail;
    std::vector<sdk::PhoneEntry> out;
    for (const auto& e : entries)
      if (e.name.find(r.term) != std::string::npos) out.push_back(e);
    return out;
  }
  sdk::Result<std::optional<sdk::DirectoryEntry>> reverse(const sdk::LookupRequest&) override {
    return std::optional<sdk::DirectoryEntry>();
  }
  sdk::Result<std::vector<sdk::DisplayColumn>> headers(std::string_view) override {
    return std::vector<sdk::DisplayColumn>();
  }

 private:
  std::mutex mutex_;
};

class Phoned : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cisco_.run());
    ASSERT_TRUE(snom_.run());
    ASSERT_TRUE(yealink_.run());
    ASSERT_TRUE(thomson_.run());
    for (int i = 0; i < 100; ++i)
      lookup_->entries.push_back({"Alice " + std::to_string(i), std::to_string(2000 + i)});
    lookup_->entries.push_back({"Bob & Co", "3000"});
  }
  void provide_lookup() {
    ASSERT_TRUE(host_.services().provide<sdk::DirectoryLookup>("dird", lookup_));
  }
  sdk::HttpResponse get(const std::string& target) {
    return host_.http()->call("GET", target, {}, {{"Host", "pbx.example.com:9498"}});
  }

  FakeHost host_{"view.phoned"};
  PluginHarness<DescribedViewPlugin<&cisco_view>> cisco_{host_};
  PluginHarness<DescribedViewPlugin<&snom_view>> snom_{host_};
  PluginHarness<DescribedViewPlugin<&yealink_view>> yealink_{host_};
  PluginHarness<DescribedViewPlugin<&thomson_view>> thomson_{host_};
  PluginHarness<PhonedPlugin> phoned_{host_, kPhonedOptions};
  std::shared_ptr<FakeLookup> lookup_ = std::make_shared<FakeLookup>();
};

TEST_F(Phoned, MountsPublicRoutesOnThePhonedListener) {
  ASSERT_TRUE(phoned_.run());
  auto routes = host_.http()->routes();
  ASSERT_EQ(routes.size(), 9u);  // menu, input, lookup twice each, menu and lookup autodetected, api.yml
  for (const auto& m : routes) {
    EXPECT_EQ(m.listener, "phoned") << m.route.path;
    EXPECT_EQ(m.route.auth, sdk::RouteAuth::none) << m.route.path;
  }
}

// plugins/view/phoned/api.yml is served to anyone and names exactly the
// mounted routes; none of them takes a token.
TEST_F(Phoned, ServedOpenApiSpecDescribesExactlyTheMountedRoutes) {
  ASSERT_TRUE(phoned_.run());
  host_.http()->set_token(std::nullopt);
  auto served = host_.http()->call("GET", "/0.1/api/api.yml");
  ASSERT_EQ(served.status, 200) << served.body;
  EXPECT_EQ(served.content_type, "application/x-yaml");
  auto spec = testing::read_openapi(served.body);
  EXPECT_TRUE(spec.problems.empty()) << spec.problems.front();
  std::map<std::string, std::string> mounted;
  for (const auto& m : host_.http()->routes())
    mounted[testing::route_key(m.route.method, m.route.path)] = m.route.acl;
  EXPECT_EQ(spec.operations, mounted);
}

TEST_F(Phoned, InputPageSubmitsToTheLookupUrl) {
  ASSERT_TRUE(phoned_.run());
  auto r = get("/0.1/directories/input/default/cisco");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "text/xml; charset=utf-8");
  EXPECT_NE(r.body.find("<CiscoIPPhoneInput>"), std::string::npos);
  EXPECT_NE(r.body.find("<URL>http://pbx.example.com:9498/0.1/directories/lookup/default/cisco"
                        "</URL>"),
            std::string::npos)
      << r.body;
}

TEST_F(Phoned, PublicUrlOptionReplacesTheHostHeader) {
  ASSERT_TRUE(phoned_.run({{"phoned.public_url", "https://pbx.example.com:9499/"}}));
  auto r = get("/0.1/directories/input/default/snom");
  EXPECT_NE(r.body.find("<URL>https://pbx.example.com:9499/0.1/directories/lookup/default/snom"),
            std::string::npos)
      << r.body;
}

TEST_F(Phoned, LookupRendersResultsThroughTheLookupService) {
  provide_lookup();
  ASSERT_TRUE(phoned_.run());
  auto r = get("/0.1/directories/lookup/sales/cisco?term=Bob");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("<Name>Bob &amp; Co</Name>"), std::string::npos) << r.body;
  ASSERT_EQ(lookup_->asked.size(), 1u);
  EXPECT_EQ(lookup_->asked[0].profile, "sales");
  EXPECT_EQ(lookup_->asked[0].term, "Bob");
}

// The remote phone book URL the provisioning plugins write into Yealink and
// Thomson files, with the term the phone puts in place of #SEARCH, answers
// results; the input route would answer a second search form.
std::string provisioned_phonebook_url(const provisioning::VendorDescription& vendor,
                                      const std::string& key, const std::string& mac) {
  provisioning::DescribedVendor v{vendor};
  sdk::DeviceConfig c;
  c.device = {std::string(v.vendor()), vendor.models.front().name, "", mac};
  c.directory_base_url = "http://pbx.example.com:9498/0.1/directories/input/default";
  c.provisioning_url = "http://pbx.example.com:8667";
  mustache::BundledRenderer renderer(v.templates());
  auto files = v.files(c, renderer);
  if (!files) return "render failed: " + files.error().message;
  for (const auto& f : *files) {
    auto at = f.content.find(key);
    if (at == std::string::npos) continue;
    auto begin = f.content.find_first_not_of(" =", at + key.size());
    return f.content.substr(begin, f.content.find('\n', begin) - begin);
  }
  return key + " not found";
}

TEST_F(Phoned, ProvisionedRemotePhoneBookUrlsAnswerResults) {
  provide_lookup();
  ASSERT_TRUE(phoned_.run());
  const std::string host = "http://pbx.example.com:9498";
  struct Case {
    const provisioning::VendorDescription& vendor;
    std::string key, mac, root;
  };
  for (const auto& c : {Case{provisioning::yealink_description(), "remote_phonebook.data.1.url",
                             "00:15:65:aa:bb:cc", "<YealinkIPPhoneDirectory>"},
                        Case{provisioning::thomson_description(), "Phonebook1_url",
                             "00:14:7f:e1:47:b3", "<ThomsonPhoneBook>"}}) {
    auto url = provisioned_phonebook_url(c.vendor, c.key, c.mac);
    SCOPED_TRACE(url);
    ASSERT_EQ(url.rfind(host, 0), 0u);
    auto search = url.find("#SEARCH");
    ASSERT_NE(search, std::string::npos);
    url.replace(search, 7, "Bob");
    auto r = get(url.substr(host.size()));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.body.find(c.root), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("<Name>Bob &amp; Co</Name>"), std::string::npos) << r.body;
  }
  // What the Yealink files used to say: the input route, which asks again.
  auto input = get("/0.1/directories/input/default/yealink?term=Bob");
  EXPECT_NE(input.body.find("<YealinkIPPhoneInputScreen"), std::string::npos) << input.body;
}

TEST_F(Phoned, NextLinkOfTheFirstPageServesTheRest) {
  provide_lookup();
  ASSERT_TRUE(phoned_.run());
  auto first = get("/0.1/directories/lookup/default/cisco?term=Alice");
  ASSERT_EQ(first.status, 200);
  auto at = first.body.find("&amp;offset=");
  ASSERT_NE(at, std::string::npos) << first.body;
  std::string offset = first.body.substr(at + 12, first.body.find('<', at) - at - 12);
  auto second = get("/0.1/directories/lookup/default/cisco?term=Alice&offset=" + offset);
  ASSERT_EQ(second.status, 200);
  EXPECT_NE(second.body.find("<Telephone>" + std::to_string(2000 + std::stoul(offset))),
            std::string::npos)
      << second.body;
}

TEST_F(Phoned, LookupWithoutTermShowsTheSearchForm) {
  provide_lookup();
  ASSERT_TRUE(phoned_.run());
  auto r = get("/0.1/directories/lookup/default/snom");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("<SnomIPPhoneInput>"), std::string::npos);
  EXPECT_TRUE(lookup_->asked.empty());
}

TEST_F(Phoned, UserUuidIsPassedInEitherSegmentOrder) {
  provide_lookup();
  ASSERT_TRUE(phoned_.run());
  const std::string uuid = "7f523550-03cf-4dac-a858-cb8afdb34775";
  auto a = get("/0.1/directories/lookup/default/" + uuid + "/cisco?term=Bob");
  auto b = get("/0.1/directories/lookup/default/snom/" + uuid + "?term=Bob");
  ASSERT_EQ(a.status, 200) << a.body;
  ASSERT_EQ(b.status, 200) << b.body;
  EXPECT_NE(b.body.find("<SnomIPPhoneDirectory>"), std::string::npos);
  ASSERT_EQ(lookup_->asked.size(), 2u);
  EXPECT_EQ(lookup_->asked[0].user_uuid, uuid);
  EXPECT_EQ(lookup_->asked[1].user_uuid, uuid);
}

// xivo-phoned's form: /0.1/directories/lookup/<profile>/<vendor>?xivo_user_uuid=...
TEST_F(Phoned, UserUuidIsTakenFromTheQueryAsXivoPhonedDoes) {
  provide_lookup();
  ASSERT_TRUE(phoned_.run());
  const std::string uuid = "7f523550-03cf-4dac-a858-cb8afdb34775";
  auto a = get("/0.1/directories/lookup/default/cisco?xivo_user_uuid=" + uuid + "&term=Bob");
  auto b = get("/0.1/directories/lookup/default/cisco?xivo_user_uuid=00000000-0000-0000-0000-000000000000&term=Bob");
  ASSERT_EQ(a.status, 200) << a.body;
  ASSERT_EQ(b.status, 200) << b.body;
  ASSERT_EQ(lookup_->asked.size(), 2u);
  EXPECT_EQ(lookup_->asked[0].user_uuid, uuid);
  EXPECT_EQ(lookup_->asked[1].user_uuid, "");
  // The form submits to a URL that still names the user (the phone drops the query).
  auto form = get("/0.1/directories/input/default/cisco?xivo_user_uuid=" + uuid);
  ASSERT_EQ(form.status, 200) << form.body;
  EXPECT_NE(form.body.find("/0.1/directories/lookup/default/" + uuid + "/cisco</URL>"), std::string::npos)
      << form.body;
  auto none = get("/0.1/directories/input/default/cisco?xivo_user_uuid=00000000-0000-0000-0000-000000000000");
  EXPECT_NE(none.body.find("/0.1/directories/lookup/default/cisco</URL>"), std::string::npos) << none.body;
}

// xivo-dird-phoned's first URLs, still in phones XiVO provisioned:
// /0.1/directories/lookup?term=&xivo_user_uuid= and /0.1/directories/menu,
// the vendor from ?vendor= or the phone's User-Agent, the profile "default".
TEST_F(Phoned, VendorIsDetectedFromTheUserAgentAsXivoDirdPhonedDid) {
  provide_lookup();
  ASSERT_TRUE(phoned_.run());
  const std::string uuid = "7f523550-03cf-4dac-a858-cb8afdb34775";
  auto from = [&](const std::string& target, const std::string& ua) {
    return host_.http()->call("GET", target, {}, {{"Host", "pbx.example.com:9498"}, {"User-Agent", ua}});
  };
  auto yealink = from("/0.1/directories/lookup?term=Bob&xivo_user_uuid=" + uuid,
                      "Yealink SIP-T46G 28.83.0.50 00:15:65:12:34:56");
  ASSERT_EQ(yealink.status, 200) << yealink.body;
  EXPECT_NE(yealink.body.find("<YealinkIPPhoneDirectory"), std::string::npos) << yealink.body;
  EXPECT_NE(yealink.body.find("Bob &amp; Co"), std::string::npos) << yealink.body;
  ASSERT_EQ(lookup_->asked.size(), 1u);
  EXPECT_EQ(lookup_->asked[0].profile, "default");
  EXPECT_EQ(lookup_->asked[0].user_uuid, uuid);

  // Cisco phones announce themselves as "Allegro-Software-WebClient": the menu
  // opens the explicit form's URL, the user kept in its path.
  auto menu = from("/0.1/directories/menu?xivo_user_uuid=" + uuid, "Allegro-Software-WebClient/4.34");
  ASSERT_EQ(menu.status, 200) << menu.body;
  EXPECT_NE(menu.body.find("<URL>http://pbx.example.com:9498/0.1/directories/input/default/" + uuid + "/cisco</URL>"),
            std::string::npos)
      << menu.body;

  // The form's links use the explicit route, so the phone's submit keeps vendor and user.
  auto form = from("/0.1/directories/lookup?vendor=snom&profile=sales", "Mozilla/5.0");
  ASSERT_EQ(form.status, 200) << form.body;
  EXPECT_NE(form.body.find("http://pbx.example.com:9498/0.1/directories/lookup/sales/snom"), std::string::npos)
      << form.body;
  auto thomson = from("/0.1/directories/lookup?term=Bob", "THOMSON ST2030 hw0 v2.72");
  ASSERT_EQ(thomson.status, 200) << thomson.body;
  ASSERT_EQ(lookup_->asked.size(), 2u);
  EXPECT_EQ(lookup_->asked[1].user_uuid, "");

  auto unknown = from("/0.1/directories/lookup?term=Bob", "curl/7.88.1");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_NE(unknown.body.find("User-Agent 'curl/7.88.1'"), std::string::npos) << unknown.body;
  EXPECT_NE(unknown.body.find("cisco, snom"), std::string::npos) << unknown.body;
  EXPECT_EQ(lookup_->asked.size(), 2u);
}

TEST_F(Phoned, AddressOutsideAuthorizedSubnetsIsRefused) {
  provide_lookup();
  ASSERT_TRUE(phoned_.run({{"phoned.authorized_subnets", "10.0.0.0/8, 192.168.1.0/24"}}));
  auto r = get("/0.1/directories/lookup/default/cisco?term=Bob");
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("phoned.authorized_subnets"), std::string::npos) << r.body;
  EXPECT_TRUE(lookup_->asked.empty());
}

TEST_F(Phoned, ReloadAppliesNewSubnetsWithoutRestart) {
  ASSERT_TRUE(phoned_.run({{"phoned.authorized_subnets", "10.0.0.0/8"}}));
  EXPECT_EQ(get("/0.1/directories/input/default/cisco").status, 403);
  ASSERT_TRUE(phoned_.reload({{"phoned.authorized_subnets", "127.0.0.1/32"}}));
  EXPECT_EQ(get("/0.1/directories/input/default/cisco").status, 200);
}

TEST_F(Phoned, BadSubnetIsRefusedAtConfigureWithTheOptionName) {
  auto s = phoned_.run({{"phoned.authorized_subnets", "10.0.0.0/33"}});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("phoned.authorized_subnets"), std::string::npos)
      << s.error().message;
}

TEST_F(Phoned, UnknownVendorNamesTheInstalledOnes) {
  ASSERT_TRUE(phoned_.run());
  auto r = get("/0.1/directories/lookup/default/nokia?term=a");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("nokia"), std::string::npos);
  EXPECT_NE(r.body.find("cisco, snom"), std::string::npos) << r.body;
}

TEST_F(Phoned, ViewProvidedAfterStartIsServed) {
  ASSERT_TRUE(phoned_.run());
  EXPECT_EQ(get("/0.1/directories/input/default/yeti").status, 404);
  class YetiView final : public sdk::PhoneView {
    std::string_view vendor() const override { return "yeti"; }
    sdk::PhoneViewPage render_input(const sdk::PhoneViewRequest& r) const override {
      return {"text/plain", "yeti form -> " + r.self_url};
    }
    sdk::PhoneViewPage render_results(const sdk::PhoneViewRequest&,
                                      const std::vector<sdk::PhoneEntry>&) const override {
      return {"text/plain", "yeti results"};
    }
  };
  ASSERT_TRUE(host_.services().provide<sdk::PhoneView>("yeti", std::make_shared<YetiView>()));
  auto r = get("/0.1/directories/input/default/yeti");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "yeti form -> http://pbx.example.com:9498/0.1/directories/lookup/default/yeti");
}

TEST_F(Phoned, StoppedViewIsNoLongerServed) {
  ASSERT_TRUE(phoned_.run());
  ASSERT_TRUE(snom_.stop());
  auto r = get("/0.1/directories/input/default/snom");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("installed vendors: cisco"), std::string::npos) << r.body;
}

TEST_F(Phoned, MissingLookupServiceIs503) {
  ASSERT_TRUE(phoned_.run());
  auto r = get("/0.1/directories/lookup/default/cisco?term=Bob");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("directory.dird"), std::string::npos) << r.body;
}

TEST_F(Phoned, LookupErrorsMapToStatuses) {
  provide_lookup();
  ASSERT_TRUE(phoned_.run());
  lookup_->fail = sdk::Error::not_found("no profile named nope");
  auto r = get("/0.1/directories/lookup/nope/cisco?term=Bob");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("no profile named nope"), std::string::npos);
  lookup_->fail = sdk::Error::timeout("ldap did not answer");
  EXPECT_EQ(get("/0.1/directories/lookup/default/cisco?term=Bob").status, 503);
}

TEST_F(Phoned, BadOffsetIs400) {
  provide_lookup();
  ASSERT_TRUE(phoned_.run());
  auto r = get("/0.1/directories/lookup/default/cisco?term=Bob&offset=-3");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("offset"), std::string::npos);
}

TEST(PhonedSubnets, MatchesIpv4Ipv6AndMappedAddresses) {
  auto s = SubnetList::parse("127.0.0.0/8, 192.168.1.0/24, 2001:db8::/32, 10.1.2.3");
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->contains("127.5.6.7"));
  EXPECT_TRUE(s->contains("192.168.1.200"));
  EXPECT_FALSE(s->contains("192.168.2.1"));
  EXPECT_TRUE(s->contains("::ffff:192.168.1.9"));
  EXPECT_TRUE(s->contains("2001:db8:1::5"));
  EXPECT_FALSE(s->contains("2001:db9::5"));
  EXPECT_TRUE(s->contains("10.1.2.3"));
  EXPECT_FALSE(s->contains("10.1.2.4"));
  EXPECT_FALSE(s->contains("not-an-ip"));
  EXPECT_FALSE(SubnetList::parse("192.168.1.0/24, bogus"));
}

}  // namespace
}  // namespace dialtone::plugins::view
