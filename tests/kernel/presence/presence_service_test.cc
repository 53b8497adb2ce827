// kernel::PresenceServiceImpl on its own: channel events in the call core's
// JSON, a configuration snapshot built here, mailbox counts.
#include "kernel/presence/presence_service.h"

#include <gtest/gtest.h>

#include <mutex>

#include "tests/support/test_bus.h"
#include "tests/support/test_logger.h"

namespace dialtone::kernel {
namespace {

class FakeConfig final : public sdk::ConfigService {
 public:
  std::shared_ptr<const sdk::ConfigSnapshot> snapshot() const override {
    std::lock_guard lock(m_);
    return snap_;
  }
  class W final : public Watch {};
  std::unique_ptr<Watch> watch(std::function<void(const sdk::ConfigSnapshot&)> on_change) override {
    std::lock_guard lock(m_);
    on_change_ = std::move(on_change);
    return std::make_unique<W>();
  }
  // Publishes `s` and tells the watcher, as api.confd does.
  void publish(sdk::ConfigSnapshot s) {
    auto p = std::make_shared<const sdk::ConfigSnapshot>(std::move(s));
    std::function<void(const sdk::ConfigSnapshot&)> fn;
    {
      std::lock_guard lock(m_);
      snap_ = p;
      fn = on_change_;
    }
    if (fn) fn(*p);
  }
  void set_forward(std::int64_t, std::string, bool, std::optional<std::string>,
                   std::function<void(sdk::Result<sdk::ConfigForward>)>) override {}
  void set_service(std::int64_t, std::string, std::optional<bool>, std::function<void(sdk::Result<bool>)>) override {}
  void associate_device(std::string, std::string, std::function<void(sdk::Result<std::vector<std::int64_t>>)>) override {}
  void dissociate_device(std::string, std::function<void(sdk::Result<std::vector<std::int64_t>>)>) override {}

 private:
  mutable std::mutex m_;
  std::shared_ptr<const sdk::ConfigSnapshot> snap_ = std::make_shared<const sdk::ConfigSnapshot>();
  std::function<void(const sdk::ConfigSnapshot&)> on_change_;
};

// alice (user 1, line 10, 1001) and bob (user 2, line 20, 1002) in "default".
sdk::ConfigSnapshot two_users() {
  sdk::ConfigSnapshot s;
  for (int i : {1, 2}) {
    sdk::ConfigUser u;
    u.id = i;
    u.line_ids = {i * 10};
    u.main_line_id = i * 10;
    s.users[i] = u;
    sdk::ConfigLine l;
    l.id = i * 10;
    l.context = "default";
    l.username = i == 1 ? "alice" : "bob";
    l.main_user_id = i;
    l.user_ids = {i};
    l.extension_ids = {i * 100};
    s.lines[l.id] = l;
    sdk::ConfigExtension x;
    x.id = i * 100;
    x.exten = "100" + std::to_string(i);
    x.context = "default";
    s.extensions[x.id] = x;
    s.line_by_username_[l.username] = l.id;
    s.extension_by_key_[x.exten + "@default"] = x.id;
    s.lines_of_extension_[x.id] = {l.id};
  }
  return s;
}

std::string event(const std::string& id, const std::string& endpoint, const std::string& direction,
                  const std::string& state) {
  return R"({"id":")" + id + R"(","call_id":"c1","backend":"sip","endpoint":")" + endpoint +
         R"(","direction":")" + direction + R"(","state":")" + state +
         R"(","caller_number":"1001","caller_name":"Alice","callee_number":"1002","callee_name":"",)"
         R"("protocol_id":"abc@host","peer":"","created_at_ms":5,"answered_at_ms":0,"held":false})";
}

class PresenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_->publish(two_users());
    presence_ = std::make_unique<PresenceServiceImpl>(bus_, log_, [c = config_] { return c; });
    presence_->attach_config();
  }
  void TearDown() override { presence_->stop(); }

  std::vector<sdk::PresenceState> seen() {
    std::lock_guard lock(m_);
    return seen_;
  }
  std::unique_ptr<sdk::PresenceService::Watch> follow(const sdk::PresenceResource& r) {
    return presence_->watch(r, [this](const sdk::PresenceState& s) {
      std::lock_guard lock(m_);
      seen_.push_back(s);
    });
  }

  testing::TestBus bus_;
  testing::TestLogger log_;
  std::shared_ptr<FakeConfig> config_ = std::make_shared<FakeConfig>();
  std::unique_ptr<PresenceServiceImpl> presence_;
  std::mutex m_;
  std::vector<sdk::PresenceState> seen_;
};

TEST_F(PresenceTest, ResolvesExtensionsLinesAndFeatureCodes) {
  auto x = presence_->resolve("alice", "1002");
  ASSERT_TRUE(x);
  EXPECT_EQ(x->kind, sdk::PresenceResource::Kind::extension);
  EXPECT_EQ(x->key(), "ext:1002@default");
  auto by_name = presence_->resolve("alice", "bob");
  ASSERT_TRUE(by_name);
  EXPECT_EQ(by_name->key(), "ext:1002@default");
  auto dnd = presence_->resolve("alice", "*25");
  ASSERT_TRUE(dnd);
  EXPECT_EQ(dnd->kind, sdk::PresenceResource::Kind::feature);
  EXPECT_EQ(dnd->user_id, 1);
  EXPECT_EQ(dnd->feature, "dnd");
  auto fwd = presence_->resolve("bob", "*211003");
  ASSERT_TRUE(fwd);
  EXPECT_EQ(fwd->feature, "forward_unconditional");
  EXPECT_EQ(fwd->argument, "1003");
  EXPECT_FALSE(presence_->resolve("alice", "*251"));  // DND takes no destination
  EXPECT_FALSE(presence_->resolve("alice", "1999"));
  EXPECT_FALSE(presence_->resolve("nobody", "1002"));
  auto box = presence_->mailbox_of("alice");
  ASSERT_TRUE(box);
  EXPECT_EQ(box->mailbox, "1001@default");
}

// The callee's leg: nothing while it is created, early when it rings,
// confirmed when answered, terminated once when it ends, then gone.
TEST_F(PresenceTest, CalleeLegGoesEarlyConfirmedTerminated) {
  auto r = *presence_->resolve("alice", "1002");
  auto w = follow(r);
  presence_->on_channel_event({"calls.channel.created", event("b", "bob", "outbound", "down")});
  presence_->on_channel_event({"calls.channel.state", event("b", "bob", "outbound", "ringing")});
  presence_->on_channel_event({"calls.channel.bridged", event("b", "bob", "outbound", "ringing")});  // no change
  presence_->on_channel_event({"calls.channel.state", event("b", "bob", "outbound", "up")});
  presence_->on_channel_event({"calls.channel.ended", event("b", "bob", "outbound", "ended")});
  auto s = seen();
  ASSERT_EQ(s.size(), 3u);
  ASSERT_EQ(s[0].dialogs.size(), 1u);
  EXPECT_EQ(s[0].dialogs[0].state, sdk::DialogState::early);
  EXPECT_FALSE(s[0].dialogs[0].initiator);
  EXPECT_EQ(s[0].dialogs[0].remote_number, "1001");
  EXPECT_EQ(s[0].dialogs[0].remote_name, "Alice");
  EXPECT_EQ(s[0].dialogs[0].call_id, "abc@host");
  EXPECT_EQ(s[1].dialogs[0].state, sdk::DialogState::confirmed);
  EXPECT_EQ(s[2].dialogs[0].state, sdk::DialogState::terminated);
  EXPECT_LT(s[0].version, s[1].version);
  EXPECT_TRUE(presence_->state(r).dialogs.empty());
  // Legs of other lines do not concern 1002.
  presence_->on_channel_event({"calls.channel.created", event("a", "alice", "inbound", "down")});
  EXPECT_EQ(seen().size(), 3u);
}

TEST_F(PresenceTest, CallerLegIsTryingThenInitiator) {
  auto w = follow(*presence_->resolve("bob", "1001"));
  presence_->on_channel_event({"calls.channel.created", event("a", "alice", "inbound", "down")});
  auto s = seen();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].dialogs[0].state, sdk::DialogState::trying);
  EXPECT_TRUE(s[0].dialogs[0].initiator);
  EXPECT_EQ(s[0].dialogs[0].remote_number, "1002");
}

TEST_F(PresenceTest, FeatureFollowsTheConfiguration) {
  auto any = follow(*presence_->resolve("alice", "*21"));
  auto snap = two_users();
  snap.users[1].forward_unconditional = {true, std::string("1003")};
  config_->publish(snap);
  auto s = seen();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_TRUE(s[0].feature_on);
  ASSERT_EQ(s[0].dialogs.size(), 1u);
  EXPECT_EQ(s[0].dialogs[0].state, sdk::DialogState::confirmed);
  // A key naming another destination stays dark.
  EXPECT_FALSE(presence_->state(*presence_->resolve("alice", "*211004")).feature_on);
  EXPECT_TRUE(presence_->state(*presence_->resolve("alice", "*211003")).feature_on);
  // An unrelated change tells nothing.
  snap.users[2].dnd = true;
  config_->publish(snap);
  EXPECT_EQ(seen().size(), 1u);
}

// A boss-secretary key (*37<member id>, seed 5.2): lit while that member
// has the filter on; only members of the filter may watch it.
TEST_F(PresenceTest, CallFilterMemberKey) {
  auto snap = two_users();
  sdk::ConfigCallFilter f;
  f.id = 1;
  f.members = {{7, 1, "boss", std::nullopt, false}, {8, 2, "secretary", std::nullopt, false}};
  snap.callfilters[1] = f;
  config_->publish(snap);
  auto key = presence_->resolve("alice", "*378");
  ASSERT_TRUE(key) << key.error().message;
  EXPECT_EQ(key->feature, "bsfilter");
  EXPECT_FALSE(presence_->resolve("alice", "*379"));  // no such member
  EXPECT_FALSE(presence_->resolve("alice", "*37"));
  auto w = follow(*key);
  snap.callfilters[1].members[1].active = true;
  config_->publish(snap);
  auto s = seen();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_TRUE(s[0].feature_on);
  snap.callfilters[1].members.clear();
  snap.callfilters[1].members.push_back({7, 1, "boss", std::nullopt, false});
  config_->publish(snap);
  EXPECT_FALSE(presence_->resolve("bob", "*377"));  // bob is no longer in the filter
}

// A group's key (2000, bob a member): flashes while a call to the group
// rings bob's line, lit while he talks; the key follows the membership.
TEST_F(PresenceTest, GroupKeyShowsItsMembersLines) {
  auto snap = two_users();
  sdk::ConfigExtension gx;
  gx.id = 500;
  gx.exten = "2000";
  gx.context = "default";
  snap.extensions[gx.id] = gx;
  snap.extension_by_key_["2000@default"] = gx.id;
  sdk::ConfigGroup g;
  g.id = 1;
  g.name = "sales";
  g.member_user_ids = {2};
  g.extension_ids = {gx.id};
  snap.groups[1] = g;
  config_->publish(snap);
  auto key = presence_->resolve("alice", "2000");
  ASSERT_TRUE(key) << key.error().message;
  auto w = follow(*key);
  presence_->on_channel_event({"calls.channel.created", event("b", "bob", "outbound", "down")});
  presence_->on_channel_event({"calls.channel.state", event("b", "bob", "outbound", "ringing")});
  presence_->on_channel_event({"calls.channel.state", event("b", "bob", "outbound", "up")});
  auto s = seen();
  ASSERT_EQ(s.size(), 2u);
  ASSERT_EQ(s[0].dialogs.size(), 1u);
  EXPECT_EQ(s[0].dialogs[0].state, sdk::DialogState::early);
  EXPECT_EQ(s[0].dialogs[0].local_number, "2000");
  EXPECT_EQ(s[1].dialogs[0].state, sdk::DialogState::confirmed);
  // bob leaves the group: his call no longer shows on its key.
  snap.groups[1].member_user_ids.clear();
  config_->publish(snap);
  EXPECT_TRUE(presence_->state(*key).dialogs.empty());
  presence_->on_channel_event({"calls.channel.ended", event("b", "bob", "outbound", "ended")});
}

// *27: the subscriber's incoming call filtering (call screening).
TEST_F(PresenceTest, CallScreeningKey) {
  auto key = presence_->resolve("alice", "*27");
  ASSERT_TRUE(key) << key.error().message;
  EXPECT_EQ(key->feature, "incallfilter");
  EXPECT_FALSE(presence_->resolve("alice", "*271003"));  // takes no destination
  auto w = follow(*key);
  auto snap = two_users();
  snap.users[1].incallfilter = true;
  config_->publish(snap);
  auto s = seen();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_TRUE(s[0].feature_on);
}

// *3 (online call recording, seed 5.33.4): alice's key is lit while a call
// of hers is recorded online, dark once *3 stops it or the call ends; bob's
// key stays dark (not his call).
TEST_F(PresenceTest, OnlineRecordingKeyIsLitWhileTheUsersCallIsRecorded) {
  auto key = presence_->resolve("alice", std::string(sdk::kOnlineRecordingCode));
  ASSERT_TRUE(key) << key.error().message;
  EXPECT_EQ(key->feature, "onlinerec");
  auto bob_key = presence_->resolve("bob", "*3");
  ASSERT_TRUE(bob_key);
  auto w = follow(*key);
  bus_.publish("calls.channel.state", event("a", "alice", "inbound", "up"));
  bus_.publish("calls.channel.state", event("t", "trunk1", "outbound", "up"));
  EXPECT_TRUE(seen().empty());
  const std::string rec = R"({"call_id":"c1","recorded":"a","channels":["a","t"],"by":"a"})";
  bus_.publish(std::string(sdk::kOnlineRecordingStarted), rec);
  ASSERT_EQ(seen().size(), 1u);
  EXPECT_TRUE(seen().back().feature_on);
  ASSERT_EQ(seen().back().dialogs.size(), 1u);
  EXPECT_EQ(seen().back().dialogs[0].state, sdk::DialogState::confirmed);
  EXPECT_FALSE(presence_->state(*bob_key).feature_on);
  // Stopped: told once as a terminated dialog, then idle.
  auto ended = [&] {
    auto s = seen().back();
    return !s.feature_on && s.dialogs.size() == 1 && s.dialogs[0].state == sdk::DialogState::terminated;
  };
  bus_.publish(std::string(sdk::kOnlineRecordingStopped), rec);
  ASSERT_EQ(seen().size(), 2u);
  EXPECT_TRUE(ended());
  EXPECT_TRUE(presence_->state(*key).dialogs.empty());
  bus_.publish(std::string(sdk::kOnlineRecordingStarted), rec);
  ASSERT_EQ(seen().size(), 3u);
  EXPECT_TRUE(seen().back().feature_on);
  bus_.publish("calls.channel.ended", event("t", "trunk1", "outbound", "up"));
  ASSERT_EQ(seen().size(), 4u);
  EXPECT_TRUE(ended()) << "the call's end ends its online recording";
  EXPECT_TRUE(presence_->state(*key).dialogs.empty());
}

// A paging key (*11<number>) is lit while a caller's leg that dialed that
// code lasts, whoever pages and whatever the members do; another group's
// key stays dark, and a number that is no paging group is refused.
TEST_F(PresenceTest, PagingKeyIsLitWhileAPageRuns) {
  auto snap = two_users();
  for (auto n : {42, 43}) {
    sdk::ConfigPaging p;
    p.id = n;
    p.number = std::to_string(n);
    snap.paging_by_number_[p.number] = p.id;
    snap.pagings[p.id] = p;
  }
  config_->publish(snap);
  EXPECT_FALSE(presence_->resolve("bob", "*1199"));
  EXPECT_FALSE(presence_->resolve("bob", "*11"));
  auto key = presence_->resolve("bob", "*1142");
  ASSERT_TRUE(key) << key.error().message;
  EXPECT_EQ(key->feature, "paging");
  EXPECT_EQ(key->argument, "42");
  auto other = presence_->resolve("bob", "*1143");
  ASSERT_TRUE(other);
  auto w = follow(*key);
  auto page = [](const std::string& state) {
    auto e = event("p", "alice", "inbound", state);
    e.replace(e.find(R"("callee_number":"1002")"), 22, R"("callee_number":"*1142")");
    return e;
  };
  bus_.publish("calls.channel.state", event("a", "alice", "inbound", "up"));  // alice calls 1002
  EXPECT_TRUE(seen().empty());
  bus_.publish("calls.channel.created", page(""));
  ASSERT_EQ(seen().size(), 1u);
  EXPECT_TRUE(seen().back().feature_on);
  ASSERT_EQ(seen().back().dialogs.size(), 1u);
  EXPECT_EQ(seen().back().dialogs[0].state, sdk::DialogState::confirmed);
  EXPECT_EQ(seen().back().dialogs[0].local_number, "*1142");
  bus_.publish("calls.channel.state", page("up"));
  bus_.publish("calls.channel.state", event("m", "bob", "outbound", "up"));  // a member answers
  EXPECT_EQ(seen().size(), 1u) << "the page went on: nothing new";
  EXPECT_FALSE(presence_->state(*other).feature_on);
  bus_.publish("calls.channel.ended", page("up"));
  ASSERT_EQ(seen().size(), 2u);
  EXPECT_FALSE(seen().back().feature_on);
  EXPECT_TRUE(seen().back().dialogs.empty());
  EXPECT_FALSE(presence_->state(*key).feature_on);
}

// api.confd started again (a reload): the service follows the new one.
TEST_F(PresenceTest, FollowsAConfigurationServiceStartedAgain) {
  auto other = std::make_shared<FakeConfig>();
  auto snap = two_users();
  snap.users[1].dnd = true;
  other->publish(snap);
  std::shared_ptr<FakeConfig> current = config_;
  PresenceServiceImpl presence(bus_, log_, [&current] { return current; });
  presence.attach_config();
  auto r = *presence.resolve("alice", "*25");
  EXPECT_FALSE(presence.state(r).feature_on);
  current = other;
  presence.attach_config();
  EXPECT_TRUE(presence.state(r).feature_on);
  presence.stop();
}

TEST_F(PresenceTest, MailboxCountsAndStoppedWatches) {
  auto box = *presence_->mailbox_of("alice");
  auto w = follow(box);
  presence_->set_mwi("1001@default", 2, 1);
  presence_->set_mwi("1001@default", 2, 1);  // unchanged: not told
  presence_->set_mwi("1002@default", 5, 0);  // another box
  auto s = seen();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].new_messages, 2);
  EXPECT_EQ(s[0].old_messages, 1);
  EXPECT_EQ(presence_->resources(), 1u);
  w.reset();
  EXPECT_EQ(presence_->resources(), 0u);
  presence_->set_mwi("1001@default", 0, 0);
  EXPECT_EQ(seen().size(), 1u);
  EXPECT_EQ(presence_->state(box).new_messages, 0);
}

// Watchers of one resource share one entry: one change, every watcher told.
TEST_F(PresenceTest, FanOutToEveryWatcher) {
  auto r = *presence_->resolve("alice", "1002");
  std::atomic<int> told{0};
  std::vector<std::unique_ptr<sdk::PresenceService::Watch>> ws;
  for (int i = 0; i < 50; ++i) ws.push_back(presence_->watch(r, [&](const sdk::PresenceState&) { ++told; }));
  EXPECT_EQ(presence_->resources(), 1u);
  EXPECT_EQ(presence_->watchers(), 50u);
  presence_->on_channel_event({"calls.channel.state", event("b", "bob", "outbound", "ringing")});
  EXPECT_EQ(told.load(), 50);
}

// The call core publishes on the bus; the service follows it there.
TEST_F(PresenceTest, FollowsTheBus) {
  auto w = follow(*presence_->resolve("alice", "1002"));
  bus_.publish("calls.channel.state", event("b", "bob", "outbound", "ringing"));
  ASSERT_EQ(seen().size(), 1u);
}

// The registrar's sip.registration.<line> events say whether an
// extension's phone can ring: told once per change, other lines ignored.
TEST_F(PresenceTest, FollowsRegistrations) {
  auto r = *presence_->resolve("alice", "1002");
  EXPECT_FALSE(presence_->state(r).registered);
  auto w = follow(r);
  bus_.publish("sip.registration.alice", R"({"aor":"alice","registered":true,"contacts":[{}]})");
  EXPECT_TRUE(seen().empty());  // alice's line is not 1002's
  bus_.publish("sip.registration.bob", R"({"aor":"bob","registered":true,"contacts":[{}]})");
  bus_.publish("sip.registration.bob", R"({"aor":"bob","registered":true,"contacts":[{},{}]})");
  ASSERT_EQ(seen().size(), 1u);
  EXPECT_TRUE(seen().back().registered);
  EXPECT_TRUE(presence_->state(r).registered);
  bus_.publish("sip.registration.bob", R"({"aor":"bob","registered":false,"contacts":[]})");
  ASSERT_EQ(seen().size(), 2u);
  EXPECT_FALSE(seen().back().registered);
  bus_.publish("sip.registration.bob", "not json");  // ignored
  EXPECT_EQ(seen().size(), 2u);
}

}  // namespace
}  // namespace dialtone::kernel
