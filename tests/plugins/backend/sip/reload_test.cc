// Reload of backend.sip's options while a call is up: the reloadable ones
// apply to what comes next (a REGISTER below the new registrar.expires_min
// gets 423), the call in progress goes on to its BYE, and a bad value is
// refused with nothing changed. dialtoned reports every other changed option
// as needing a restart (kernel/core/plugin_manager.cc, from the kReloadable
// flags declared in sip_plugin.cc).
#include <gtest/gtest.h>

#include "tests/plugins/backend/sip/sip_fixture.h"

using dialtone::testing::TwoPartyCallTest;

namespace {

class SipReloadTest : public TwoPartyCallTest {
 protected:
  std::map<std::string, std::string> options_{{"sip.listen", "127.0.0.1:0"}, {"sip.node", "reload-test"}};
  void start() { ASSERT_NO_FATAL_FAILURE(start_plugin(options_)); }
  dialtone::sdk::Status reload(const std::map<std::string, std::string>& changed) {
    auto values = options_;
    values["sip.listen"] = target_;  // the running address: unchanged
    for (auto& [k, v] : changed) values[k] = v;
    return plugin_->reload(dialtone::sdk::Options(values));
  }
};

TEST_F(SipReloadTest, ReloadedLimitsApplyToTheNextRegistrationWhileACallGoesOn) {
  ASSERT_NO_FATAL_FAILURE(start());
  ASSERT_TRUE(plugin_->supports_reload());
  std::string out;
  // A registration of 90 s is accepted before the reload.
  ASSERT_EQ(register_contact("alice", 5999, &out, "register.xml", "90"), 0) << out;

  ASSERT_NO_FATAL_FAILURE(callee("uas_answer.xml"));
  Phone alice;
  SipPluginTest::caller(alice, "alice", "1002", "uac_call_bye_after_pause.xml", 1, {"-d", "4000"});
  ASSERT_TRUE(host_->test_bus().wait_for("sip.call.answered", std::chrono::seconds(15)));

  auto s = reload({{"registrar.expires_min", "120"}});
  ASSERT_TRUE(s) << s.error().message;
  // The same 90 s is now too brief; the reload reached the SIP thread
  // before this REGISTER (tasks run in order).
  EXPECT_EQ(register_contact("alice", 5999, &out, "register_brief.xml", "90"), 0) << out;
  // The call answered before the reload ends normally.
  EXPECT_EQ(alice.finish(), 0) << alice.out;
  EXPECT_EQ(bob_.finish(), 0) << bob_.out;
  expect_idle();
}

TEST_F(SipReloadTest, BadValueAtReloadIsRefusedAndTheRunningOptionsStay) {
  ASSERT_NO_FATAL_FAILURE(start());
  auto s = reload({{"auth.algorithms", "MD4"}, {"registrar.expires_min", "120"}});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("auth.algorithms: 'MD4'"), std::string::npos) << s.error().message;
  std::string out;
  // registrar.expires_min was not taken either: 90 s is still accepted.
  EXPECT_EQ(register_contact("alice", 5999, &out, "register.xml", "90"), 0) << out;
}

}  // namespace
