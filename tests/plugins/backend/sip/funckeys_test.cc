// Function keys as provisioned, served: users' keys (user, custom, forward,
// DND, call screening, group, boss-secretary filter, online recording, paging) stored as api.confd
// stores them, the files provd renders for a Yealink and a Snom phone, the
// BLF URIs read back from those files, and each subscribed to with SIPp:
// every one must be accepted (202 and a dialog-info NOTIFY). Then a DND key
// lit by dialing *25 through the shipped lua-dialplan/extensions.lua.
#include <atomic>
#include <future>
#include <regex>
#include <set>

#include <gtest/gtest.h>

#include <dialtone/provisioning.h>
#include <dialtone/services.h>

#include "plugins/provisioning/polycom/polycom_description.h"
#include "plugins/provisioning/provd/provd.h"
#include "plugins/provisioning/snom/snom_description.h"
#include "plugins/provisioning/yealink/yealink_description.h"
#include "tests/plugins/backend/sip/provd_fixture.h"

namespace prov = dialtone::plugins::provisioning;
namespace sdk = dialtone::sdk;

namespace dialtone::testing {
namespace {

class FunckeyTest : public ProvdSipTest {
 protected:
  static void SetUpTestSuite() {
    make_host({{"alice", "1001"}, {"bob", "1002"}, {"carol", "1003"}},
              std::filesystem::path(SIP_LUA_LIB_DIR).parent_path() / "extensions.lua");
  }
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(
        provide_vendors({{"yealink", prov::yealink_description()},
                         {"snom", prov::snom_description()},
                         {"polycom", prov::polycom_description()}}));
    start_plugin({{"auth.ban_failures", "1000"}});
  }

  // `user`'s line goes to device `dev`; its keys are `keys` (position ->
  // JSON destination, all supervised), as PUT /1.1/users/{id}/funckeys
  // stores them.
  void provision(const std::string& user, const std::string& dev, const std::map<int, std::string>& keys) {
    host_->sql("UPDATE confd_lines SET device_id = $1 FROM confd_endpoints_sip e "
               "WHERE e.id = confd_lines.endpoint_sip_id AND e.username = $2", {dev, user});
    host_->sql("DELETE FROM confd_user_funckeys WHERE user_id = $1", {user_ids_.at(user)});
    for (auto& [pos, dest] : keys)
      host_->sql("INSERT INTO confd_user_funckeys (user_id, position, blf, destination) VALUES ($1, $2, true, $3)",
                 {user_ids_.at(user), std::to_string(pos), dest});
  }

  std::string file_of(const std::string& dev, const std::string& needle) {
    auto files = provd_->preview(dev);
    EXPECT_TRUE(files) << (files ? "" : files.error().message);
    if (!files) return {};
    for (auto& f : *files)
      if (f.content.find(needle) != std::string::npos) return f.content;
    return {};
  }

  // A phone of `user` whose BLF key on feature code `target` follows
  // subscribe_feature.xml (idle, lit, idle, unsubscribed) in the background.
  void feature_key(Phone& key, const std::string& user, const std::string& target) {
    blf_key(key, user, target, "subscribe_feature.xml", "25s");
  }
  int dial(const std::string& user, const std::string& number, std::string* out) {
    return client("uac_call_480.xml", {"-s", number, "-au", user, "-ap", user + "pw", "-key", "user", user}, out);
  }

  // `user` subscribes to `target` (dialog) with a SIPp phone; its status.
  int subscribe(const std::string& user, const std::string& target, const std::string& file, std::string* out) {
    return client(file, {"-au", user, "-ap", user + "pw", "-key", "user", user, "-key", "target", target, "-key",
                         "event", "dialog", "-key", "accept", "application/dialog-info+xml", "-key", "expires",
                         "600"},
                  out);
  }

};

const std::map<int, std::string> kKeys = {
    {1, R"({"type":"user","user_id":%BOB%})"},
    {2, R"({"type":"service","service":"enablednd"})"},
    {3, R"({"type":"forward","forward":"unconditional","exten":"1003"})"},
    {4, R"({"type":"forward","forward":"busy"})"},
    {5, R"({"type":"custom","exten":"1003"})"},
    {6, R"({"type":"group","group_id":%GROUP%})"},
    {7, R"({"type":"service","service":"incallfilter"})"},
    {8, R"({"type":"bsfilter","filter_member_id":%MEMBER%})"},
    {9, R"({"type":"onlinerec"})"},
    {10, R"({"type":"paging","paging_id":%PAGING%})"},
};

// The keys with `%NAME%` replaced by `values`' ids.
std::map<int, std::string> keys_for(const std::map<std::string, std::string>& values) {
  auto out = kKeys;
  for (auto& [_, k] : out)
    for (auto& [name, v] : values)
      if (auto at = k.find("%" + name + "%"); at != std::string::npos) k.replace(at, name.size() + 2, v);
  return out;
}

TEST_F(FunckeyTest, YealinkAndSnomKeysSubscribeToServedUris) {
  ASSERT_NO_FATAL_FAILURE(start_provd());
  // A group on 2000 with bob; bob's boss-secretary filter, alice and carol its secretaries.
  auto group = host_->sql("INSERT INTO confd_groups (name) VALUES ('sales') RETURNING id");
  auto gx = host_->sql("INSERT INTO confd_extensions (exten, context) VALUES ('2000', 'default') RETURNING id");
  host_->sql("INSERT INTO confd_group_extensions VALUES ($1::int, $2::int)", {group, gx});
  host_->sql("INSERT INTO confd_group_members (group_id, user_id, position) VALUES ($1::int, $2::int, 1)",
             {group, user_ids_.at("bob")});
  auto filter = host_->sql("INSERT INTO confd_callfilters (name) VALUES ('bob-filter') RETURNING id");
  auto boss = host_->sql("INSERT INTO confd_callfilter_members (callfilter_id, user_id, role) "
                         "VALUES ($1::int, $2::int, 'boss') RETURNING id", {filter, user_ids_.at("bob")});
  host_->sql("INSERT INTO confd_callfilter_members (callfilter_id, user_id, role) VALUES ($1::int, $2::int, "
             "'secretary'), ($1::int, $3::int, 'secretary')", {filter, user_ids_.at("alice"), user_ids_.at("carol")});
  auto paging = host_->sql("INSERT INTO confd_pagings (number) VALUES ('51') RETURNING id");
  auto keys = keys_for({{"BOB", user_ids_.at("bob")}, {"GROUP", group}, {"MEMBER", boss}, {"PAGING", paging}});
  const std::set<std::string> kExpected = {"1002", "*25", "*211003", "*23",  "1003",
                                           "2000", "*27", "*37" + boss, "*3", "*1151"};
  auto yealink = add_device("00:15:65:aa:bb:01", "Yealink", "T46S", "provisioning.yealink");
  auto snom = add_device("00:04:13:aa:bb:02", "Snom", "D785", "provisioning.snom");
  auto polycom = add_device("00:04:f2:aa:bb:03", "Polycom", "VVX410", "provisioning.polycom");
  provision("alice", yealink, keys);
  provision("carol", snom, keys);
  provision("bob", polycom, keys);
  ASSERT_TRUE(provd_->sync_from_confd());

  // Yealink: linekey.N.type = 16 (BLF) and its value.
  auto y = file_of(yealink, "linekey.");
  std::set<std::string> yealink_blf;
  std::regex ykey(R"(linekey\.(\d+)\.type = 16\nlinekey\.\1\.value = ([^\n]+)\n)");
  for (std::sregex_iterator it(y.begin(), y.end(), ykey), end; it != end; ++it) yealink_blf.insert((*it)[2]);
  EXPECT_EQ(yealink_blf, kExpected) << y;

  // Snom: <fkey ...>blf &lt;sip:<value>@<domain>&gt;|<pickup code></fkey>
  // (the directed pickup code the key dials, confd's *8 by default).
  auto s = file_of(snom, "<fkey");
  std::set<std::string> snom_blf;
  std::regex skey(R"(>blf &lt;sip:([^@]+)@[^&]*&gt;\|\*8</fkey>)");
  for (std::sregex_iterator it(s.begin(), s.end(), skey), end; it != end; ++it) snom_blf.insert((*it)[1]);
  EXPECT_EQ(snom_blf, kExpected) << s;

  // Polycom: attendant resources (BLF keys, "normal": a press while the
  // watched line rings picks the call up by dialing confd's *8 and the
  // address), with directed pickup turned on, as its phone.cfg carries them.
  auto p = file_of(polycom, "attendant.resourceList");
  std::set<std::string> polycom_blf;
  std::regex pkey(R"re(attendant\.resourceList\.(\d+)\.address="([^"]+)"\n [^\n]*\n attendant\.resourceList\.\1\.type="normal")re");
  for (std::sregex_iterator it(p.begin(), p.end(), pkey), end; it != end; ++it) polycom_blf.insert((*it)[2]);
  EXPECT_EQ(polycom_blf, kExpected) << p;
  for (const char* line : {R"(<call call.directedCallPickupMethod="legacy" call.directedCallPickupString="*8"/>)",
                           R"(<feature feature.directedCallPickup.enabled="1"/>)",
                           R"(<attendant attendant.behaviors.display.spontaneousCallAppearances.normal="1"/>)"})
    EXPECT_NE(p.find(std::string(line) + "\n"), std::string::npos) << line << "\n" << p;

  for (auto& [user, values] : {std::pair{std::string("alice"), yealink_blf}, std::pair{std::string("carol"), snom_blf}})
    for (auto& v : values) {
      std::string out;
      EXPECT_EQ(subscribe(user, v, "subscribe_served.xml", &out), 0) << user << " -> " << v << "\n" << out;
    }
  EXPECT_TRUE(eventually([&] { return plugin_->subscriptions() == 0; }));
  host_->sql("DELETE FROM confd_callfilters WHERE id = $1::int", {filter});
  host_->sql("DELETE FROM confd_pagings WHERE id = $1::int", {paging});
  host_->sql("DELETE FROM confd_groups WHERE id = $1::int", {group});
  host_->sql("DELETE FROM confd_extensions WHERE id = $1::int", {gx});
}

// The provisioned DND key (*25) lights when its user dials *25 (the shipped
// dialplan turns the service on), and goes dark when it is dialed again.
TEST_F(FunckeyTest, DialingStar25LightsTheDndKey) {
  auto r = host_->presence().resolve("alice", "*25");
  ASSERT_TRUE(r);
  std::mutex m;
  std::vector<bool> seen;
  auto w = host_->presence().watch(*r, [&](const sdk::PresenceState& s) {
    std::lock_guard lock(m);
    seen.push_back(s.feature_on);
  });
  auto saw = [&](std::size_t n) {
    return eventually([&] {
      std::lock_guard lock(m);
      return seen.size() >= n;
    });
  };
  Phone key;
  feature_key(key, "alice", "*25");
  ASSERT_TRUE(eventually([&] { return plugin_->subscriptions() == 1; })) << key.out;

  std::string out;
  ASSERT_EQ(dial("alice", "*25", &out), 0) << out;
  ASSERT_TRUE(saw(1));
  ASSERT_EQ(dial("alice", "*25", &out), 0) << out;
  ASSERT_TRUE(saw(2));
  {
    std::lock_guard lock(m);
    EXPECT_EQ(seen, (std::vector<bool>{true, false}));
  }
  EXPECT_EQ(key.finish(), 0) << key.out;
}

}  // namespace
// Seed 5.2.5: the boss's key and the secretary's key on the same filter
// member light together. Carol (secretary) turns the filter on with *37,
// Bob (boss) turns it off: both phones see lit, then idle.
TEST_F(FunckeyTest, Star37LightsTheFilterKeyOnTheBossAndTheSecretaryPhones) {
  auto filter = host_->sql("INSERT INTO confd_callfilters (name) VALUES ('bob-keys') RETURNING id");
  host_->sql("INSERT INTO confd_callfilter_members (callfilter_id, user_id, role) VALUES ($1::int, $2::int, 'boss')",
             {filter, user_ids_.at("bob")});
  auto member = host_->sql("INSERT INTO confd_callfilter_members (callfilter_id, user_id, role) "
                           "VALUES ($1::int, $2::int, 'secretary') RETURNING id", {filter, user_ids_.at("carol")});
  Phone boss_key, secretary_key;
  feature_key(boss_key, "bob", "*37" + member);
  feature_key(secretary_key, "carol", "*37" + member);
  ASSERT_TRUE(eventually([&] { return plugin_->subscriptions() == 2; })) << boss_key.out << secretary_key.out;
  auto r = host_->presence().resolve("bob", "*37" + member);
  ASSERT_TRUE(r);
  std::atomic<int> lit{0};
  auto w = host_->presence().watch(*r, [&](const sdk::PresenceState& s) {
    if (s.feature_on) ++lit;
  });
  std::string out;
  ASSERT_EQ(dial("carol", "*37" + member, &out), 0) << out;
  ASSERT_TRUE(eventually([&] { return lit.load() > 0; }));
  ASSERT_EQ(dial("bob", "*37" + member, &out), 0) << out;
  EXPECT_EQ(boss_key.finish(), 0) << boss_key.out;
  EXPECT_EQ(secretary_key.finish(), 0) << secretary_key.out;
  EXPECT_EQ(host_->sql("SELECT active::text FROM confd_callfilter_members WHERE id = $1::int", {member}), "false");
  host_->sql("DELETE FROM confd_callfilters WHERE id = $1::int", {filter});
}

}  // namespace dialtone::testing
