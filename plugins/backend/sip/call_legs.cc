// backend.sip as a channel driver of the kernel's call core: each leg the
// stack reports becomes a channel of backend "sip"; what the core asks
// (originate = INVITE the targets, cancel, hang up) comes back to the stack
// through SipChannelDriver. Without a core (tests that provide none) legs
// are simply not tracked and the dialplan cannot dial.
#include <algorithm>

#include <dialtone/bus.h>
#include <dialtone/services.h>

#include "plugins/backend/sip/auto_answer.h"
#include "plugins/backend/sip/sip_channel_driver.h"
#include "plugins/backend/sip/sip_plugin.h"

namespace dialtone::plugins::backend::sip {
namespace {

// The dialing channel asked its legs to answer on their own (paging).
bool wants_auto_answer(const sdk::OriginateRequest& req) {
  auto it = req.variables.find(std::string(kAutoAnswerVariable));
  return it != req.variables.end() && auto_answer_requested(it->second);
}

}  // namespace

// INVITEs to the targets (line usernames, or sip: URIs of trunks) from the
// call's SIP caller, whose offer they carry: the B2BUA rings them as
// branches of that call. Legs the stack could not ring end with its status.
sdk::Status SipChannelDriver::originate(const sdk::OriginateRequest& req) {
  // The call core's blind transfer between two relayed legs: each leg routes
  // the transferee through the dialplan (core_transfer.cc).
  if (!req.transfer_of.empty())
    return with_stack([&](SipStack& stack) {
      for (auto& leg : req.legs) stack.route_transfer(req.origin.backend_ref, req.origin.id, leg.channel_id, leg.target);
      return sdk::Status{};
    });
  auto engine = engine_ ? engine_() : nullptr;
  auto origin_media = engine && !req.media_origin.id.empty() ? engine->channel_endpoint(req.media_origin.id) : nullptr;
  // A SIP caller still being routed has its offer relayed to the callee;
  // every other origin (answered by the dialplan, another backend, the API)
  // gets legs whose media ends in the engine.
  if (req.media_origin.backend != "sip" || req.media_origin.backend_ref.empty() || origin_media)
    return originate_engine(req, std::move(engine), std::move(origin_media));
  DialRequest d;
  for (auto& leg : req.legs) {
    d.targets.push_back(leg.target);
    d.target_channels.push_back(leg.channel_id);
  }
  d.timeout_seconds = req.timeout_seconds;
  d.caller_number = req.caller_number;
  d.caller_name = req.caller_name;
  d.anonymous = req.anonymous;
  d.auto_answer = wants_auto_answer(req);
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

sdk::Status SipChannelDriver::originate_engine(const sdk::OriginateRequest& req,
                                               std::shared_ptr<sdk::media::MediaEngine> engine,
                                               std::shared_ptr<sdk::media::Endpoint> origin_media) {
  if (!engine)
    return sdk::Error::unsupported("sip: ringing a SIP target for a " + req.media_origin.backend +
                                   " channel needs the media engine: load the media.engine plugin");
  // This stack joins the media of its own SIP callers; other backends join
  // theirs (dahdi joins a span's call linked to an engine channel).
  bool join = req.media_origin.backend == "sip" && origin_media;
  const bool auto_answer = wants_auto_answer(req);
  std::shared_ptr<Ringback> ringback;
  // A caller waiting with music (a group's music on hold) keeps hearing it.
  auto music = req.variables.find("DIAL_MUSIC");
  const bool waiting_music = music != req.variables.end() && !music->second.empty();
  if (join && req.media_origin.state == sdk::ChannelState::up && !waiting_music)
    ringback = std::make_shared<Ringback>(origin_media, req.legs.size());
  {
    std::lock_guard<std::mutex> lock(mutex_);
    std::erase_if(ringbacks_, [](const auto& kv) { return kv.second.expired(); });
    if (ringback)
      for (auto& leg : req.legs) ringbacks_[leg.channel_id] = ringback;
  }
  // A line with no registered phone ends its leg before originate returns,
  // so the caller (the REST originate) learns it at once, every time.
  std::vector<std::string> unregistered;
  auto s = with_stack([&](SipStack& stack) {
    for (auto& leg : req.legs) {
      if (leg.target.rfind("sip:", 0) != 0 && leg.target.rfind("sips:", 0) != 0 && stack.contact_count(leg.target) == 0) {
        unregistered.push_back(leg.channel_id);
        log_.warn("sip: leg " + leg.channel_id + " to " + leg.target + " not rung (480): no registered contact");
        continue;
      }
      EngineDial d;
      d.target = leg.target;
      d.channel = leg.channel_id;
      d.origin = req.media_origin.id;
      d.join = join;
      d.ringback = ringback;
      d.timeout_seconds = req.timeout_seconds;
      d.caller_number = req.caller_number;
      d.caller_name = req.caller_name;
      d.anonymous = req.anonymous;
      if (req.media_origin.backend == "sip") d.origin_call = req.media_origin.backend_ref;
      d.auto_answer = auto_answer;
      stack.originate_engine(std::move(d), engine);
    }
    return sdk::Status{};
  });
  for (auto& id : unregistered) {
    if (ringback) ringback->leg_ended();
    (void)core_->end_channel(id, 480);
  }
  return s;
}

// Called before the call core hands a dial's outcome to the dialplan: the
// ringback is stopped now, before the script plays anything of its own.
void SipChannelDriver::stop_ringback(const std::string& channel) {
  std::shared_ptr<Ringback> rb;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = ringbacks_.find(channel);
    if (it == ringbacks_.end()) return;
    rb = it->second.lock();
    ringbacks_.erase(it);
  }
  if (rb) rb->stop();
}

void SipChannelDriver::peer_gone(const std::string& channel) {
  (void)with_stack([&](SipStack& stack) {
    stack.end_engine_leg(channel);
    return sdk::Status{};
  });
}

sdk::Status SipChannelDriver::cancel(const sdk::Channel& channel, int) {
  stop_ringback(channel.id);
  return with_stack([&](SipStack& stack) {
    stack.cancel_leg(channel.id);
    return sdk::Status{};
  });
}

sdk::Status SipChannelDriver::hangup(const sdk::Channel& channel, int q850_cause) {
  stop_ringback(channel.id);
  return with_stack([&](SipStack& stack) {
    stack.hangup(channel.backend_ref, q850_cause ? sdk::sip_from_q850(q850_cause) : 0, channel.id);
    return sdk::Status{};
  });
}

void SipChannelDriver::replace(const sdk::Channel& newcomer, const sdk::Channel& replaced,
                               std::function<void(sdk::Status)> done) {
  auto s = with_stack([&](SipStack& stack) {
    stack.replace_channel(newcomer.id, replaced.id, done);
    return sdk::Status{};
  });
  if (!s) done(s);
}

void SipChannelDriver::join(const sdk::Channel& a, const sdk::Channel& b, std::function<void(sdk::Status)> done) {
  auto s = with_stack([&](SipStack& stack) {
    stack.join_parties(a.id, b.id, done);
    return sdk::Status{};
  });
  if (!s) done(s);
}

sdk::MediaPath SipChannelDriver::media_path(const sdk::Channel& channel) {
  auto engine = engine_ ? engine_() : nullptr;
  return engine && engine->channel_endpoint(channel.id) ? sdk::MediaPath::engine : sdk::MediaPath::relayed;
}

sdk::Status SipChannelDriver::unbridge(const sdk::Channel& channel) {
  return with_stack([&](SipStack& stack) {
    stack.unbridge_engine(channel.id);
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
  }, host_.log());
  if (auto s = calls_->register_driver("sip", channel_driver_); !s) {
    host_.log().warn("sip: calls cannot be hung up through the call core: " + s.error().message);
    channel_driver_.reset();
    return;
  }
  // An outgoing leg with its media in the engine ends with the party it was
  // linked to (the call core reports it unbridged when that party left), as
  // dahdi's calls do.
  std::weak_ptr<SipChannelDriver> weak = channel_driver_;
  unbridged_ = host_.bus().subscribe("calls.channel.unbridged", [weak](const sdk::Event& e) {
    auto driver = weak.lock();
    if (!driver) return;
    auto id = e.text("id");
    if (id.empty() || e.text("backend") != "sip") return;
    driver->peer_gone(std::string(id));
  });
}

void SipPlugin::detach_call_core() {
  unbridged_.reset();
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

bool SipPlugin::leg_linked(const std::string& leg_id) {
  if (!calls_ || leg_id.empty()) return false;
  auto c = calls_->channel(leg_id);
  return c && !c->peer.empty();
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

sdk::Status SipPlugin::leg_replace_requested(const std::string& leg_id, const std::string& replaced_leg) {
  if (!calls_ || leg_id.empty()) return sdk::Error::unsupported("no call core");
  sdk::ReplaceReport report;
  report.channel_id = leg_id;
  report.replaced = replaced_leg;
  return calls_->replace_requested(std::move(report));
}

sdk::Status SipPlugin::leg_transfer_requested(const LegTransfer& t) {
  if (!calls_ || t.leg_id.empty()) return sdk::Error::unsupported("no call core");
  sdk::TransferReport report;
  report.request.kind = t.attended ? sdk::TransferRequest::Kind::attended : sdk::TransferRequest::Kind::blind;
  report.request.channel_id = t.leg_id;
  if (!t.attended) {
    report.request.exten = t.exten;
    // The dialplan runs the target in the transferor's context (its line's).
    if (!t.user.empty())
      if (auto* line = config_snapshot()->line_by_username(t.user)) report.request.context = line->context;
  }
  report.replaces = t.replaces;
  report.path = t.engine ? sdk::MediaPath::engine : sdk::MediaPath::relayed;
  report.progress = t.progress;
  return calls_->transfer_requested(std::move(report));
}

void SipPlugin::leg_dtmf(const std::string& leg_id, char digit) {
  if (calls_ && !leg_id.empty()) (void)calls_->dtmf_received(leg_id, digit, "info");
}

void SipPlugin::leg_held(const std::string& leg_id, bool held) {
  if (calls_ && !leg_id.empty()) (void)calls_->set_held(leg_id, held);
}

std::shared_ptr<sdk::media::MediaEngine> SipPlugin::media_engine() {
  return host_.services().find<sdk::media::MediaEngine>();
}

// What the held party hears, as in XiVO: the dialplan's choice for its
// channel (MUSICCLASS, Asterisk's CHANNEL(musicclass)), else the holder's
// user's music on hold (confd users' music_on_hold: Asterisk's mohsuggest),
// else `default`.
std::string SipPlugin::hold_music_class(const std::string& holder_leg, const std::string& held_leg) {
  if (calls_) {
    if (auto v = calls_->variable(held_leg, "MUSICCLASS"); v && !v->empty()) return *v;
    if (auto holder = calls_->channel(holder_leg); holder && !holder->endpoint.empty()) {
      auto snap = config_snapshot();
      auto line = snap->line_by_username_.find(holder->endpoint);
      if (line != snap->line_by_username_.end())
        for (const auto& [id, user] : snap->users)
          if (std::find(user.line_ids.begin(), user.line_ids.end(), line->second) != user.line_ids.end() &&
              user.music_on_hold && !user.music_on_hold->empty())
            return *user.music_on_hold;
    }
  }
  return "default";
}

}  // namespace dialtone::plugins::backend::sip
