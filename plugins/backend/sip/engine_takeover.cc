// A blind transfer to something the dialplan answers itself (a parking
// extension): the transfer's call has no SIP dialog of its own, so the
// transferred party's media is moved into the engine. It is sent a
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
  if (!o || o->state != Call::State::answered || o->transfer != t.serial || !o->a_leg)
    return refuse("the transferred call is gone");
  if (o->referrer_side != MediaLeg::b)
    return refuse("only a callee's blind transfer of its caller is taken over (the caller transferred the callee)");
  if (o->offer_pending || o->engine) return refuse("the transferred call is renegotiating its media");
  DialogRequest* d = send_in_dialog(*o, o->a_leg, sip_method_invite, "INVITE", "", "");
  if (!d) return refuse("the re-INVITE could not be sent");
  d->raw = true;
  d->from = MediaLeg::b;
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
  bool live = o && t && o->transfer == ts && o->state == Call::State::answered && o->a_leg &&
              t->state == Call::State::routing;
  if (o && o->a_leg && status < 300 && !offer.empty() && !live) refuse_offer(o->a_leg, cseq, offer);
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
    refuse_offer(o->a_leg, cseq, offer);
    t->state = Call::State::ending;
    t->ended_status = 488;
    maybe_finish(*t);
    end_call(*o);
    return;
  }
  ack_on(o->a_leg, cseq, *answer);
  // The party's dialog moves to the transfer's call; its old channel ends
  // (the transfer's channel carries it on).
  auto party = take_leg(*o, MediaLeg::a);
  if (!party->channel.empty()) backend.leg_event(party->channel, LegState::ended, 200, {});
  party->channel.clear();
  t->a_leg = party->leg;
  party->leg = nullptr;
  nta_leg_bind(t->a_leg, &Impl::on_a_request, t);
  if (party->counted) t->caller_username = party->target;
  party->counted = false;
  t->a_peer = o->a_peer;
  t->a_peer_uri = o->a_peer_uri;
  t->a_sdp_sent = *answer;
  t->transfer_of = 0;
  t->transfer_done = true;
  t->state = Call::State::answered;
  routed(*t);
  backend.call_event(t->id, "answered", 200);
  backend.leg_event(t->channel, LegState::up, 200, {});
  log.info("sip: call " + o->id + ": the transferred party is answered by the dialplan of call " + t->id);
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

}  // namespace dialtone::plugins::backend::sip
