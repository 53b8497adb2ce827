// Anchored calls end to end: SIPp caller and callee through backend.sip with
// the RTP relay on 127.0.0.2, SIPp playing G.711 and echoing it back.
#include <chrono>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "tests/plugins/backend/sip/sip_fixture.h"

using dialtone::testing::free_port;
using dialtone::testing::run_sipp;
using dialtone::testing::TwoPartyCallTest;
using dialtone::testing::scenario;
using dialtone::testing::eventually;

namespace {

class RtpCallTest : public TwoPartyCallTest {
 protected:
  void SetUp() override {
    start_plugin({{"sip.node", "rtp-test"},
                  {"rtp.bind", "127.0.0.2"},
                  {"rtp.port_min", "26000"},
                  {"rtp.port_max", "26999"}});
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
