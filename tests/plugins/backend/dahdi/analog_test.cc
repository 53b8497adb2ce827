// Analog ports on simulated spans: span 7 has two FXS ports (phones,
// signalling fxo_ks, context from-phones), span 8 two FXO lines (from the
// exchange, fxs_ks, context from-line). At the far end of each port, test
// equipment plays the phone or the exchange over the port's one socket:
// hook and ring events and commands as control messages, audio as 160-byte
// A-law frames at the port's pace. What a user would notice is asserted:
// the dial tone's 440 Hz, the digits the phone keyed reaching the dialplan,
// the caller ID shown on the rung phone, the digits the line dials heard by
// the exchange, a call ending when the phone or the exchange hangs up.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <spandsp.h>

#include "dahdi_host.h"
#include "plugins/backend/dahdi/dahdi_device.h"
#include "tests/plugins/backend/dahdi/audio_probe.h"

namespace dialtone::testing {
namespace {

using plugins::dahdi::Frame;
using plugins::dahdi::HookCommand;
using plugins::dahdi::kFrameBytes;

// A phone or an exchange at the far end of a simulated analog port: it
// answers each frame the port sends with one of its own (silence, or the
// digits it was asked to key), decodes DTMF and caller ID from what it
// hears, and records the hook commands it receives.
class FarEnd {
 public:
  explicit FarEnd(int fd) : fd_(fd) {
    rx_ = dtmf_rx_init(nullptr, &FarEnd::on_digits, this);
    tx_ = dtmf_tx_init(nullptr);
    cid_ = adsi_rx_init(nullptr, ADSI_STANDARD_CLIP, &FarEnd::on_cid, this);
    thread_ = std::thread([this] { run(); });
  }
  ~FarEnd() {
    running_ = false;
    thread_.join();
    ::close(fd_);
    dtmf_rx_free(rx_);
    dtmf_tx_free(tx_);
    adsi_rx_free(cid_);
  }
  void event(int e) { ASSERT_TRUE(plugins::dahdi::send_event_message(fd_, e)); }
  void key(const std::string& digits) {
    std::lock_guard lock(m_);
    dtmf_tx_put(tx_, digits.c_str(), static_cast<int>(digits.size()));
  }
  bool got_hook(HookCommand c) const {
    std::lock_guard lock(m_);
    return std::find(hooks_.begin(), hooks_.end(), static_cast<int>(c)) != hooks_.end();
  }
  void clear_hooks() {
    std::lock_guard lock(m_);
    hooks_.clear();
  }
  std::string digits() const {
    std::lock_guard lock(m_);
    return digits_;
  }
  std::string caller_id() const {
    std::lock_guard lock(m_);
    return cid_number_;
  }
  ToneProbe probe;  // what the port plays

 private:
  void run() {
    Frame in{};
    while (running_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      long n = ::recv(fd_, in.data(), in.size(), MSG_DONTWAIT);
      if (n <= 0) continue;
      if (int h = plugins::dahdi::hook_message(in.data(), n); h >= 0) {
        std::lock_guard lock(m_);
        hooks_.push_back(h);
        continue;
      }
      if (n != static_cast<long>(kFrameBytes)) continue;
      probe(in);
      std::int16_t pcm[kFrameBytes];
      for (std::size_t i = 0; i < kFrameBytes; ++i) pcm[i] = alaw_to_linear(in[i]);
      Frame out{};
      {
        std::lock_guard lock(m_);
        dtmf_rx(rx_, pcm, static_cast<int>(kFrameBytes));
        adsi_rx(cid_, pcm, static_cast<int>(kFrameBytes));
        std::int16_t mine[kFrameBytes] = {};
        dtmf_tx(tx_, mine, static_cast<int>(kFrameBytes));
        for (std::size_t i = 0; i < kFrameBytes; ++i) out[i] = linear_to_alaw(mine[i]);
      }
      (void)::send(fd_, out.data(), out.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    }
  }
  static void on_digits(void* self, const char* d, int len) { static_cast<FarEnd*>(self)->digits_.append(d, len); }
  static void on_cid(void* self, const std::uint8_t* msg, int len) {
    auto* f = static_cast<FarEnd*>(self);
    std::uint8_t type = 0;
    const std::uint8_t* body = nullptr;
    int body_len = 0;
    for (int pos = -1; (pos = adsi_next_field(f->cid_, msg, len, pos, &type, &body, &body_len)) > 0;)
      if (body && type == CLIP_CALLER_NUMBER) f->cid_number_.assign(reinterpret_cast<const char*>(body), body_len);
  }

  int fd_;
  mutable std::mutex m_;
  dtmf_rx_state_t* rx_;
  dtmf_tx_state_t* tx_;
  adsi_rx_state_t* cid_;
  std::vector<int> hooks_;
  std::string digits_, cid_number_;
  std::atomic<bool> running_{true};
  std::thread thread_;
};

class AnalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    driver_ = host_.start_dahdi({
        {"dahdi.realtime", "false"},
        {"span.7.driver", "simulated"}, {"span.7.signalling", "fxo_ks"}, {"span.7.bchan", "1-2"},
        {"span.7.context", "from-phones"}, {"span.7.group", "7"},
        {"span.8.driver", "simulated"}, {"span.8.signalling", "fxs_ks"}, {"span.8.bchan", "3-4"},
        {"span.8.context", "from-line"}, {"span.8.group", "8"},
    });
  }
  bool logged(const std::string& needle) {
    return eventually([&] {
      for (auto& l : host_.logger().lines())
        if (l.find(needle) != std::string::npos) return true;
      return false;
    });
  }
  bool idle(int span, int chan) {
    return eventually([&] { return driver_->analog_state(span, chan) == "idle"; });
  }

  DahdiTestHost host_;
  std::shared_ptr<plugins::dahdi::DahdiDriver> driver_;
};

TEST_F(AnalogTest, APhoneOffHookHearsTheDialToneAndItsDigitsReachTheDialplan) {
  FarEnd phone(driver_->far_end_port(7, 1));
  phone.event(plugins::dahdi::kEventRingOffHook);
  // Half a second of 440 Hz, loud.
  ASSERT_TRUE(eventually([&] {
    return phone.probe.samples() >= 4000 && phone.probe.amplitude(440, 4000) > 2000;
  })) << "no dial tone: " << phone.probe.amplitude(440, 4000);
  EXPECT_LT(phone.probe.amplitude(1000, 4000), 200);
  phone.key("1234#");
  ASSERT_TRUE(logged("analog call on span 7 channel 1 to '1234' context from-phones origin intern"));
  // The dial tone stopped at the first digit; the dialplan answered.
  EXPECT_TRUE(eventually([&] { return phone.probe.amplitude(440, 1600) < 200; }));
  ASSERT_TRUE(eventually([&] {
    auto chans = host_.calls().channels();
    return chans.size() == 1 && chans[0].state == sdk::ChannelState::up && chans[0].callee_number == "1234";
  }));
  // The phone hangs up: its call ends, the port is ready again.
  phone.event(plugins::dahdi::kEventOnHook);
  EXPECT_TRUE(eventually([&] { return host_.calls().channels().empty(); }));
  EXPECT_TRUE(idle(7, 1));
}

TEST_F(AnalogTest, ARungPhoneShowsTheCallerIdAfterTheFirstRingAndAnswers) {
  FarEnd phone(driver_->far_end_port(7, 2));
  auto d = host_.dial({"dahdi/7/2"}, "0612345678");
  ASSERT_TRUE(eventually([&] { return phone.got_hook(HookCommand::ring); })) << "the phone is not rung";
  phone.event(plugins::dahdi::kEventRingerOff);  // the first ring is over
  ASSERT_TRUE(eventually([&] { return phone.caller_id() == "0612345678"; }))
      << "caller ID shown: '" << phone.caller_id() << "'";
  phone.event(plugins::dahdi::kEventRingOffHook);  // picked up
  auto o = DahdiTestHost::wait_outcome(*d);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->status, "answered");
  ASSERT_TRUE(host_.calls().hangup_channel(d->origin, 16));
  phone.event(plugins::dahdi::kEventOnHook);
  EXPECT_TRUE(idle(7, 2));
}

TEST_F(AnalogTest, ALineRingsTheDialplanAnswersOffHookAndTheExchangesDisconnectEndsIt) {
  FarEnd exchange(driver_->far_end_port(8, 1));
  exchange.event(plugins::dahdi::kEventRingOffHook);  // ring detected
  ASSERT_TRUE(logged("analog call on span 8 channel 1 to '' context from-line origin extern"));
  ASSERT_TRUE(eventually([&] { return exchange.got_hook(HookCommand::offhook); })) << "the line is not answered";
  ASSERT_TRUE(eventually([&] {
    auto chans = host_.calls().channels();
    return chans.size() == 1 && chans[0].state == sdk::ChannelState::up;
  }));
  exchange.event(plugins::dahdi::kEventOnHook);  // the far party hung up: loop current drops
  EXPECT_TRUE(eventually([&] { return host_.calls().channels().empty(); }));
  EXPECT_TRUE(idle(8, 1));
}

TEST_F(AnalogTest, ACallOutOnALineSeizesItAndDialsTheNumberInDtmf) {
  FarEnd exchange(driver_->far_end_port(8, 2));
  auto d = host_.dial({"dahdi/8/4/0140001000"});  // the line on channel 4
  ASSERT_TRUE(eventually([&] { return exchange.got_hook(HookCommand::offhook); })) << "the line is not seized";
  ASSERT_TRUE(eventually([&] { return exchange.digits() == "0140001000"; }))
      << "the exchange heard '" << exchange.digits() << "'";
  auto o = DahdiTestHost::wait_outcome(*d);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->status, "answered") << "up once dialed: an analog line has no answer signal";
  exchange.clear_hooks();
  ASSERT_TRUE(host_.calls().hangup_channel(d->origin, 16));
  EXPECT_TRUE(eventually([&] { return exchange.got_hook(HookCommand::onhook); })) << "the line is not released";
  EXPECT_TRUE(idle(8, 2));
}

TEST(AnalogConfigTest, AnAnalogSpanHasNoPeer) {
  DahdiTestHost host;
  EXPECT_THROW(host.start_dahdi({{"span.7.driver", "simulated"}, {"span.7.signalling", "fxo_ks"},
                                 {"span.7.bchan", "1-2"}, {"span.7.peer", "8"},
                                 {"span.8.driver", "simulated"}, {"span.8.signalling", "fxs_ks"},
                                 {"span.8.bchan", "3-4"}, {"span.8.peer", "7"}}),
               std::runtime_error);
}

}  // namespace
}  // namespace dialtone::testing
