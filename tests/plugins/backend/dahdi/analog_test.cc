// Analog ports on simulated spans: span 7 has two FXS ports (phones,
// signalling fxo_ks, context from-phones), span 8 two FXO lines (from the
// exchange, fxs_ks, context from-line). At the far end of each port, test
// equipment plays the phone or the exchange over the port's one socket:
// hook and ring events and commands as control messages, audio as 160-byte
// A-law frames at the port's pace. What a user would notice is asserted:
// the dial tone's 440 Hz, the digits the phone keyed reaching the dialplan,
// the caller ID shown on the rung phone, the digits the line dials heard by
// the exchange, a call ending when the phone or the exchange hangs up; the
// caller ID a line sends (V.23 after the first ring, Bell 202 after a
// polarity reversal) reaching the dialplan, answer and disconnect by
// polarity reversal, a rotary phone's pulses as digits, a hook flash that
// transfers the other party.
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
#include "tests/plugins/backend/dahdi/far_end.h"

namespace dialtone::testing {
namespace {

using plugins::dahdi::Frame;
using plugins::dahdi::HookCommand;
using plugins::dahdi::kFrameBytes;

class AnalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    driver_ = host_.start_dahdi({
        {"dahdi.realtime", "false"},
        {"span.7.driver", "simulated"}, {"span.7.signalling", "fxo_ks"}, {"span.7.bchan", "1-2"},
        {"span.7.context", "from-phones"}, {"span.7.group", "7"},
        {"span.8.driver", "simulated"}, {"span.8.signalling", "fxs_ks"}, {"span.8.bchan", "3-4"},
        {"span.8.context", "from-line"}, {"span.8.group", "8"},
        // North American lines: Bell 202 caller ID after a polarity
        // reversal, answer and disconnect supervision by polarity.
        {"span.9.driver", "simulated"}, {"span.9.signalling", "fxs_ks"}, {"span.9.bchan", "5-6"},
        {"span.9.context", "from-line"}, {"span.9.cidsignalling", "bell"}, {"span.9.cidstart", "polarity"},
        {"span.9.answeronpolarityswitch", "yes"}, {"span.9.hanguponpolarityswitch", "yes"},
        {"dahdi.overlap_timeout", "1s"},
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
  // No caller ID between the first ring and the second: the call comes with the second.
  ASSERT_TRUE(eventually([&] { return driver_->analog_state(8, 1) == "cid_wait"; }));
  exchange.event(plugins::dahdi::kEventRingOffHook);
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

TEST_F(AnalogTest, ALinesV23CallerIdAfterTheFirstRingReachesTheDialplan) {
  FarEnd exchange(driver_->far_end_port(8, 1));
  exchange.event(plugins::dahdi::kEventRingOffHook);  // the first ring
  ASSERT_TRUE(eventually([&] { return driver_->analog_state(8, 1) == "cid_wait"; }));
  exchange.send_caller_id("0140001234", "DUPONT JEAN", false);
  ASSERT_TRUE(logged("analog call on span 8 channel 1 to '' context from-line origin extern from '0140001234' "
                     "'DUPONT JEAN'"));
  ASSERT_TRUE(eventually([&] { return exchange.got_hook(HookCommand::offhook); })) << "the line is not answered";
  exchange.event(plugins::dahdi::kEventOnHook);
  EXPECT_TRUE(eventually([&] { return host_.calls().channels().empty(); }));
  EXPECT_TRUE(idle(8, 1));
}

TEST_F(AnalogTest, ALinesBellCallerIdAfterAPolarityReversalComesWithTheFirstRing) {
  FarEnd exchange(driver_->far_end_port(9, 1));
  exchange.event(plugins::dahdi::kEventPolarity);  // cidstart = polarity: before any ring
  ASSERT_TRUE(eventually([&] { return driver_->analog_state(9, 1) == "cid_wait"; }));
  exchange.send_caller_id("5145551234", "TREMBLAY", true);
  ASSERT_TRUE(eventually([&] { return exchange.caller_id_sent(); }));
  exchange.event(plugins::dahdi::kEventRingOffHook);  // then the ring: the call, with its caller ID
  ASSERT_TRUE(logged("analog call on span 9 channel 1 to '' context from-line origin extern from '5145551234' "
                     "'TREMBLAY'"));
  // Answered: a reversal now is the far party hanging up (hanguponpolarityswitch).
  ASSERT_TRUE(eventually([&] { return driver_->analog_state(9, 1) == "up"; }));
  exchange.clear_hooks();
  exchange.event(plugins::dahdi::kEventPolarity);
  EXPECT_TRUE(eventually([&] { return exchange.got_hook(HookCommand::onhook); })) << "the line is not released";
  EXPECT_TRUE(eventually([&] { return host_.calls().channels().empty(); }));
  EXPECT_TRUE(idle(9, 1));
}

TEST_F(AnalogTest, ACallOutOnALineIsAnsweredByThePolarityReversal) {
  FarEnd exchange(driver_->far_end_port(9, 2));
  auto d = host_.dial({"dahdi/9/6/0140001000"});
  ASSERT_TRUE(eventually([&] { return exchange.digits() == "0140001000"; }));
  // Dialed, not answered: the far party's phone rings.
  ASSERT_TRUE(eventually([&] { return driver_->analog_state(9, 2) == "dialed"; }));
  ASSERT_TRUE(host_.calls().channel(d->origin));
  {
    std::lock_guard lock(d->m);
    EXPECT_FALSE(d->outcome.has_value()) << "answered before the far party did";
  }
  exchange.event(plugins::dahdi::kEventPolarity);  // answer supervision
  auto o = DahdiTestHost::wait_outcome(*d);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->status, "answered");
  exchange.clear_hooks();
  exchange.event(plugins::dahdi::kEventPolarity);  // back: the far party hung up
  EXPECT_TRUE(eventually([&] { return exchange.got_hook(HookCommand::onhook); }));
  EXPECT_TRUE(idle(9, 2));
}

TEST_F(AnalogTest, ARotaryPhonesPulsesAreDialledDigits) {
  FarEnd phone(driver_->far_end_port(7, 1));
  phone.line(true, 0);  // off-hook
  ASSERT_TRUE(eventually([&] { return driver_->analog_state(7, 1) == "dialtone"; }));
  phone.pulses("305", 1000);
  ASSERT_TRUE(logged("analog call on span 7 channel 1 to '305' context from-phones origin intern"));
  phone.line(false, 10000);  // hung up: on-hook longer than a flash
  EXPECT_TRUE(eventually([&] { return host_.calls().channels().empty(); }));
  EXPECT_TRUE(idle(7, 1));
}

TEST_F(AnalogTest, AHookFlashHoldsTheOtherPartyAndTransfersItToTheNumberDialled) {
  FarEnd phone(driver_->far_end_port(7, 2));
  auto d = host_.dial({"dahdi/7/2"}, "0612345678");
  ASSERT_TRUE(eventually([&] { return phone.got_hook(HookCommand::ring); }));
  phone.line(true, 0);  // picked up
  auto o = DahdiTestHost::wait_outcome(*d);
  ASSERT_TRUE(o);
  ASSERT_EQ(o->status, "answered");
  // A flash: 500 ms on-hook, longer than a pulse, shorter than a hang-up.
  phone.line(false, 5000);
  phone.line(true, 5500);
  ASSERT_TRUE(eventually([&] { return driver_->analog_state(7, 2) == "dialtone"; }));
  ASSERT_TRUE(eventually([&] { return phone.probe.samples() >= 4000 && phone.probe.amplitude(440, 4000) > 2000; }))
      << "no dial tone after the flash";
  phone.key("2001#");
  ASSERT_TRUE(logged("hook flash transfer of the other party to 2001@from-phones"));
  // The caller is in the dialplan at 2001 (a local leg from it), the phone left alone.
  ASSERT_TRUE(logged("to '2001' context from-phones"));
  EXPECT_TRUE(eventually([&] { return driver_->analog_state(7, 2) == "lockout"; }));
  phone.line(false, 60000);
  EXPECT_TRUE(idle(7, 2));
  (void)host_.calls().hangup_channel(d->origin, 16);
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
