// SUBSCRIBE/NOTIFY with SIPp phones: BLF keys (dialog) following a real
// call through the call core and the kernel's presence model, refresh and
// expiry, refusals, PIDF, message-summary, and keys on feature codes
// (do-not-disturb, forwards) lit by the configuration. Every NOTIFY body is
// checked by the scenario (tests/plugins/backend/sip/scenarios/subscribe_*).
#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>

#include <unistd.h>

#include "tests/plugins/backend/sip/sip_fixture.h"

namespace dialtone::testing {
namespace {

class SubscriptionTest : public SipPluginTest {
 protected:
  static void SetUpTestSuite() {
    make_host({{"alice", "1001"}, {"bob", "1002"}, {"carol", "1003"}});
  }
  void SetUp() override { start_plugin({{"subscribe.expires_min", "1"}}); }

  // `user` subscribes to `target` for `event` in the background, running
  // `file` (its password: `password`, default user + "pw").
  void watcher(Phone& p, const std::string& user, const std::string& target, const std::string& event,
               const std::string& file, const std::string& expires = "600", std::string password = {}) {
    static const std::map<std::string, std::string> accept{
        {"dialog", "application/dialog-info+xml"},
        {"presence", "application/pidf+xml"},
        {"message-summary", "application/simple-message-summary"},
        {"conference", "application/conference-info+xml"}};
    auto args = sipp_args(file, 1, "25s");
    args.insert(args.begin(), target_);
    if (password.empty()) password = user + "pw";
    std::vector<std::string> keys{"-au", user, "-ap", password, "-key", "user", user, "-key", "target", target,
                                  "-key", "event", event, "-key", "accept", accept.at(event),
                                  "-key", "expires", expires};
    args.insert(args.end(), keys.begin(), keys.end());
    p.rc = std::async(std::launch::async, [args, &p] { return run_sipp(args, &p.out); });
  }

  bool subscriptions(std::size_t n) {
    return eventually([&] { return plugin_->subscriptions() == n; });
  }

  // carol watches bob's extension (1002) with the dialog scenario `file`
  // while alice calls bob, who answers, and hangs up; every phone's
  // scenario passes and no subscription is held after.
  void watch_a_call(const std::string& file) {
  Phone bob;
  ASSERT_NO_FATAL_FAILURE(callee(bob, "bob", "uas_answer.xml"));
  Phone carol;
  watcher(carol, "carol", "1002", "dialog", file);
  ASSERT_TRUE(subscriptions(1)) << carol.out;
  Phone alice;
  caller(alice, "alice", "1002", "uac_call_hangup.xml");
  EXPECT_EQ(alice.finish(), 0) << alice.out;
  EXPECT_EQ(bob.finish(), 0) << bob.out;
  EXPECT_EQ(carol.finish(), 0) << carol.out;
  EXPECT_TRUE(subscriptions(0));
  }

  // One subscription that runs its scenario `file` to the end (a refusal,
  // or a NOTIFY sequence ended by the server), holding nothing after.
  void subscribe_once(const std::string& user, const std::string& target, const std::string& event,
                      const std::string& file, const std::string& expires = "600", std::string password = {}) {
    Phone p;
    watcher(p, user, target, event, file, expires, std::move(password));
    EXPECT_EQ(p.finish(), 0) << p.out;
    EXPECT_TRUE(subscriptions(0));
  }

  // Waits until the presence model sees bob's extension (1002) registered
  // or not.
  bool bob_registered(bool want) {
    auto r = host_->presence().resolve("carol", "1002");
    return r && eventually([&] { return host_->presence().state(*r).registered == want; });
  }

  std::int64_t uid(const std::string& user) { return std::stoll(user_ids_.at(user)); }

  // Sets a user's service through the configuration service, as PUT
  // /1.1/users/{id}/services/{service} does, and waits for the answer.
  void set_service(const std::string& user, const std::string& service, bool on) {
    std::promise<bool> done;
    host_->config().set_service(uid(user), service, on, [&](sdk::Result<bool> r) { done.set_value(static_cast<bool>(r)); });
    ASSERT_TRUE(done.get_future().get());
  }

  // Waits until the presence model told its watchers that `resource` is
  // in the state `pred` describes: the SIP subscription's NOTIFY is then
  // queued, in order, behind the earlier ones.
  struct Seen {
    std::mutex m;
    std::vector<sdk::PresenceState> states;
  };
  std::unique_ptr<sdk::PresenceService::Watch> follow(const std::string& line, const std::string& target,
                                                      std::shared_ptr<Seen> seen) {
    auto r = host_->presence().resolve(line, target);
    EXPECT_TRUE(r) << r.error().message;
    return host_->presence().watch(*r, [seen](const sdk::PresenceState& s) {
      std::lock_guard lock(seen->m);
      seen->states.push_back(s);
    });
  }
  static bool seen_state(const std::shared_ptr<Seen>& seen, const std::function<bool(const sdk::PresenceState&)>& pred) {
    return eventually([&] {
      std::lock_guard lock(seen->m);
      for (auto& s : seen->states)
        if (pred(s)) return true;
      return false;
    });
  }
};

// The issue's sequence: idle, early (ringing, with the caller and the
// directed pickup target), confirmed, terminated; then unsubscribed.
TEST_F(SubscriptionTest, BlfFollowsACallFromIdleToTerminated) {
  ASSERT_NO_FATAL_FAILURE(watch_a_call("subscribe_blf_sequence.xml"));
  expect_idle();
}

// The directed pickup target of a ringing dialog is confd's pickup feature
// code: changed there (as PUT /1.1/extensions/features/{id} does) to _*88.,
// the next ringing dialog names sip:*881002@, with no restart; the shipped
// sequence scenario, expecting that code instead of *8.
TEST_F(SubscriptionTest, PickupTargetFollowsTheFeatureCodeOfConfd) {
  std::ifstream in(scenario("subscribe_blf_sequence.xml"));
  std::string xml((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string shipped = "sip:\\*81002@";
  auto at = xml.find(shipped);
  ASSERT_NE(at, std::string::npos);
  xml.replace(at, shipped.size(), "sip:\\*881002@");
  auto file = std::filesystem::temp_directory_path() / ("blf-pickup-" + std::to_string(::getpid()) + ".xml");
  std::ofstream(file) << xml;
  host_->sql("UPDATE confd_feature_extensions SET exten = '_*88.' WHERE feature = 'pickup'");
  struct Restore {
    std::filesystem::path file;
    ~Restore() {
      host_->sql("UPDATE confd_feature_extensions SET exten = '_*8.' WHERE feature = 'pickup'");
      std::filesystem::remove(file);
    }
  } restore{file};
  ASSERT_NO_FATAL_FAILURE(watch_a_call(file.string()));
}

// A restart of the SIP backend (dialtoned restarted): the subscription was
// kept in the store, so the new run ends it with NOTIFY
// terminated;reason=deactivated in its dialog (the phone's scenario checks
// it), which tells the phone to subscribe again at once instead of keeping a
// stale key until its refresh fails; the row is gone.
TEST_F(SubscriptionTest, RestartTellsThePhoneToSubscribeAgain) {
  Phone carol;
  watcher(carol, "carol", "1002", "dialog", "subscribe_restart.xml");
  ASSERT_TRUE(subscriptions(1)) << carol.out;
  ASSERT_TRUE(eventually([&] {
    return host_->sql("SELECT count(*) FROM sip_subscriptions WHERE line = 'carol' AND event = 'dialog'") == "1";
  })) << "the subscription is not in the store";
  ASSERT_NO_FATAL_FAILURE(start_plugin({{"subscribe.expires_min", "1"}}));  // a new run of the backend
  EXPECT_EQ(carol.finish(), 0) << carol.out;
  EXPECT_TRUE(host_->logger().contains("subscriptions held before the restart told to subscribe again"));
  EXPECT_EQ(plugin_->subscriptions(), 0u);
  EXPECT_TRUE(eventually([&] { return host_->sql("SELECT count(*) FROM sip_subscriptions") == "0"; }));
}

// Refreshed in its dialog (200, then a NOTIFY of the current state), then
// left to run out: terminated;reason=timeout, and nothing is held. Its row
// in the store was moved by the refresh (written in order, before the
// removal) and is gone.
TEST_F(SubscriptionTest, RefreshThenExpiry) {
  subscribe_once("carol", "1002", "dialog", "subscribe_refresh_expiry.xml", "2");
  EXPECT_TRUE(eventually([&] { return host_->sql("SELECT count(*) FROM sip_subscriptions") == "0"; }));
  EXPECT_FALSE(host_->logger().contains("could not save subscriptions"));
}

TEST_F(SubscriptionTest, WrongPasswordIsChallengedThenForbidden) {
  subscribe_once("carol", "1002", "dialog", "subscribe_refused.xml", "600", "not-the-password");
}

TEST_F(SubscriptionTest, UnknownExtensionIsNotFound) {
  subscribe_once("carol", "1999", "dialog", "subscribe_not_found.xml");
}

TEST_F(SubscriptionTest, UnservedEventPackageGets489) {
  subscribe_once("carol", "1002", "conference", "subscribe_bad_event.xml");
}

// Shorter than subscribe.expires_min: 423 with Min-Expires once the
// credentials are checked (a refresh is checked the same way).
TEST_F(SubscriptionTest, TooBriefGets423WithTheMinimum) {
  ASSERT_NO_FATAL_FAILURE(start_plugin({{"subscribe.expires_min", "60"}}));
  subscribe_once("carol", "1002", "dialog", "subscribe_too_brief.xml", "10");
}

// A line holding subscribe.max_per_line subscriptions gets 403 for one more;
// the one it holds goes on.
TEST_F(SubscriptionTest, PerLineLimit) {
  start_plugin({{"subscribe.max_per_line", "1"}});
  Phone mwi;
  watcher(mwi, "alice", "alice", "message-summary", "subscribe_mwi.xml");
  ASSERT_TRUE(subscriptions(1)) << mwi.out;
  Phone second;
  watcher(second, "alice", "1002", "dialog", "subscribe_refused.xml");
  EXPECT_EQ(second.finish(), 0) << second.out;
  EXPECT_TRUE(host_->logger().contains("holds 1 subscriptions, the most allowed (subscribe.max_per_line)"));
  host_->presence().set_mwi("1001@default", 2, 1);
  EXPECT_EQ(mwi.finish(), 0) << mwi.out;
  host_->presence().set_mwi("1001@default", 0, 0);
}

// message-summary: a line's own mailbox, its counts as the voicemail
// application reports them through the presence service.
TEST_F(SubscriptionTest, MessageSummaryFollowsTheMailbox) {
  Phone alice;
  watcher(alice, "alice", "alice", "message-summary", "subscribe_mwi.xml");
  ASSERT_TRUE(subscriptions(1)) << alice.out;
  host_->presence().set_mwi("1001@default", 2, 1);
  EXPECT_EQ(alice.finish(), 0) << alice.out;
  host_->presence().set_mwi("1001@default", 0, 0);
  EXPECT_TRUE(subscriptions(0));
}

TEST_F(SubscriptionTest, AnotherLinesMailboxIsForbidden) {
  subscribe_once("carol", "1001", "message-summary", "subscribe_refused.xml");
}

// PIDF: open (bob's phone registered), then closed and busy once bob turns
// do-not-disturb on.
TEST_F(SubscriptionTest, PidfFollowsDoNotDisturb) {
  std::string out;
  ASSERT_EQ(register_contact("bob", 5998, &out), 0) << out;
  ASSERT_TRUE(bob_registered(true));
  Phone carol;
  watcher(carol, "carol", "1002", "presence", "subscribe_pidf.xml");
  ASSERT_TRUE(subscriptions(1)) << carol.out;
  ASSERT_NO_FATAL_FAILURE(set_service("bob", "dnd", true));
  EXPECT_EQ(carol.finish(), 0) << carol.out;
  ASSERT_NO_FATAL_FAILURE(set_service("bob", "dnd", false));
}

// PIDF follows bob's registration, as the registrar publishes it on the
// bus: closed while no phone of his is registered, open once one
// registers, closed again after REGISTER with Expires: 0.
TEST_F(SubscriptionTest, PidfFollowsRegistration) {
  std::string out;
  ASSERT_EQ(register_contact("bob", 5998, &out, "unregister_all.xml", "0"), 0) << out;
  ASSERT_TRUE(bob_registered(false));
  Phone carol;
  watcher(carol, "carol", "1002", "presence", "subscribe_pidf_registration.xml");
  ASSERT_TRUE(subscriptions(1)) << carol.out;
  ASSERT_EQ(register_contact("bob", 5998, &out), 0) << out;
  // The open NOTIFY is queued before the unregistration can be seen.
  ASSERT_TRUE(bob_registered(true));
  ASSERT_EQ(register_contact("bob", 5998, &out, "register.xml", "0"), 0) << out;
  EXPECT_EQ(carol.finish(), 0) << carol.out;
  EXPECT_TRUE(subscriptions(0));
}

// A DND key (*25): lit when the service is turned on through the
// configuration service (as PUT .../services/dnd or the *25 feature code
// do), dark when off; a reload of the plugin in between keeps it.
TEST_F(SubscriptionTest, DndKeyLightsAndSurvivesAReload) {
  auto seen = std::make_shared<Seen>();
  auto w = follow("alice", "*25", seen);
  Phone alice;
  watcher(alice, "alice", "*25", "dialog", "subscribe_feature.xml");
  ASSERT_TRUE(subscriptions(1)) << alice.out;
  ASSERT_TRUE(plugin_->reload(sdk::Options({{"sip.listen", "127.0.0.1:0"}, {"sip.node", "test-node"},
                                            {"subscribe.expires_min", "1"}, {"subscribe.max_per_line", "10"}})));
  EXPECT_EQ(plugin_->subscriptions(), 1u);
  ASSERT_NO_FATAL_FAILURE(set_service("alice", "dnd", true));
  ASSERT_TRUE(seen_state(seen, [](auto& s) { return s.feature_on; }));
  ASSERT_NO_FATAL_FAILURE(set_service("alice", "dnd", false));
  EXPECT_EQ(alice.finish(), 0) << alice.out;
}

// A forward key with its destination (*211003): lit while the
// unconditional forward goes to 1003, dark when it is turned off.
TEST_F(SubscriptionTest, ForwardKeyWithDestination) {
  auto seen = std::make_shared<Seen>();
  auto w = follow("alice", "*211003", seen);
  Phone alice;
  watcher(alice, "alice", "*211003", "dialog", "subscribe_feature.xml");
  ASSERT_TRUE(subscriptions(1)) << alice.out;
  auto forward = [&](bool on) {
    std::promise<bool> done;
    host_->config().set_forward(uid("alice"), "unconditional", on, std::string("1003"),
                                [&](sdk::Result<sdk::ConfigForward> r) { done.set_value(static_cast<bool>(r)); });
    return done.get_future().get();
  };
  ASSERT_TRUE(forward(true));
  ASSERT_TRUE(seen_state(seen, [](auto& s) { return s.feature_on; }));
  ASSERT_TRUE(forward(false));
  EXPECT_EQ(alice.finish(), 0) << alice.out;
}

}  // namespace
}  // namespace dialtone::testing
