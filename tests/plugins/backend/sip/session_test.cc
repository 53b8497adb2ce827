// Session timers (RFC 4028), reliable provisional responses (RFC 3262) and
// Require checks through backend.sip, with SIPp callers and callees on
// 127.0.0.1. The short intervals come from session_timers.min_se lowered in
// the test configuration (deployments keep it at 90 s or more).
#include <chrono>
#include <future>
#include <map>
#include <regex>
#include <thread>

#include <gtest/gtest.h>

#include "tests/plugins/backend/sip/sip_fixture.h"

using dialtone::testing::eventually;
using dialtone::testing::TwoPartyCallTest;

namespace {

// The value logged by a scenario as "<key>=<value>".
std::string logged(const std::string& out, const std::string& key) {
  std::smatch m;
  if (std::regex_search(out, m, std::regex("(^|[^A-Z_])" + key + "= *([^ \\r\\n]+)"))) return m[2];
  return {};
}

class SessionTest : public TwoPartyCallTest {
 protected:
  void start_plugin(const std::map<std::string, std::string>& extra = {}) {
    std::map<std::string, std::string> values{{"sip.node", "session-test"},
                                              {"rtp.bind", "127.0.0.2"},
                                              {"rtp.port_min", "28000"},
                                              {"rtp.port_max", "28999"}};
    for (auto& [k, v] : extra) values[k] = v;
    TwoPartyCallTest::start_plugin(values);
  }

  // The plugin still answers calls: a plain call goes through and every
  // call is released.
  void still_serving() {
    EXPECT_TRUE(eventually([&] { return plugin_->active_calls() == 0; }));
    ASSERT_NO_FATAL_FAILURE(callee("uas_answer.xml"));
    std::string out;
    EXPECT_EQ(caller("uac_call_hangup.xml", &out), 0) << out;
    EXPECT_EQ(bob_.finish(), 0) << bob_.out;
    EXPECT_TRUE(eventually([&] { return plugin_->active_calls() == 0; }));
  }
};

TEST_F(SessionTest, CallerAskingForTimersGetsSessionExpiresAndRequireTimer) {
  ASSERT_NO_FATAL_FAILURE(start_plugin());
  ASSERT_NO_FATAL_FAILURE(callee("uas_answer.xml"));
  std::string out;
  // uac_timer.xml fails unless the 200 has Session-Expires ;refresher=uac and Require: timer.
  EXPECT_EQ(caller("uac_timer.xml", &out, {"-key", "se", "1800"}), 0) << out;
  EXPECT_EQ(bob_.finish(), 0) << bob_.out;
  EXPECT_EQ(logged(out, "SE"), "1800;refresher=uac") << out;
  still_serving();
}

TEST_F(SessionTest, TooSmallSessionExpiresGets422WithMinSeAndTheRetrySucceeds) {
  ASSERT_NO_FATAL_FAILURE(start_plugin());
  ASSERT_NO_FATAL_FAILURE(callee("uas_answer.xml"));
  std::string out;
  EXPECT_EQ(caller("uac_timer_422.xml", &out, {"-key", "se", "30"}), 0) << out;
  EXPECT_EQ(bob_.finish(), 0) << bob_.out;
  EXPECT_EQ(logged(out, "MINSE"), "90") << out;
  EXPECT_EQ(logged(out, "SE"), "90;refresher=uac") << out;
  still_serving();
}

TEST_F(SessionTest, CallerThatNeverRefreshesIsHungUpOnBothLegs) {
  // Min-SE lowered to keep the test short: a 6 s session ends after 4 s
  // (6 minus a third) without a refresh from the caller, the refresher.
  ASSERT_NO_FATAL_FAILURE(start_plugin({{"session_timers.min_se", "4"}}));
  ASSERT_NO_FATAL_FAILURE(callee("uas_answer.xml"));  // waits for a BYE
  std::string out;
  EXPECT_EQ(caller("uac_timer_expire.xml", &out, {"-key", "se", "6"}), 0) << out;
  EXPECT_EQ(bob_.finish(), 0) << bob_.out;
  // The call ends with 408 (no refresh) on the bus.
  EXPECT_TRUE(eventually([&] {
    for (auto& e : host_->test_bus().events())
      if (e.topic == "sip.call.ended" && e.body.find("\"status\":408") != std::string::npos) return true;
    return false;
  }));
  EXPECT_TRUE(host_->logger().contains("expired: no session refresh came in time"));
  still_serving();
}

TEST_F(SessionTest, DialtoneRefreshesACallerThatAllowsUpdateWithUpdate) {
  ASSERT_NO_FATAL_FAILURE(start_plugin({{"session_timers.min_se", "4"}}));
  ASSERT_NO_FATAL_FAILURE(callee("uas_answer.xml"));
  std::string out;
  // The caller waits for the refresh (due after 3 s) before hanging up.
  EXPECT_EQ(caller("uac_timer_refresh_update.xml", &out, {"-key", "se", "6"}), 0) << out;
  EXPECT_EQ(bob_.finish(), 0) << bob_.out;
  EXPECT_EQ(logged(out, "REFRESH"), "UPDATE") << out;
  still_serving();
}

TEST_F(SessionTest, DialtoneRefreshesACallerWithoutUpdateByReInvite) {
  ASSERT_NO_FATAL_FAILURE(start_plugin({{"session_timers.min_se", "4"}}));
  ASSERT_NO_FATAL_FAILURE(callee("uas_answer.xml"));
  std::string out;
  EXPECT_EQ(caller("uac_timer_refresh_invite.xml", &out, {"-key", "se", "6"}), 0) << out;
  EXPECT_EQ(bob_.finish(), 0) << bob_.out;
  EXPECT_EQ(logged(out, "REFRESH"), "INVITE") << out;
  still_serving();
}

TEST_F(SessionTest, CalleeImposingATimerIsRefreshedByDialtone) {
  ASSERT_NO_FATAL_FAILURE(start_plugin({{"session_timers.min_se", "4"}}));
  // bob's 200 sets Session-Expires: 6;refresher=uac: Dialtone refreshes bob
  // (UPDATE, which bob allows) before bob hangs up.
  ASSERT_NO_FATAL_FAILURE(callee("uas_timer_refresh.xml", {"-key", "se", "6"}));
  std::string out;
  EXPECT_EQ(caller("uac_call_remote_hangup.xml", &out), 0) << out;
  EXPECT_EQ(bob_.finish(), 0) << bob_.out;
  EXPECT_EQ(logged(bob_.out, "REFRESH"), "UPDATE") << bob_.out;
  still_serving();
}

TEST_F(SessionTest, CallerRequiring100relGetsAReliable180AndItsPrackIsAnswered) {
  ASSERT_NO_FATAL_FAILURE(start_plugin());
  // The 180 carries SDP (early media): the 200 waits for the PRACK.
  ASSERT_NO_FATAL_FAILURE(callee("uas_answer_early.xml"));
  std::string out;
  EXPECT_EQ(caller("uac_100rel.xml", &out), 0) << out;
  EXPECT_EQ(bob_.finish(), 0) << bob_.out;
  EXPECT_EQ(logged(out, "REQUIRE"), "100rel") << out;
  EXPECT_EQ(logged(out, "PRACK_OK"), "PRACK") << out;
  EXPECT_EQ(logged(out, "INVITE_OK"), "INVITE") << out;
  still_serving();
}

TEST_F(SessionTest, CallerOnlySupporting100relGetsAReliable180WhenConfiguredTo) {
  ASSERT_NO_FATAL_FAILURE(start_plugin({{"rel100.mode", "supported"}}));
  ASSERT_NO_FATAL_FAILURE(callee("uas_answer_early.xml"));
  std::string out;
  EXPECT_EQ(caller("uac_100rel_supported.xml", &out), 0) << out;
  EXPECT_EQ(bob_.finish(), 0) << bob_.out;
  EXPECT_EQ(logged(out, "REQUIRE"), "100rel") << out;
  EXPECT_EQ(logged(out, "PRACK_OK"), "PRACK") << out;
  still_serving();
}

TEST_F(SessionTest, CallerThatNeverPracksGets503AndTheCalleeIsCancelled) {
  ASSERT_NO_FATAL_FAILURE(start_plugin());
  // bob rings until cancelled (a ring time longer than the PRACK wait);
  // sofia gives up on the PRACK after 32 s.
  host_->sql("UPDATE confd_users SET ring_seconds = 45 WHERE firstname = 'bob'");
  ASSERT_NO_FATAL_FAILURE(callee("uas_ring_cancel.xml", {"-timeout", "38s"}));
  std::string out;
  EXPECT_EQ(caller("uac_100rel_no_prack.xml", &out, {"-timeout", "38s"}), 0) << out;
  EXPECT_EQ(bob_.finish(), 0) << bob_.out;
  EXPECT_TRUE(host_->logger().contains("did not PRACK a reliable provisional response"));
  host_->sql("UPDATE confd_users SET ring_seconds = 30 WHERE firstname = 'bob'");
  still_serving();
}

TEST_F(SessionTest, ReliableRingingFromTheCalleeIsPrackedAndTheCallCompletes) {
  ASSERT_NO_FATAL_FAILURE(start_plugin());
  ASSERT_NO_FATAL_FAILURE(callee("uas_100rel.xml"));
  std::string out;
  EXPECT_EQ(caller("uac_call_hangup.xml", &out), 0) << out;
  EXPECT_EQ(bob_.finish(), 0) << bob_.out;
  auto rack = logged(bob_.out, "RACK");
  EXPECT_EQ(rack.rfind("1", 0), 0u) << bob_.out;
  EXPECT_TRUE(host_->test_bus().wait_for("sip.call.answered", std::chrono::seconds(10)));
  still_serving();
}

TEST_F(SessionTest, InviteRequiringAnUnknownExtensionGets420WithUnsupported) {
  ASSERT_NO_FATAL_FAILURE(start_plugin());
  std::string out;
  EXPECT_EQ(client("uac_call_420.xml", {"-s", "1002", "-key", "user", "alice"}, &out), 0) << out;
  EXPECT_EQ(logged(out, "UNSUPPORTED"), "unknown-ext") << out;
  still_serving();
}

TEST_F(SessionTest, ReInviteRequiringAnUnknownExtensionGets420AndTheCallGoesOn) {
  ASSERT_NO_FATAL_FAILURE(start_plugin());
  ASSERT_NO_FATAL_FAILURE(callee("uas_answer.xml"));  // answers, waits for the BYE
  std::string out;
  EXPECT_EQ(caller("uac_reinvite_420.xml", &out), 0) << out;
  EXPECT_EQ(bob_.finish(), 0) << bob_.out;
  EXPECT_EQ(logged(out, "UNSUPPORTED"), "unknown-ext") << out;
  still_serving();
}

}  // namespace
