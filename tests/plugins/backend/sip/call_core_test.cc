// backend.sip and the kernel's call core: SIPp phones call through the
// plugin; the legs show up as channels of the core, and a hang-up asked
// through the core (as DELETE /1.0/calls does) sends BYE to both phones.
#include <chrono>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "tests/plugins/backend/sip/sip_fixture.h"

using dialtone::sdk::Channel;
using dialtone::sdk::ChannelDirection;
using dialtone::sdk::ChannelState;
using dialtone::testing::SipPluginTest;
using dialtone::testing::eventually;

namespace {

class SipCallCoreTest : public SipPluginTest {
 protected:
  static void SetUpTestSuite() {
    make_host({{"alice", "1001"}, {"bob", "1002"}, {"rita", "1005"}});
    // rita rings 20 s: a call to her ends early only when hung up.
    host_->sql("UPDATE confd_users SET ring_seconds = 20 WHERE id = $1::int", {user_ids_["rita"]});
  }
  void SetUp() override { start_plugin({{"auth.ban_failures", "1000"}}); }

  // `user` answers on a SIPp phone running `callee_file`; alice calls
  // `exten` from one running `caller_file`.
  void alice_calls(const std::string& user, const std::string& callee_file, const std::string& exten,
                   const std::string& caller_file) {
    ASSERT_NO_FATAL_FAILURE(callee(callee_, user, callee_file));
    caller(alice_, "alice", exten, caller_file);
  }
  // Both phones played their scenario to the end and the core holds no channel.
  void expect_both_done() {
    EXPECT_EQ(alice_.finish(), 0) << alice_.out;
    EXPECT_EQ(callee_.finish(), 0) << callee_.out;
    EXPECT_TRUE(eventually([&] { return core().channels().empty(); })) << core().channels().size();
  }
  dialtone::kernel::CallCoreImpl& core() { return host_->calls(); }

  Phone alice_, callee_;
};

TEST_F(SipCallCoreTest, AnsweredCallIsTwoLinkedChannelsAndTheCoreHangsItUp) {
  // Alice waits for the PBX's BYE: only the core's hang-up sends it.
  ASSERT_NO_FATAL_FAILURE(alice_calls("bob", "uas_answer.xml", "1002", "uac_call_remote_hangup.xml"));

  std::vector<Channel> legs;
  ASSERT_TRUE(eventually([&] {
    legs = core().channels();
    return legs.size() == 2 && legs[0].state == ChannelState::up && legs[1].state == ChannelState::up &&
           !legs[0].peer.empty();
  })) << "channels: " << core().channels().size();
  const Channel& a = legs[0].direction == ChannelDirection::inbound ? legs[0] : legs[1];
  const Channel& b = legs[0].direction == ChannelDirection::inbound ? legs[1] : legs[0];
  EXPECT_EQ(a.backend, "sip");
  EXPECT_EQ(a.endpoint, "alice");
  EXPECT_EQ(b.endpoint, "bob");
  EXPECT_EQ(b.direction, ChannelDirection::outbound);
  EXPECT_EQ(a.peer, b.id);
  EXPECT_EQ(b.peer, a.id);
  EXPECT_EQ(b.call_id, a.id) << "both legs belong to the caller's call";
  EXPECT_EQ(a.callee_number, "1002");
  EXPECT_FALSE(a.protocol_id.empty());
  EXPECT_NE(a.protocol_id, b.protocol_id) << "each leg has its own SIP Call-ID";

  auto hung = core().hangup_call(a.call_id);
  ASSERT_TRUE(hung) << hung.error().message;
  expect_both_done();
  EXPECT_TRUE(eventually([&] { return plugin_->active_calls() == 0; }));
  auto ended = host_->test_bus().wait_for("calls.channel.ended");
  ASSERT_TRUE(ended);
  EXPECT_NE(ended->body.find("\"backend\":\"sip\""), std::string::npos) << ended->body;
  // Published in order, before any `ended`: both `up` events name the peer,
  // so a follower needs no second look-up.
  std::size_t ups_with_peer = 0;
  for (auto& e : host_->test_bus().events())
    if (e.topic == "calls.channel.state" && e.body.find("\"state\":\"up\"") != std::string::npos &&
        (e.body.find("\"peer\":\"" + a.id + "\"") != std::string::npos ||
         e.body.find("\"peer\":\"" + b.id + "\"") != std::string::npos))
      ++ups_with_peer;
  EXPECT_EQ(ups_with_peer, 2u);
}

TEST_F(SipCallCoreTest, ACallThatFailsLeavesNoChannel) {
  ASSERT_NO_FATAL_FAILURE(alice_calls("bob", "uas_busy.xml", "1002", "uac_call_486.xml"));
  expect_both_done();
  // Bob's leg was a channel, ended with his answer.
  EXPECT_TRUE(eventually([&] {
    for (auto& e : host_->test_bus().events())
      if (e.topic == "calls.channel.ended" && e.body.find("\"endpoint\":\"bob\"") != std::string::npos &&
          e.body.find("\"cause\":486") != std::string::npos)
        return true;
    return false;
  }));
}

// Before an answer, the core's hang-up CANCELs the rung phone and answers
// the caller with the cause asked (486 here; rita's 20 s ring time would
// have given 480).
TEST_F(SipCallCoreTest, RingingCallHungUpThroughTheCoreCancelsTheCallee) {
  ASSERT_NO_FATAL_FAILURE(alice_calls("rita", "uas_ring_cancel.xml", "1005", "uac_call_486.xml"));

  std::vector<Channel> legs;
  ASSERT_TRUE(eventually([&] {
    legs = core().channels();
    for (auto& c : legs)
      if (c.endpoint == "rita" && c.state == ChannelState::ringing) return true;
    return false;
  })) << "channels: " << core().channels().size();
  for (auto& c : legs) EXPECT_TRUE(c.peer.empty()) << "nothing is bridged before an answer";
  auto hung = core().hangup_call(legs[0].call_id, dialtone::sdk::q850::user_busy);  // SIP 486
  ASSERT_TRUE(hung) << hung.error().message;
  expect_both_done();
}

}  // namespace
