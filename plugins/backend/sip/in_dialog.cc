// Requests inside a call (re-INVITE, UPDATE, INFO): relayed to the other
// leg with SDP rewritten, and their answers relayed back.
#include "plugins/backend/sip/stack_impl.h"

namespace dialtone::plugins::backend::sip {

std::string SipStack::Impl::body_of(const sip_t* sip) {
  if (!sip || !sip->sip_payload || !sip->sip_payload->pl_data) return {};
  return std::string(sip->sip_payload->pl_data, sip->sip_payload->pl_len);
}

std::string SipStack::Impl::type_of(const sip_t* sip) {
  return sip && sip->sip_content_type ? str(sip->sip_content_type->c_type) : std::string();
}

int SipStack::Impl::in_dialog(Call& c, MediaLeg from, Branch* br, nta_incoming_t* irq,
                              const sip_t* sip) {
  auto method = sip->sip_request->rq_method;
  bool established = c.state == Call::State::answered && c.winner &&
                     (from == MediaLeg::a || br == c.winner);
  switch (method) {
    case sip_method_options:
      nta_incoming_treply(irq, SIP_200_OK, SIPTAG_ALLOW_STR(kAllow),
                          SIPTAG_ACCEPT_STR("application/sdp"), SIPTAG_CONTACT(contact), TAG_END());
      nta_incoming_destroy(irq);
      return 0;
    case sip_method_refer:
      if (!established) return 481;
      return on_refer(c, from, irq, sip);
    case sip_method_invite:
    case sip_method_update:
    case sip_method_info:
      break;
    case sip_method_prack:
      return 481;  // no reliable 18x of ours waits for it (sofia takes those)
    default:
      return 501;
  }
  if (method == sip_method_update && from == MediaLeg::b && br && !br->final && c.state == Call::State::ringing)
    return early_update(c, *br, irq, sip);
  if (!established) return c.state == Call::State::ending ? 481 : 491;
  bool offerish = method != sip_method_info;
  if (offerish) {
    if (int answered = take_refresh(c, from, irq, sip); answered >= 0) return answered;
  }
  if (offerish && (c.offer_pending || c.transfer || c.joined_with)) return 491;  // glare
  std::string body = body_of(sip);
  std::string type = type_of(sip);
  bool offer = offerish && !body.empty();
  int d_hold = 0;
  if (offer) {
    // A phone holds by offering sendonly or inactive media (RFC 6337): the
    // call core is told, so CTI and BLF see held calls.
    bool held = body.find("a=sendonly") != std::string::npos || body.find("a=inactive") != std::string::npos;
    const std::string& leg = from == MediaLeg::a ? c.channel : c.winner->channel;
    if (held != (from == MediaLeg::a ? c.a_held : c.b_held)) {
      (from == MediaLeg::a ? c.a_held : c.b_held) = held;
      backend.leg_held(leg, held);
      d_hold = held ? 1 : -1;
    }
    auto r = c.media->offer(from, body);
    if (!r) {
      int st = media_error_status(r.error());
      log.info("sip: call " + c.id + ": new offer refused with " + std::to_string(st) + ": " +
               r.error().message);
      reply(irq, st, sip_status_phrase(st));
      return 0;
    }
    body = raise_origin_version(*r, c.sdp_raised[static_cast<int>(other_side(from))]);
    // A resume stops the music at once, before the other side answers.
    if (d_hold < 0) hold_changed(c, from, false);
  }
  nta_leg_t* to = from == MediaLeg::a ? c.winner->leg : c.a_leg;
  DialogRequest* d = send_in_dialog(c, to, method, str(sip->sip_request->rq_method_name), type, body);
  if (!d) return 500;
  d->from = from;
  d->irq = irq;
  d->offer = offer;
  d->hold = d_hold > 0;
  if (offerish) c.offer_pending = true;
  return 0;
}

// Providers' SBCs send UPDATE before they answer: to move their early media
// to another media server, or to refresh a session timer. The relay keeps
// the port it gave the caller, so the caller needs no new offer and the
// UPDATE is answered here: B's new address is learnt as an offer and the
// caller's own offer answers it. (With direct media the caller keeps
// sending where B's first answer said.)
int SipStack::Impl::early_update(Call& c, Branch& br, nta_incoming_t* irq, const sip_t* sip) {
  std::string body = body_of(sip);
  if (body.empty()) {
    nta_incoming_treply(irq, SIP_200_OK, SIPTAG_CONTACT(contact_toward(br.peer)), TAG_END());
    nta_incoming_destroy(irq);
    return 0;
  }
  if (c.a_offer.empty()) {
    // The caller made no offer (late offer): nothing to answer B with yet.
    log.info("sip: call " + c.id + ": UPDATE with SDP before the answer, the caller made no offer; 488");
    reply(irq, SIP_488_NOT_ACCEPTABLE);
    return 0;
  }
  auto offered = c.media->offer(MediaLeg::b, body);
  auto answer = offered ? c.media->answer(MediaLeg::a, c.a_offer) : sdk::Result<std::string>(offered.error());
  if (!answer) {
    int st = media_error_status(answer.error());
    log.info("sip: call " + c.id + ": UPDATE before the answer refused with " + std::to_string(st) + ": " +
             answer.error().message);
    reply(irq, st, sip_status_phrase(st));
    return 0;
  }
  std::string sdp = sdp_toward(*answer, br.peer);
  nta_incoming_treply(irq, SIP_200_OK, SIPTAG_CONTACT(contact_toward(br.peer)),
                      SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(sdp.c_str()), TAG_END());
  nta_incoming_destroy(irq);
  return 0;
}

DialogRequest* SipStack::Impl::send_in_dialog(Call& c, nta_leg_t* leg, sip_method_t method,
                                              const std::string& name, const std::string& type,
                                              const std::string& body) {
  auto d = std::make_unique<DialogRequest>();
  d->serial = c.serial;
  d->method = method;
  d->to_leg = leg;
  bool refresh = method == sip_method_invite || method == sip_method_update;
  std::string timer = refresh ? timer_request_headers(c, leg) : std::string();
  // Behind NAT, an outside peer is told the external addresses.
  auto [peer, uri] = leg_peer(c, leg);
  std::string via = via_toward(peer, uri);
  std::string sdp = type == "application/sdp" ? sdp_toward(body, peer) : body;
  d->orq = nta_outgoing_tcreate(
      leg, &Impl::on_dialog_response, d.get(), nullptr, method, name.c_str(), nullptr,
      TAG_IF(refresh, SIPTAG_CONTACT(contact_toward(peer))), SIPTAG_USER_AGENT_STR(cfg.user_agent.c_str()),
      TAG_IF(!via.empty(), NTATAG_USER_VIA(1)), TAG_IF(!via.empty(), SIPTAG_VIA_STR(via.c_str())),
      TAG_IF(!timer.empty(), SIPTAG_HEADER_STR(timer.c_str())),
      TAG_IF(!sdp.empty() && !type.empty(), SIPTAG_CONTENT_TYPE_STR(type.c_str())),
      TAG_IF(!sdp.empty(), SIPTAG_PAYLOAD_STR(sdp.c_str())), TAG_END());
  if (!d->orq) return nullptr;
  if (refresh && !sdp.empty()) sdp_sent_on(c, leg) = sdp;
  c.dialog.push_back(std::move(d));
  return c.dialog.back().get();
}

int SipStack::Impl::on_dialog_response(void* magic, nta_outgoing_t* orq, const sip_t* sip) {
  auto* d = static_cast<DialogRequest*>(magic);
  int status = sip && sip->sip_status ? static_cast<int>(sip->sip_status->st_status)
                                      : nta_outgoing_status(orq);
  if (status < 200 || d->finished) return 0;
  if (auto* again = current()->answer_challenge(orq, sip, &Impl::on_dialog_response, d)) {
    d->orq = again;
    return 0;
  }
  current()->dialog_final(*d, sip, status);
  return 0;
}

void SipStack::Impl::ack_on(nta_leg_t* leg, std::uint32_t cseq_number, const std::string& sdp) {
  Home h;
  sip_cseq_t* cseq = sip_cseq_create(h.get(), cseq_number, SIP_METHOD_ACK);
  nta_outgoing_t* ack = nta_outgoing_tcreate(
      leg, nullptr, nullptr, nullptr, SIP_METHOD_ACK, nullptr, SIPTAG_CSEQ(cseq),
      TAG_IF(!sdp.empty(), SIPTAG_CONTENT_TYPE_STR("application/sdp")),
      TAG_IF(!sdp.empty(), SIPTAG_PAYLOAD_STR(sdp.c_str())), TAG_END());
  if (ack) nta_outgoing_destroy(ack);
}

void SipStack::Impl::dialog_final(DialogRequest& d, const sip_t* sip, int status) {
  d.finished = true;
  Call* c = find_call(d.serial);
  if (!c) return;
  bool offerish = d.method == sip_method_invite || d.method == sip_method_update;
  std::string body = body_of(sip);
  std::string type = type_of(sip);
  std::uint32_t cseq = sip && sip->sip_cseq ? sip->sip_cseq->cs_seq : 0;
  bool ack_now = d.method == sip_method_invite && status < 300 && sip && !d.raw;
  d.cseq = cseq;
  if (offerish) c->offer_pending = false;
  if (offerish && status < 300 && !body.empty() && !d.raw) {
    MediaLeg side = other_side(d.from);
    auto r = d.offer ? c->media->answer(side, body) : c->media->offer(side, body);
    if (r) {
      body = raise_origin_version(*r, c->sdp_raised[static_cast<int>(d.from)]);
      if (!d.offer && d.method == sip_method_invite) {
        // A re-INVITE without SDP: the ACK from the other side brings the answer.
        ack_now = false;
        c->ack_leg = d.to_leg;
        c->ack_cseq = cseq;
        c->ack_from = d.from;
      }
    } else {
      log.warn("sip: call " + c->id + ": SDP in the answer not relayed: " + r.error().message);
      body.clear();
    }
  }
  if (ack_now) ack_on(d.to_leg, cseq);
  // The held side answered the hold: its music starts with the answer's codec.
  if (d.hold && status < 300) hold_changed(*c, d.from, true);
  if (offerish && status < 300) session_refreshed(*c, d, sip);
  if (d.on_final) {
    auto fn = std::move(d.on_final);
    d.on_final = nullptr;
    fn(status, body);
  } else if (d.irq) {
    const char* phrase = sip && sip->sip_status ? sip->sip_status->st_phrase : sip_status_phrase(status);
    std::string timer = offerish && status < 300 ? timer_headers(timer_of(*c, d.from)) : std::string();
    std::string peer = side_peer(*c, d.from).first;
    if (offerish && !body.empty()) body = sdp_toward(body, peer);
    if (offerish && status < 300 && !body.empty()) sdp_sent_on(*c, d.from) = body;
    nta_incoming_treply(d.irq, status, phrase ? phrase : "Error",
                        TAG_IF(offerish && status < 300, SIPTAG_CONTACT(contact_toward(peer))),
                        TAG_IF(!timer.empty(), SIPTAG_HEADER_STR(timer.c_str())),
                        TAG_IF(!body.empty() && !type.empty(), SIPTAG_CONTENT_TYPE_STR(type.c_str())),
                        TAG_IF(!body.empty(), SIPTAG_PAYLOAD_STR(body.c_str())), TAG_END());
    nta_incoming_destroy(d.irq);
    d.irq = nullptr;
  }
  // The transaction object goes once its callback has returned.
  auto serial = d.serial;
  DialogRequest* done = &d;
  later([this, serial, done] {
    Call* c = find_call(serial);
    if (!c) return;
    auto it = std::find_if(c->dialog.begin(), c->dialog.end(),
                           [done](const auto& p) { return p.get() == done; });
    if (it == c->dialog.end()) return;
    if ((*it)->orq) nta_outgoing_destroy((*it)->orq);
    c->dialog.erase(it);
  });
}

void SipStack::Impl::relay_ack(Call& c, MediaLeg from, const sip_t* sip) {
  if (!c.ack_leg || c.ack_from != from) return;
  std::string answer;
  std::string body = body_of(sip);
  if (!body.empty()) {
    auto r = c.media->answer(from, body);
    if (r) answer = raise_origin_version(*r, c.sdp_raised[static_cast<int>(other_side(from))]);
    else log.warn("sip: call " + c.id + ": SDP answer in ACK not relayed: " + r.error().message);
  }
  ack_on(c.ack_leg, c.ack_cseq, answer);
  if (!answer.empty()) sdp_sent_on(c, c.ack_leg) = answer;
  c.ack_leg = nullptr;
}

void SipStack::Impl::release_dialog(Call& c) {
  for (auto& d : c.dialog) {
    if (d->irq) {
      if (nta_incoming_status(d->irq) < 200) nta_incoming_treply(d->irq, SIP_481_NO_TRANSACTION, TAG_END());
      nta_incoming_destroy(d->irq);
      d->irq = nullptr;
    }
    if (d->orq) nta_outgoing_destroy(d->orq);
    d->orq = nullptr;
  }
  c.dialog.clear();
  c.ack_leg = nullptr;
  if (!inbox->open) return;  // stopping: no more signalling
  if (c.join_done) join_told(c, 487);  // the call core's join ends with it
  if (c.transfer_of && !c.transfer_done) transfer_failed(c);
  if (c.transfer) {
    auto t = c.transfer;
    c.transfer = 0;
    later([this, t] { abandon_transfer(t); });
  }
  if (c.joined_with) {
    auto other = c.joined_with;
    auto serial = c.serial;
    c.joined_with = 0;
    later([this, other, serial] { join_abandoned(other, serial); });
  }
}

}  // namespace dialtone::plugins::backend::sip
