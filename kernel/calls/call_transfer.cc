// Transfers in the call core. A driver reports what it received on the wire
// (a SIP REFER, blind or with Replaces: transfer_requested); the core
// resolves it and carries it out. Attended: the transferor's peer and the
// party of its other leg are joined (bridged through the media engine, or
// by their driver when it bridges them itself: ChannelDriver::join, SIP's
// relayed calls), then the transferor is told and both its legs are hung
// up. Blind: the transferor's peer is sent to the dialplan through a
// `local` leg; between parties a driver bridges itself (SIP's relayed
// calls), through a leg of that driver that routes the transferee as the
// transferor dialed the target (OriginateRequest::transfer_of): the driver
// puts the callee that answers in the transferor's place, then the core
// publishes the transfer, tells the transferor and hangs it up; a failed
// dial leaves the call as it was. An attended transfer whose other leg
// talks to no channel (it is in a dialplan application: parked, voicemail)
// has the driver put the transferor's peer in that leg's place
// (ChannelDriver::replace), the application carrying on with it. A new leg
// that replaces an answered one (SIP: INVITE with Replaces) is swapped into
// its bridge by the driver, then the core publishes it and hangs the
// replaced leg up (replace_requested).
#include "kernel/calls/call_core.h"

namespace dialtone::kernel {

sdk::Status CallCoreImpl::transfer_done(const sdk::TransferRequest& done) {
  auto self = channel(done.channel_id);
  if (!self) return self.error();
  bool attended = done.kind == sdk::TransferRequest::Kind::attended;
  Pending p{Kind::transferred, *self, 0, 0, 0, attended ? "attended" : "blind"};
  p.exten = done.exten;
  p.context = done.context;
  p.target = done.target_channel;
  queue(std::move(p));
  if (attended && !done.target_channel.empty()) parked_by_transfer(done.target_channel, *self);
  return {};
}

void CallCoreImpl::separate(const sdk::Channel& leaving) {
  // No unbridged event: the peer stays up, it is going somewhere else.
  release_link(leaving.id);
  if (auto driver = driver_of(leaving.backend)) (void)driver->unbridge(leaving);
}

void CallCoreImpl::blind_transfer(const sdk::Channel& transferor, const std::string& exten, std::string context,
                                  const std::function<void(int, bool)>& progress) {
  if (context.empty())
    if (auto v = variable(transferor.id, "XIVO_CONTEXT"); v && !v->empty()) context = *v;
  Pending p{Kind::transferred, transferor, 0, 0, 0, "blind"};
  p.exten = exten;
  p.context = context;
  queue(std::move(p));
  std::string peer = transferor.peer;
  separate(transferor);
  sdk::DialOptions options;
  options.targets = {"local/" + exten + (context.empty() ? "" : "@" + context)};
  options.timeout_seconds = sdk::kUnlimitedRingSeconds;  // the dialplan's own dial decides how long it rings
  // The transferee's own script may have ended: nobody else hangs it up
  // when the dialplan of the target finds no one.
  dial(peer, std::move(options), [this, peer](const sdk::DialOutcome& o) {
    if (o.status != "answered") (void)hangup_channel(peer, o.q850 ? o.q850 : sdk::q850::normal_clearing);
  });
  // The transfer is done once the transferee is in the dialplan (as
  // Asterisk's blind transfer): the transferor is told, then hung up.
  if (progress) progress(200, true);
  (void)hangup_channel(transferor.id, sdk::q850::normal_clearing);
}

sdk::Status CallCoreImpl::request_transfer(sdk::TransferRequest request) {
  auto self = channel(request.channel_id);
  if (!self) return self.error();
  if (request.kind == sdk::TransferRequest::Kind::attended) {
    // The transferor's peer and the target talk; the transferor leaves.
    if (request.target_channel.empty()) return sdk::Error::invalid("attended transfer without a target channel");
    auto target = channel(request.target_channel);
    if (!target) return target.error();
    if (self->peer.empty()) return sdk::Error::invalid("channel " + self->id + " talks to nobody");
    Pending p{Kind::transferred, *self, 0, 0, 0, "attended"};
    p.target = request.target_channel;
    std::string peer = self->peer;
    if (auto s = bridge(peer, request.target_channel, false); !s) return s;
    queue(std::move(p));
    (void)hangup_channel(self->id, sdk::q850::normal_clearing);
    return {};
  }
  // Blind: the transferor's peer dials exten@context through a local leg.
  if (request.exten.empty()) return sdk::Error::invalid("blind transfer without an extension");
  if (self->peer.empty()) return sdk::Error::invalid("channel " + self->id + " talks to nobody");
  blind_transfer(*self, request.exten, request.context, nullptr);
  return {};
}

sdk::Status CallCoreImpl::transfer_requested(sdk::TransferReport report) {
  const auto& r = report.request;
  auto self = channel(r.channel_id);
  if (!self) return self.error();
  std::optional<sdk::Channel> peer;
  if (!self->peer.empty())
    if (auto c = channel(self->peer)) peer = *c;
  bool attended = r.kind == sdk::TransferRequest::Kind::attended;
  if (!attended && r.exten.empty()) return sdk::Error::invalid("blind transfer without an extension");
  // Attended: the transferor's other leg, named by the driver or by its
  // protocol id (the Call-ID of a SIP Replaces).
  std::optional<sdk::Channel> other;
  if (attended) {
    std::string id = r.target_channel;
    if (id.empty() && !report.replaces.empty())
      if (auto found = channel_by_protocol_id(report.replaces)) id = *found;
    if (!id.empty())
      if (auto c = channel(id)) other = *c;
    if (!other && r.target_channel.empty() && report.replaces.empty())
      return sdk::Error::invalid("attended transfer naming no other leg");
  }
  // Only the transferor's own other call can be joined (SIP: the Replaces
  // names a dialog of the same line).
  if (other && other->id != self->id && (other->backend != self->backend || other->endpoint != self->endpoint))
    return sdk::Error::not_found("the leg replaced (" + other->id + ") is no other call of " + self->backend + "/" +
                                 self->endpoint);
  std::optional<sdk::Channel> party;
  if (other && other->id != self->id && !other->peer.empty())
    if (auto c = channel(other->peer)) party = *c;
  bool inside = report.path != sdk::MediaPath::engine && (!peer || peer->backend == self->backend) &&
                (!other || other->backend == self->backend);
  auto driver = driver_of(self->backend);
  if (inside && attended && peer && party && party->backend == self->backend && driver) {
    // Parties the driver bridged itself: it joins them, the core does the rest.
    if (report.progress) report.progress(100, false);
    driver->join(*peer, *party, [this, report, self = *self, other = *other, party = *party](sdk::Status s) {
      if (s) return attended_done(self, other, party.id, report.progress);
      log_.info("calls: attended transfer by " + self.id + " failed: " + s.error().message);
      if (report.progress) report.progress(sdk::transfer_refusal_status(s.error()), true);
    });
    return {};
  }
  // Blind, parties the driver bridged itself: the core routes the
  // transferee's new leg, the driver puts what answers in the transferor's place.
  if (inside && !attended && peer && driver) {
    relayed_blind_transfer(*self, *peer, r.exten, r.context, report.progress);
    return {};
  }
  // Nobody to hand over (the transferor talks to a dialplan application,
  // or its party is gone): refused here, whatever the path, so that no
  // driver carries out a transfer behind the core's back.
  if (!peer)
    return sdk::Error::invalid("channel " + self->id + " talks to nobody: there is no party to transfer");
  if (attended && !other)
    return sdk::Error::not_found("the leg replaced (" + (report.replaces.empty() ? r.target_channel : report.replaces) +
                                 ") is no channel of the call core");
  if (attended && other->id == self->id)
    return sdk::Error::invalid("channel " + self->id + " replaces itself: an attended transfer names the other call");
  // Attended, the other leg in a dialplan application (parked, voicemail,
  // an IVR): the transferor's peer takes its place there.
  if (attended && other->peer.empty()) {
    application_transfer(*self, *peer, *other, report.progress);
    return {};
  }
  if (report.progress) report.progress(100, false);
  if (!attended) {
    blind_transfer(*self, r.exten, r.context, report.progress);
    return {};
  }
  // Attended: the transferor's peer and the other leg's party talk.
  if (!party) {
    if (report.progress) report.progress(481, true);
    return {};
  }
  separate(*self);
  separate(*other);
  auto s = bridge(peer->id, party->id, false);
  if (!s) {
    // Nothing joined them: each goes back to the transferor's leg it had.
    (void)bridge(self->id, peer->id, false);
    (void)bridge(other->id, party->id, false);
    if (report.progress) report.progress(sdk::transfer_refusal_status(s.error()), true);
    return {};
  }
  attended_done(*self, *other, party->id, report.progress);
  return {};
}

void CallCoreImpl::relayed_blind_transfer(const sdk::Channel& transferor, const sdk::Channel& peer,
                                          const std::string& exten, std::string context,
                                          const std::function<void(int, bool)>& progress) {
  if (context.empty())
    if (auto v = variable(transferor.id, "XIVO_CONTEXT"); v && !v->empty()) context = *v;
  bool taken;
  {
    std::lock_guard lock(mutex_);
    taken = !relayed_transfers_.emplace(peer.id, transferor.id).second;
  }
  if (taken) {
    if (progress) progress(491, true);
    return;
  }
  if (progress) progress(100, false);
  // One leg of the transferee's driver routes it through the dialplan as the
  // transferor dialed `exten` (dial() gives it the transferor's endpoint and
  // names the transferor in the driver's request): it comes up once a callee
  // answered and took the transferor's place, or once the dialplan answered it.
  sdk::DialOptions options;
  options.targets = {peer.backend + "/" + exten + (context.empty() ? "" : "@" + context)};
  options.timeout_seconds = sdk::kUnlimitedRingSeconds;  // the dialplan's own dial decides how long it rings
  dial(peer.id, std::move(options), [this, transferor, transferee = peer.id, exten, context,
                                     progress](const sdk::DialOutcome& o) {
    {
      std::lock_guard lock(mutex_);
      relayed_transfers_.erase(transferee);
    }
    if (o.status != "answered") {
      // Nobody took the transferee: the transferor keeps its call.
      log_.info("calls: blind transfer by " + transferor.id + " to " + exten + " failed: " + o.status);
      if (progress) progress(o.sip >= 300 ? o.sip : 480, true);
      return;
    }
    auto now = channel(transferor.id);
    Pending p{Kind::transferred, now ? *now : transferor, 0, 0, 0, "blind"};
    p.exten = exten;
    p.context = context;
    queue(std::move(p));
    if (progress) progress(200, true);
    (void)hangup_channel(transferor.id, sdk::q850::normal_clearing);
  });
}

void CallCoreImpl::application_transfer(const sdk::Channel& transferor, const sdk::Channel& peer,
                                        const sdk::Channel& other, const std::function<void(int, bool)>& progress) {
  auto driver = peer.backend == other.backend ? driver_of(peer.backend) : nullptr;
  if (!driver) {
    auto e = sdk::Error::unsupported("channel " + peer.id + " (" + peer.backend + ") cannot take the place of " +
                                     other.id + " (" + other.backend + ") in its application");
    log_.info("calls: attended transfer by " + transferor.id + " refused: " + e.message);
    if (progress) progress(sdk::transfer_refusal_status(e), true);
    return;
  }
  if (progress) progress(100, false);
  log_.info("calls: attended transfer by " + transferor.id + ": " + peer.id + " takes the place of " + other.id +
            " in its application");
  driver->replace(peer, other, [this, transferor, other = other.id, progress](sdk::Status s) {
    if (!s) {
      log_.info("calls: attended transfer by " + transferor.id + " failed: " + s.error().message);
      if (progress) progress(sdk::transfer_refusal_status(s.error()), true);
      return;
    }
    // Published while the transferor's leg is open; the slot's parker is
    // the transferor (its timeout rings it back).
    Pending p{Kind::transferred, transferor, 0, 0, 0, "attended"};
    p.target = other;
    queue(std::move(p));
    parked_by_transfer(other, transferor);
    if (progress) progress(200, true);
    (void)hangup_channel(transferor.id, sdk::q850::normal_clearing);
  });
}

sdk::Status CallCoreImpl::replace_requested(sdk::ReplaceReport report) {
  auto newcomer = channel(report.channel_id);
  if (!newcomer) return newcomer.error();
  std::string id = report.replaced;
  if (id.empty() && !report.replaces.empty())
    if (auto found = channel_by_protocol_id(report.replaces)) id = *found;
  if (id.empty())
    return sdk::Error::not_found("the leg replaced (" + report.replaces + ") is no channel of the call core");
  auto replaced = channel(id);
  if (!replaced) return replaced.error();
  if (replaced->id == newcomer->id) return sdk::Error::invalid("channel " + id + " cannot replace itself");
  if (replaced->state != sdk::ChannelState::up)
    return sdk::Error::not_found("channel " + id + " is not answered: nothing to take the place of");
  if (replaced->backend != newcomer->backend)
    return sdk::Error::unsupported("channel " + id + " is a " + replaced->backend + " leg; " + newcomer->id +
                                   " a " + newcomer->backend + " one");
  if (replaced->peer.empty())
    return sdk::Error::unsupported("channel " + id + " talks to nobody a newcomer could be swapped in with");
  auto peer = channel(replaced->peer);
  if (!peer) return peer.error();
  auto driver = driver_of(replaced->backend);
  if (!driver) return sdk::Error::unavailable("no driver for backend " + replaced->backend);
  if (peer->backend != replaced->backend || driver->media_path(*replaced) == sdk::MediaPath::engine)
    return sdk::Error::unsupported("channel " + id + "'s media goes through the media engine: its driver cannot "
                                   "swap a newcomer in");
  log_.info("calls: " + newcomer->id + " replaces " + id + " (talking to " + peer->id + ")");
  driver->replace(*newcomer, *replaced, [this, newcomer = newcomer->id, replaced = *replaced](sdk::Status s) {
    if (!s) {
      log_.info("calls: " + newcomer + " did not replace " + replaced.id + ": " + s.error().message);
      return;
    }
    Pending p{Kind::transferred, replaced, 0, 0, 0, "attended"};
    p.target = newcomer;
    queue(std::move(p));
    (void)hangup_channel(replaced.id, sdk::q850::normal_clearing);
  });
  return {};
}

std::string CallCoreImpl::relayed_transferor(const std::string& transferee) const {
  std::lock_guard lock(mutex_);
  auto it = relayed_transfers_.find(transferee);
  return it == relayed_transfers_.end() ? std::string() : it->second;
}

void CallCoreImpl::attended_done(const sdk::Channel& transferor, const sdk::Channel& other, const std::string& party,
                                 const std::function<void(int, bool)>& progress) {
  Pending p{Kind::transferred, transferor, 0, 0, 0, "attended"};
  p.target = party;
  queue(std::move(p));
  if (progress) progress(200, true);
  (void)hangup_channel(transferor.id, sdk::q850::normal_clearing);
  (void)hangup_channel(other.id, sdk::q850::normal_clearing);
}

}  // namespace dialtone::kernel
