// A channel driver for tests: backend "test" legs that answer, are busy,
// ring until told, or refuse, so a dialplan (or a plugin using the call
// core) is tested without SIP.
//
// @code
//   auto driver = std::make_shared<dialtone::testing::TestChannelDriver>(core);
//   ASSERT_TRUE(core->register_driver("test", driver));
//   driver->script("bob", dialtone::testing::TestChannelDriver::Behaviour::answer);
//   driver->script("carol", dialtone::testing::TestChannelDriver::Behaviour::busy);
//   auto alice = driver->call_in("alice", "1000");   // an inbound leg: its channel id
//   // ... run the dialplan with { channel = alice, ... }: call:dial{ "test/bob" } answers
//   EXPECT_TRUE(driver->answer_leg("dave"));          // a ringing leg answers now
//   EXPECT_EQ(driver->cancelled("carol"), 1u);         // the core cancelled it
// @endcode
//
// Thread-safe; every reaction happens inside the driver call (or the test's
// own call), so a test needs no waits beyond the dialplan's own.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <dialtone/calls.h>

namespace dialtone::testing {

class TestChannelDriver final : public sdk::ChannelDriver {
 public:
  enum class Behaviour {
    ring,     // rings until answer_leg(), a cancel or the dial's timeout (the default)
    answer,   // rings, then answers at once
    busy,     // ends with 17 (user busy)
    refuse,   // ends with 21 (call rejected)
    congestion,  // ends with 42 (switching equipment congestion)
  };
  struct Leg {
    std::string channel_id;
    std::string target;
    std::string dial_id;
    std::string caller_name;  // the caller ID name presented to the leg
    int timeout_seconds = 0;  // the dial's ring time
    bool cancelled = false;
  };

  explicit TestChannelDriver(std::shared_ptr<sdk::CallCore> core, std::string backend = "test")
      : core_(std::move(core)), backend_(std::move(backend)) {}

  // How legs to `target` ("bob" of "test/bob") behave from now on.
  void script(const std::string& target, Behaviour b) {
    std::lock_guard<std::mutex> lock(mutex_);
    behaviours_[target] = b;
  }

  // A new inbound leg (a caller) of a new call: its channel id.
  std::string call_in(const std::string& caller, const std::string& callee) {
    sdk::ChannelSpec spec;
    spec.backend = backend_;
    spec.endpoint = caller;
    spec.caller_number = caller;
    spec.callee_number = callee;
    auto id = core_->create_channel(std::move(spec));
    return id ? *id : std::string();
  }

  sdk::Status originate(const sdk::OriginateRequest& req) override {
    for (auto& l : req.legs) {
      Behaviour b;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        legs_.push_back(Leg{l.channel_id, l.target, req.dial_id, req.caller_name, req.timeout_seconds});
        auto it = behaviours_.find(l.target);
        b = it == behaviours_.end() ? Behaviour::ring : it->second;
      }
      switch (b) {
        case Behaviour::busy: (void)core_->end_channel_q850(l.channel_id, sdk::q850::user_busy); break;
        case Behaviour::refuse: (void)core_->end_channel_q850(l.channel_id, sdk::q850::call_rejected); break;
        case Behaviour::congestion:
          (void)core_->end_channel_q850(l.channel_id, sdk::q850::switching_equipment_congestion);
          break;
        case Behaviour::answer:
          (void)core_->set_state(l.channel_id, sdk::ChannelState::ringing);
          (void)core_->set_state(l.channel_id, sdk::ChannelState::up);
          break;
        case Behaviour::ring: (void)core_->set_state(l.channel_id, sdk::ChannelState::ringing); break;
      }
    }
    return {};
  }

  // The latest leg to `target` still ringing answers; false when none rings.
  bool answer_leg(const std::string& target) {
    std::string id = latest(target);
    return !id.empty() && core_->set_state(id, sdk::ChannelState::up).ok();
  }

  sdk::Status cancel(const sdk::Channel& channel, int q850_cause) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto& l : legs_)
        if (l.channel_id == channel.id) l.cancelled = true;
    }
    return core_->end_channel_q850(channel.id, q850_cause ? q850_cause : sdk::q850::normal_clearing);
  }
  sdk::Status answer(const sdk::Channel& channel) override {
    return core_->set_state(channel.id, sdk::ChannelState::up);
  }
  sdk::Status bridge(const sdk::Channel&, const sdk::Channel&, sdk::MediaPath) override { return {}; }
  sdk::Status hold(const sdk::Channel&) override { return {}; }
  sdk::Status unhold(const sdk::Channel&) override { return {}; }
  sdk::Status send_dtmf(const sdk::Channel& channel, const std::string& digits) override {
    std::lock_guard<std::mutex> lock(mutex_);
    dtmf_[channel.id] += digits;
    return {};
  }
  sdk::Status hangup(const sdk::Channel& channel, int q850_cause) override {
    return core_->end_channel_q850(channel.id, q850_cause ? q850_cause : sdk::q850::normal_clearing);
  }
  sdk::Status unbridge(const sdk::Channel&) override { return {}; }
  // carries_transfers(true): the driver bridges its own legs (media_path
  // relayed, replace() swaps newcomers in). A transfer handed back to it
  // through carry_transfer (which the core no longer does) is counted, so a
  // test can prove none is.
  void carries_transfers(bool yes) {
    std::lock_guard<std::mutex> lock(mutex_);
    carries_ = yes;
  }
  sdk::Status carry_transfer(const sdk::TransferReport& report) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++carried_;
      if (!carries_) return sdk::Error::unsupported("the test driver leaves transfers to the core");
    }
    return core_->transfer_done(report.request);
  }
  std::size_t transfers_carried() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return carried_;
  }
  // With carries_transfers(true) the driver bridges its legs itself (as
  // SIP's relay): the core swaps newcomers in through replace().
  sdk::MediaPath media_path(const sdk::Channel&) override {
    std::lock_guard<std::mutex> lock(mutex_);
    return carries_ ? sdk::MediaPath::relayed : sdk::MediaPath::engine;
  }
  // A newcomer in a replaced leg's place: linked with the replaced leg's
  // peer; in an application (no peer) its party carries on in `replaced`
  // and its own channel ends. Counted.
  void replace(const sdk::Channel& newcomer, const sdk::Channel& replaced,
               std::function<void(sdk::Status)> done) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++replacements_;
    }
    if (!replaced.peer.empty()) {
      (void)core_->link(newcomer.id, replaced.peer);
      (void)core_->set_state(newcomer.id, sdk::ChannelState::up);
    } else {
      (void)core_->end_channel_q850(newcomer.id, sdk::q850::normal_clearing);
    }
    done({});
  }
  std::size_t replacements() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return replacements_;
  }

  // Every leg originated so far, in order.
  std::vector<Leg> legs() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return legs_;
  }
  // How many legs to `target` were originated / cancelled by the core.
  std::size_t rung(const std::string& target) const { return count(target, false); }
  std::size_t cancelled(const std::string& target) const { return count(target, true); }
  std::string dtmf(const std::string& channel_id) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = dtmf_.find(channel_id);
    return it == dtmf_.end() ? std::string() : it->second;
  }

 private:
  std::string latest(const std::string& target) const {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = legs_.rbegin(); it != legs_.rend(); ++it)
      if (it->target == target && !it->cancelled) return it->channel_id;
    return {};
  }
  std::size_t count(const std::string& target, bool cancelled_only) const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::size_t n = 0;
    for (auto& l : legs_)
      if (l.target == target && (!cancelled_only || l.cancelled)) ++n;
    return n;
  }

  std::shared_ptr<sdk::CallCore> core_;
  std::string backend_;
  mutable std::mutex mutex_;
  std::map<std::string, Behaviour> behaviours_;
  std::vector<Leg> legs_;
  std::map<std::string, std::string> dtmf_;
  bool carries_ = false;
  std::size_t carried_ = 0;
  std::size_t replacements_ = 0;
};

}  // namespace dialtone::testing
