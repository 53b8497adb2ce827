// REFERs reported to the call core, which carries them out: its own dial
// through the dialplan and bridge when a leg's media ends in the media
// engine; for parties bridged here, SIP to SIP through the relay, an
// attended transfer has this stack join them (join_parties,
// attended_transfer.cc), a blind one has the transferee dial a leg of this
// driver that routes it through the dialplan (route_transfer: the transfer's
// call of transfer.cc), an attended one to a call the dialplan answered
// has this stack put the transferor's party in that call's place
// (replace_channel: engine_join, engine_takeover.cc), and the core tells
// the transferor and hangs its legs up. An INVITE with Replaces is swapped
// in the same way once the core decided (replace_channel: swap_in,
// attended_transfer.cc). The REFER is answered 202 here; the transferor's
// NOTIFYs follow the core's progress.
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

void SipStack::replace_channel(const std::string& newcomer, const std::string& replaced,
                               std::function<void(sdk::Status)> done) {
  auto impl = impl_;
  impl->later([impl, newcomer, replaced, done = std::move(done)]() mutable {
    impl->replace_channel(newcomer, replaced, std::move(done));
  });
}

void SipStack::Impl::replace_channel(const std::string& newcomer, const std::string& replaced,
                                     std::function<void(sdk::Status)> done) {
  // An INVITE with Replaces waiting for the core.
  if (auto it = pending_replaces.find(newcomer); it != pending_replaces.end()) {
    PendingReplace p = std::move(it->second);
    pending_replaces.erase(it);
    Call* c = find_call(p.serial);
    Branch* nb = nullptr;
    if (c)
      for (auto& b : c->branches)
        if (b->channel == newcomer) nb = b.get();
    if (!c || !nb || c->state != Call::State::answered || channel_of(*c, p.side) != replaced) {
      if (nb) drop_newcomer(*nb, 481);
      reply(p.irq, SIP_481_NO_TRANSACTION);
      return done(sdk::Error::not_found("sip: channel " + replaced + " left its call before " + newcomer +
                                        " could take its place"));
    }
    return swap_in(*c, p.side, *nb, p.irq, p.offer, std::move(done));
  }
  // The party of an answered relayed call takes the place of an
  // engine-answered call's caller (an attended transfer to a parked call).
  std::optional<Party> party;
  Call* app = nullptr;
  for (auto& [serial, call] : calls) {
    Call& c = *call;
    if (c.state != Call::State::answered) continue;
    if (!c.engine && !c.originated && c.winner && c.a_leg) {
      if (c.channel == newcomer) party = Party{&c, MediaLeg::a};
      else if (c.winner->channel == newcomer) party = Party{&c, MediaLeg::b};
    }
    if (c.engine && !c.originated && !c.winner && c.a_leg && c.channel == replaced) app = &c;
  }
  if (!party || !app)
    return done(sdk::Error::not_found("sip: channel " + (party ? replaced : newcomer) +
                                      (party ? " is no call answered by the dialplan"
                                             : " is no party of an answered relayed call")));
  Call& c1 = *party->call;
  if (c1.transfer || c1.joined_with || c1.offer_pending || app->offer_pending || app->referrer)
    return done(sdk::Error::conflict("sip: call " + c1.id + " or " + app->id + " is renegotiating its media"));
  c1.refer_waiting.reset();
  c1.join_done = std::move(done);
  engine_join(c1, other_side(party->side), *app);
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
