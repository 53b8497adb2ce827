// Attended transfer: REFER with Replaces joins two calls (RFC 3725
// third-party call control), and INVITE with Replaces (RFC 3891).
#include "plugins/backend/sip/stack_impl.h"

#include <dialtone/calls.h>

namespace dialtone::plugins::backend::sip {

void SipStack::Impl::refuse_offer(nta_leg_t* leg, std::uint32_t cseq, const std::string& offer) {
  std::string answer;
  if (auto s = parse_sdp(offer)) {
    for (auto& m : s->media) m.port = 0;
    answer = s->to_string();
  }
  if (leg) ack_on(leg, cseq, answer);
}

void SipStack::Impl::attended_transfer(Call& c1, MediaLeg from, const std::string& value) {
  nta_leg_t* ref = leg_of(c1, from);
  Home h;
  sip_replaces_t* rp = sip_replaces_make(h.get(), value.c_str());
  auto p = party_by_replaces(rp);
  std::string who = user_of(c1, from);
  if (Call* c2 = p ? nullptr : engine_call_by_replaces(rp); c2 && c2 != &c1 && !who.empty() && c2->caller_username == who) {
    engine_join(c1, from, *c2);
    return;
  }
  if (!p || p->call == &c1 || who.empty() || user_of(*p->call, p->side) != who) {
    log.info("sip: call " + c1.id + ": attended transfer refused: Replaces \"" + value +
             "\" names no other call of " + (who.empty() ? std::string("the referrer") : who));
    notify_refer(ref, 481, "Call/Transaction Does Not Exist", true, nullptr);
    return;
  }
  Call& c2 = *p->call;
  if (c2.transfer || c2.joined_with || c2.offer_pending) {
    notify_refer(ref, 491, "Request Pending", true, nullptr);
    return;
  }
  log.info("sip: call " + c1.id + ": " + who + " joins it to call " + c2.id);
  start_join(c1, from, c2, p->side);
}

void SipStack::join_parties(const std::string& a, const std::string& b, std::function<void(sdk::Status)> done) {
  auto impl = impl_;
  impl->later([impl, a, b, done = std::move(done)]() mutable { impl->join_parties(a, b, std::move(done)); });
}

void SipStack::Impl::join_parties(const std::string& a, const std::string& b, std::function<void(sdk::Status)> done) {
  // The answered relayed call, and side, whose party is on channel `ch`.
  auto where = [this](const std::string& ch) -> std::optional<Party> {
    for (auto& [serial, call] : calls) {
      Call& c = *call;
      if (c.state != Call::State::answered || c.engine || c.originated || !c.winner || !c.a_leg) continue;
      if (c.channel == ch) return Party{&c, MediaLeg::a};
      if (c.winner->channel == ch) return Party{&c, MediaLeg::b};
    }
    return std::nullopt;
  };
  auto pa = where(a), pb = where(b);
  if (!pa || !pb) return done(sdk::Error::not_found("sip: channel " + (pa ? b : a) + " is no party of a call in progress"));
  if (pa->call == pb->call) return done(sdk::Error::invalid("sip: channels " + a + " and " + b + " are in one call"));
  Call& c1 = *pa->call;
  Call& c2 = *pb->call;
  c1.refer_waiting.reset();
  if (c1.transfer || c1.joined_with || c1.offer_pending || c2.transfer || c2.joined_with || c2.offer_pending)
    return done(sdk::Error::conflict("sip: call " + c1.id + " or " + c2.id + " is renegotiating its media"));
  log.info("sip: call " + c1.id + ": its party is joined to call " + c2.id + "'s by the call core");
  c1.join_done = std::move(done);
  start_join(c1, other_side(pa->side), c2, other_side(pb->side));
}

void SipStack::Impl::join_told(Call& c1, int status) {
  auto done = std::move(c1.join_done);
  c1.join_done = nullptr;
  if (!done) return;
  if (status < 300) return done({});
  std::string why = "the join ended with " + std::to_string(status);
  switch (status) {
    case 481: return done(sdk::Error::not_found(why));
    case 487:
    case 491: return done(sdk::Error::conflict(why));
    case 503: return done(sdk::Error::unavailable(why));
    default: return done(sdk::Error::internal(why));  // never unsupported: the core would hand it back
  }
}

void SipStack::Impl::start_join(Call& c1, MediaLeg from, Call& c2, MediaLeg c2_from) {
  nta_leg_t* ref = leg_of(c1, from);
  MediaLeg yside = other_side(c2_from);
  c1.referrer = ref;
  c1.referrer_side = from;
  c1.referrer_gone = false;
  c1.joined_with = c2.serial;
  c1.join_notify = true;
  c2.referrer = leg_of(c2, c2_from);
  c2.referrer_side = c2_from;
  c2.referrer_gone = false;
  c2.joined_with = c1.serial;
  c2.join_notify = false;
  if (!c1.join_done) notify_refer(ref, 100, "Trying", false, nullptr);  // else the core says it
  DialogRequest* d = send_in_dialog(c2, leg_of(c2, yside), sip_method_invite, "INVITE", "", "");
  if (!d) {
    join_failed(c1, 500, false);
    return;
  }
  d->raw = true;
  d->from = c2_from;
  c2.offer_pending = true;
  auto s1 = c1.serial;
  auto s2 = c2.serial;
  d->on_final = [this, s1, s2, yside, d](int status, const std::string& offer) {
    join_offered(s1, s2, yside, status, offer, d->cseq);
  };
}

void SipStack::Impl::join_offered(std::uint64_t s1, std::uint64_t s2, MediaLeg yside, int status,
                                  const std::string& offer, std::uint32_t cseq) {
  Call* c2 = find_call(s2);
  if (!c2) return;
  nta_leg_t* yleg = leg_of(*c2, yside);
  Call* c1 = find_call(s1);
  bool live = c1 && c1->joined_with == s2 && c2->joined_with == s1;
  if (status >= 300 || offer.empty() || !live) {
    if (status < 300) refuse_offer(yleg, cseq, offer);
    if (live) join_failed(*c1, status >= 300 ? status : 488, status < 300 && !offer.empty());
    else if (status < 300 && !offer.empty()) end_call(*c2);
    return;
  }
  auto r = c1->media->offer(c1->referrer_side, offer);
  DialogRequest* d = nullptr;
  if (r)
    d = send_in_dialog(*c1, leg_of(*c1, other_side(c1->referrer_side)), sip_method_invite, "INVITE",
                       "application/sdp", *r);
  else
    log.warn("sip: call " + c2->id + ": SDP of the party to join not usable: " + r.error().message);
  if (!d) {
    refuse_offer(yleg, cseq, offer);
    join_failed(*c1, r ? 500 : media_error_status(r.error()), true);
    return;
  }
  d->from = c1->referrer_side;
  d->offer = true;
  c1->offer_pending = true;
  c2->join_cseq = cseq;
  c2->join_offer = offer;
  c2->join_side = yside;
  d->on_final = [this, s1, s2](int st, const std::string& answer) { joined(s1, s2, st, answer); };
}

void SipStack::Impl::joined(std::uint64_t s1, std::uint64_t s2, int status,
                            const std::string& answer) {
  Call* c2 = find_call(s2);
  if (!c2 || !c2->join_cseq) return;
  MediaLeg yside = c2->join_side;
  nta_leg_t* yleg = leg_of(*c2, yside);
  std::uint32_t cseq = c2->join_cseq;
  c2->join_cseq = 0;
  Call* c1 = find_call(s1);
  bool live = c1 && c1->joined_with == s2 && c2->joined_with == s1;
  if (status >= 300 || answer.empty() || !live) {
    refuse_offer(yleg, cseq, c2->join_offer);
    if (live) join_failed(*c1, status >= 300 ? status : 488, true);
    else end_call(*c2);
    return;
  }
  ack_on(yleg, cseq, answer);
  c1->joined_with = 0;
  c1->join_notify = false;
  c2->joined_with = 0;
  const bool core = static_cast<bool>(c1->join_done);
  // Reported while the transferor's channel is open: put_leg ends it. When
  // the core joins them, it reports the transfer and ends the transferor.
  if (!core) backend.leg_transferred(channel_of(*c1, c1->referrer_side), true, {}, channel_of(*c2, yside));
  auto y = take_leg(*c2, yside);
  std::string joined_user = y ? y->target : std::string();
  nta_leg_t* ref = c1->referrer;
  nta_leg_t* old = y ? put_leg(*c1, c1->referrer_side, std::move(y), !core) : nullptr;
  if (core) return joined_for_core(*c1, *c2, ref, joined_user);
  c1->referrer = nullptr;
  bool gone1 = c1->referrer_gone;
  c1->referrer_gone = false;
  // c2 keeps only the transferor's leg.
  nta_leg_t* ref2 = leg_of(*c2, c2->referrer_side);
  bool gone2 = c2->referrer_gone;
  c2->referrer = nullptr;
  c2->referrer_gone = false;
  c2->state = Call::State::ending;
  if (ref2 && !gone2) send_bye(*c2, ref2);
  if (c2->ended_status == 0) {
    c2->ended_status = 200;
    backend.call_event(c2->id, "ended", 200);
  }
  maybe_finish(*c2);
  log.info("sip: call " + c1->id + ": joined with " + (joined_user.empty() ? "a trunk" : joined_user) +
           " from call " + c2->id);
  backend.call_event(c1->id, "transferred", 200);
  if (gone1 || !old) return;
  notify_refer(ref, 200, "OK", true, [this, s1, old] {
    Call* c = find_call(s1);
    if (c && !c->finishing) send_bye(*c, old);
  });
}

void SipStack::Impl::join_failed(Call& c1, int status, bool c2_touched) {
  Call* c2 = find_call(c1.joined_with);
  c1.joined_with = 0;
  c1.join_notify = false;
  nta_leg_t* ref = c1.referrer;
  c1.referrer = nullptr;
  bool gone1 = c1.referrer_gone;
  c1.referrer_gone = false;
  log.info("sip: call " + c1.id + ": attended transfer failed with " + std::to_string(status));
  if (c2) {
    c2->joined_with = 0;
    c2->join_cseq = 0;
    nta_leg_t* ref2 = c2->referrer;
    bool gone2 = c2->referrer_gone;
    c2->referrer = nullptr;
    c2->referrer_gone = false;
    if (gone2 || c2_touched) end_call(*c2, gone2 ? ref2 : nullptr);
  }
  if (gone1) {
    end_call(c1, ref);
    join_told(c1, status);
    return;
  }
  if (c1.join_done) {
    c1.referrer = ref;  // the core's final NOTIFY goes there
    join_told(c1, status);
    return;
  }
  notify_refer(ref, status, phrase_of(status), true, nullptr);
}

void SipStack::Impl::joined_for_core(Call& c1, Call& c2, nta_leg_t* ref, const std::string& joined_user) {
  // c1: the transferor's leg stays among its branches until the core hangs
  // it up (hangup_departed), after telling it on that leg.
  if (c1.referrer_gone) {
    for (auto& b : c1.branches)
      if (b->leg == ref && !b->channel.empty()) {
        backend.leg_event(b->channel, LegState::ended, 200, {});
        b->channel.clear();
      }
    c1.referrer = nullptr;
  }
  c1.referrer_gone = false;
  // c2 keeps only the transferor's leg, which the core hangs up, unless it is gone.
  nta_leg_t* ref2 = leg_of(c2, c2.referrer_side);
  bool gone2 = c2.referrer_gone;
  c2.referrer = nullptr;
  c2.referrer_gone = false;
  if (gone2 || !ref2) {
    c2.state = Call::State::ending;
    if (c2.ended_status == 0) {
      c2.ended_status = 200;
      backend.call_event(c2.id, "ended", 200);
    }
    maybe_finish(c2);
  }
  log.info("sip: call " + c1.id + ": joined with " + (joined_user.empty() ? "a trunk" : joined_user) + " from call " +
           c2.id);
  backend.call_event(c1.id, "transferred", 200);
  join_told(c1, 200);
}

void SipStack::Impl::join_abandoned(std::uint64_t other, std::uint64_t gone) {
  Call* o = find_call(other);
  if (!o || o->joined_with != gone) return;
  o->joined_with = 0;
  nta_leg_t* ref = o->referrer;
  o->referrer = nullptr;
  bool notify = o->join_notify;
  o->join_notify = false;
  bool left = o->referrer_gone;
  o->referrer_gone = false;
  if (o->join_cseq) {
    // Its party's offer was waiting for the other call's answer.
    refuse_offer(leg_of(*o, o->join_side), o->join_cseq, o->join_offer);
    o->join_cseq = 0;
    end_call(*o, left ? ref : nullptr);
    return;
  }
  if (left) {
    end_call(*o, ref);
    join_told(*o, 487);
    return;
  }
  if (o->join_done) {
    o->referrer = ref;  // the core's final NOTIFY goes there
    join_told(*o, 487);
    return;
  }
  if (notify) notify_refer(ref, 487, "Request Terminated", true, nullptr);
}

int SipStack::Impl::on_replacing_invite(nta_incoming_t* irq, const sip_t* sip) {
  if (!sip->sip_from || !sip->sip_to || !sip->sip_call_id) return 400;
  authenticate(irq, sip, true, "INVITE", [this, sip](nta_incoming_t* irq, const LineCredentials& line) {
    replace_party(irq, sip, line);
  });
  return 0;
}

void SipStack::Impl::replace_party(nta_incoming_t* irq, const sip_t* sip,
                                   const LineCredentials& line) {
  auto p = party_by_replaces(sip->sip_replaces);
  if (!p && sip->sip_replaces && sip->sip_replaces->rp_call_id) {
    // A dialog still ringing (early): a BLF key picking the call up. The
    // INVITE becomes a call of its own whose dialplan takes the ringing one.
    std::string ringing = ringing_branch(sip->sip_replaces);
    if (!ringing.empty()) {
      log.info("sip: INVITE with Replaces from " + line.username + " picks up ringing leg " + ringing);
      start_call(irq, sip, line, nullptr, ringing);
      return;
    }
  }
  if (!p) {
    log.info("sip: INVITE with Replaces from " + line.username + " names no answered call");
    reply(irq, SIP_481_NO_TRANSACTION);
    return;
  }
  Call& c = *p->call;
  if (c.transfer || c.joined_with || c.offer_pending) {
    reply(irq, SIP_491_REQUEST_PENDING);
    return;
  }
  // The newcomer's dialog, kept as a branch of the call until it is connected.
  auto br = std::make_unique<Branch>();
  br->call = &c;
  br->target = line.username;
  br->final = true;
  br->acked = true;
  br->status = 200;
  br->leg = nta_leg_tcreate(agent, &Impl::on_b_request, br.get(), SIPTAG_CALL_ID(sip->sip_call_id),
                            SIPTAG_FROM(sip->sip_to), SIPTAG_TO(sip->sip_from), TAG_END());
  if (!br->leg) {
    reply(irq, SIP_500_INTERNAL_SERVER_ERROR);
    return;
  }
  nta_leg_tag(br->leg, nullptr);
  nta_leg_server_route(br->leg, sip->sip_record_route, sip->sip_contact);
  nta_incoming_tag(irq, nta_leg_get_tag(br->leg));
  nta_incoming_treply(irq, SIP_100_TRYING, TAG_END());
  // The newcomer is a channel of the call core, in the replaced party's
  // call: it talks to the party that stays once it took the place.
  br->channel = backend.leg_created(LegInfo{c.id, channel_of(c, other_side(p->side)), true, line.username,
                                            line.caller_number, line.caller_name, user_of(c, other_side(p->side)),
                                            str(sip->sip_call_id->i_id)});
  Branch& nb = *br;
  index_channel(c, br->channel);
  c.branches.push_back(std::move(br));
  std::string offer = body_of(sip);
  if (nb.channel.empty()) return swap_in(c, p->side, nb, irq, offer, nullptr);  // no call core
  // The call core decides (replace_requested) and has this stack swap the
  // newcomer in (replace_channel); it hangs the replaced leg up.
  std::string replaced_leg = channel_of(c, p->side);
  pending_replaces[nb.channel] = PendingReplace{c.serial, p->side, irq, offer};
  log.info("sip: call " + c.id + ": " + line.username + " asks to replace " +
           (p->side == MediaLeg::a ? "the caller" : "the callee") + " (channel " + replaced_leg + ")");
  if (auto s = backend.leg_replace_requested(nb.channel, replaced_leg); !s) {
    int st = sdk::transfer_refusal_status(s.error());
    log.info("sip: call " + c.id + ": INVITE with Replaces refused with " + std::to_string(st) + ": " +
             s.error().message);
    if (pending_replaces.erase(nb.channel)) {
      drop_newcomer(nb, st);
      reply(irq, st, sip_status_phrase(st));
    }
  }
}

void SipStack::Impl::swap_in(Call& c, MediaLeg side, Branch& nb, nta_incoming_t* irq, const std::string& offer,
                             std::function<void(sdk::Status)> done) {
  auto refuse = [&](int st, const std::string& why) {
    log.info("sip: call " + c.id + ": INVITE with Replaces refused with " + std::to_string(st) + ": " + why);
    drop_newcomer(nb, st);
    if (nta_incoming_status(irq) < 200) reply(irq, st, sip_status_phrase(st));
    else nta_incoming_destroy(irq);  // cancelled meanwhile (answered 487 by the stack)
    if (done) done(st == 491 ? sdk::Error::conflict(why) : sdk::Error::unavailable(why));
  };
  if (nta_incoming_status(irq) >= 200) return refuse(487, "the newcomer cancelled its INVITE");
  if (c.transfer || c.joined_with || c.offer_pending) return refuse(491, "call " + c.id + " is renegotiating");
  std::string sent;
  if (!offer.empty()) {
    auto r = c.media->offer(side, offer);
    if (!r) return refuse(media_error_status(r.error()), r.error().message);
    sent = *r;
  }
  DialogRequest* d = send_in_dialog(c, leg_of(c, other_side(side)), sip_method_invite, "INVITE",
                                    sent.empty() ? "" : "application/sdp", sent);
  if (!d) return refuse(500, "the re-INVITE of the party that stays could not be sent");
  d->from = side;
  d->offer = !sent.empty();
  d->irq = irq;  // answered 481 by release_dialog if the call ends meanwhile
  c.offer_pending = true;
  auto serial = c.serial;
  Branch* nbp = &nb;
  log.info("sip: call " + c.id + ": " + nb.target + " replaces " + (side == MediaLeg::a ? "the caller" : "the callee"));
  d->on_final = [this, serial, side, nbp, d, done = std::move(done)](int status, const std::string& body) {
    replaced(serial, side, nbp, d, status, body, done);
  };
}

void SipStack::Impl::replaced(std::uint64_t serial, MediaLeg side, Branch* nb, DialogRequest* d,
                              int status, const std::string& body, const std::function<void(sdk::Status)>& done) {
  Call* c = find_call(serial);
  nta_incoming_t* irq = d->irq;
  d->irq = nullptr;
  auto failed = [&](int st, const std::string& why) {
    if (done) done(sdk::Error::unavailable("sip: the newcomer did not take its place: " + why + " (" +
                                           std::to_string(st) + ")"));
  };
  if (!c || !irq) return failed(481, "the call ended");
  if (nta_incoming_status(irq) >= 200) {
    // Cancelled meanwhile (answered 487 by the stack).
    nta_incoming_destroy(irq);
    end_call(*c);
    return failed(487, "the newcomer cancelled");
  }
  auto it = std::find_if(c->branches.begin(), c->branches.end(),
                         [nb](const auto& b) { return b.get() == nb; });
  if (status >= 300) {
    if (it != c->branches.end()) drop_newcomer(*nb, status);
    nta_incoming_treply(irq, status, phrase_of(status), TAG_END());
    nta_incoming_destroy(irq);
    return failed(status, "the party that stays refused the newcomer's media");
  }
  if (it == c->branches.end()) {
    reply(irq, SIP_500_INTERNAL_SERVER_ERROR);
    return failed(500, "the newcomer's dialog is gone");
  }
  std::unique_ptr<Branch> owned = std::move(*it);
  c->branches.erase(it);
  owned->counted = !owned->target.empty();
  count_line(owned->target, 1);
  // For the call core the replaced leg stays up, unlinked, among the call's
  // branches: the core publishes the replacement and hangs it up
  // (hangup_departed). Without one it is reported and sent BYE here.
  const bool core = static_cast<bool>(done);
  if (!core) backend.leg_transferred(channel_of(*c, side), true, {}, owned->channel);
  nta_leg_t* old = put_leg(*c, side, std::move(owned), !core);
  nta_incoming_treply(irq, SIP_200_OK, SIPTAG_CONTACT(contact),
                      TAG_IF(!body.empty(), SIPTAG_CONTENT_TYPE_STR("application/sdp")),
                      TAG_IF(!body.empty(), SIPTAG_PAYLOAD_STR(body.c_str())), TAG_END());
  nta_incoming_destroy(irq);
  backend.call_event(c->id, "transferred", 200);
  if (core) return done({});
  if (old) send_bye(*c, old);
}

void SipStack::Impl::drop_newcomer(Branch& nb, int status) {
  if (nb.channel.empty()) return;
  backend.leg_event(nb.channel, LegState::ended, status, {});
  channel_calls.erase(nb.channel);
  nb.channel.clear();
}

}  // namespace dialtone::plugins::backend::sip
