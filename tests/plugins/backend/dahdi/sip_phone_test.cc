// A SIP phone calls out through span 1; the "operator" on span 2 answers
// with a tone, which reaches the phone: SIPp for the phone's signalling, an
// RTP peer for its audio, backend.sip answering it with its media in the
// engine, two simulated spans with libpri on both ends, and the DAHDI
// driver joining the span's B-channel with the phone's endpoint.
#include <gtest/gtest.h>

#include "tests/plugins/backend/dahdi/span_sip_fixture.h"
#include "tests/plugins/media/engine/rtp_peer.h"

namespace dialtone::testing {
namespace {

namespace tm = testing::media;
using sdk::media::Codec;

class SipThroughSpanTest : public SpanSipTest {
 protected:
  static void SetUpTestSuite() {
    make_host({{"alice", "1001"}}, std::filesystem::path(DAHDI_TEST_DIR) / "sip_dahdi_dialplan.lua");
    start_media();
  }
  // No call left on the spans.
  bool spans_clear() {
    return eventually([&] {
      for (auto& c : host_->calls().channels())
        if (c.backend == "dahdi") return false;
      return true;
    });
  }

};

TEST_F(SipThroughSpanTest, TheOperatorsToneOnSpan2ReachesThePhoneCallingOutOnSpan1) {
  tm::RtpPeer peer(Codec::pcmu, 0, 101);
  Phone alice;
  caller(alice, "alice", "0140001000", "uac_media.xml", 1, {"-key", "rtp_port", std::to_string(peer.port())});
  // alice's call is answered with an engine endpoint; her RTP goes there.
  std::string alice_channel;
  ASSERT_TRUE(eventually([&] {
    for (auto& c : host_->calls().channels())
      if (c.backend == "sip")
        if (auto ep = engine_->channel_endpoint(c.id)) {
          peer.set_remote(ep->local_port());
          alice_channel = c.id;
        }
    return !alice_channel.empty();
  }));
  // The call crossed the spans: span 2's leg is up, the operator answered.
  std::string operator_leg;
  ASSERT_TRUE(eventually([&] {
    for (auto& c : host_->calls().channels())
      if (c.backend == "dahdi" && c.direction == sdk::ChannelDirection::inbound && c.state == sdk::ChannelState::up)
        operator_leg = c.id;
    return !operator_leg.empty();
  }));
  // One second of the operator's tone at the phone: France's 440 Hz.
  peer.clear();
  ASSERT_TRUE(eventually([&] {
    auto a = peer.audio();
    return a.size() >= 8000 && tm::tone_share(a, 8000, 440, a.size() - 8000) > 0.6;
  }, std::chrono::seconds(20))) << "the operator's tone does not reach the phone";
  auto a = peer.audio();
  EXPECT_GT(tm::energy(a, a.size() - 8000), 1e5);
  EXPECT_LT(tm::tone_share(a, 8000, 1000, a.size() - 8000), 0.05);
  bool routed = false;
  for (auto& l : host_->logger().lines())
    routed |= l.find("operator answers 140001000 from 0612345678") != std::string::npos;
  EXPECT_TRUE(routed) << "span 2 got the number and the caller alice's script sent";
  // alice ends her script with "D"; both spans clear.
  peer.send_digits("D");
  EXPECT_EQ(alice.finish(), 0) << alice.out;
  EXPECT_TRUE(spans_clear()) << "the spans' legs end with the phone's";
}

// Early media: the span's PROGRESS with in-band information (progress
// indicator 8) gives the phone 183 Session Progress with SDP and the far
// end's own ringback; the 200 OK waits for the span's CONNECT.
TEST_F(SipThroughSpanTest, TheFarSpansRingbackReachesThePhoneIn183AndItsAnswerWaitsForConnect) {
  tm::RtpPeer peer(Codec::pcmu, 0, 101);
  Phone alice;
  caller(alice, "alice", "0140002000", "uac_early_media.xml", 1, {"-key", "rtp_port", std::to_string(peer.port())});
  std::string alice_channel = connect_engine(peer);
  ASSERT_FALSE(alice_channel.empty());
  std::string operator_leg;
  ASSERT_TRUE(eventually([&] {
    for (auto& c : host_->calls().channels())
      if (c.backend == "dahdi" && c.direction == sdk::ChannelDirection::inbound) operator_leg = c.id;
    return !operator_leg.empty();
  }));
  // A second of the far end's 425 Hz cadence at the phone, before anyone answered.
  ASSERT_TRUE(eventually([&] {
    peer.clear();
    if (!eventually([&] { return peer.audio().size() >= 8000; })) return false;
    auto a = peer.audio();
    return tm::loud_samples(a, 8000) >= 4000 && tm::tone_share(a, 8000, 425, a.size() - 8000) > 0.6;
  }, std::chrono::seconds(30))) << "the span's in-band ringback does not reach the phone; log:\n" << log_tail();
  // Over a whole second 425 Hz and a local ring tone's 440 Hz are told apart.
  auto a = peer.audio();
  EXPECT_LT(tm::tone_share(a, 8000, 440, a.size() - 8000), 0.2) << "a local ring tone, not the far end's";
  auto alice_state = host_->calls().channel(alice_channel);
  ASSERT_TRUE(alice_state);
  EXPECT_EQ(alice_state->state, sdk::ChannelState::ringing) << "alice was answered before the span connected";
  auto op = host_->calls().channel(operator_leg);
  ASSERT_TRUE(op);
  EXPECT_NE(op->state, sdk::ChannelState::up);
  // The operator's exchange connects: now alice gets her 200 OK.
  ASSERT_TRUE(driver_->answer(*op));
  EXPECT_TRUE(eventually([&] {
    auto c = host_->calls().channel(alice_channel);
    return c && c->state == sdk::ChannelState::up;
  })) << log_tail();
  peer.send_digits("D");
  EXPECT_EQ(alice.finish(), 0) << alice.out;
  EXPECT_TRUE(spans_clear()) << "the spans' legs end with the phone's";
}

}  // namespace
}  // namespace dialtone::testing
