// A real softphone against a call answered by Dialtone: baresip (Debian
// baresip-core) authenticates as alice, calls the echo route of
// media_dialplan.lua with a 600 Hz tone as its microphone (aufile), and records
// what it hears (sndfile). The recording must hold the tone, echoed back by
// the media engine. baresip quits once its recording holds two seconds of
// sound (however long the call took to set up), or after a minute. The
// same with Opus only (libopus in the engine), and two Opus softphones keep
// Opus through the RTP relay.
#include <tuple>

#include <dialtone/services.h>

#include "tests/support/baresip_phone.h"
#include "tests/plugins/media/calls/sip_media_fixture.h"
#include "tests/plugins/media/engine/rtp_peer.h"

namespace dialtone::testing {
namespace {

namespace fs = std::filesystem;
namespace tm = testing::media;

// Over the 20 ms frames of `audio` (at `rate`) that carry sound, the mean
// share of `hz`.
double tone_share_of_sound(const std::vector<std::int16_t>& audio, int rate, double hz) {
  double sum = 0;
  std::size_t frames = 0, frame = static_cast<std::size_t>(rate / 50);
  for (std::size_t i = 0; i + frame <= audio.size(); i += frame) {
    if (tm::loud_samples(std::vector<std::int16_t>(audio.begin() + i, audio.begin() + i + frame), rate) == 0) continue;
    sum += tm::tone_share(audio, rate, hz, i, i + frame);
    ++frames;
  }
  return frames ? sum / static_cast<double>(frames) : 0;
}

class BaresipEchoTest : public SipMediaTest {
 protected:
  static void SetUpTestSuite() {
    make_host({{"alice", "1001"}}, fs::path(SIP_TEST_DIR) / "media_dialplan.lua");
    start_media();
  }
  void SetUp() override {
    if (!BaresipPhone::available()) GTEST_SKIP() << "baresip not installed (Debian baresip-core)";
    start_plugin();
  }
  // A softphone offering only `codecs` (heard at `rate`) calls the echo
  // route: what it hears is its own 600 Hz tone, decoded and encoded again
  // by the engine.
  void expect_own_tone_back(const std::string& codecs, int rate) {
    BaresipPhone alice({.user = "alice", .password = "alicepw", .server_port = plugin_->port(),
                        .console_port = free_port(), .mic_hz = 600, .exten = "810", .audio_codecs = codecs});
    ASSERT_TRUE(alice.started());
    // Two seconds of sound heard, or baresip gave up by itself.
    eventually([&] {
      return alice.exited() || tm::loud_samples(alice.heard_so_far(), rate) >= 2 * static_cast<std::size_t>(rate);
    }, std::chrono::seconds(90));
    alice.stop();
    fs::path heard = alice.heard();
    ASSERT_FALSE(heard.empty()) << "baresip recorded nothing:\n" << alice.log();
    int got = 0;
    auto audio = tm::read_wav(heard, &got);
    EXPECT_EQ(got, rate) << alice.log();
    ASSERT_GT(tm::loud_samples(audio, got), static_cast<std::size_t>(got)) << "less than 1 s heard:\n" << alice.log();
    // Over the frames that carry sound, the 600 Hz tone.
    EXPECT_GT(tone_share_of_sound(audio, got, 600), 0.8) << alice.log();
    expect_idle();
    EXPECT_TRUE(eventually([&] { return engine_->attached_channels() == 0; }));
  }
};

TEST_F(BaresipEchoTest, SoftphoneHearsItsOwnToneBack) { expect_own_tone_back("PCMU", 8000); }

// A softphone that offers only Opus: the engine answers opus/48000/2 and
// decodes and encodes it with libopus (docs/admin/media.md, Codecs).
TEST_F(BaresipEchoTest, OpusSoftphoneHearsItsOwnToneBackThroughTheEngine) {
  expect_own_tone_back("opus/48000/2", 48000);
}

// Two softphones that offer only Opus, through the shipped dialplan: alice
// calls bob, who answers by himself. The call is relayed (no engine endpoint
// on its path) and keeps Opus end to end (media.codecs): each phone decodes
// the other's tone at Opus's 48 kHz.
class BaresipRelayTest : public SipMediaTest {
 protected:
  static void SetUpTestSuite() {
    make_host({{"alice", "1001"}, {"bob", "1002"}}, fs::path(SIP_TEST_DIR) / "shipped_dialplan.lua");
    start_media();
  }
  void SetUp() override {
    if (!BaresipPhone::available()) GTEST_SKIP() << "baresip not installed (Debian baresip-core)";
    start_plugin();
  }
};

TEST_F(BaresipRelayTest, OpusPhonesKeepOpusEndToEndThroughTheRelay) {
  BaresipPhone bob({.user = "bob", .password = "bobpw", .server_port = plugin_->port(), .console_port = free_port(),
                    .mic_hz = 900, .audio_codecs = "opus/48000/2"});
  ASSERT_TRUE(bob.started());
  ASSERT_TRUE(wait_udp_bound(bob.listen_port())) << bob.log();
  std::string out;
  ASSERT_EQ(register_contact("bob", bob.listen_port(), &out), 0) << out;
  BaresipPhone alice({.user = "alice", .password = "alicepw", .server_port = plugin_->port(),
                      .console_port = free_port(), .mic_hz = 600, .exten = "1002", .audio_codecs = "opus/48000/2"});
  ASSERT_TRUE(alice.started());
  // A second of sound each way (48 kHz, two channels), or a phone gave up.
  eventually([&] {
    return alice.exited() || bob.exited() ||
           (tm::loud_samples(alice.heard_so_far(), 48000) >= 96000u && tm::loud_samples(bob.heard_so_far(), 48000) >= 96000u);
  }, std::chrono::seconds(60));
  EXPECT_EQ(engine_->endpoint_count(), 0u) << "the call's media went through the engine, not the relay";
  alice.stop();
  bob.stop();
  for (auto [who, phone, hz] : {std::tuple{"bob", &bob, 600.0}, std::tuple{"alice", &alice, 900.0}}) {
    fs::path heard = phone->heard();
    ASSERT_FALSE(heard.empty()) << who << " recorded nothing:\n" << phone->log() << "\nalice:\n" << alice.log()
                                << "\nDialtone:\n" << log_tail();
    int rate = 0;
    auto audio = tm::read_wav(heard, &rate);
    // The codec both agreed on (the SDP answer each applied), and decoded at Opus's rate.
    EXPECT_NE(phone->log().find("audio decoder: opus 48000Hz"), std::string::npos) << who << ":\n" << phone->log();
    EXPECT_NE(phone->log().find("audio encoder: opus 48000Hz"), std::string::npos) << who << ":\n" << phone->log();
    EXPECT_EQ(rate, 48000) << who << " did not decode Opus:\n" << phone->log();
    EXPECT_GT(tm::loud_samples(audio, rate), static_cast<std::size_t>(rate / 2)) << who << ":\n" << phone->log();
    EXPECT_GT(tone_share_of_sound(audio, rate, hz), 0.8) << who << " does not hear the other phone";
  }
  expect_idle();
}

}  // namespace
}  // namespace dialtone::testing
