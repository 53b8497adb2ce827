// SIP tests whose calls need the media engine: the suite's SipTestHost with an
// engine and its call verbs set up as the media plugin does in dialtoned
// (digits to the call core, the engine provided as "default", the verbs
// registered with the call core).
//
// @code
//   class PromptTest : public dialtone::testing::SipMediaTest {
//    protected:
//     static void SetUpTestSuite() {
//       make_host({{"alice", "1001"}}, "media_dialplan.lua");
//       start_media();
//     }
//   };
//   TEST_F(PromptTest, Greets) {  // each test starts on a fresh plugin
//     media::RtpPeer pa;
//     Phone alice;
//     caller(alice, "alice", "800", "uac_media.xml", 1, {"-key", "rtp_port", std::to_string(pa.port())});
//     auto ca = connect_engine(pa);
//     ...
//     hang_up_and_finish(ca, {&alice});
//   }
// @endcode
#pragma once

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include <dialtone/calls.h>
#include <dialtone/media.h>

#include "plugins/media/engine/call_verbs.h"
#include "plugins/media/engine/engine.h"
#include "tests/plugins/backend/sip/sip_fixture.h"
#include "tests/plugins/media/engine/rtp_peer.h"
#include "tests/support/udp_ports.h"

namespace dialtone::testing {

class SipMediaTest : public SipPluginTest {
 protected:
  // `moh_path`: the music-on-hold classes (empty: the engine's default);
  // `realtime`: media threads as dialtoned runs them (SCHED_FIFO, when the
  // test may), for modems that a loaded machine must not starve.
  static void start_media(const std::filesystem::path& moh_path = {}, bool realtime = false) {
    plugins::media::EngineConfig cfg;
    if (!moh_path.empty()) cfg.moh_path = moh_path;
    cfg.port_min = kTestEnginePortMin;
    cfg.port_max = kTestEnginePortMax;
    cfg.threads = 1;
    cfg.realtime = realtime;
    store_dir_ = std::filesystem::temp_directory_path() / ("dialtone-sounds-" + std::to_string(::getpid()));
    std::filesystem::remove_all(store_dir_);
    cfg.store_path = store_dir_;
    engine_ = std::make_shared<plugins::media::Engine>(cfg, host_->log());
    ASSERT_TRUE(engine_->start());
    auto core = host_->services().find<sdk::CallCore>();
    ASSERT_TRUE(core);
    ASSERT_TRUE(host_->services().provide<sdk::media::MediaEngine>("default", engine_));
    verbs_ = std::make_shared<plugins::media::CallVerbs>(engine_, &host_->executor(), &host_->log());
    verbs_->set_call_core(core);
    engine_->set_dtmf_sink(verbs_->digit_sink(core));
    recordings_dir_ = std::filesystem::temp_directory_path() / ("dialtone-recordings-" + std::to_string(::getpid()));
    std::filesystem::remove_all(recordings_dir_);
    verbs_->set_recordings(std::make_shared<plugins::media::Recordings>(recordings_dir_));
    for (auto& v : verbs_->functions()) ASSERT_TRUE(core->register_verb(std::move(v)));
  }

  void SetUp() override { start_plugin(); }

  static void TearDownTestSuite() {
    if (verbs_) verbs_->rebind(nullptr);
    if (engine_) engine_->stop();
    SipPluginTest::TearDownTestSuite();
    engine_.reset();
    std::filesystem::remove_all(recordings_dir_);
    std::filesystem::remove_all(store_dir_);
  }

  // The channel whose engine endpoint sends to `peer`, once there; the peer
  // then sends to that endpoint.
  std::string connect_engine(media::RtpPeer& peer) {
    std::string id;
    EXPECT_TRUE(eventually([&] {
      for (auto& c : host_->calls().channels())
        if (auto ep = engine_->channel_endpoint(c.id); ep && ep->stats().remote == peer.address()) {
          id = c.id;
          peer.set_remote(ep->local_port());
        }
      return !id.empty();
    })) << "no engine endpoint sends to " << peer.address() << "; log:\n" << log_tail();
    return id;
  }
  // What a failed expectation prints: the last log lines and the channel
  // events the call core published.
  static std::string log_tail() {
    auto lines = host_->logger().lines();
    std::string out;
    for (std::size_t i = lines.size() > 40 ? lines.size() - 40 : 0; i < lines.size(); ++i) out += lines[i] + "\n";
    for (auto& e : host_->test_bus().events())
      if (e.topic.rfind("calls.channel.", 0) == 0) out += e.topic + " " + e.body + "\n";
    return out;
  }
  // No call, relay port or engine endpoint left behind (a suite adds what
  // else must be gone).
  virtual void expect_media_idle() {
    expect_idle();
    EXPECT_TRUE(eventually([&] { return engine_->attached_channels() == 0; })) << "endpoint not freed";
    EXPECT_TRUE(eventually([&] { return engine_->endpoint_count() == 0; })) << "endpoint still open";
  }
  // Dialtone hangs up `channel` (and whoever is bridged with it): every
  // phone's scenario then ends well and nothing is left over.
  void hang_up_and_finish(const std::string& channel, std::initializer_list<Phone*> phones) {
    ASSERT_TRUE(host_->calls().hangup_channel(channel)) << channel;
    for (auto* p : phones) EXPECT_EQ(p->finish(), 0) << p->out;
    expect_media_idle();
  }
  // `to` hears the tone `from` sends (`hz` holds more than `min_share` of a
  // second's sound); the tone is sent again a few times, as the first
  // packets may go before a mixer or a relay runs.
  static bool hears_tone(media::RtpPeer& from, media::RtpPeer& to, double hz, double min_share = 0.8) {
    auto tone = media::make_tone(hz, 1.0, 8000);
    for (int i = 0; i < 10; ++i) {
      to.clear();
      from.send_audio(tone);
      auto got = to.audio();
      if (media::loud_samples(got, 8000) >= 2400 && share(got, {hz}) > min_share) return true;
    }
    return false;
  }
  // Over the 20 ms frames that carry sound, the mean share of the strongest
  // of `hz`: a cadenced or stepped tone (busy, info) scores as its tones do.
  static double share(const std::vector<std::int16_t>& a, std::initializer_list<double> hz) {
    double sum = 0;
    std::size_t frames = 0;
    for (std::size_t i = 0; i + 160 <= a.size(); i += 160) {
      if (media::loud_samples(std::vector<std::int16_t>(a.begin() + i, a.begin() + i + 160), 8000) == 0) continue;
      double best = 0;
      for (double f : hz) best = std::max(best, media::tone_share(a, 8000, f, i, i + 160));
      sum += best;
      ++frames;
    }
    return frames ? sum / frames : 0;
  }

  static inline std::shared_ptr<plugins::media::Engine> engine_;
  static inline std::shared_ptr<plugins::media::CallVerbs> verbs_;
  // Where call:record_call and recorded pages write (a directory of this process).
  static inline std::filesystem::path recordings_dir_;
  // The engine's sound store (sounds.store: *9's recordings/).
  static inline std::filesystem::path store_dir_;
};

}  // namespace dialtone::testing
