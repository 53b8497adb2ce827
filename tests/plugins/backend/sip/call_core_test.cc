// backend.sip and the kernel's call core: SIPp phones call through the
// plugin; the legs show up as channels of the core, and a hang-up asked
// through the core (as DELETE /1.0/calls does) sends BYE to both phones.
#include <chrono>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "plugins/backend/sip/sip_plugin.h"
#include "tests/plugins/backend/sip/sip_host.h"

namespace sip = dialtone::plugins::backend::sip;
using dialtone::sdk::Channel;
using dialtone::sdk::ChannelDirection;
using dialtone::sdk::ChannelState;
using dialtone::testing::run_sipp;
using dialtone::testing::SipTestHost;
using dialtone::testing::scenario;
using dialtone::testing::eventually;

namespace {

class SipCallCoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    host_ = new SipTestHost();
    host_->add_line("alice", "alicepw", "1001");
    host_->add_line("bob", "bobpw", "1002");
    // rita rings 20 s: a call to her ends early only when hung up.
    auto rita = host_->add_line("rita", "ritapw", "1005");
    host_->sql("UPDATE confd_users SET ring_seconds = 20 WHERE id = $1::int", {rita});
  }
  static void TearDownTestSuite() {
    delete host_;
    host_ = nullptr;
  }
  void SetUp() override {
    plugin_ = std::make_unique<sip::SipPlugin>(*host_);
    ASSERT_TRUE(plugin_->configure(dialtone::sdk::Options(
        {{"sip.listen", "127.0.0.1:0"}, {"auth.ban_failures", "1000"}, {"sip.node", "test-node"}})));
    auto s = plugin_->start();
    ASSERT_TRUE(s) << s.error().message;
    target_ = "127.0.0.1:" + std::to_string(plugin_->port());
  }
  void TearDown() override {
    if (plugin_) plugin_->stop();
    plugin_.reset();
  }

  std::vector<std::string> sipp_args(const std::string& file, int port) {
    return {"-sf", scenario(file), "-i", "127.0.0.1", "-p", std::to_string(port), "-m", "1",
            "-timeout", "25s", "-timeout_error"};
  }
  int register_line(const std::string& user, int contact_port, std::string* out) {
    auto args = sipp_args("register.xml", dialtone::testing::free_port());
    args.insert(args.begin(), target_);
    for (const std::string& a : {std::string("-au"), user, std::string("-ap"), user + "pw", std::string("-key"),
                                 std::string("user"), user, std::string("-key"), std::string("contact_port"),
                                 std::to_string(contact_port)})
      args.push_back(a);
    for (auto a : {"-key", "expires", "3600"}) args.push_back(a);
    return run_sipp(args, out);
  }
  // Alice calls `exten` with `file`, in the background.
  std::future<int> alice_calls(const std::string& file, const std::string& exten, std::string* out) {
    auto args = sipp_args(file, dialtone::testing::free_port());
    args.insert(args.begin(), target_);
    for (auto a : {"-au", "alice", "-ap", "alicepw", "-key", "user", "alice", "-s"}) args.push_back(a);
    args.push_back(exten);
    return std::async(std::launch::async, [args, out] { return run_sipp(args, out); });
  }
  std::future<int> bob_answers(const std::string& file, int port, std::string* out) {
    auto args = sipp_args(file, port);
    return std::async(std::launch::async, [args, out] { return run_sipp(args, out); });
  }

  static SipTestHost* host_;
  std::unique_ptr<sip::SipPlugin> plugin_;
  std::string target_;
};

SipTestHost* SipCallCoreTest::host_ = nullptr;

TEST_F(SipCallCoreTest, AnsweredCallIsTwoLinkedChannelsAndTheCoreHangsItUp) {
  auto& core = host_->calls();
  std::string out, alice_out, bob_out;
  int bob_port = dialtone::testing::free_port();
  auto bob = bob_answers("uas_answer.xml", bob_port, &bob_out);
  ASSERT_EQ(register_line("bob", bob_port, &out), 0) << out;
  // Alice waits for the PBX's BYE: only the core's hang-up sends it.
  auto alice = alice_calls("uac_call_remote_hangup.xml", "1002", &alice_out);

  std::vector<Channel> legs;
  ASSERT_TRUE(eventually([&] {
    legs = core.channels();
    return legs.size() == 2 && legs[0].state == ChannelState::up && legs[1].state == ChannelState::up &&
           !legs[0].peer.empty();
  })) << "channels: " << core.channels().size();
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

  auto hung = core.hangup_call(a.call_id);
  ASSERT_TRUE(hung) << hung.error().message;
  EXPECT_EQ(alice.get(), 0) << alice_out;
  EXPECT_EQ(bob.get(), 0) << bob_out;
  EXPECT_TRUE(eventually([&] { return core.channels().empty(); })) << core.channels().size();
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
  auto& core = host_->calls();
  std::string out, alice_out, bob_out;
  int bob_port = dialtone::testing::free_port();
  auto bob = bob_answers("uas_busy.xml", bob_port, &bob_out);
  ASSERT_EQ(register_line("bob", bob_port, &out), 0) << out;
  auto alice = alice_calls("uac_call_486.xml", "1002", &alice_out);
  EXPECT_EQ(alice.get(), 0) << alice_out;
  EXPECT_EQ(bob.get(), 0) << bob_out;
  EXPECT_TRUE(eventually([&] { return core.channels().empty(); })) << core.channels().size();
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
  auto& core = host_->calls();
  std::string out, alice_out, rita_out;
  int rita_port = dialtone::testing::free_port();
  auto rita = bob_answers("uas_ring_cancel.xml", rita_port, &rita_out);
  ASSERT_EQ(register_line("rita", rita_port, &out), 0) << out;
  auto alice = alice_calls("uac_call_486.xml", "1005", &alice_out);

  std::vector<Channel> legs;
  ASSERT_TRUE(eventually([&] {
    legs = core.channels();
    for (auto& c : legs)
      if (c.endpoint == "rita" && c.state == ChannelState::ringing) return true;
    return false;
  })) << "channels: " << core.channels().size();
  for (auto& c : legs) EXPECT_TRUE(c.peer.empty()) << "nothing is bridged before an answer";
  auto hung = core.hangup_call(legs[0].call_id, 486);
  ASSERT_TRUE(hung) << hung.error().message;
  EXPECT_EQ(alice.get(), 0) << alice_out;
  EXPECT_EQ(rita.get(), 0) << rita_out;
  EXPECT_TRUE(eventually([&] { return core.channels().empty(); })) << core.channels().size();
}

}  // namespace
