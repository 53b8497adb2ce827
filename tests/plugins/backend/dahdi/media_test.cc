// B-channel audio through the media engine (the engine as media.engine
// runs it): a "phone" (an RTP peer with its own endpoint) is mixed with an
// outgoing call on span 1; the "operator" on span 2 answers and plays a
// tone, which reaches the phone. DTMF crosses the B-channel in band, both
// ways.
#include <gtest/gtest.h>

#include <deque>

#include <spandsp.h>

#include "dahdi_host.h"
#include "plugins/media/engine/engine.h"
#include "tests/plugins/media/engine/rtp_peer.h"
#include "tests/support/udp_ports.h"

namespace dialtone::testing {
namespace {

namespace sm = sdk::media;
using testing::media::RtpPeer;
using testing::media::tone_share;

std::map<std::string, std::string> two_spans() {
  return {
      {"span.1.driver", "simulated"}, {"span.1.peer", "2"}, {"span.1.bchan", "1-15,17-31"},
      {"span.1.dchan", "16"}, {"span.1.signalling", "pri_cpe"}, {"span.1.context", "from-pabx"},
      {"span.2.driver", "simulated"}, {"span.2.peer", "1"}, {"span.2.bchan", "32-46,48-62"},
      {"span.2.dchan", "47"}, {"span.2.signalling", "pri_net"}, {"span.2.context", "from-extern"},
  };
}

class Digits {
 public:
  sm::EventHandler handler() {
    return [this](const sm::MediaEvent& e) {
      if (e.type != sm::EventType::dtmf) return;
      std::lock_guard lock(m_);
      digits_ += e.digit;
      inband_ = inband_ && e.dtmf_source == sm::DtmfSource::inband;
    };
  }
  std::string digits() const {
    std::lock_guard lock(m_);
    return digits_;
  }
  bool inband() const {
    std::lock_guard lock(m_);
    return inband_;
  }

 private:
  mutable std::mutex m_;
  std::string digits_;
  bool inband_ = true;
};

class DahdiMediaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    plugins::media::EngineConfig cfg;
    cfg.realtime = false;
    cfg.port_min = kTestEnginePortMin;
    cfg.port_max = kTestEnginePortMax;
    engine_ = std::make_shared<plugins::media::Engine>(cfg, host_.logger());
    ASSERT_TRUE(engine_->start());
    ASSERT_TRUE(host_.services().provide<sm::MediaEngine>("default", engine_));
    driver_ = host_.start_dahdi(two_spans());
    ASSERT_TRUE(eventually([&] {
      auto s = driver_->spans();
      return s.size() == 2 && s[0].dchan_up && s[1].dchan_up;
    }));
    auto d = host_.dial({"dahdi/1/140001000"});  // span 2's dialplan answers
    auto o = DahdiTestHost::wait_outcome(*d);
    ASSERT_TRUE(o);
    ASSERT_EQ(o->status, "answered");
    origin_ = d->origin;
    near_ = o->channel;
    ASSERT_TRUE(eventually([&] {
      for (auto& c : host_.calls().channels())
        if (c.backend == "dahdi" && c.direction == sdk::ChannelDirection::inbound) far_ = c.id;
      return !far_.empty() && driver_->media_endpoint(far_) && driver_->media_endpoint(near_);
    })) << "both ends of the call have their media in the engine";
  }
  void TearDown() override {
    (void)host_.calls().hangup_channel(origin_, 16);
    eventually([&] { return !host_.calls().channel(far_); });
    driver_->stop();
    engine_->stop();
  }

  DahdiTestHost host_;
  std::shared_ptr<plugins::media::Engine> engine_;
  std::shared_ptr<plugins::dahdi::DahdiDriver> driver_;
  std::string origin_, near_, far_;
};

TEST_F(DahdiMediaTest, TheOperatorsToneReachesAPhoneMixedWithTheCall) {
  RtpPeer phone(sm::Codec::pcma, 8);
  sm::EndpointConfig cfg;
  cfg.formats = {{sm::Codec::pcma, 8}};
  cfg.remote = phone.address();
  auto phone_ep = engine_->create_endpoint(cfg);
  ASSERT_TRUE(phone_ep);
  phone.set_remote((*phone_ep)->local_port());
  auto mixer = engine_->create_mixer();
  mixer->add(*phone_ep);
  mixer->add(driver_->media_endpoint(near_));

  // The operator (span 2) answers with France's 440 Hz dial tone.
  driver_->media_endpoint(far_)->play_tone("dial");
  ASSERT_TRUE(eventually([&] { return phone.audio_size() >= 8000 * 2; }, std::chrono::seconds(20)));
  auto audio = phone.audio();
  auto from = audio.size() - 8000;  // the last second
  // Most of the energy at 440 Hz (a gap of a frame under load costs a
  // little); nothing at another frequency.
  EXPECT_GT(tone_share(audio, 8000, 440, from), 0.6) << "440 Hz reaches the phone through span 1; 1000 Hz share "
                                                     << tone_share(audio, 8000, 1000, from) << ", energy "
                                                     << testing::media::energy(audio, from) << ", underruns "
                                                     << driver_->media_stats(far_)->underruns << "/"
                                                     << driver_->media_stats(far_)->from_engine << ", dropped "
                                                     << driver_->media_stats(far_)->dropped;
  EXPECT_GT(testing::media::energy(audio, from), 1e5);
  EXPECT_LT(tone_share(audio, 8000, 1000, from), 0.05);

  auto st = driver_->media_stats(near_);
  ASSERT_TRUE(st);
  EXPECT_GT(st->to_engine, 50u);
  EXPECT_GT(st->from_engine, 50u);
}

TEST_F(DahdiMediaTest, DtmfCrossesTheBChannelInBandBothWays) {
  Digits at_far, at_near;
  driver_->media_endpoint(far_)->set_handler(at_far.handler());
  driver_->media_endpoint(near_)->set_handler(at_near.handler());
  sdk::Channel near_ch;
  near_ch.id = near_;
  ASSERT_TRUE(driver_->send_dtmf(near_ch, "159#"));
  ASSERT_TRUE(eventually([&] { return at_far.digits().size() >= 4; }, std::chrono::seconds(20))) << at_far.digits();
  EXPECT_EQ(at_far.digits(), "159#");
  EXPECT_TRUE(at_far.inband());
  sdk::Channel far_ch;
  far_ch.id = far_;
  ASSERT_TRUE(driver_->send_dtmf(far_ch, "*07"));
  ASSERT_TRUE(eventually([&] { return at_near.digits().size() >= 3; }, std::chrono::seconds(20))) << at_near.digits();
  EXPECT_EQ(at_near.digits(), "*07");
}

}  // namespace
}  // namespace dialtone::testing

namespace dialtone::testing {
namespace {

// Two pairs of spans: span 1 cancels echo, span 3 does not. On each call
// the far end (span 2, span 4) sends back what it hears 6 dB down (a
// line's hybrid), and the near end plays a tone mixed with a phone: the
// phone of span 1 hears the echo much weaker than the phone of span 3.
TEST(DahdiEchoTest, TheEchoCancellerTakesTheLinesEchoAwayFromThePhone) {
  DahdiTestHost host;
  plugins::media::EngineConfig cfg;
  cfg.realtime = false;
  cfg.port_min = kTestEnginePortMin;
  cfg.port_max = kTestEnginePortMax;
  auto engine = std::make_shared<plugins::media::Engine>(cfg, host.logger());
  ASSERT_TRUE(engine->start());
  ASSERT_TRUE(host.services().provide<sm::MediaEngine>("default", engine));
  std::map<std::string, std::string> o;
  for (int n = 1; n <= 4; ++n) {
    std::string s = "span." + std::to_string(n) + ".";
    int base = (n - 1) * 31;
    o[s + "driver"] = "simulated";
    o[s + "peer"] = std::to_string(n % 2 ? n + 1 : n - 1);
    o[s + "bchan"] = std::to_string(base + 1) + "-" + std::to_string(base + 15) + "," +
                     std::to_string(base + 17) + "-" + std::to_string(base + 31);
    o[s + "dchan"] = std::to_string(base + 16);
    o[s + "signalling"] = n % 2 ? "pri_cpe" : "pri_net";
    o[s + "context"] = "from-extern";
  }
  o["span.1.echocancel"] = "yes";
  auto driver = host.start_dahdi(o);
  ASSERT_TRUE(eventually([&] {
    for (auto& s : driver->spans())
      if (!s.dchan_up) return false;
    return true;
  }));
  struct Leg {
    std::string origin, near, far;
    std::unique_ptr<RtpPeer> phone;
    std::shared_ptr<sm::Mixer> mixer;
  };
  std::vector<Leg> legs;
  for (int span : {1, 3}) {
    Leg l;
    auto d = host.dial({"dahdi/" + std::to_string(span) + "/140001000"});
    auto out = DahdiTestHost::wait_outcome(*d);
    ASSERT_TRUE(out && out->status == "answered");
    l.origin = d->origin;
    l.near = out->channel;
    ASSERT_TRUE(eventually([&] {
      for (auto& c : host.calls().channels())
        if (c.backend == "dahdi" && c.direction == sdk::ChannelDirection::inbound &&
            c.endpoint.rfind(std::to_string(span + 1) + "/", 0) == 0)
          l.far = c.id;
      return !l.far.empty() && driver->media_endpoint(l.near) && driver->media_endpoint(l.far);
    }));
    // The far end: an echo of what it hears, 6 dB down, nothing else.
    auto echo = std::make_shared<std::deque<plugins::dahdi::Frame>>();
    auto far_key = driver->b_channel(l.far);
    ASSERT_TRUE(far_key);
    driver->connect_audio(*far_key, plugins::dahdi::AudioPort{
                                        [echo](plugins::dahdi::Frame& f) {
                                          if (echo->empty()) return f.fill(0xd5);
                                          for (std::size_t i = 0; i < f.size(); ++i)
                                            f[i] = linear_to_alaw(alaw_to_linear((*echo)[0][i]) / 2);
                                          echo->pop_front();
                                        },
                                        [echo](const plugins::dahdi::Frame& f) {
                                          echo->push_back(f);
                                          if (echo->size() > 3) echo->pop_front();
                                        }});
    l.phone = std::make_unique<RtpPeer>(sm::Codec::pcma, 8);
    sm::EndpointConfig pc;
    pc.formats = {{sm::Codec::pcma, 8}};
    pc.remote = l.phone->address();
    auto pep = engine->create_endpoint(pc);
    ASSERT_TRUE(pep);
    l.phone->set_remote((*pep)->local_port());
    l.mixer = engine->create_mixer();
    l.mixer->add(*pep);
    l.mixer->add(driver->media_endpoint(l.near));
    // What the phone's caller hears on the line is the far party; what
    // the near end plays toward the line is this tone.
    driver->media_endpoint(l.near)->play_tone("dial");
    legs.push_back(std::move(l));
  }
  // Three seconds for the canceller to adapt, then one second measured.
  for (auto& l : legs)
    ASSERT_TRUE(eventually([&] { return l.phone->audio_size() >= 8000 * 4; }, std::chrono::seconds(20)));
  auto last_second = [](const RtpPeer& p) {
    auto a = p.audio();
    return testing::media::energy(a, a.size() - 8000);
  };
  double with_ec = last_second(*legs[0].phone), without_ec = last_second(*legs[1].phone);
  std::printf("echo energy at the phone over 1 s: %.0f with the canceller, %.0f without (%.1f dB less)\n", with_ec,
              without_ec, 10 * std::log10(without_ec / std::max(with_ec, 1.0)));
  EXPECT_GT(without_ec, 1e5) << "the echo reaches the phone of the span without a canceller";
  EXPECT_LT(with_ec, without_ec / 10) << "at least 10 dB less echo: " << with_ec << " vs " << without_ec;
  for (auto& l : legs) (void)host.calls().hangup_channel(l.origin, 16);
  eventually([&] {
    for (auto& c : host.calls().channels())
      if (c.backend == "dahdi") return false;
    return true;
  });
  driver->stop();
  engine->stop();
}

}  // namespace
}  // namespace dialtone::testing
