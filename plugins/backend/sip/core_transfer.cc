// REFERs reported to the call core, which carries them out: its own dial
// through the dialplan and bridge when a leg's media ends in the media
// engine; for parties bridged here, SIP to SIP through the relay, an
// attended transfer has this stack join them (join_parties,
// attended_transfer.cc), a blind one has the transferee dial a leg of this
// driver that routes it through the dialplan (route_transfer: the transfer's
// call of transfer.cc), and the core tells the transferor and hangs its
// legs up. Only an attended transfer to a call the dialplan answered is
// handed back (carry_refer). The REFER is answered 202 here; the
// transferor's NOTIFYs follow the core's progress.
#include "plugins/backend/sip/stack_impl.h"
#include "plugins/backend/sip/engine_media.h"

#include <dialtone/calls.h>

namespace dialtone::plugins::backend::sip {

LegTransfer SipStack::Impl::refer_report(Call& c, MediaLeg from, const std::string& target,
                                         const std::string& replaces, bool engine) {
  LegTransfer t;
  t.leg_id = engine && from == MediaLeg::b && c.engine ? c.engine->channel : channel_of(c, from);
  t.attended = !replaces.empty();
  t.exten = target;
  t.user = user_of(c, from);
  t.engine = engine;
  if (!replaces.empty()) {
    Home h;
    if (sip_replaces_t* rp = sip_replaces_make(h.get(), replaces.c_str()); rp && rp->rp_call_id)
      t.replaces = rp->rp_call_id;
  }
  // The core's progress reaches the transferor's dialog on the SIP thread,
  // in the order given (the last one, final, before the core's hang-up).
  std::weak_ptr<Inbox> weak = inbox;
  auto serial = c.serial;
  t.progress = [this, weak, serial](int status, bool final) {
    if (auto in = weak.lock())
      in->post([this, serial, status, final] {
        Call* c = find_call(serial);
        if (!c) return;
        if (final) c->refer_waiting.reset();
        if (!c->referrer) return;
        nta_leg_t* leg = c->referrer;
        bool gone = c->referrer_gone;
        if (final) {
          c->referrer = nullptr;
          c->referrer_gone = false;
        }
        if (!gone) return notify_refer(leg, status, phrase_of(status), final, nullptr);
        // The transferor hung up meanwhile: a failed transfer leaves nobody
        // for the party that stayed.
        if (final && status >= 300 && c->state == Call::State::answered) end_call(*c, leg);
      });
  };
  return t;
}

void SipStack::Impl::refuse_refer(Call& c, nta_leg_t* leg, const sdk::Error& e) {
  int status = sdk::transfer_refusal_status(e);
  log.info("sip: call " + c.id + ": transfer refused with " + std::to_string(status) + ": " + e.message);
  notify_refer(leg, status, phrase_of(status), true, nullptr);
}

void SipStack::carry_refer(const std::string& channel) {
  auto impl = impl_;
  impl->later([impl, channel] { impl->carry_refer(channel); });
}

void SipStack::Impl::carry_refer(const std::string& channel) {
  // The transferor's leg: a caller's channel, or a callee's (the call core's).
  for (auto& [serial, call] : calls) {
    Call& c = *call;
    if (!c.refer_waiting || channel_of(c, c.refer_waiting->from) != channel) continue;
    ReferWaiting r = std::move(*c.refer_waiting);
    c.refer_waiting.reset();
    c.referrer = nullptr;  // carry_refer_now takes the transferor's leg again
    if (c.state != Call::State::answered || !leg_of(c, r.from)) return;  // gone meanwhile: no one to tell
    carry_refer_now(c, r.from, r.target, r.replaces);
    return;
  }
}

void SipStack::route_transfer(const std::string& call_id, const std::string& transferee, const std::string& channel,
                              const std::string& target) {
  auto impl = impl_;
  impl->later([impl, call_id, transferee, channel, target] {
    impl->route_transfer(call_id, transferee, channel, target);
  });
}

void SipStack::Impl::route_transfer(const std::string& call_id, const std::string& transferee,
                                    const std::string& channel, const std::string& target) {
  auto id = call_ids.find(call_id);
  Call* c = id == call_ids.end() ? nullptr : find_call(id->second);
  // A callee's channel is the core's: found by its id.
  for (auto it = calls.begin(); !c && it != calls.end(); ++it)
    if (it->second->winner && it->second->winner->channel == transferee) c = it->second.get();
  std::optional<MediaLeg> stays;
  if (c && c->state == Call::State::answered && !c->engine && !c->originated && c->winner && c->a_leg) {
    if (c->channel == transferee) stays = MediaLeg::a;
    else if (c->winner->channel == transferee) stays = MediaLeg::b;
  }
  auto refuse = [&](int status, const std::string& why) {
    log.info("sip: blind transfer of channel " + transferee + " not routed (" + std::to_string(status) + "): " + why);
    backend.leg_event(channel, LegState::ended, status, {});
  };
  if (!stays) return refuse(481, "no answered relayed call has it");
  if (c->transfer || c->joined_with || c->offer_pending) return refuse(491, "call " + c->id + " is renegotiating");
  MediaLeg from = other_side(*stays);
  if (c->referrer_side != from) {
    c->referrer = nullptr;  // no REFER on that side: nobody to NOTIFY
    c->referrer_gone = false;
  }
  c->referrer_side = from;
  auto at = target.find('@');
  start_transfer_call(*c, from, target.substr(0, at), at == std::string::npos ? std::string() : target.substr(at + 1),
                      channel);
}

void SipStack::Impl::core_transferred(Call& t, Call& o, std::unique_ptr<Branch> brc) {
  std::string target = brc->target;
  nta_leg_t* departed = put_leg(o, o.referrer_side, std::move(brc), false);
  o.transfer = 0;
  o.refer_waiting.reset();  // the new party's BYE is its own
  t.transfer_done = true;
  log.info("sip: call " + o.id + ": transferred to " + target + " for the call core");
  backend.call_event(o.id, "transferred", 200);
  // The core publishes the transfer, tells the transferor and hangs it up.
  backend.leg_event(t.channel, LegState::up, 200, {});
  if (o.referrer_gone)
    for (auto& b : o.branches)
      if (b->leg == departed && !b->channel.empty()) {
        // It hung up already: its channel ends without a BYE of ours.
        backend.leg_event(b->channel, LegState::ended, 200, {});
        b->channel.clear();
      }
  t.state = Call::State::ending;
  maybe_finish(t);
}

int SipStack::Impl::engine_refer(Call& c, MediaLeg side, nta_incoming_t* irq, const sip_t* sip) {
  if (!sip->sip_refer_to || !sip->sip_refer_to->r_url->url_user) return 400;
  if (c.referrer || c.offer_pending) return 491;
  nta_leg_t* leg = leg_of(c, side);
  if (!leg) return 481;
  const url_t* u = sip->sip_refer_to->r_url;
  std::string replaces = replaces_param(u);
  std::string target = str(u->url_user);
  nta_incoming_treply(irq, SIP_202_ACCEPTED, SIPTAG_CONTACT(contact), TAG_END());
  nta_incoming_destroy(irq);
  c.referrer = leg;
  c.referrer_side = side;
  log.info("sip: call " + c.id + ": REFER to " + target + (replaces.empty() ? "" : " with Replaces") +
           " on a leg answered by the media engine, carried out by the call core");
  auto s = backend.leg_transfer_requested(refer_report(c, side, target, replaces, true));
  if (!s) {
    c.referrer = nullptr;
    refuse_refer(c, leg, s.error());
  }
  return 0;
}

void SipStack::unbridge_engine(const std::string& channel) {
  auto impl = impl_;
  impl->later([impl, channel] { impl->unbridge_engine(channel); });
}

void SipStack::Impl::unbridge_engine(const std::string& channel) {
  for (auto& [serial, call] : calls) {
    Call& c = *call;
    if (!c.engine || (c.engine->channel != channel && c.channel != channel)) continue;
    auto& m = *c.engine;
    if (m.mixer) m.mixer->remove(m.endpoint);
    m.mixer.reset();
    if (Call* peer = m.peer ? find_call(m.peer) : nullptr; peer && peer->engine && peer->engine->peer == c.serial) {
      if (peer->engine->mixer) peer->engine->mixer->remove(peer->engine->endpoint);
      peer->engine->mixer.reset();
      peer->engine->peer = 0;
    }
    m.peer = 0;
    return;
  }
}

}  // namespace dialtone::plugins::backend::sip
