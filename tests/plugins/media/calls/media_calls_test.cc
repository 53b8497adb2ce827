// Calls answered by the dialplan with their media in the media engine, and
// the media verbs, end to end: SIPp callers authenticate and call numbers of
// media_dialplan.lua; their SDP points at an RTP peer of the test, which hears
// what Dialtone plays and sends digits. Every check is on that audio: the
// prompt's energy, a tone's frequency (Goertzel), the digits the script read
// and sent back as RFC 4733 events.
#include <algorithm>
#include <fstream>

#include <dialtone/services.h>

#include "tests/plugins/media/calls/sip_media_fixture.h"
#include "tests/plugins/media/engine/rtp_peer.h"

namespace dialtone::testing {
namespace {

namespace tm = testing::media;
using sdk::media::Codec;

class MediaCallsTest : public SipMediaTest {
 protected:
  static void SetUpTestSuite() {
    make_host({{"alice", "1001"}}, std::filesystem::path(SIP_TEST_DIR) / "media_dialplan.lua");
    start_media();
  }

  // alice calls `number` with `file`, her RTP at `peer`.
  void call(Phone& p, const std::string& number, tm::RtpPeer& peer, const std::string& file = "uac_media.xml") {
    caller(p, "alice", number, file, 1, {"-key", "rtp_port", std::to_string(peer.port())});
  }
  // alice calls `number` and Dialtone answers in the engine: her peer sends
  // to its endpoint.
  void answered(Phone& alice, const std::string& number, tm::RtpPeer& peer) {
    call(alice, number, peer);
    ASSERT_FALSE(connect_engine(peer).empty());
  }
  // "D" ends media_dialplan.lua's test calls: Dialtone hangs up, alice's
  // scenario ends, and nothing is left in the engine.
  void hang_up(Phone& alice, tm::RtpPeer& peer) {
    peer.send_digits("D");
    EXPECT_EQ(alice.finish(), 0) << alice.out;
    expect_media_idle();
  }

};

TEST_F(MediaCallsTest, AnsweredCallPlaysPromptReadsDigitsAndSendsThemBack) {
  tm::RtpPeer peer(Codec::pcmu, 0, 101);
  Phone alice;
  ASSERT_NO_FATAL_FAILURE(answered(alice, "801", peer));
  // The prompt (beep.wav of asterisk-core-sounds-en-wav) reaches the caller.
  ASSERT_TRUE(eventually([&] { return tm::loud_samples(peer.audio(), 8000) > 800; })) << "no prompt heard";
  peer.send_digits("123");
  ASSERT_TRUE(eventually([&] { return peer.digits() == "123"; })) << "digits sent back: " << peer.digits();
  // Then the French busy tone: 440 Hz.
  peer.clear();
  ASSERT_TRUE(eventually([&] { return peer.audio_size() >= 8000; }));
  auto busy = peer.audio();
  EXPECT_GT(tm::energy(busy), 1000.0);
  EXPECT_GT(share(busy, {440}), 0.8);
  hang_up(alice, peer);
  // The digits reached the call core too (calls.channel.dtmf).
  std::string bus_digits;
  for (auto& e : host_->test_bus().events())
    if (e.topic == "calls.channel.dtmf" && e.body.find("\"rfc4733\"") != std::string::npos) {
      auto at = e.body.find("\"digit\":\"");
      if (at != std::string::npos) bus_digits += e.body[at + 9];
    }
  EXPECT_NE(bus_digits.find("123"), std::string::npos) << bus_digits;
}

TEST_F(MediaCallsTest, UnknownSoundPlaysTheInfoToneAndSaysSo) {
  tm::RtpPeer peer(Codec::pcmu, 0, 101);
  Phone alice;
  ASSERT_NO_FATAL_FAILURE(answered(alice, "802", peer));
  ASSERT_TRUE(eventually([&] { return peer.digits() == "0"; })) << peer.digits();
  auto audio = peer.audio();
  EXPECT_GT(tm::loud_samples(audio, 8000), 1600u) << "silence instead of the info tone";
  EXPECT_GT(share(audio, {950, 1400, 1800}), 0.6);
  hang_up(alice, peer);
  EXPECT_TRUE(eventually([] { return host_->logger().contains("no-such-sound-anywhere"); }));
}

TEST_F(MediaCallsTest, CorruptWavPlaysTheInfoTone) {
  {
    std::ofstream f("/tmp/dialtone-corrupt.wav", std::ios::binary);
    f << "RIFF\x10\x00\x00\x00WAVEfmt garbage that is not a wave file at all";
  }
  tm::RtpPeer peer(Codec::pcmu, 0, 101);
  Phone alice;
  ASSERT_NO_FATAL_FAILURE(answered(alice, "803", peer));
  ASSERT_TRUE(eventually([&] { return peer.digits() == "0"; })) << peer.digits();
  EXPECT_GT(share(peer.audio(), {950, 1400, 1800}), 0.6);
  hang_up(alice, peer);
}

TEST_F(MediaCallsTest, CallerHangingUpDuringAVerbFreesTheEndpoint) {
  tm::RtpPeer peer(Codec::pcmu, 0, 101);
  Phone alice;
  call(alice, "804", peer, "uac_media_hangup.xml");
  ASSERT_FALSE(connect_engine(peer).empty());
  EXPECT_EQ(alice.finish(), 0) << alice.out;
  expect_media_idle();
}

TEST_F(MediaCallsTest, DtmfFloodStopsAtMaxAndTheCallGoesOn) {
  tm::RtpPeer peer(Codec::pcmu, 0, 101);
  Phone alice;
  ASSERT_NO_FATAL_FAILURE(answered(alice, "805", peer));
  peer.send_digits("12345678901234567890");
  ASSERT_TRUE(eventually([&] { return peer.digits() == "1234A"; })) << peer.digits();
  hang_up(alice, peer);
}

TEST_F(MediaCallsTest, TerminatorEndsReadDigits) {
  tm::RtpPeer peer(Codec::pcmu, 0, 101);
  Phone alice;
  ASSERT_NO_FATAL_FAILURE(answered(alice, "805", peer));
  peer.send_digits("42#");
  ASSERT_TRUE(eventually([&] { return peer.digits() == "42*"; })) << peer.digits();
  hang_up(alice, peer);
}

TEST_F(MediaCallsTest, RecordStopsOnSilenceAndPlaysBack) {
  tm::RtpPeer peer(Codec::pcmu, 0, 101);
  Phone alice;
  ASSERT_NO_FATAL_FAILURE(answered(alice, "806", peer));
  auto speech = tm::make_tone(700, 1.0, 8000);
  speech.resize(speech.size() + 8000 * 3, 0);  // then 3 s of silence
  peer.send_audio(speech);
  ASSERT_TRUE(eventually([&] { return peer.digits() == "1"; })) << peer.digits();
  peer.clear();
  peer.send_digits("5");  // play it now
  // "2": the playback ended, the script waits for the test's "D".
  ASSERT_TRUE(eventually([&] { return peer.digits() == "2"; })) << peer.digits();
  // The recording played back: the caller's 700 Hz tone.
  ASSERT_TRUE(eventually([&] { return tm::loud_samples(peer.audio(), 8000) >= 4000; })) << "no playback";
  EXPECT_GT(share(peer.audio(), {700}), 0.8);
  hang_up(alice, peer);
}

TEST_F(MediaCallsTest, MusicOnHoldPlaysForItsDuration) {
  tm::RtpPeer peer(Codec::pcmu, 0, 101);
  Phone alice;
  ASSERT_NO_FATAL_FAILURE(answered(alice, "807", peer));
  ASSERT_TRUE(eventually([&] { return peer.digits() == "7"; })) << peer.digits();
  // About 2 s of music came before the digit (asterisk-moh-opsound-wav).
  EXPECT_GT(tm::loud_samples(peer.audio(), 8000), 8000u);
  hang_up(alice, peer);
}

TEST_F(MediaCallsTest, SrtpOfferIsAnsweredWithSdesKeys) {
  tm::RtpPeer peer(Codec::pcmu, 0, 101);
  Phone alice;
  call(alice, "804", peer, "uac_media_srtp.xml");
  EXPECT_EQ(alice.finish(), 0) << alice.out;  // the scenario checks RTP/SAVP and a=crypto
  expect_media_idle();
}

TEST_F(MediaCallsTest, OfferWithoutACommonCodecIsRefused) {
  tm::RtpPeer peer(Codec::pcmu, 0, 101);
  Phone alice;
  call(alice, "804", peer, "uac_media_488.xml");
  EXPECT_EQ(alice.finish(), 0) << alice.out;
  EXPECT_TRUE(eventually([] { return host_->logger().contains("refused with 488"); }));
  expect_media_idle();
}

// Feature codes with the media engine: *25 answers, saves DND and says so
// (do-not-disturb, activated), then Dialtone hangs up.
TEST_F(MediaCallsTest, DndCodeConfirmsWithAPrompt) {
  auto dnd = [] {
    return host_->sql("SELECT coalesce(service_dnd_enabled::text, '<null>') FROM confd_users WHERE id = $1::int",
                      {user_ids_["alice"]});
  };
  std::string before = dnd();
  tm::RtpPeer peer(Codec::pcmu, 0, 101);
  Phone alice;
  ASSERT_NO_FATAL_FAILURE(answered(alice, "*25", peer));
  EXPECT_EQ(alice.finish(), 0) << alice.out;  // answered, prompt, BYE from Dialtone
  EXPECT_NE(dnd(), before);
  // "do not disturb" + "activated" (or "de-activated"): over a second of speech.
  EXPECT_GT(tm::loud_samples(peer.audio(), 8000), 8000u);
  expect_media_idle();
}

// *55, the echo test: a digit skips the announcement, then what the caller
// says comes back (a 600 Hz tone here) until #.
TEST_F(MediaCallsTest, EchoTestSendsTheCallerBackItsAudio) {
  tm::RtpPeer peer(Codec::pcmu, 0, 101);
  Phone alice;
  ASSERT_NO_FATAL_FAILURE(answered(alice, "*55", peer));
  ASSERT_TRUE(eventually([&] { return tm::loud_samples(peer.audio(), 8000) > 800; })) << "no announcement";
  peer.send_digits("1");
  auto tone = tm::make_tone(600, 1.0, 8000);
  bool echoed = false;
  for (int i = 0; i < 20 && !echoed; ++i) {  // until the echo is on: each round is one second of tone
    peer.clear();
    peer.send_audio(tone);
    auto a = peer.audio();
    echoed = tm::loud_samples(a, 8000) >= 2400 && share(a, {600}) > 0.9;
  }
  EXPECT_TRUE(echoed) << "the caller's tone never came back";
  peer.send_digits("#");
  EXPECT_EQ(alice.finish(), 0) << alice.out;  // demo-echodone, then BYE from Dialtone
  expect_media_idle();
}

// *55 hung up during its 22 s announcement: the echo never starts, so no
// Echo application is published for a channel that ended (the CEL had it or
// not depending on whether the call core had removed the channel yet).
TEST_F(MediaCallsTest, EchoTestCallerWhoHangsUpDuringTheAnnouncementNeverReachesTheEcho) {
  const std::size_t before = host_->test_bus().events().size();  // earlier tests' events
  tm::RtpPeer peer(Codec::pcmu, 0, 101);
  Phone alice;
  call(alice, "*55", peer, "uac_media_hangup.xml");
  EXPECT_EQ(alice.finish(), 0) << alice.out;
  expect_media_idle();
  // The dialplan's coroutine resumes with "hangup" after the channel ended.
  ASSERT_TRUE(eventually([&] { return host_->logger().contains("hung up during the echo test's announcement"); }))
      << log_tail();
  bool started = false;
  auto events = host_->test_bus().events();
  for (std::size_t i = before; i < events.size(); ++i)
    if (events[i].topic == "calls.channel.app" && events[i].body.find("\"app\":\"Echo\"") != std::string::npos)
      started = true;
  EXPECT_FALSE(started) << log_tail();
}

// Two callers answered by Dialtone, bridged through the call core (the
// driver joins their endpoints in an engine mixer): each hears the other's
// tone; when one hangs up, the other is hung up too.
TEST_F(MediaCallsTest, TwoAnsweredCallsBridgedHearEachOther) {
  tm::RtpPeer pa(Codec::pcmu, 0, 101), pb(Codec::pcmu, 0, 101);  // both offer PCMU first
  Phone a, b;
  call(a, "809", pa);
  call(b, "809", pb);
  // Each peer's channel: the endpoint that sends to it (its SDP address).
  std::string ca = connect_engine(pa), cb = connect_engine(pb);
  if (ca.empty() || cb.empty()) {
    a.finish();
    b.finish();
    FAIL() << "a:\n" << a.out << "\nb:\n" << b.out;
  }
  ASSERT_TRUE(host_->calls().bridge(ca, cb, true));
  EXPECT_TRUE(hears_tone(pa, pb, 500, 0.9)) << "b does not hear a";
  EXPECT_TRUE(hears_tone(pb, pa, 900, 0.9)) << "a does not hear b";
  EXPECT_EQ(host_->calls().channel(ca)->peer, cb);
  pa.send_digits("D");  // a's script hangs up; the bridge ends b too
  EXPECT_EQ(a.finish(), 0) << a.out;
  EXPECT_EQ(b.finish(), 0) << b.out;
  expect_media_idle();
}

// An IVR menu (lib/ivr.lua): a wrong digit gets the invalid prompt and the
// menu again; 2 opens the submenu, whose 3 comes back; 2 then 1 reaches the
// submenu's choice, which answers "21" (the caller's RTP peer decodes it).
TEST_F(MediaCallsTest, IvrMenuRoutesAChoiceThroughASubmenu) {
  tm::RtpPeer peer(Codec::pcmu, 0, 101);
  Phone alice;
  ASSERT_NO_FATAL_FAILURE(answered(alice, "811", peer));
  ASSERT_TRUE(eventually([&] { return tm::loud_samples(peer.audio(), 8000) > 800; })) << "no prompt";
  // Each digit once the menu listens: the prompt it plays next is heard
  // (a digit stops the prompt playing, the next read plays it again).
  for (char d : std::string("92321")) {
    peer.clear();
    peer.send_digits(std::string(1, d));
    if (d != '1') {
      ASSERT_TRUE(eventually([&] { return tm::loud_samples(peer.audio(), 8000) > 400; })) << d;
    }
  }
  ASSERT_TRUE(eventually([&] { return peer.digits() == "21"; })) << "got '" << peer.digits() << "'\n" << log_tail();
  EXPECT_TRUE(host_->logger().contains("IVR invalid (9), try 1 of 2"));
  peer.send_digits("D");
  EXPECT_EQ(alice.finish(), 0) << alice.out;
  expect_media_idle();
}

// Nobody answers the menu: after two timeouts the error prompt plays and the
// menu hangs up (the caller's SIPp gets the BYE).
TEST_F(MediaCallsTest, IvrMenuHangsUpAfterTheLastTimeout) {
  tm::RtpPeer peer(Codec::pcmu, 0, 101);
  Phone alice;
  ASSERT_NO_FATAL_FAILURE(answered(alice, "812", peer));
  EXPECT_EQ(alice.finish(), 0) << alice.out;
  EXPECT_TRUE(host_->logger().contains("IVR timeout (), try 2 of 2"));
  EXPECT_GT(tm::loud_samples(peer.audio(), 8000), 1200u) << "the prompts were not heard";
  expect_media_idle();
}

}  // namespace
}  // namespace dialtone::testing
