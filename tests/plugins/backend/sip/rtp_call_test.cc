// Anchored calls end to end: SIPp caller and callee through backend.sip with
// the RTP relay on 127.0.0.2, SIPp playing G.711 and echoing it back.
#include <chrono>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "tests/plugins/backend/sip/sip_fixture.h"

using dialtone::testing::free_port;
using dialtone::testing::run_sipp;
using dialtone::testing::TwoPartyCallTest;
using dialtone::testing::scenario;
using dialtone::testing::eventually;
using dialtone::testing::SipPluginTest;

namespace {

constexpr int kRelayMin = 26000, kRelayMax = 26999;

// UDP sockets bound on the relay's address (127.0.0.2) in its range, as the
// kernel lists them in /proc/net/udp: the ports the relay holds.
int relay_sockets() {
  std::ifstream in("/proc/net/udp");
  std::string line;
  std::getline(in, line);  // the header
  int n = 0;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, local;  // "0200007F:6590"
    fields >> slot >> local;
    auto colon = local.find(':');
    if (colon == std::string::npos || local.substr(0, colon) != "0200007F") continue;
    int port = std::stoi(local.substr(colon + 1), nullptr, 16);
    if (port >= kRelayMin && port <= kRelayMax) ++n;
  }
  return n;
}

class RtpCallTest : public TwoPartyCallTest {
 protected:
  void SetUp() override {
    start_plugin({{"sip.node", "rtp-test"},
                  {"rtp.bind", "127.0.0.2"},
                  {"rtp.port_min", std::to_string(kRelayMin)},
                  {"rtp.port_max", std::to_string(kRelayMax)}});
  }
};

TEST_F(RtpCallTest, AnchoredCallCarriesRtpBothWaysThroughTheRelay) {
  // uas_answer_rtp.xml checks the callee's offer names 127.0.0.2 and no G.729;
  // uac_call_rtp.xml checks the answer does, then plays G.711 that the callee echoes.
  ASSERT_NO_FATAL_FAILURE(callee("uas_answer_rtp.xml", {"-rtp_echo"}));
  std::string out;
  EXPECT_EQ(caller("uac_call_rtp.xml", &out), 0) << out;
  EXPECT_EQ(bob_.finish(), 0) << bob_.out;
  auto t = plugin_->media_totals();
  EXPECT_GT(t.a.packets_in, 10u) << "the caller's RTP did not reach the relay";
  EXPECT_GT(t.b.packets_out, 10u) << "the caller's RTP was not sent to the callee";
  EXPECT_GT(t.b.packets_in, 10u) << "the callee's echo did not reach the relay";
  EXPECT_GT(t.a.packets_out, 10u) << "the echo was not sent back to the caller";
  EXPECT_TRUE(eventually([&] { return plugin_->active_calls() == 0; }));
  EXPECT_EQ(plugin_->media_free_pairs(), free_pairs_);
}

// What a relayed call holds, counted in the kernel's socket table while it
// is up: two ports when both phones multiplex RTCP with RTP (a=rtcp-mux),
// three when one does (the callee is offered it even when the caller does
// not), four when neither does; none once it has ended.
TEST_F(RtpCallTest, ARelayedCallHoldsTwoPortsWhenBothPhonesMultiplexRtcp) {
  auto& core = host_->calls();
  struct Case {
    bool caller_mux, callee_mux;
    int ports;
  };
  for (auto c : {Case{true, true, 2}, Case{false, true, 3}, Case{true, false, 3}, Case{false, false, 4}}) {
    SCOPED_TRACE(std::string("caller ") + (c.caller_mux ? "muxes" : "does not mux") + ", callee " +
                 (c.callee_mux ? "muxes" : "does not mux"));
    ASSERT_TRUE(eventually([] { return relay_sockets() == 0; })) << relay_sockets();
    Phone alice, bob;
    ASSERT_NO_FATAL_FAILURE(SipPluginTest::callee(bob, "bob", "uas_answer_attr.xml", 1,
                                                  {"-key", "attr", c.callee_mux ? "rtcp-mux" : "sendrecv"}));
    // Alice waits for the PBX's BYE: the call stays up until the core hangs it up.
    SipPluginTest::caller(alice, "alice", "1002", "uac_call_remote_hangup_attr.xml", 1,
                          {"-key", "attr", c.caller_mux ? "rtcp-mux" : "sendrecv"});
    std::vector<dialtone::sdk::Channel> legs;
    ASSERT_TRUE(eventually([&] {
      legs = core.channels();
      return legs.size() == 2 && legs[0].state == dialtone::sdk::ChannelState::up &&
             legs[1].state == dialtone::sdk::ChannelState::up;
    })) << "channels: " << core.channels().size();
    EXPECT_TRUE(eventually([&] { return relay_sockets() == c.ports; })) << relay_sockets() << " ports held";
    auto hung = core.hangup_call(legs[0].call_id);
    ASSERT_TRUE(hung) << hung.error().message;
    EXPECT_EQ(alice.finish(), 0) << alice.out;
    EXPECT_EQ(bob.finish(), 0) << bob.out;
    EXPECT_TRUE(eventually([] { return relay_sockets() == 0; })) << relay_sockets() << " ports still held";
    EXPECT_TRUE(eventually([&] { return plugin_->media_free_pairs() == free_pairs_; }));
  }
}

TEST_F(RtpCallTest, LateOfferIsAnchoredFromThe200AndTheAck) {
  ASSERT_NO_FATAL_FAILURE(callee("uas_late_offer.xml", {}));
  std::string out;
  EXPECT_EQ(caller("uac_call_late_offer.xml", &out), 0) << out;
  EXPECT_EQ(bob_.finish(), 0) << bob_.out;
  EXPECT_TRUE(eventually([&] { return plugin_->active_calls() == 0; }));
  EXPECT_EQ(plugin_->media_free_pairs(), free_pairs_);
}

TEST_F(RtpCallTest, NoCommonCodecGets488) {
  std::string out;
  std::vector<std::string> args{target_, "-sf", scenario("uac_call_488.xml"), "-i", "127.0.0.1",
                                "-p", std::to_string(free_port()), "-m", "1", "-s", "1002",
                                "-au", "alice", "-ap", "alicepw", "-key", "user", "alice",
                                "-timeout", "25s", "-timeout_error"};
  EXPECT_EQ(run_sipp(args, &out), 0) << out;
  EXPECT_EQ(plugin_->media_free_pairs(), free_pairs_);
}

}  // namespace
