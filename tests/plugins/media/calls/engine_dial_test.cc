// Dials from calls whose media ends in the media engine, end to end: alice
// (SIPp) is answered by the dialplan, which then rings bob (another SIPp
// phone) with an offer from the engine. Each side's SDP points at an RTP
// peer of the test: alice hears the ringback, then each hears the other's
// tone (Goertzel), across codecs (alice PCMU, bob PCMA); failures reach
// alice's dialplan as the SIP status it sends back as DTMF.
#include <algorithm>

#include <dialtone/services.h>

#include "tests/plugins/media/calls/sip_media_fixture.h"
#include "tests/plugins/media/engine/rtp_peer.h"

namespace dialtone::testing {
namespace {

namespace tm = testing::media;
using sdk::media::Codec;

class EngineDialTest : public SipMediaTest {
 protected:
  static void SetUpTestSuite() {
    make_host({{"alice", "1001"}, {"bob", "1002"}, {"carol", "1003"}},
              std::filesystem::path(SIP_TEST_DIR) / "engine_dial_dialplan.lua");
    start_media();
  }

  void call(Phone& p, const std::string& number, tm::RtpPeer& peer) {
    caller(p, "alice", number, "uac_media.xml", 1, {"-key", "rtp_port", std::to_string(peer.port())});
  }
  void ring_bob(Phone& p, const std::string& file, tm::RtpPeer& peer, const std::string& pause_ms = "0",
                std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"-key", "rtp_port", std::to_string(peer.port()), "-d", pause_ms};
    args.insert(args.end(), extra.begin(), extra.end());
    callee(p, "bob", file, 1, args);
  }
  // bob's phone runs `bob_file`; alice calls 820, the dialplan answers her
  // (`ca`: her channel) and rings bob; returns once bob's leg rings.
  void alice_rings_bob(Phone& alice, Phone& bob, const std::string& bob_file, tm::RtpPeer& pa, tm::RtpPeer& pb,
                       std::string& ca) {
    ASSERT_NO_FATAL_FAILURE(ring_bob(bob, bob_file, pb));
    call(alice, "820", pa);
    ca = connect_engine(pa);
    ASSERT_FALSE(ca.empty());
    ASSERT_TRUE(eventually([] {
      auto b = bob_leg();
      return b && b->state == sdk::ChannelState::ringing;
    })) << log_tail();
  }
  // alice and bob (RTP at `pa`, `pb`) hear each other.
  static void expect_talking(tm::RtpPeer& pa, tm::RtpPeer& pb) {
    EXPECT_TRUE(hears_tone(pa, pb, 500, 0.9)) << "bob does not hear alice";
    EXPECT_TRUE(hears_tone(pb, pa, 900, 0.9)) << "alice does not hear bob";
  }
  // alice, answered by the dialplan, has it dial `number` while bob's phone
  // runs `bob_file`: the dial fails and the dialplan sends her the SIP
  // status as digits; she ends the call with D.
  void expect_dial_failure(const std::string& bob_file, const std::string& number, const std::string& status) {
    tm::RtpPeer pa(Codec::pcmu, 0, 101), pb(Codec::pcmu, 0, 101);
    Phone bob, alice;
    ASSERT_NO_FATAL_FAILURE(ring_bob(bob, bob_file, pb));
    call(alice, number, pa);
    ASSERT_FALSE(connect_engine(pa).empty());
    ASSERT_TRUE(eventually([&] { return pa.digits() == status; })) << pa.digits() << "\n" << log_tail();
    EXPECT_EQ(bob.finish(), 0) << bob.out;
    pa.send_digits("D");
    EXPECT_EQ(alice.finish(), 0) << alice.out;
    expect_media_idle();
  }
  // True when calls.channel.transferred holding `text` is among the events
  // from `from` on.
  static bool transferred_since(std::size_t from, const std::string& text) {
    auto all = host_->test_bus().events();
    return std::any_of(all.begin() + static_cast<std::ptrdiff_t>(from), all.end(), [&](const sdk::Event& e) {
      return e.topic == "calls.channel.transferred" && e.body.find(text) != std::string::npos;
    });
  }
  // bob's leg in the call core (outbound, endpoint "bob").
  static std::optional<sdk::Channel> bob_leg() {
    for (auto& c : host_->calls().channels())
      if (c.endpoint == "bob" && c.direction == sdk::ChannelDirection::outbound) return c;
    return std::nullopt;
  }
};

TEST_F(EngineDialTest, AnsweredCallRingsAPhoneWithRingbackThenBothHearEachOther) {
  tm::RtpPeer pa(Codec::pcmu, 0, 101), pb(Codec::pcma, 8, 101);
  Phone bob, alice;
  ring_bob(bob, "uas_engine_answer.xml", pb, "2500");  // rings 2.5 s, answers PCMA
  call(alice, "820", pa);
  std::string ca = connect_engine(pa);
  ASSERT_FALSE(ca.empty());
  // While bob rings, alice hears the ring tone (French table: 440 Hz).
  ASSERT_TRUE(eventually([] {
    auto b = bob_leg();
    return b && b->state != sdk::ChannelState::down;
  })) << log_tail();
  std::vector<std::int16_t> ringing;
  ASSERT_TRUE(eventually([&] {
    auto b = bob_leg();
    if (b && b->state == sdk::ChannelState::ringing) ringing = pa.audio();
    return !b || b->state == sdk::ChannelState::up;
  }));
  EXPECT_GT(tm::loud_samples(ringing, 8000), 800u) << "no ringback while bob rang";
  EXPECT_GT(share(ringing, {440}), 0.8);
  // Answered: bob's leg is linked to alice's and its endpoint sends PCMA to pb.
  std::string cb = connect_engine(pb);
  ASSERT_FALSE(cb.empty());
  EXPECT_TRUE(eventually([&] { return host_->calls().channel(ca) && host_->calls().channel(ca)->peer == cb; }));
  expect_talking(pa, pb);
  hang_up_and_finish(ca, {&alice, &bob});  // Dialtone hangs alice up: bob gets BYE too
}

// Early media: bob's 183 carries SDP; what he sends before answering (an
// announcement, his own ringback) reaches alice instead of Dialtone's.
TEST_F(EngineDialTest, EarlyMediaReachesTheCallerBeforeTheAnswer) {
  tm::RtpPeer pa(Codec::pcmu, 0, 101), pb(Codec::pcmu, 0, 101);
  Phone bob, alice;
  std::string ca;
  // bob answers 183 with SDP, never 200
  ASSERT_NO_FATAL_FAILURE(alice_rings_bob(alice, bob, "uas_engine_early.xml", pa, pb, ca));
  // bob's leg is attached from the INVITE on; the 183's SDP sets its remote.
  ASSERT_FALSE(connect_engine(pb).empty());
  EXPECT_TRUE(hears_tone(pb, pa, 700, 0.9)) << "alice does not hear bob's early media";
  EXPECT_EQ(bob_leg()->state, sdk::ChannelState::ringing);
  hang_up_and_finish(ca, {&alice, &bob});  // alice gives up: bob gets CANCEL
}

TEST_F(EngineDialTest, CalleeHangingUpEndsTheCaller) {
  tm::RtpPeer pa(Codec::pcmu, 0, 101), pb(Codec::pcmu, 0, 101);
  Phone bob, alice;
  ring_bob(bob, "uas_engine_bye.xml", pb, "500");  // answers, BYE half a second later
  call(alice, "820", pa);
  EXPECT_EQ(bob.finish(), 0) << bob.out;
  EXPECT_EQ(alice.finish(), 0) << alice.out;  // BYE from Dialtone
  expect_media_idle();
}

TEST_F(EngineDialTest, OfferRefusedWith488ReachesTheDialplan) {
  expect_dial_failure("uas_engine_488.xml", "820", "488");
}

TEST_F(EngineDialTest, AnswerWithoutACommonCodecIsHungUpAndSaysWhy) {
  expect_dial_failure("uas_engine_g729.xml", "820", "488");  // bob: ACK then BYE
  EXPECT_TRUE(host_->logger().contains("answered but hung up: no codec of the answer is one offered"))
      << log_tail();
}

TEST_F(EngineDialTest, PhoneThatNeverAnswersIsCancelled) {
  expect_dial_failure("uas_engine_ring_cancel.xml", "821", "408");  // rings 2 s; bob: CANCEL, 487
}

// The caller hangs up while bob rings, and bob's 200 OK crosses the CANCEL:
// Dialtone ACKs it and sends BYE; nothing is left over.
TEST_F(EngineDialTest, AnswerCrossingTheCancelIsHungUp) {
  tm::RtpPeer pa(Codec::pcmu, 0, 101), pb(Codec::pcmu, 0, 101);
  Phone bob, alice;
  std::string ca;
  ASSERT_NO_FATAL_FAILURE(alice_rings_bob(alice, bob, "uas_engine_cancel_200.xml", pa, pb, ca));
  ASSERT_TRUE(host_->calls().hangup_channel(ca));
  EXPECT_EQ(alice.finish(), 0) << alice.out;
  EXPECT_EQ(bob.finish(), 0) << bob.out;  // 200 to CANCEL, 200 to INVITE, ACK, BYE
  EXPECT_TRUE(eventually([] { return host_->logger().contains("answered after it was cancelled; hung up"); }))
      << log_tail();
  expect_media_idle();
}

// Call permissions (seed 5.5): alice may call 1002 with a password. The
// dialplan answers, reads it (agent-pass, digits then #) and then dials bob
// from the answered call: they talk.
TEST_F(EngineDialTest, CallPermissionPasswordThenTheDialConnects) {
  auto rule = host_->sql("INSERT INTO confd_callpermissions (name, password, extensions) "
                         "VALUES ('bob-with-code', '4321', '[\"1002\"]') RETURNING id");
  host_->sql("INSERT INTO confd_user_callpermissions VALUES ($1::int, $2::int)", {user_ids_["alice"], rule});
  tm::RtpPeer pa(Codec::pcmu, 0, 101), pb(Codec::pcma, 8, 101);  // bob answers PCMA
  Phone bob, alice;
  ring_bob(bob, "uas_engine_answer.xml", pb);
  call(alice, "1002", pa);
  std::string ca = connect_engine(pa);
  ASSERT_FALSE(ca.empty());
  pa.send_digits("4321#");
  std::string cb = connect_engine(pb);
  ASSERT_FALSE(cb.empty()) << log_tail();
  expect_talking(pa, pb);
  hang_up_and_finish(cb, {&bob, &alice});  // bob's side ends first: alice gets BYE
  host_->sql("DELETE FROM confd_callpermissions WHERE id = $1::int", {rule});
}

// The REST originate (POST /1.0/calls goes to CallCoreImpl::originate):
// alice's phone rings first; when she answers, 1002 is dialled through the
// dialplan and bob's phone rings; alice hears the ringback, then they talk.
TEST_F(EngineDialTest, OriginateRingsTheUserThenTheDestination) {
  tm::RtpPeer pa(Codec::pcma, 8, 101), pb(Codec::pcma, 8, 101);  // both phones answer PCMA
  Phone bob, alice;
  ring_bob(bob, "uas_engine_answer.xml", pb);
  callee(alice, "alice", "uas_engine_answer.xml", 1, {"-key", "rtp_port", std::to_string(pa.port()), "-d", "0"});
  kernel::CallCoreImpl::Origination o;
  o.line_target = "sip/alice";
  o.exten = "1002";
  o.context = "default";
  o.user_number = "1001";
  o.user_name = "Alice";
  auto leg = host_->calls().originate(o);
  ASSERT_TRUE(leg) << leg.error().message;
  std::string ca = connect_engine(pa);
  ASSERT_EQ(ca, *leg);
  std::string cb = connect_engine(pb);
  ASSERT_FALSE(cb.empty()) << log_tail();
  expect_talking(pa, pb);
  hang_up_and_finish(ca, {&alice, &bob});  // the API hangs the user up: bob gets BYE
}

// A user whose phone is not registered: the originate is refused at once
// (the REST API answers 503 with the reason) and the log names the line.
TEST_F(EngineDialTest, OriginateToAnUnregisteredLineIsRefused) {
  kernel::CallCoreImpl::Origination o;
  o.line_target = "sip/nobody";
  o.exten = "1002";
  o.context = "default";
  auto leg = host_->calls().originate(o);
  ASSERT_FALSE(leg);
  EXPECT_NE(leg.error().message.find("sip/nobody could not be rung (unavailable"), std::string::npos)
      << leg.error().message;
  EXPECT_TRUE(host_->logger().contains("to nobody not rung (480): no registered contact")) << log_tail();
  expect_media_idle();
}

// bob, rung from a call the dialplan answered (media in the engine),
// transfers alice to carol with a REFER: the call core carries it out (no
// more 501). bob hears 100 then 200 and is hung up; alice is sent to the
// dialplan of 1003 in bob's context, carol rings and answers, and alice and
// carol hear each other.
TEST_F(EngineDialTest, BlindTransferByAnEngineLegIsCarriedOutByTheCallCore) {
  tm::RtpPeer pa(Codec::pcmu, 0, 101), pb(Codec::pcma, 8, 101), pc(Codec::pcma, 8, 101);
  Phone bob, carol, alice;
  auto events = host_->test_bus().events().size();
  callee(carol, "carol", "uas_engine_answer.xml", 1, {"-key", "rtp_port", std::to_string(pc.port()), "-d", "0"});
  ring_bob(bob, "uas_engine_refer.xml", pb, "0", {"-key", "refer_to", "1003"});
  call(alice, "820", pa);
  std::string ca = connect_engine(pa);
  ASSERT_FALSE(ca.empty());
  EXPECT_EQ(bob.finish(), 0) << "bob should get 202, NOTIFY 100, NOTIFY 200 then BYE:\n" << bob.out << log_tail();
  std::string cc = connect_engine(pc);
  ASSERT_FALSE(cc.empty()) << "carol was not connected";
  EXPECT_TRUE(hears_tone(pa, pc, 500, 0.9)) << "carol does not hear alice";
  EXPECT_TRUE(hears_tone(pc, pa, 900, 0.9)) << "alice does not hear carol";
  EXPECT_TRUE(transferred_since(events, "\"exten\":\"1003\"")) << "no calls.channel.transferred for bob's blind transfer";
  hang_up_and_finish(ca, {&alice, &carol});
}

// carol, then alice, call 820: the dialplan answers each and rings bob, who
// answers carol's call (the consultation), then alice's, on which he sends
// REFER with Replaces naming his dialog with carol. Every leg's media ends in
// the engine, so the call core carries the transfer out: bob gets 202,
// NOTIFY 100 then 200, and BYE on both calls; alice and carol hear each
// other.
TEST_F(EngineDialTest, AttendedTransferBetweenEngineLegsIsCarriedOutByTheCallCore) {
  tm::RtpPeer pa(Codec::pcmu, 0, 101), pc(Codec::pcmu, 0, 101);
  Phone bob, carol, alice;
  auto events = host_->test_bus().events().size();
  callee(bob, "bob", "../../../backend/sip/scenarios/xfer_attended_callee.xml", 2);
  caller(carol, "carol", "820", "uac_media.xml", 1, {"-key", "rtp_port", std::to_string(pc.port())});
  std::string cc = connect_engine(pc);
  ASSERT_FALSE(cc.empty());
  ASSERT_TRUE(eventually([] {
    auto b = bob_leg();
    return b && b->state == sdk::ChannelState::up;
  })) << "bob did not answer carol's call\n" << log_tail();
  call(alice, "820", pa);
  std::string ca = connect_engine(pa);
  ASSERT_FALSE(ca.empty());
  EXPECT_EQ(bob.finish(), 0) << "bob should get 202, NOTIFY 100, NOTIFY 200 then BYE on both calls:\n" << bob.out
                             << log_tail();
  EXPECT_TRUE(hears_tone(pa, pc, 500, 0.9)) << "carol does not hear alice";
  EXPECT_TRUE(hears_tone(pc, pa, 900, 0.9)) << "alice does not hear carol";
  EXPECT_TRUE(transferred_since(events, "\"kind\":\"attended\"")) << "no calls.channel.transferred for bob's attended transfer";
  hang_up_and_finish(ca, {&alice, &carol});
}

// bob, an engine leg, changes codec with a re-INVITE (PCMU only, where he
// answered PCMA): the 200 answers PCMU alone from the engine endpoint (not
// Dialtone's first offer), and from then on the endpoint sends and takes
// PCMU: bob's peer, decoding PCMU, hears alice and is heard.
TEST_F(EngineDialTest, ReInviteFromAnEngineLegIsAnsweredByTheEngine) {
  tm::RtpPeer pa(Codec::pcmu, 0, 101), pb(Codec::pcmu, 0, 101);
  Phone bob, alice;
  ring_bob(bob, "uas_engine_reinvite.xml", pb);
  call(alice, "820", pa);
  std::string ca = connect_engine(pa);
  ASSERT_FALSE(ca.empty());
  ASSERT_FALSE(connect_engine(pb).empty());
  EXPECT_TRUE(eventually([&] { return hears_tone(pa, pb, 500, 0.9); })) << "bob does not hear alice in PCMU\n" << log_tail();
  EXPECT_TRUE(hears_tone(pb, pa, 900, 0.9)) << "alice does not hear bob's PCMU";
  hang_up_and_finish(ca, {&alice, &bob});  // bob's scenario checks the re-INVITE's answer is PCMU alone
}

// bob, an engine leg, asks for a new offer (re-INVITE without SDP) and
// answers it in the ACK with PCMU at another port, as a phone that moved its
// media: the endpoint takes that answer, so alice is heard at bob's new port
// and hears what bob sends from there.
TEST_F(EngineDialTest, AnswerInTheAckOfAReInviteWithoutSdpIsApplied) {
  tm::RtpPeer pa(Codec::pcmu, 0, 101), pb(Codec::pcma, 8, 101), moved(Codec::pcmu, 0, 101);
  Phone bob, alice;
  ring_bob(bob, "uas_engine_reinvite_late.xml", pb, "0", {"-key", "rtp_port2", std::to_string(moved.port())});
  call(alice, "820", pa);
  std::string ca = connect_engine(pa);
  ASSERT_FALSE(ca.empty());
  ASSERT_FALSE(connect_engine(moved).empty()) << "the answer in the ACK was not applied";
  EXPECT_TRUE(hears_tone(pa, moved, 500, 0.9)) << "bob's new port does not hear alice";
  EXPECT_TRUE(hears_tone(moved, pa, 900, 0.9)) << "alice does not hear bob's PCMU from his new port";
  hang_up_and_finish(ca, {&alice, &bob});
}

// Session timers (RFC 4028) on both engine legs: alice (answered by the
// dialplan) asks Dialtone to refresh, bob (rung from the engine) imposes
// refresher=uac; each gets Dialtone's UPDATE refresh, as relayed legs do.
TEST_F(EngineDialTest, SessionTimersAreRefreshedOnEngineLegs) {
  ASSERT_NO_FATAL_FAILURE(start_plugin({{"session_timers.min_se", "4"}}));
  tm::RtpPeer pa(Codec::pcmu, 0, 101), pb(Codec::pcma, 8, 101);
  Phone bob, alice;
  ring_bob(bob, "uas_engine_timer.xml", pb, "0", {"-key", "se", "6"});
  caller(alice, "alice", "820", "uac_media_timer.xml", 1,
         {"-key", "rtp_port", std::to_string(pa.port()), "-key", "se", "6"});
  EXPECT_EQ(bob.finish(), 0) << "bob should get an UPDATE refresh:\n" << bob.out << log_tail();
  EXPECT_EQ(alice.finish(), 0) << "alice should get Session-Expires in the 200, then an UPDATE:\n" << alice.out;
  expect_media_idle();
}

}  // namespace
}  // namespace dialtone::testing
