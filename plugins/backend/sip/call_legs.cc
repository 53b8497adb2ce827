// backend.sip as a channel driver of the kernel's call core: each leg the
// stack reports becomes a channel of backend "sip"; what the core asks
// (originate = INVITE the targets, cancel, hang up) comes back to the stack
// through SipChannelDriver. Without a core (tests that provide none) legs
// are simply not tracked and the dialplan cannot dial.
#include <dialtone/services.h>

#include "plugins/backend/sip/sip_channel_driver.h"
#include "plugins/backend/sip/sip_plugin.h"

namespace dialtone::plugins::backend::sip {

// INVITEs to the targets (line usernames, or sip: URIs of trunks) from the
// call's SIP caller, whose offer they carry: the B2BUA rings them as
// branches of that call. Legs the stack could not ring end with its status.
sdk::Status SipChannelDriver::originate(const sdk::OriginateRequest& req) {
  if (req.media_origin.backend != "sip" || req.media_origin.backend_ref.empty())
    return sdk::Error::unsupported("sip: only a call from a SIP phone or trunk can ring SIP targets "
                                   "(calls started elsewhere need the media engine)");
  DialRequest d;
  for (auto& leg : req.legs) {
    d.targets.push_back(leg.target);
    d.target_channels.push_back(leg.channel_id);
  }
  d.timeout_seconds = req.timeout_seconds;
  d.caller_number = req.caller_number;
  d.caller_name = req.caller_name;
  d.anonymous = req.anonymous;
  auto core = core_;
  auto legs = d.target_channels;
  std::string origin = req.origin.id;
  return with_stack([&](SipStack& stack) {
    stack.dial(req.media_origin.backend_ref, std::move(d), [core, legs, origin](DialResult r) {
      if (r.status == "answered") return;
      // The trunk's failover_codes: call:dial returns it as outcome.failover.
      if (r.failover) (void)core->set_variable(origin, "DIAL_FAILOVER", *r.failover ? "yes" : "no");
      // Legs the stack still holds end with its outcome (not_found: ended).
      int code = r.code >= 400 ? r.code : r.status == "busy" ? 486 : r.status == "noanswer" ? 408 : 487;
      for (auto& leg : legs) (void)core->end_channel(leg, code);
    });
    return sdk::Status{};
  });
}

sdk::Status SipChannelDriver::cancel(const sdk::Channel& channel, int) {
  return with_stack([&](SipStack& stack) {
    stack.cancel_leg(channel.id);
    return sdk::Status{};
  });
}

sdk::Status SipChannelDriver::hangup(const sdk::Channel& channel, int q850_cause) {
  return with_stack([&](SipStack& stack) {
    stack.hangup(channel.backend_ref, q850_cause ? sdk::sip_from_q850(q850_cause) : 0, channel.id);
    return sdk::Status{};
  });
}

void SipChannelDriver::detach() {
  std::lock_guard<std::mutex> lock(mutex_);
  stack_mutex_ = nullptr;
  stack_ = nullptr;
}

sdk::Status SipChannelDriver::with_stack(const std::function<sdk::Status(SipStack&)>& f) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!stack_mutex_) return sdk::Error::unavailable("sip: the SIP stack is stopped");
  std::lock_guard<std::mutex> stack_lock(*stack_mutex_);
  if (!*stack_) return sdk::Error::unavailable("sip: the SIP stack is stopped");
  return f(**stack_);
}

void SipPlugin::attach_call_core() {
  calls_ = host_.services().find<sdk::CallCore>();
  if (!calls_) return;
  sdk::Host* host = &host_;
  channel_driver_ = std::make_shared<SipChannelDriver>(stack_mutex_, stack_, calls_, [host] {
    return host->services().find<sdk::media::MediaEngine>();
  });
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

void SipPlugin::leg_ids(const std::string& leg_id, const std::string& call_id, const std::string& local_tag,
                        const std::string& remote_tag) {
  if (calls_ && !leg_id.empty()) (void)calls_->set_protocol_ids(leg_id, call_id, local_tag, remote_tag);
}

void SipPlugin::leg_transferred(const std::string& leg_id, bool attended, const std::string& exten,
                                const std::string& target_leg) {
  if (!calls_ || leg_id.empty()) return;
  sdk::TransferRequest done;
  done.kind = attended ? sdk::TransferRequest::Kind::attended : sdk::TransferRequest::Kind::blind;
  done.channel_id = leg_id;
  done.exten = exten;
  done.target_channel = target_leg;
  (void)calls_->transfer_done(done);
}

void SipPlugin::leg_dtmf(const std::string& leg_id, char digit) {
  if (calls_ && !leg_id.empty()) (void)calls_->dtmf_received(leg_id, digit, "info");
}

void SipPlugin::leg_held(const std::string& leg_id, bool held) {
  if (calls_ && !leg_id.empty()) (void)calls_->set_held(leg_id, held);
}

}  // namespace dialtone::plugins::backend::sip
