// Session timers (RFC 4028) on each leg of an answered call, and reliable
// provisional responses (PRACK, RFC 3262).
#include "plugins/backend/sip/stack_impl.h"

#include <dialtone/text.h>

namespace dialtone::plugins::backend::sip {

bool SipStack::Impl::has_feature(const msg_list_t* list, const char* feature) {
  return list && sip_has_feature(list, feature);
}

std::string& SipStack::Impl::sdp_sent_on(Call& c, MediaLeg side) {
  return side == MediaLeg::a ? c.a_sdp_sent : c.b_sdp_sent;
}

std::string& SipStack::Impl::sdp_sent_on(Call& c, nta_leg_t* leg) {
  return sdp_sent_on(c, leg == c.a_leg ? MediaLeg::a : MediaLeg::b);
}

bool SipStack::Impl::refuse_invite(nta_incoming_t* irq, const sip_t* sip) {
  if (refuse_extensions(irq, sip)) return true;
  if (too_brief(sip)) {
    reply_too_brief(irq);
    return true;
  }
  return false;
}

bool SipStack::Impl::unsupported_required(const sip_t* sip) {
  if (!sip->sip_require) return false;
  Home h;
  sip_supported_t* ours = sip_supported_make(h.get(), kSupported);
  return sip_has_unsupported(h.get(), ours, sip->sip_require) != nullptr;
}

bool SipStack::Impl::refuse_extensions(nta_incoming_t* irq, const sip_t* sip) {
  if (!sip->sip_require) return false;
  Home h;
  sip_supported_t* ours = sip_supported_make(h.get(), kSupported);
  sip_unsupported_t* u = sip_has_unsupported(h.get(), ours, sip->sip_require);
  if (!u) return false;
  char buf[256] = {0};
  sip_header_field_e(buf, sizeof buf, reinterpret_cast<const sip_header_t*>(u), 0);
  log.info("sip: " + str(sip->sip_request->rq_method_name) + " from " + source_of(irq).ip +
           " refused with 420: it requires " + buf);
  nta_incoming_treply(irq, SIP_420_BAD_EXTENSION, SIPTAG_UNSUPPORTED(u),
                      SIPTAG_SUPPORTED_STR(kSupported), TAG_END());
  nta_incoming_destroy(irq);
  return true;
}

bool SipStack::Impl::too_brief(const sip_t* sip) const {
  return sip->sip_session_expires &&
         sip->sip_session_expires->x_delta < static_cast<unsigned long>(cfg.session_min_se);
}

void SipStack::Impl::reply_too_brief(nta_incoming_t* irq) {
  std::string min = std::to_string(cfg.session_min_se);
  nta_incoming_treply(irq, SIP_422_SESSION_TIMER_TOO_SMALL, SIPTAG_MIN_SE_STR(min.c_str()),
                      SIPTAG_SUPPORTED_STR(kSupported), TAG_END());
  nta_incoming_destroy(irq);
}

void SipStack::Impl::timer_from_request(SessionTimer& st, const sip_t* sip) {
  if (has_feature(sip->sip_supported, "timer") || has_feature(sip->sip_require, "timer"))
    st.peer_timer = true;
  if (sip->sip_allow) st.peer_update = sip_is_allowed(sip->sip_allow, sip_method_update, "UPDATE");
  const sip_session_expires_t* se = sip->sip_session_expires;
  if (!se || se->x_delta == 0) return;
  st.interval = static_cast<int>(std::min<unsigned long>(se->x_delta, 86400));
  st.we_refresh = !st.peer_timer || (se->x_refresher && sdk::text::iequals(se->x_refresher, "uas"));
}

void SipStack::Impl::timer_from_response(SessionTimer& st, const sip_t* sip) {
  if (!sip) return;
  if (sip->sip_allow) st.peer_update = sip_is_allowed(sip->sip_allow, sip_method_update, "UPDATE");
  const sip_session_expires_t* se = sip->sip_session_expires;
  if (!se || se->x_delta == 0) return;
  st.peer_timer = true;
  st.interval = static_cast<int>(std::min<unsigned long>(se->x_delta, 86400));
  st.we_refresh = !se->x_refresher || sdk::text::iequals(se->x_refresher, "uac");
}

void SipStack::Impl::caller_extensions(Call& c, const sip_t* sip) {
  timer_from_request(c.a_timer, sip);
  c.a_rel100 = has_feature(sip->sip_require, "100rel") ||
               (cfg.rel100_when_supported && has_feature(sip->sip_supported, "100rel"));
}

std::string SipStack::Impl::timer_headers(const SessionTimer& st) {
  if (st.interval <= 0) return {};
  std::string h = "Session-Expires: " + std::to_string(st.interval) +
                  ";refresher=" + (st.we_refresh ? "uas" : "uac");
  if (st.peer_timer) h += "\r\nRequire: timer";
  return h;
}

std::string SipStack::Impl::timer_request_headers(Call& c, nta_leg_t* leg) {
  const SessionTimer& st = leg == c.a_leg ? c.a_timer : c.b_timer;
  if (st.interval <= 0) return {};
  return "Session-Expires: " + std::to_string(st.interval) +
         ";refresher=" + (st.we_refresh ? "uac" : "uas") + "\r\nSupported: timer";
}

void SipStack::Impl::session_answered(Call& c, const sip_t* b_ok) {
  timer_from_response(c.b_timer, b_ok);
  if (c.b_sdp_sent.empty()) c.b_sdp_sent = c.sdp;
  arm_session_timer(c, MediaLeg::a);
  arm_session_timer(c, MediaLeg::b);
}

void SipStack::Impl::arm_session_timer(Call& c, MediaLeg side, long delay_ms) {
  SessionTimer& st = timer_of(c, side);
  st.call = &c;
  st.side = side;
  if (st.interval <= 0 || !root) return;
  long ms = delay_ms >= 0 ? delay_ms
            : st.we_refresh ? st.interval * 500L
                            : (st.interval - std::min(32, st.interval / 3)) * 1000L;
  if (!st.timer) st.timer = su_timer_create(su_root_task(root), ms);
  if (st.timer) su_timer_set_interval(st.timer, &Impl::on_session_timer, &st, ms);
}

void SipStack::Impl::on_session_timer(void*, su_timer_t*, void* arg) {
  auto* st = static_cast<SessionTimer*>(arg);
  Impl* self = current();
  Call& c = *st->call;
  if (c.state != Call::State::answered || c.finishing) return;
  if (st->we_refresh) self->send_refresh(c, *st);
  else self->session_expired(c, *st, "no session refresh came in time");
}

void SipStack::Impl::send_refresh(Call& c, SessionTimer& st) {
  nta_leg_t* leg = leg_of(c, st.side);
  if (!leg || st.refresh) return;
  const std::string& sdp = sdp_sent_on(c, st.side);
  bool update = st.peer_update || sdp.empty();
  if (!update && (c.offer_pending || c.transfer)) {
    arm_session_timer(c, st.side, 2000);  // an offer is in flight: try again shortly
    return;
  }
  std::string se = "Session-Expires: " + std::to_string(st.interval) + ";refresher=uac";
  std::string min = std::to_string(cfg.session_min_se);
  auto [peer, uri] = leg_peer(c, leg);
  std::string via = via_toward(peer, uri);
  st.refresh = nta_outgoing_tcreate(
      leg, &Impl::on_refresh_response, &st, nullptr,
      update ? sip_method_update : sip_method_invite, update ? "UPDATE" : "INVITE", nullptr,
      SIPTAG_CONTACT(contact_toward(peer)), SIPTAG_USER_AGENT_STR(cfg.user_agent.c_str()),
      TAG_IF(!via.empty(), NTATAG_USER_VIA(1)), TAG_IF(!via.empty(), SIPTAG_VIA_STR(via.c_str())),
      SIPTAG_SUPPORTED_STR(kSupported), SIPTAG_HEADER_STR(se.c_str()),
      SIPTAG_MIN_SE_STR(min.c_str()),
      TAG_IF(!update, SIPTAG_CONTENT_TYPE_STR("application/sdp")),
      TAG_IF(!update, SIPTAG_PAYLOAD_STR(sdp.c_str())), TAG_END());
  if (!st.refresh) {
    session_expired(c, st, "the session refresh could not be sent");
    return;
  }
  st.refresh_invite = !update;
  if (!update) c.offer_pending = true;
}

int SipStack::Impl::on_refresh_response(void* magic, nta_outgoing_t* orq, const sip_t* sip) {
  auto* st = static_cast<SessionTimer*>(magic);
  int status = sip && sip->sip_status ? static_cast<int>(sip->sip_status->st_status)
                                      : nta_outgoing_status(orq);
  if (status < 200 || st->refresh != orq) return 0;
  Impl* self = current();
  if (auto* again = self->answer_challenge(orq, sip, &Impl::on_refresh_response, st)) {
    st->refresh = again;
    return 0;
  }
  Call& c = *st->call;
  bool invite = st->refresh_invite;
  st->refresh = nullptr;
  st->refresh_invite = false;
  if (invite) {
    c.offer_pending = false;
    nta_leg_t* leg = self->leg_of(c, st->side);
    if (status < 300 && sip && sip->sip_cseq && leg) self->ack_on(leg, sip->sip_cseq->cs_seq);
  }
  // The transaction goes once its callback has returned.
  self->later([orq] { nta_outgoing_destroy(orq); });
  if (c.state != Call::State::answered || c.finishing) return 0;
  if (status < 300) {
    timer_from_response(*st, sip);
    self->arm_session_timer(c, st->side);
  } else if (status == 408 || status == 481) {
    self->session_expired(c, *st, "the session refresh got " + std::to_string(status));
  } else if (status == 422 && sip && sip->sip_min_se) {
    st->interval = std::max<int>(st->interval, static_cast<int>(sip->sip_min_se->min_delta));
    self->send_refresh(c, *st);
  } else if (!invite && (status == 405 || status == 501) && !self->sdp_sent_on(c, st->side).empty()) {
    st->peer_update = false;
    self->send_refresh(c, *st);
  } else if (status == 491) {
    self->arm_session_timer(c, st->side, 2000);
  } else {
    self->arm_session_timer(c, st->side);
  }
  return 0;
}

void SipStack::Impl::session_expired(Call& c, SessionTimer& st, const std::string& why) {
  if (c.state != Call::State::answered) return;
  log.info("sip: call " + c.id + ": session timer of the " +
           (st.side == MediaLeg::a ? "caller" : "callee") + "'s leg (" +
           std::to_string(st.interval) + " s) expired: " + why + "; hanging up");
  c.state = Call::State::ending;
  send_bye(c, c.a_leg);
  if (c.winner) send_bye(c, c.winner->leg);
  if (c.ended_status == 0) {
    c.ended_status = 408;
    backend.call_event(c.id, "ended", 408);
  }
  maybe_finish(c);
}

int SipStack::Impl::take_refresh(Call& c, MediaLeg from, nta_incoming_t* irq, const sip_t* sip) {
  if (refuse_extensions(irq, sip)) return 0;
  if (too_brief(sip)) {
    reply_too_brief(irq);
    return 0;
  }
  SessionTimer& st = timer_of(c, from);
  timer_from_request(st, sip);
  if (sip->sip_request->rq_method != sip_method_update || !body_of(sip).empty()) return -1;
  std::string timer = timer_headers(st);
  nta_incoming_treply(irq, SIP_200_OK, SIPTAG_CONTACT(contact_toward(side_peer(c, from).first)),
                      SIPTAG_SUPPORTED_STR(kSupported),
                      TAG_IF(!timer.empty(), SIPTAG_HEADER_STR(timer.c_str())), TAG_END());
  nta_incoming_destroy(irq);
  arm_session_timer(c, from);
  return 0;
}

void SipStack::Impl::session_refreshed(Call& c, DialogRequest& d, const sip_t* sip) {
  MediaLeg to = d.to_leg == c.a_leg ? MediaLeg::a : MediaLeg::b;
  timer_from_response(timer_of(c, to), sip);
  arm_session_timer(c, to);
  if (d.irq) arm_session_timer(c, d.from);
}

void SipStack::Impl::drop_session_timers(Call& c) {
  for (SessionTimer* st : {&c.a_timer, &c.b_timer}) {
    if (st->timer) su_timer_destroy(st->timer);
    st->timer = nullptr;
    if (st->refresh) nta_outgoing_destroy(st->refresh);
    st->refresh = nullptr;
  }
}

void SipStack::Impl::prack(Branch& br, const sip_t* sip) {
  if (!br.leg || !br.orq || br.final || !sip->sip_cseq || !sip->sip_to || !sip->sip_to->a_tag ||
      !has_feature(sip->sip_require, "100rel"))
    return;
  std::uint32_t rseq = sip->sip_rseq->rs_response;
  if (br.rseq != 0 && rseq <= br.rseq) return;
  br.rseq = rseq;
  nta_leg_rtag(br.leg, sip->sip_to->a_tag);
  nta_leg_client_route(br.leg, sip->sip_record_route, sip->sip_contact);
  std::string rack = std::to_string(rseq) + " " + std::to_string(sip->sip_cseq->cs_seq) + " INVITE";
  nta_outgoing_t* p = nta_outgoing_tcreate(br.leg, &Impl::on_prack_response, nullptr, nullptr,
                                           SIP_METHOD_PRACK, nullptr, SIPTAG_RACK_STR(rack.c_str()),
                                           SIPTAG_USER_AGENT_STR(cfg.user_agent.c_str()), TAG_END());
  if (!p) log.warn("sip: call " + br.call->id + ": could not PRACK " + br.target + "'s " +
                   std::to_string(sip->sip_status->st_status));
  nta_outgoing_setrseq(br.orq, rseq);
}

int SipStack::Impl::on_prack_response(void*, nta_outgoing_t* orq, const sip_t* sip) {
  int status = sip && sip->sip_status ? static_cast<int>(sip->sip_status->st_status)
                                      : nta_outgoing_status(orq);
  if (status >= 200) nta_outgoing_destroy(orq);
  return 0;
}

void SipStack::Impl::rel100_timeout(Call& c) {
  if (c.state == Call::State::ending) return;
  log.info("sip: call " + c.id + ": the caller did not PRACK a reliable provisional response");
  if (c.state == Call::State::answered && c.winner) send_bye(c, c.winner->leg);
  for (auto& b : c.branches)
    if (!b->final && b->orq) nta_outgoing_cancel(b->orq);
  c.state = Call::State::ending;
  if (c.ended_status == 0) {
    c.ended_status = 503;
    backend.call_event(c.id, "ended", 503);
  }
  end_dials(c, DialResult{"cancelled", 503});
  maybe_finish(c);
}

}  // namespace dialtone::plugins::backend::sip
