// Requests outside any dialog: the dispatcher of new requests (REGISTER,
// INVITE, OPTIONS...), and Dialtone's own OPTIONS (qualify) and NOTIFY
// (check-sync) with their deadlines.
#include "plugins/backend/sip/stack_impl.h"

namespace dialtone::plugins::backend::sip {

int SipStack::Impl::on_stray(void* magic, nta_agent_t* agent, msg_t* msg, sip_t* sip) {
  auto* self = static_cast<Impl*>(magic);
  // Responses that match no request of ours, and requests while stopping.
  if (!self || !sip || !sip->sip_request || self->closing) {
    nta_msg_discard(agent, msg);
    return 0;
  }
  self->front_door(msg, sip);
  return 0;
}

void SipStack::Impl::reply_stateless(msg_t* msg, int status, const char* phrase) {
  nta_msg_treply(agent, msg, status, phrase, TAG_END());
}

bool SipStack::Impl::overloaded() {
  if (cfg.max_pending == 0) return false;
  std::size_t pending = awaiting_credentials + awaiting_route;
  if (pending < cfg.max_pending) pending += inbox->depth();
  return pending >= cfg.max_pending;
}

void SipStack::Impl::refuse_overload(msg_t* msg, std::atomic<std::uint64_t>& count) {
  ++count;
  std::string retry = std::to_string(cfg.retry_after.count());
  nta_msg_treply(agent, msg, SIP_503_SERVICE_UNAVAILABLE, SIPTAG_RETRY_AFTER_STR(retry.c_str()),
                 TAG_END());
}

void SipStack::Impl::report_overload() {
  std::uint64_t refused = overload_refused + late_refused;
  std::uint64_t late = late_refused;
  if (refused > overload_logged) {
    if (!overload_reported)
      log.warn("sip: overloaded: new INVITEs and REGISTERs refused with 503 and Retry-After (" +
               std::to_string(late - late_logged) + " read later than sip.max_queue_delay, " +
               std::to_string(refused - overload_logged - (late - late_logged)) +
               " past sip.max_pending in the last second)");
    overload_reported = true;
  } else if (overload_reported) {
    log.info("sip: overload over: " + std::to_string(refused - overload_episode) +
             " new requests refused with 503");
    overload_reported = false;
  }
  if (!overload_reported) overload_episode = refused;
  overload_logged = refused;
  late_logged = late;
}

void SipStack::Impl::front_door(msg_t* msg, sip_t* sip) {
  sip_method_t method = sip->sip_request->rq_method;
  switch (method) {
    case sip_method_register:
    case sip_method_invite:
    case sip_method_subscribe:
      break;
    case sip_method_ack:  // an ACK is never answered; this one belongs to nothing
      nta_msg_discard(agent, msg);
      return;
    case sip_method_options:
      nta_msg_treply(agent, msg, SIP_200_OK, SIPTAG_ALLOW_STR(kAllow),
                     SIPTAG_ACCEPT_STR("application/sdp"),
                     SIPTAG_USER_AGENT_STR(cfg.user_agent.c_str()), TAG_END());
      return;
    case sip_method_bye:
    case sip_method_cancel:
      reply_stateless(msg, SIP_481_NO_TRANSACTION);
      return;
    default:
      nta_msg_treply(agent, msg, SIP_405_METHOD_NOT_ALLOWED, SIPTAG_ALLOW_STR(kAllow), TAG_END());
      return;
  }
  bool invite = method == sip_method_invite;
  if (!sip->sip_from || !sip->sip_to || !sip->sip_call_id || !sip->sip_cseq ||
      (!invite && !sip->sip_to->a_url->url_user)) {
    reply_stateless(msg, SIP_400_BAD_REQUEST);
    return;
  }
  if ((invite || method == sip_method_subscribe) && sip->sip_to->a_tag) {  // a dialog that is gone
    reply_stateless(msg, SIP_481_NO_TRANSACTION);
    return;
  }
  // A retransmission of a REGISTER taken or of a request challenged here
  // gets the answer it had (the same nonce and To tag).
  if (method != sip_method_subscribe && answered_again(msg, sip)) return;
  // Read too long after it arrived: its sender has retransmitted it or given
  // up meanwhile, and so have the senders queued behind it. Refused before
  // any work, so that the queue drains and what is admitted stays on time.
  // Measured only when it could be past the bound (see last_within).
  bool has_credentials = sip->sip_authorization || sip->sip_proxy_authorization;
  if (su_addrinfo_t* ai = msg_addrinfo(msg);
      ai && ai->ai_protocol == IPPROTO_UDP && cfg.max_queue_delay.count() > 0 &&
      too_late(receive_delay.last_within(ai->ai_family, late_bound(cfg.max_queue_delay, has_credentials)),
               cfg.max_queue_delay, has_credentials)) {
    refuse_overload(msg, late_refused);
    return;
  }
  Source src = source_of(msg);
  if (bans.banned(src.ip, std::chrono::steady_clock::now())) {
    reply_stateless(msg, SIP_403_FORBIDDEN);
    return;
  }
  const msg_auth_t* auth = invite ? sip->sip_proxy_authorization : sip->sip_authorization;
  auto creds = our_credentials(auth);
  AuthStep step = auth_step(creds);
  // Its transaction has ended (a late retransmission, e.g. an INVITE that
  // crossed our 200 and the ACK): nothing to answer, not a replay.
  if (step == AuthStep::check &&
      nonces.used_by(creds->nonce, *nonce_count(*creds), request_fingerprint(sip))) {
    nta_msg_discard(agent, msg);
    return;
  }
  if (overloaded()) {
    refuse_overload(msg, overload_refused);
    return;
  }
  // Without usable credentials: challenged here, keeping only the answer
  // for retransmissions (no sofia transaction), unless an
  // INVITE may come from a peer trunk (recognized by address, no digest) or
  // gets 420/422 for its Require or Session-Expires before any challenge.
  if (step != AuthStep::check) {
    bool stateful = false;
    if (invite)
      stateful = !trunks_known || unsupported_required(sip) || too_brief(sip) ||
                 sip->sip_replaces ||
                 std::any_of(trunks.begin(), trunks.end(),
                             [&](const TrunkInfo& t) { return from_trunk(t, src); });
    if (!stateful) {
      challenge_statelessly(msg, sip, invite, step == AuthStep::stale);
      return;
    }
  }
  if (method == sip_method_register) register_statelessly(msg, sip, *creds);
  else accept(msg, sip);
}

void SipStack::Impl::challenge_statelessly(msg_t* msg, sip_t* sip, bool proxy, bool stale) {
  auto [first, second] = make_challenge(stale);
  std::string name = proxy ? "Proxy-Authenticate: " : "WWW-Authenticate: ";
  AnsweredRequests::Answer a{proxy ? 407 : 401, {}, name + first};
  if (!second.empty()) a.headers += "\r\n" + name + second;
  std::string key = transaction_key(sip);
  send_answer(msg, sip, key, a);
  if (answered.begin(key, mono_ms())) answered.answer(key, std::move(a));
}

// What sofia's default leg did: a transaction for the request, on_request,
// and the status it returns sent (0: answered there or later).
void SipStack::Impl::accept(msg_t* msg, sip_t* sip) {
  // Held so that `sip` stays readable even if the transaction ends inside.
  msg_t* keep = msg_ref_create(msg);
  nta_incoming_t* irq = nta_incoming_create(agent, nullptr, msg, sip, TAG_END());
  if (irq) {
    int status = on_request(this, nullptr, irq, sip);
    if (status != 0) {
      if (status < 100 || status > 699) status = 500;
      if (nta_incoming_status(irq) < 200) nta_incoming_treply(irq, status, nullptr, TAG_END());
      if (status >= 200) nta_incoming_destroy(irq);
    }
  }
  msg_destroy(keep);
}

int SipStack::Impl::on_request(void* magic, nta_leg_t* leg, nta_incoming_t* irq, const sip_t* sip) {
  auto* self = static_cast<Impl*>(magic);
  if (!sip || !sip->sip_request) return 400;
  switch (sip->sip_request->rq_method) {
    case sip_method_register:  // answered by the front door, never as a transaction
      return 500;
    case sip_method_invite:
      if (sip->sip_to && sip->sip_to->a_tag) return 481;
      if (sip->sip_replaces) return self->on_replacing_invite(irq, sip);
      return self->on_invite(irq, sip);
    case sip_method_subscribe:
      if (sip->sip_to && sip->sip_to->a_tag) return 481;
      return self->subscriptions->on_subscribe(irq, sip);
    case sip_method_options:
      nta_incoming_treply(irq, SIP_200_OK,
                          SIPTAG_ALLOW_STR(kAllow),
                          SIPTAG_ACCEPT_STR("application/sdp"),
                          SIPTAG_USER_AGENT_STR(self->cfg.user_agent.c_str()), TAG_END());
      nta_incoming_destroy(irq);
      return 0;
    case sip_method_ack:  // never answered: the transaction ends now
      nta_incoming_destroy(irq);
      return 0;
    case sip_method_bye:
    case sip_method_cancel:
      return 481;
    default:
      nta_incoming_treply(irq, SIP_405_METHOD_NOT_ALLOWED,
                          SIPTAG_ALLOW_STR(kAllow),
                          TAG_END());
      nta_incoming_destroy(irq);
      return 0;
  }
}

std::string SipStack::Impl::route_of(const std::string& received) {
  auto first = received.find(':');
  auto last = received.rfind(':');
  if (first == std::string::npos || last == first) return {};
  std::string transport = received.substr(0, first);
  std::string ip = received.substr(first + 1, last - first - 1);
  if (ip.find(':') != std::string::npos) ip = "[" + ip + "]";
  return "sip:" + ip + ":" + received.substr(last + 1) + ";transport=" + transport;
}

void SipStack::Impl::send_request(sip_method_t method, const char* method_name,
                                  const std::string& uri, const std::string& received,
                                  const std::string& to_user, const std::string& headers,
                                  std::chrono::milliseconds timeout,
                                  std::function<void(int, int)> done, const std::string& content_type,
                                  const std::string& body, nta_leg_t* leg) {
  auto req = std::make_unique<OutRequest>();
  OutRequest* r = req.get();
  r->self = this;
  r->id = next_out++;
  r->done = std::move(done);
  if (leg) {
    r->leg = leg;
    r->own_leg = false;
  } else {
    std::string from = "<sip:" + cfg.user_agent + "@" + cfg.host + ">";
    std::string to = "<sip:" + to_user + "@" + cfg.host + ">";
    std::string call_id = random_token(20) + "@dialtone";
    r->leg = nta_leg_tcreate(agent, &Impl::on_out_leg_request, nullptr,
                             SIPTAG_FROM_STR(from.c_str()), SIPTAG_TO_STR(to.c_str()),
                             SIPTAG_CALL_ID_STR(call_id.c_str()), TAG_END());
    if (r->leg) nta_leg_tag(r->leg, nullptr);
  }
  // Over TCP and TLS: the phone's own connection, or its Contact once that
  // connection is gone (its source port no longer listens).
  tport_t* via = connection_of(received);
  std::string route = via || stream_transport(received) ? std::string() : route_of(received);
  if (r->leg)
    r->orq = nta_outgoing_tcreate(
        r->leg, &Impl::on_out_response, r, route.empty() ? nullptr : URL_STRING_MAKE(route.c_str()),
        method, method_name, URL_STRING_MAKE(uri.c_str()), TAG_IF(via, NTATAG_TPORT(via)),
        SIPTAG_CONTACT(contact),
        SIPTAG_USER_AGENT_STR(cfg.user_agent.c_str()),
        TAG_IF(!headers.empty(), SIPTAG_HEADER_STR(headers.c_str())),
        TAG_IF(!content_type.empty(), SIPTAG_CONTENT_TYPE_STR(content_type.c_str())),
        TAG_IF(!body.empty(), SIPTAG_PAYLOAD_STR(body.c_str())), TAG_END());
  if (!r->orq) {
    if (r->leg && r->own_leg) nta_leg_destroy(r->leg);
    auto cb = std::move(r->done);
    later([cb] { cb(503, -1); });
    return;
  }
  r->sent_ms = mono_ms();
  r->deadline_ms = r->sent_ms + timeout.count();
  out_requests.emplace(r->id, std::move(req));
}

void SipStack::Impl::finish_request(OutRequest& r, int status) {
  if (r.finished) return;
  r.finished = true;
  int rtt = static_cast<int>(mono_ms() - r.sent_ms);
  auto done = std::move(r.done);
  auto id = r.id;
  // Sofia objects are destroyed outside their own callbacks.
  later([this, id] {
    auto it = out_requests.find(id);
    if (it == out_requests.end()) return;
    auto& q = *it->second;
    if (q.orq) nta_outgoing_destroy(q.orq);
    if (q.leg && q.own_leg) nta_leg_destroy(q.leg);
    out_requests.erase(it);
  });
  if (done) done(status, rtt);
}

int SipStack::Impl::on_out_response(void* magic, nta_outgoing_t* orq, const sip_t* sip) {
  auto* r = static_cast<OutRequest*>(magic);
  int status = sip && sip->sip_status ? static_cast<int>(sip->sip_status->st_status)
                                      : nta_outgoing_status(orq);
  if (status >= 200) r->self->finish_request(*r, status);
  return 0;
}

void SipStack::Impl::expire_requests() {
  auto now = mono_ms();
  std::vector<OutRequest*> late;
  for (auto& [_, r] : out_requests)
    if (!r->finished && r->deadline_ms <= now) late.push_back(r.get());
  for (auto* r : late) finish_request(*r, 408);
}

void SipStack::Impl::drop_requests() {
  closing = true;
  for (auto& [_, r] : out_requests) {
    if (!r->finished && r->done) r->done(503, -1);
    r->finished = true;
    if (r->orq) nta_outgoing_destroy(r->orq);
    if (r->leg && r->own_leg) nta_leg_destroy(r->leg);
  }
  out_requests.clear();
}

void SipStack::Impl::qualify_sync(const std::string& aor) {
  std::vector<std::pair<std::string, std::string>> contacts;
  auto it = locations.find(aor);
  if (it != locations.end())
    for (auto& b : it->second) contacts.emplace_back(b.contact, b.received);
  qualify.sync(aor, contacts, mono_ms());
}

void SipStack::Impl::qualify_tick() {
  for (auto& c : qualify.due(mono_ms())) {
    send_request(sip_method_options, "OPTIONS", c.contact, c.received, c.aor, {},
                 qualify.timeout(), [this, aor = c.aor, contact = c.contact](int status, int rtt) {
                   if (closing) return;
                   bool answered = status != 408 && status != 503;
                   if (auto change = qualify.result(aor, contact, answered, rtt, mono_ms())) {
                     log.info("sip: contact " + contact + " of " + aor + " is " +
                              to_string(change->now.state) +
                              (answered ? " (" + std::to_string(rtt) + " ms)" : ""));
                     backend.reachability_changed(*change);
                   }
                 });
  }
}

std::vector<std::pair<std::string, Binding>> SipStack::Impl::notify_targets(const SipStack::NotifyTarget& t) {
  std::vector<std::pair<std::string, Binding>> by_ip, by_user;
  for (auto& [aor, bindings] : locations)
    for (auto& b : bindings) {
      auto first = b.received.find(':');
      auto last = b.received.rfind(':');
      std::string ip = first == std::string::npos || last == first
                           ? std::string()
                           : b.received.substr(first + 1, last - first - 1);
      bool ip_match = !t.device_ip.empty() && ip == t.device_ip;
      if (ip_match && aor == t.username) by_user.emplace_back(aor, b);
      else if (ip_match) by_ip.emplace_back(aor, b);
      else if (t.device_ip.empty() && aor == t.username) by_user.emplace_back(aor, b);
    }
  auto& chosen = by_user.empty() ? by_ip : by_user;
  std::vector<std::pair<std::string, Binding>> out;
  for (auto& c : chosen) {
    bool seen = false;
    for (auto& o : out) seen = seen || o.second.received == c.second.received;
    if (!seen) out.push_back(c);
  }
  return out;
}

void SipStack::Impl::notify(const SipStack::NotifyTarget& t,
                            std::function<void(SipStack::NotifyResult)> done) {
  auto targets = notify_targets(t);
  if (targets.empty()) {
    done({404, 0,
          "no registered contact " +
              (t.device_ip.empty() ? "of " + t.username : "from " + t.device_ip)});
    return;
  }
  struct Pending {
    std::size_t left;
    SipStack::NotifyResult result;
    std::function<void(SipStack::NotifyResult)> done;
  };
  auto p = std::make_shared<Pending>();
  p->left = targets.size();
  p->result.contacts = targets.size();
  p->done = std::move(done);
  std::string headers = "Event: " + t.event + "\r\nSubscription-State: terminated";
  for (auto& [aor, b] : targets) {
    std::string where = b.contact + " via " + b.received;
    send_request(sip_method_notify, "NOTIFY", b.contact, b.received, aor, headers,
                 cfg.notify_timeout, [p, where](int status, int) {
                   auto& r = p->result;
                   bool better = r.status == 0 || (status / 100 == 2 && r.status / 100 != 2);
                   if (better) r.status = status;
                   if (!r.detail.empty()) r.detail += ", ";
                   r.detail += where + ": " + std::to_string(status);
                   if (--p->left == 0) p->done(r);
                 });
  }
}

}  // namespace dialtone::plugins::backend::sip
