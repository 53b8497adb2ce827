// An incoming span call routed by its DID (an incall) to a SIP phone: the
// call comes in on simulated span 2, the shipped incalls module sends it to
// the user bob, whose SIPp phone is rung with an offer from the media
// engine; once bob answers, the span's B-channel and bob's endpoint are
// joined. The span's caller is alice, a SIP phone answered by Dialtone that
// calls out on span 1 (the spans are back to back), so a tone crosses
// span to phone and phone to span, each checked at an RTP peer (Goertzel).
#include <gtest/gtest.h>

#include "tests/plugins/backend/dahdi/far_end.h"
#include "tests/plugins/backend/dahdi/span_sip_fixture.h"
#include "tests/plugins/media/engine/rtp_peer.h"

namespace dialtone::testing {
namespace {

namespace tm = testing::media;
using sdk::media::Codec;

class SpanToSipTest : public SpanSipTest {
 protected:
  static void SetUpTestSuite() {
    make_host({{"alice", "1001"}, {"bob", "1002"}}, std::filesystem::path(DAHDI_TEST_DIR) / "span_incall_dialplan.lua");
    start_media();
    host_->sql("INSERT INTO confd_contexts (name, type) VALUES ('from-extern', 'incall') ON CONFLICT DO NOTHING");
    auto i = host_->sql("INSERT INTO confd_incalls (destination) VALUES (jsonb_build_object('type', 'user', "
                        "'user_id', $1::int)) RETURNING id", {user_ids_["bob"]});
    auto x = host_->sql("INSERT INTO confd_extensions (exten, context) VALUES ('140002000', 'from-extern') RETURNING id");
    host_->sql("INSERT INTO confd_incall_extensions VALUES ($1::int, $2::int)", {i, x});
    host_->refresh_config();  // the dialplan's config snapshot holds the incall
  }
  // `to` hears `from`'s tone: most of a second of it, mostly at `hz`.
  static bool heard(tm::RtpPeer& from, tm::RtpPeer& to, double hz) {
    auto tone = tm::make_tone(hz, 1.0, 8000);
    for (int i = 0; i < 10; ++i) {  // the first packets may go before the joins are made
      to.clear();
      from.send_audio(tone);
      auto got = to.audio();
      if (got.size() >= 4000 && tm::loud_samples(got, 8000) >= 2400 &&
          tm::tone_share(got, 8000, hz, got.size() - 4000) > 0.6)
        return true;
    }
    return false;
  }

};

TEST_F(SpanToSipTest, IncallOnASpanRingsTheSipPhoneAndTonesCrossBothWays) {
  tm::RtpPeer pa(Codec::pcmu, 0, 101), pb(Codec::pcma, 8, 101);
  Phone bob, alice;
  callee(bob, "bob", "uas_engine_answer.xml", 1, {"-key", "rtp_port", std::to_string(pb.port()), "-d", "1000"});
  caller(alice, "alice", "0140002000", "uac_media.xml", 1, {"-key", "rtp_port", std::to_string(pa.port())});
  std::string ca = connect_engine(pa);
  ASSERT_FALSE(ca.empty());
  // Span 2's call rang bob's SIP line; he answered.
  std::string cb = connect_engine(pb);
  ASSERT_FALSE(cb.empty());
  auto bob_leg = host_->calls().channel(cb);
  ASSERT_TRUE(bob_leg);
  EXPECT_EQ(bob_leg->endpoint, "bob");
  auto span_leg = host_->calls().channel(bob_leg->call_id);
  ASSERT_TRUE(span_leg);
  EXPECT_EQ(span_leg->backend, "dahdi");
  EXPECT_EQ(span_leg->direction, sdk::ChannelDirection::inbound);
  EXPECT_TRUE(eventually([&] {
    auto s = host_->calls().channel(bob_leg->call_id);
    return s && s->state == sdk::ChannelState::up && s->peer == cb;
  })) << "the span's call is answered when bob answers";
  EXPECT_TRUE(heard(pa, pb, 500)) << "the span's caller does not reach bob";
  EXPECT_TRUE(heard(pb, pa, 900)) << "bob does not reach the span's caller";
  // alice hangs up: span 1, then span 2 clear, and bob gets BYE.
  ASSERT_TRUE(host_->calls().hangup_channel(ca));
  EXPECT_EQ(alice.finish(), 0) << alice.out;
  EXPECT_EQ(bob.finish(), 0) << bob.out;
  EXPECT_TRUE(eventually([&] { return host_->calls().channels().empty(); }))
      << host_->calls().channels().size() << " channels left";
  EXPECT_TRUE(eventually([&] { return engine_->attached_channels() == 0; })) << "endpoint not freed";
}

// The exchange rings the FXO line and sends its caller ID (V.23 FSK from
// spandsp's ADSI transmitter) after the first ring: it reaches the dialplan
// and bob's INVITE shows it in From (the scenario checks the header).
TEST_F(SpanToSipTest, ALinesCallerIdIsTheFromOfTheRungSipPhone) {
  tm::RtpPeer pb(Codec::pcma, 8, 101);
  Phone bob;
  callee(bob, "bob", "uas_engine_answer_from.xml", 1, {"-key", "rtp_port", std::to_string(pb.port()), "-d", "500"});
  int line = driver_->far_end_port(3, 1);
  ASSERT_GE(line, 0) << "span 3 is not an open simulated line; log:\n" << log_tail();
  FarEnd exchange(line);
  exchange.event(plugins::dahdi::kEventRingOffHook);
  ASSERT_TRUE(eventually([&] { return driver_->analog_state(3, 1) == "cid_wait"; }));
  exchange.send_caller_id("0140001234", "DUPONT JEAN", false);
  ASSERT_TRUE(eventually([&] {
    for (auto& l : host_->logger().lines())
      if (l.find("line call from '0140001234' 'DUPONT JEAN'") != std::string::npos) return true;
    return false;
  })) << log_tail();
  std::string cb = connect_engine(pb);
  ASSERT_FALSE(cb.empty());
  // bob answered: the line is taken off-hook.
  EXPECT_TRUE(eventually([&] { return exchange.got_hook(plugins::dahdi::HookCommand::offhook); }));
  exchange.event(plugins::dahdi::kEventOnHook);  // the caller hangs up
  EXPECT_EQ(bob.finish(), 0) << bob.out;
  EXPECT_TRUE(eventually([&] { return host_->calls().channels().empty(); }))
      << host_->calls().channels().size() << " channels left";
}

}  // namespace
}  // namespace dialtone::testing
