// Pickup in the call core (seed 5.12 directed pickup, 5.17 group pickup):
// another phone takes a call that rings elsewhere. The ringing legs of the
// caller's dial are cancelled, the caller and the picker are answered by
// their drivers (SIP: with their media in the engine) and bridged, and the
// caller's dial ends `answered` so that its dialplan stops there. Nothing
// here knows a backend: any driver that answers and bridges can be picked
// up from and pick up.
#include <chrono>

#include "kernel/calls/call_core.h"

namespace dialtone::kernel {

sdk::Status CallCoreImpl::set_protocol_ids(std::string_view channel_id, std::string protocol_id,
                                           std::string local_tag, std::string remote_tag) {
  std::lock_guard lock(mutex_);
  auto it = channels_.find(channel_id);
  if (it == channels_.end()) return sdk::Error::not_found("no channel " + std::string(channel_id));
  if (!protocol_id.empty() && protocol_id != it->second.protocol_id) {
    if (!it->second.protocol_id.empty()) by_protocol_id_.erase(it->second.protocol_id);
    it->second.protocol_id = protocol_id;
    by_protocol_id_[protocol_id] = it->first;
  }
  if (!local_tag.empty() || !remote_tag.empty()) tags_[it->first] = {std::move(local_tag), std::move(remote_tag)};
  return {};
}

sdk::Result<std::string> CallCoreImpl::channel_by_protocol_id(std::string_view protocol_id) const {
  std::lock_guard lock(mutex_);
  auto it = by_protocol_id_.find(std::string(protocol_id));
  if (it != by_protocol_id_.end()) return it->second;
  // Channels the backend created with their protocol id (a caller's leg).
  for (auto& [id, c] : channels_)
    if (c.protocol_id == protocol_id) return id;
  return sdk::Error::not_found("no channel has protocol id " + std::string(protocol_id));
}

sdk::Result<std::string> CallCoreImpl::ringing_leg(const std::vector<std::string>& interfaces) const {
  std::lock_guard lock(mutex_);
  const sdk::Channel* best = nullptr;
  for (auto& [id, c] : channels_) {
    if (c.direction != sdk::ChannelDirection::outbound || c.state != sdk::ChannelState::ringing) continue;
    auto d = dial_of_leg_.find(id);
    if (d == dial_of_leg_.end()) continue;
    auto dial = dials_.find(d->second);
    if (dial == dials_.end() || dial->second->finished) continue;
    std::string interface = c.backend + "/" + c.endpoint;
    if (std::find(interfaces.begin(), interfaces.end(), interface) == interfaces.end()) continue;
    if (!best || c.created_at_ms < best->created_at_ms || (c.created_at_ms == best->created_at_ms && c.id < best->id))
      best = &c;
  }
  if (!best) return sdk::Error::not_found("nothing rings on these lines");
  return best->id;
}

std::string CallCoreImpl::media_origin_of(const std::string& channel_id) const {
  std::lock_guard lock(mutex_);
  std::string at = channel_id;
  for (int hops = 0; hops < 64; ++hops) {
    auto c = channels_.find(at);
    if (c == channels_.end() || c->second.backend != "local") break;
    auto up = origin_of_.find(at);
    if (up == origin_of_.end()) break;
    at = up->second;
  }
  return at;
}

void CallCoreImpl::join_answered(std::string a, std::string b, std::function<void(sdk::Status)> done,
                                 std::function<void()> answered) {
  // Each step leaves the thread that reported the answer (a backend's
  // signalling thread): bridging calls that driver again.
  auto hop = [this](std::function<void()> f) { timers_.after(std::chrono::milliseconds(0), std::move(f)); };
  answer_channel(a, [this, a, b, done, answered, hop](bool ok, std::string error) {
    if (!ok) return hop([done, error] { done(sdk::Error::unavailable(error)); });
    hop([this, a, b, done, answered, hop] {
      answer_channel(b, [this, a, b, done, answered, hop](bool ok, std::string error) {
        if (!ok) return hop([done, error] { done(sdk::Error::unavailable(error)); });
        hop([this, a, b, done, answered] {
          if (answered) answered();
          done(bridge(a, b, true));
        });
      });
    });
  });
}

void CallCoreImpl::pickup(std::string_view picker_id, std::string_view leg_id,
                          std::function<void(sdk::Status)> done) {
  std::shared_ptr<Dial> d;
  std::vector<std::string> cancel;
  sdk::Channel ringing;
  const std::string picker(picker_id);
  {
    std::lock_guard lock(mutex_);
    auto l = channels_.find(leg_id);
    if (l == channels_.end()) return done(sdk::Error::not_found("no channel " + std::string(leg_id) + " rings"));
    ringing = l->second;
    auto dl = dial_of_leg_.find(ringing.id);
    auto it = dl == dial_of_leg_.end() ? dials_.end() : dials_.find(dl->second);
    if (ringing.direction != sdk::ChannelDirection::outbound || ringing.state == sdk::ChannelState::up ||
        it == dials_.end() || it->second->finished)
      return done(sdk::Error::invalid("channel " + ringing.id + " no longer rings (answered or given up)"));
    if (it->second->origin == picker || !channels_.count(picker))
      return done(sdk::Error::invalid("channel " + picker + " cannot pick up its own call"));
    d = it->second;
    // Settled now: an answer racing the pickup no longer wins the dial.
    d->finished = true;
    for (auto& leg : d->legs)
      if (channels_.count(leg)) cancel.push_back(leg);
  }
  const std::string caller = media_origin_of(d->origin);
  // The phones stop ringing first: a SIP caller can only be answered once
  // its dial is given up.
  for (auto& leg : cancel)
    (void)with_driver(leg, [](sdk::ChannelDriver& driver, const sdk::Channel& c) {
      return driver.cancel(c, sdk::q850::normal_clearing);
    });
  // calls.pickup once both answered, before their bridge (as Asterisk's
  // PICKUP comes before the picker enters the caller's bridge): the CEL puts
  // the picker's bridge in the picked-up call (plugins/records/cel).
  auto picked = [this, caller, picker, ringing] {
    if (auto c = channel(caller))
      queue_service("calls.pickup", *c, {{"picker", picker}, {"ringing_channel", ringing.id},
                                         {"ringing_endpoint", ringing.backend + "/" + ringing.endpoint}});
  };
  join_answered(caller, picker, [this, d, caller, picker, ringing, done](sdk::Status s) {
    if (!s) {
      log_.info("calls: pickup of " + ringing.id + " by " + picker + " failed: " + s.error().message);
      finish(d, {"unavailable", sdk::q850::normal_unspecified, 480, {}, {}, {}}, {});
      return done(s);
    }
    // A local leg between the caller and the ringing phone is answered too,
    // so that the dial above it ends answered as well.
    if (d->origin != caller) (void)set_state(d->origin, sdk::ChannelState::up);
    finish(d, {"answered", sdk::q850::normal_clearing, 200, picker, "pickup", {}}, {});
    done({});
  }, picked);
}

}  // namespace dialtone::kernel
