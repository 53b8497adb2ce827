// A blind transfer to something the dialplan answers itself (a parking
// extension), by the callee or by the caller: the transfer's call has no SIP
// dialog of its own, so the transferred party's media is moved into the engine. It is sent a
// re-INVITE without SDP; its offer (in the 200) is answered by an engine
// endpoint in the ACK; its dialog then belongs to the transfer's call,
// which from there on is an engine-answered call like any other (media
// verbs, call:bridge, BYE either way). The transferor gets the NOTIFY of a
// successful transfer and is hung up; its call ends.
#include "plugins/backend/sip/stack_impl.h"

namespace dialtone::plugins::backend::sip {

void SipStack::Impl::engine_takeover(Call& t, const std::string& channel,
                                     std::shared_ptr<sdk::media::MediaEngine> engine) {
  auto refuse = [&](const std::string& why) {
    log.warn("sip: call " + t.id + ": the transferred party cannot be answered by the media engine: " + why);
    t.state = Call::State::ending;
    if (t.ended_status == 0) {
      t.ended_status = 488;
      backend.call_event(t.id, "ended", 488);
    }
    maybe_finish(t);  // its channel ends: call:answer() returns false, the transferor hears of the failure
  };
  Call* o = find_call(t.transfer_of);
  // The transferred party: the caller when its callee transfers, or the callee.
  MediaLeg side = o ? other_side(o->referrer_side) : MediaLeg::a;
  if (!o || o->state != Call::State::answered || o->transfer != t.serial || !leg_of(*o, side))
    return refuse("the transferred call is gone");
  if (o->offer_pending || o->engine) return refuse("the transferred call is renegotiating its media");
  DialogRequest* d = send_in_dialog(*o, leg_of(*o, side), sip_method_invite, "INVITE", "", "");
  if (!d) return refuse("the re-INVITE could not be sent");
  d->raw = true;
  d->from = o->referrer_side;
  o->offer_pending = true;
  auto ts = t.serial, os = o->serial;
  d->on_final = [this, ts, os, d, channel, engine](int status, const std::string& offer) {
    takeover_offered(ts, os, status, offer, d->cseq, channel, engine);
  };
}

void SipStack::Impl::takeover_offered(std::uint64_t ts, std::uint64_t os, int status, const std::string& offer,
                                      std::uint32_t cseq, const std::string& channel,
                                      std::shared_ptr<sdk::media::MediaEngine> engine) {
  Call* o = find_call(os);
  Call* t = find_call(ts);
  MediaLeg side = o ? other_side(o->referrer_side) : MediaLeg::a;
  nta_leg_t* party_leg = o ? leg_of(*o, side) : nullptr;
  bool live = o && t && o->transfer == ts && o->state == Call::State::answered && party_leg &&
              t->state == Call::State::routing;
  if (party_leg && status < 300 && !offer.empty() && !live) refuse_offer(party_leg, cseq, offer);
  if (!live || status >= 300 || offer.empty()) {
    if (t) {
      log.info("sip: call " + t->id + ": the transferred party did not renegotiate (" + std::to_string(status) + ")");
      t->state = Call::State::ending;
      if (t->ended_status == 0) t->ended_status = status >= 300 ? status : 488;
      maybe_finish(*t);
    }
    return;
  }
  auto answer = engine_answer(*t, offer, channel, engine);
  if (!answer) {
    // Its offer is refused, and with it the call: the transferor is leaving.
    log.info("sip: call " + o->id + ": the transferred party's offer is refused: " + answer.error().message);
    refuse_offer(party_leg, cseq, offer);
    t->state = Call::State::ending;
    t->ended_status = 488;
    maybe_finish(*t);
    end_call(*o);
    return;
  }
  ack_on(party_leg, cseq, *answer);
  // The call core's transfer: its leg is up before the party's own channel
  // ends, so that the core sees its dial answered (and hangs the transferor up).
  if (t->core_transfer) backend.leg_event(t->channel, LegState::up, 200, {});
  // The party's dialog moves to the transfer's call (the transfer's channel
  // carries it on).
  adopt_party(*t, *o, side, *answer);
  t->transfer_of = 0;
  t->transfer_done = true;
  t->state = Call::State::answered;
  routed(*t);
  backend.call_event(t->id, "answered", 200);
  backend.leg_event(t->channel, LegState::up, 200, {});
  log.info("sip: call " + o->id + ": the transferred party is answered by the dialplan of call " + t->id);
  if (t->core_transfer) {
    // The core tells the transferor and hangs it up, unless it left already.
    o->transfer = 0;
    o->refer_waiting.reset();
    backend.call_event(o->id, "transferred", 200);
    if (o->referrer_gone) {
      nta_leg_t* gone = o->referrer;
      o->referrer = nullptr;
      o->referrer_gone = false;
      end_call(*o, gone);
    }
    return;
  }
  // The transferor: told, then hung up; the transferred call is over.
  nta_leg_t* ref = o->referrer;
  o->referrer = nullptr;
  o->transfer = 0;
  bool gone = o->referrer_gone;
  o->referrer_gone = false;
  backend.call_event(o->id, "transferred", 200);
  if (gone || !ref) {
    end_call(*o, ref);
    return;
  }
  notify_refer(ref, 200, "OK", true, [this, os] {
    if (Call* c = find_call(os); c && !c->finishing) end_call(*c);
  });
}

// Attended transfer to a call the dialplan answered (the transferor parked
// itself, or talks to an IVR): its party in c1 takes the transferor's place
// in c2. The party is asked for an offer (re-INVITE without SDP), c2's
// endpoint answers it in the ACK, its dialog becomes c2's caller; c2's
// channel, script and parking slot carry on with it. The transferor's
// dialog in c2 gets BYE. Asked by the call core (c1.join_done, through
// replace_channel), which publishes the transfer, tells the transferor and
// hangs up its leg in c1; without a core, c1 ends here after the NOTIFY
// of success.
Call* SipStack::Impl::engine_call_by_replaces(const sip_replaces_t* rp) {
  if (!rp || !rp->rp_call_id) return nullptr;
  nta_leg_t* leg = nta_leg_by_replaces(agent, rp);
  Home h;
  if (!leg && rp->rp_to_tag && rp->rp_from_tag)
    if (sip_replaces_t* swapped = sip_replaces_format(h.get(), "%s;to-tag=%s;from-tag=%s", rp->rp_call_id,
                                                      rp->rp_from_tag, rp->rp_to_tag))
      leg = nta_leg_by_replaces(agent, swapped);
  auto* c = leg ? static_cast<Call*>(nta_leg_magic(leg, &Impl::on_a_request)) : nullptr;
  if (!c || !c->engine || c->originated || c->winner || c->a_leg != leg || c->state != Call::State::answered)
    return nullptr;
  return c;
}

void SipStack::Impl::engine_join(Call& c1, MediaLeg from, Call& c2) {
  nta_leg_t* ref = leg_of(c1, from);
  if (c2.offer_pending || c2.referrer || c1.offer_pending) {
    if (c1.join_done) return join_told(c1, 491);
    notify_refer(ref, 491, "Request Pending", true, nullptr);
    return;
  }
  c1.referrer = ref;
  c1.referrer_side = from;
  c1.referrer_gone = false;
  c1.joined_with = c2.serial;
  c1.join_notify = true;
  if (!c1.join_done) notify_refer(ref, 100, "Trying", false, nullptr);  // else the core says it
  log.info("sip: call " + c1.id + ": " + user_of(c1, from) + " hands its party to call " + c2.id +
           ", answered by the dialplan");
  DialogRequest* d = send_in_dialog(c1, leg_of(c1, other_side(from)), sip_method_invite, "INVITE", "", "");
  if (!d) {
    join_failed(c1, 500, false);
    return;
  }
  d->raw = true;
  d->from = from;
  c1.offer_pending = true;
  auto s1 = c1.serial, s2 = c2.serial;
  d->on_final = [this, s1, s2, d](int status, const std::string& offer) {
    engine_joined(s1, s2, status, offer, d->cseq);
  };
}

void SipStack::Impl::engine_joined(std::uint64_t s1, std::uint64_t s2, int status, const std::string& offer,
                                   std::uint32_t cseq) {
  Call* c1 = find_call(s1);
  if (!c1 || c1->state != Call::State::answered) return;
  MediaLeg xside = other_side(c1->referrer_side);
  nta_leg_t* xleg = leg_of(*c1, xside);
  Call* c2 = find_call(s2);
  bool live = c1->joined_with == s2 && c2 && c2->state == Call::State::answered && c2->engine && c2->a_leg && xleg;
  std::optional<std::string> answer;
  if (live && status < 300 && !offer.empty()) {
    auto r = engine_reanswer(*c2, offer, c2->a_sdp_sent);
    if (r) answer = *r;
    else log.info("sip: call " + c1->id + ": the party's offer is refused by the media engine: " + r.error().message);
  }
  if (!answer) {
    bool touched = xleg && status < 300 && !offer.empty();
    if (touched) refuse_offer(xleg, cseq, offer);
    if (c1->joined_with == s2) join_failed(*c1, status >= 300 ? status : 488, false);
    if (touched) end_call(*c1);  // its media was refused: the call cannot go on
    return;
  }
  ack_on(xleg, cseq, *answer);
  c1->joined_with = 0;
  c1->join_notify = false;
  // Reported while the transferor's channel is open; the core reports it itself.
  const bool core = static_cast<bool>(c1->join_done);
  if (!core) backend.leg_transferred(channel_of(*c1, c1->referrer_side), true, {}, c2->channel);
  // The transferor's dialog in c2 stays among c2's branches for its BYE.
  auto old = take_leg(*c2, MediaLeg::a);
  c2->channel = std::move(old->channel);
  old->channel.clear();
  index_channel(*c2, c2->channel);
  if (old->counted) count_line(old->target, -1);
  old->counted = false;
  nta_leg_t* old_leg = old->leg;
  c2->branches.push_back(std::move(old));
  // The party's channel in c1 ends; c2's (its script, its slot) carries it on.
  adopt_party(*c2, *c1, xside, *answer);
  send_bye(*c2, old_leg);
  log.info("sip: call " + c1->id + ": its party now talks to call " + c2->id + "'s dialplan");
  backend.call_event(c1->id, "transferred", 200);
  if (core) {
    // The core tells the transferor (its final NOTIFY on c1->referrer) and
    // hangs up its leg, unless it left already.
    if (c1->referrer_gone) {
      nta_leg_t* gone = c1->referrer;
      c1->referrer = nullptr;
      c1->referrer_gone = false;
      end_call(*c1, gone);
    }
    return join_told(*c1, 200);
  }
  nta_leg_t* ref = c1->referrer;
  c1->referrer = nullptr;
  bool gone = c1->referrer_gone;
  c1->referrer_gone = false;
  if (gone || !ref) {
    end_call(*c1, ref);
    return;
  }
  notify_refer(ref, 200, "OK", true, [this, s1] {
    if (Call* c = find_call(s1); c && !c->finishing) end_call(*c);
  });
}

void SipStack::Impl::adopt_party(Call& into, Call& from, MediaLeg side, const std::string& sdp) {
  auto [peer, peer_uri] = side_peer(from, side);  // where the party is, as it sees us
  auto party = take_leg(from, side);
  if (party->orq) nta_outgoing_destroy(party->orq);  // a callee's INVITE: its magic is this branch
  party->orq = nullptr;
  if (!party->channel.empty()) backend.leg_event(party->channel, LegState::ended, 200, {});
  party->channel.clear();
  into.a_leg = party->leg;
  party->leg = nullptr;
  nta_leg_bind(into.a_leg, &Impl::on_a_request, &into);
  if (party->counted) into.caller_username = party->target;
  party->counted = false;
  into.a_peer = peer;
  into.a_peer_uri = peer_uri;
  into.a_sdp_sent = sdp;
  into.a_held = false;
}

}  // namespace dialtone::plugins::backend::sip
