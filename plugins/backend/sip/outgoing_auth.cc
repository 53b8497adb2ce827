// Requests Dialtone sends to trunks: the provider's 401/407 answered with
// the trunk's credentials (INVITE, re-INVITE, UPDATE, BYE and the other
// in-dialog requests), and which of its answers make a route fail over.
#include "plugins/backend/sip/stack_impl.h"

#include <dialtone/text.h>

namespace dialtone::plugins::backend::sip {

namespace {

int port_of(const url_t* u) {
  return u && u->url_port ? std::atoi(u->url_port) : 0;
}

}  // namespace

const TrunkInfo* SipStack::Impl::trunk_at(const std::string& host, int port) const {
  if (host.empty()) return nullptr;
  // 5060 written or implied is the same trunk.
  auto same_port = [](int a, int b) { return (a ? a : 5060) == (b ? b : 5060); };
  for (auto& t : trunks)
    if (sdk::text::iequals(t.ip, host) && same_port(t.port, port)) return &t;
  return nullptr;
}

const TrunkInfo* SipStack::Impl::trunk_of_request(const sip_t* request) const {
  if (request->sip_request)
    if (auto* t = trunk_at(str(request->sip_request->rq_url->url_host), port_of(request->sip_request->rq_url)))
      return t;
  if (request->sip_to) return trunk_at(str(request->sip_to->a_url->url_host), port_of(request->sip_to->a_url));
  return nullptr;
}

const TrunkInfo* SipStack::Impl::trunk_of_target(const std::string& uri) const {
  Home h;
  url_t* u = url_make(h.get(), uri.c_str());
  if (!u) return nullptr;
  return trunk_at(str(u->url_host), port_of(u));
}

nta_outgoing_t* SipStack::Impl::answer_challenge(nta_outgoing_t* orq, const sip_t* sip,
                                                 nta_response_f* callback, void* magic) {
  int status = sip && sip->sip_status ? static_cast<int>(sip->sip_status->st_status) : 0;
  if (status != 401 && status != 407) return nullptr;
  MsgRef request(nta_outgoing_getrequest(orq));
  sip_t* req = request.get() ? sip_object(request.get()) : nullptr;
  if (!req || !req->sip_request || !req->sip_call_id || !req->sip_from) return nullptr;
  const TrunkInfo* t = trunk_of_request(req);
  // Not a trunk, or one without a secret: the challenge is the answer.
  if (!t || t->secret.empty()) return nullptr;
  bool proxy = status == 407;
  std::string method = str(req->sip_request->rq_method_name);
  std::string user = t->auth_username.empty() ? t->name : t->auth_username;

  std::vector<std::string> offered;
  for (auto* au = proxy ? sip->sip_proxy_authenticate : sip->sip_www_authenticate; au; au = au->au_next)
    offered.push_back(auth_text(au));
  auto ch = pick_challenge(offered, t->auth_realm);
  if (!ch) {
    std::string realms;
    for (auto& v : offered)
      if (auto c = parse_challenge(v)) realms += (realms.empty() ? "\"" : ", \"") + c->realm + "\"";
    if (!t->auth_realm.empty() && !realms.empty())
      log.warn("sip: trunk " + t->name + ": " + method + " challenged in realm " + realms +
               ", not the trunk's auth_realm \"" + t->auth_realm +
               "\"; set auth_realm to the provider's realm or remove it");
    else
      log.warn("sip: trunk " + t->name + ": " + method + " challenged (" + std::to_string(status) +
               ") with no MD5 or SHA-256 digest Dialtone can answer; ask the provider for one");
    return nullptr;
  }
  std::vector<std::string> sent;
  for (auto* au = proxy ? req->sip_proxy_authorization : req->sip_authorization; au; au = au->au_next)
    sent.push_back(auth_text(au));
  // One answer per challenge: challenged again in the same realm (the nonce
  // not just stale) means the provider refused the credentials.
  if (!ch->stale && answered_realm(sent, ch->realm)) {
    log.warn("sip: trunk " + t->name + ": " + t->ip + (t->port ? ":" + std::to_string(t->port) : "") +
             " refused the credentials of \"" + user + "\" for " + method + " (" +
             std::to_string(status) + " in realm \"" + ch->realm +
             "\"); check the trunk's username and secret");
    return nullptr;
  }
  nta_leg_t* leg = nta_leg_by_dialog(agent, nullptr, req->sip_call_id,
                                     req->sip_to ? req->sip_to->a_tag : nullptr, nullptr,
                                     req->sip_from->a_tag, nullptr);
  if (!leg) return nullptr;
  if (trunk_nonce_counts.size() > 4096) trunk_nonce_counts.clear();
  unsigned nc = ++trunk_nonce_counts[ch->nonce];
  auto value = digest_authorization(*ch, user, t->secret, method, url_string(req->sip_request->rq_url),
                                    nc, random_token(16));
  if (!value) return nullptr;

  // The same request again: Via goes (the transaction adds its own), the
  // answer replaces any earlier one for this realm, and the dialog gives
  // the next CSeq (RFC 3261 22.2).
  msg_t* copy = msg_dup(request.get());
  if (!copy) return nullptr;
  sip_t* s = sip_object(copy);
  auto* pub = reinterpret_cast<msg_pub_t*>(s);
  while (s->sip_via) msg_header_remove(copy, pub, reinterpret_cast<msg_header_t*>(s->sip_via));
  for (auto* au = proxy ? s->sip_proxy_authorization : s->sip_authorization; au;) {
    auto* next = au->au_next;
    if (answered_realm({auth_text(au)}, ch->realm)) msg_header_remove(copy, pub, reinterpret_cast<msg_header_t*>(au));
    au = next;
  }
  if (s->sip_cseq) msg_header_remove(copy, pub, reinterpret_cast<msg_header_t*>(s->sip_cseq));
  nta_outgoing_t* again = nullptr;
  if (msg_header_add_make(copy, pub, proxy ? sip_proxy_authorization_class : sip_authorization_class,
                          value->c_str()) == 0 &&
      nta_msg_request_complete(copy, leg, req->sip_request->rq_method, method.c_str(),
                               reinterpret_cast<url_string_t*>(s->sip_request->rq_url)) == 0)
    again = nta_outgoing_mcreate(agent, callback, magic, nullptr, copy, TAG_END());
  if (!again) {
    msg_destroy(copy);
    return nullptr;
  }
  // Gone once its callback has returned; a late retransmission of the
  // challenge is absorbed by sofia.
  later([orq] { nta_outgoing_destroy(orq); });
  return again;
}

bool SipStack::Impl::dial_fails_over(const Call& c, int code) const {
  if (code <= 0) return true;  // nothing came back: the next trunk may do better
  for (auto& b : c.branches) {
    if (b->round != c.round || b->target.rfind("sip:", 0) != 0) continue;
    if (auto* t = trunk_of_target(b->target)) return t->failover.matches(code);
  }
  return default_failover_codes().matches(code);
}

}  // namespace dialtone::plugins::backend::sip
