// backend.sip and the kernel's call core: each leg the stack reports becomes
// a channel of backend "sip"; hang-ups asked through the core come back to
// the stack through SipChannelDriver. Without a core (tests that provide
// none) legs are simply not tracked.
#include <dialtone/services.h>

#include "plugins/backend/sip/sip_plugin.h"

namespace dialtone::plugins::backend::sip {

// Posts the hang-up to the SIP thread; detached when the plugin stops.
class SipChannelDriver final : public sdk::ChannelDriver {
 public:
  SipChannelDriver(std::mutex& stack_mutex, std::unique_ptr<SipStack>& stack)
      : stack_mutex_(&stack_mutex), stack_(&stack) {}

  sdk::Status hangup(const sdk::Channel& channel, int cause) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!stack_mutex_) return sdk::Error::unavailable("sip: the SIP stack is stopped");
    std::lock_guard<std::mutex> stack_lock(*stack_mutex_);
    if (!*stack_) return sdk::Error::unavailable("sip: the SIP stack is stopped");
    (*stack_)->hangup(channel.backend_ref, cause, channel.id);
    return {};
  }
  void detach() {
    std::lock_guard<std::mutex> lock(mutex_);
    stack_mutex_ = nullptr;
    stack_ = nullptr;
  }

 private:
  std::mutex mutex_;
  std::mutex* stack_mutex_;
  std::unique_ptr<SipStack>* stack_;
};

void SipPlugin::attach_call_core() {
  calls_ = host_.services().find<sdk::CallCore>();
  if (!calls_) return;
  channel_driver_ = std::make_shared<SipChannelDriver>(stack_mutex_, stack_);
  if (auto s = calls_->register_driver("sip", channel_driver_); !s) {
    host_.log().warn("sip: calls cannot be hung up through the call core: " + s.error().message);
    channel_driver_.reset();
  }
}

void SipPlugin::detach_call_core() {
  if (channel_driver_) {
    channel_driver_->detach();
    // Also ends the channels of calls the stopped stack did not release.
    if (calls_) calls_->unregister_driver("sip");
  }
  channel_driver_.reset();
  calls_.reset();
}

std::string SipPlugin::leg_created(const LegInfo& leg) {
  if (!calls_) return {};
  sdk::ChannelSpec spec;
  spec.backend = "sip";
  spec.endpoint = leg.endpoint;
  spec.direction = leg.inbound ? sdk::ChannelDirection::inbound : sdk::ChannelDirection::outbound;
  spec.call_id = leg.a_leg;
  spec.caller_number = leg.caller_number;
  spec.caller_name = leg.caller_name;
  spec.callee_number = leg.callee_number;
  spec.protocol_id = leg.sip_call_id;
  spec.backend_ref = leg.call_id;
  auto id = calls_->create_channel(std::move(spec));
  return id ? std::move(*id) : std::string();
}

void SipPlugin::leg_event(const std::string& leg_id, LegState state, int status, const std::string& peer) {
  if (!calls_ || leg_id.empty()) return;
  switch (state) {
    case LegState::ringing:
      (void)calls_->set_state(leg_id, sdk::ChannelState::ringing);
      break;
    case LegState::up:
      // Linked first, so that the `up` event already names the peer.
      if (!peer.empty()) (void)calls_->link(leg_id, peer);
      (void)calls_->set_state(leg_id, sdk::ChannelState::up);
      break;
    case LegState::ended:
      (void)calls_->end_channel(leg_id, status);
      break;
  }
}

}  // namespace dialtone::plugins::backend::sip
