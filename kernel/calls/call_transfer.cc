// Transfers in the call core. A driver reports what it received on the wire
// (a SIP REFER, blind or with Replaces: transfer_requested); the core
// resolves it and carries it out. Attended: the transferor's peer and the
// party of its other leg are joined (bridged through the media engine, or
// by their driver when it bridges them itself: ChannelDriver::join, SIP's
// relayed calls), then the transferor is told and both its legs are hung
// up. Blind: the transferor's peer is sent to the dialplan through a
// `local` leg; a blind transfer between parties a driver bridges itself
// (SIP's relayed calls) is still moved by that driver
// (ChannelDriver::carry_transfer), as is an attended one whose other leg
// talks to no channel (a call the dialplan answered).
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
    driver->join(*peer, *party, [this, driver, report, self = *self, other = *other,
                                 party = *party](sdk::Status s) {
      if (s) return attended_done(self, other, party.id, report.progress);
      if (s.error().code == sdk::ErrorCode::unsupported) {
        if (auto carried = driver->carry_transfer(report); carried) return;
      }
      log_.info("calls: attended transfer by " + self.id + " failed: " + s.error().message);
      if (report.progress) report.progress(sdk::transfer_refusal_status(s.error()), true);
    });
    return {};
  }
  // Other parties the driver bridged itself: the driver moves them. A driver
  // that cannot leaves the transfer to the core.
  if (inside && driver) {
    auto s = driver->carry_transfer(report);
    if (s || s.error().code != sdk::ErrorCode::unsupported) return s;
  }
  if (!peer) return sdk::Error::invalid("channel " + self->id + " talks to nobody");
  if (attended && !other)
    return sdk::Error::not_found("the leg replaced (" + (report.replaces.empty() ? r.target_channel : report.replaces) +
                                 ") is no channel of the call core");
  if (report.progress) report.progress(100, false);
  if (!attended) {
    blind_transfer(*self, r.exten, r.context, report.progress);
    return {};
  }
  // Attended: the transferor's peer and the other leg's party talk.
  if (other->id == self->id || other->peer.empty()) {
    auto e = sdk::Error::unsupported("the other leg " + other->id + " talks to nobody the core can bridge");
    if (report.progress) report.progress(sdk::transfer_refusal_status(e), true);
    return {};
  }
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
