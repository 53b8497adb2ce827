// A real softphone against a call answered by Dialtone: baresip (Debian
// baresip-core) authenticates as alice, calls the echo route of
// media_dialplan.lua with a 600 Hz tone as its microphone (aufile), and records
// what it hears (sndfile). The recording must hold the tone, echoed back by
// the media engine. baresip quits once its recording holds two seconds of
// sound (however long the call took to set up), or after a minute.
#include <dialtone/services.h>

#include "tests/support/baresip_phone.h"
#include "tests/plugins/media/calls/sip_media_fixture.h"
#include "tests/plugins/media/engine/rtp_peer.h"

namespace dialtone::testing {
namespace {

namespace fs = std::filesystem;
namespace tm = testing::media;

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
};

TEST_F(BaresipEchoTest, SoftphoneHearsItsOwnToneBack) {
  BaresipPhone alice({.user = "alice", .password = "alicepw", .server_port = plugin_->port(),
                      .console_port = free_port(), .mic_hz = 600, .exten = "810"});
  ASSERT_TRUE(alice.started());
  // Two seconds of sound heard, or baresip gave up by itself.
  eventually([&] { return alice.exited() || tm::loud_samples(alice.heard_so_far(), 8000) >= 2 * 8000u; },
             std::chrono::seconds(90));
  alice.stop();
  fs::path heard = alice.heard();
  ASSERT_FALSE(heard.empty()) << "baresip recorded nothing:\n" << alice.log();
  int rate = 8000;
  auto audio = tm::read_wav(heard, &rate);
  ASSERT_GT(tm::loud_samples(audio, rate), static_cast<std::size_t>(rate)) << "less than 1 s heard:\n" << alice.log();
  // Over the frames that carry sound, the 600 Hz tone.
  double sum = 0;
  std::size_t frames = 0, frame = static_cast<std::size_t>(rate / 50);
  for (std::size_t i = 0; i + frame <= audio.size(); i += frame) {
    if (tm::loud_samples(std::vector<std::int16_t>(audio.begin() + i, audio.begin() + i + frame), rate) == 0) continue;
    sum += tm::tone_share(audio, rate, 600, i, i + frame);
    ++frames;
  }
  EXPECT_GT(sum / frames, 0.8) << alice.log();
  expect_idle();
  EXPECT_TRUE(eventually([&] { return engine_->attached_channels() == 0; }));
}

}  // namespace
}  // namespace dialtone::testing
