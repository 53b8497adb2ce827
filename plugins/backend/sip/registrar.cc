// The registrar: REGISTER bindings, their expiry sweep and publication.
#include "plugins/backend/sip/stack_impl.h"

namespace dialtone::plugins::backend::sip {

// REGISTER keeps no sofia transaction: it is verified and answered from the
// request's own message, and what its retransmissions need is kept in
// `answered` (answered_requests.h) until timer J runs out.
bool SipStack::Impl::answered_again(msg_t* msg, const sip_t* sip) {
  std::string key = transaction_key(sip);
  const AnsweredRequests::Answer* a = answered.find(key);
  if (!a) return false;
  if (a->status == 0) nta_msg_discard(agent, msg);  // still being answered
  else send_answer(msg, sip, key, *a);
  return true;
}

void SipStack::Impl::send_answer(msg_t* msg, const sip_t* sip, const std::string& key,
                                 const AnsweredRequests::Answer& a, tport_t* via) {
  // The same To tag for the answer and its repeats, made from the key.
  char tag[24];
  std::snprintf(tag, sizeof tag, "%016zx", std::hash<std::string>{}(key));
  Home h;
  sip_to_t* to = sip_to_dup(h.get(), sip->sip_to);
  if (to) sip_to_tag(h.get(), to, tag);
  nta_msg_treply(agent, msg, a.status, a.phrase.empty() ? nullptr : a.phrase.c_str(),
                 TAG_IF(via, NTATAG_TPORT(via)), TAG_IF(to, SIPTAG_TO(to)),
                 TAG_IF(!a.headers.empty(), SIPTAG_HEADER_STR(a.headers.c_str())), TAG_END());
}

void SipStack::Impl::register_statelessly(msg_t* msg, sip_t* sip, const DigestCredentials& creds) {
  std::string key = transaction_key(sip);
  answered.begin(key, mono_ms());
  Source src = source_of(agent, msg);
  // The request and the transport it came on (only known while sofia
  // delivers it), for an answer sent after a credentials lookup.
  struct Taken {
    MsgRef msg;
    tport_t* via;
    Taken(msg_t* m, tport_t* t) : msg(m), via(tport_ref(t)) {}
    ~Taken() { tport_unref(via); }
  };
  auto request = std::make_shared<Taken>(msg, tport_delivered_by(nta_agent_tports(agent), msg));
  verify_digest(src, creds, sip, "REGISTER",
                [this, request, sip, src, key](Verdict v, const LineCredentials* line) {
                  AnsweredRequests::Answer a;
                  switch (v) {
                    case Verdict::ok:
                      a = do_register(request->via, sip, *line, src);
                      break;
                    case Verdict::unavailable:
                      a.status = 503;
                      break;
                    case Verdict::forbidden:
                      a.status = 403;
                      break;
                    case Verdict::retransmission:
                      a.status = 482;
                      break;
                    case Verdict::stale: {
                      auto [first, second] = make_challenge(true);
                      a.status = 401;
                      a.headers = "WWW-Authenticate: " + first;
                      if (!second.empty()) a.headers += "\r\nWWW-Authenticate: " + second;
                      break;
                    }
                  }
                  if (closing) return;
                  send_answer(msg_ref_create(request->msg.get()), sip, key, a, request->via);
                  answered.answer(key, std::move(a));
                });
}

AnsweredRequests::Answer SipStack::Impl::do_register(tport_t* via, const sip_t* sip,
                                                     const LineCredentials& line, const Source& src) {
  AnsweredRequests::Answer answer;
  std::string aor = str(sip->sip_to->a_url->url_user);
  if (aor != line.username) {
    answer.status = 403;
    answer.phrase = "Authenticated user does not own this AOR";
    return answer;
  }
  hold_connection(via, src);
  auto now = unix_now();
  auto& bindings = locations[aor];
  std::string call_id = str(sip->sip_call_id->i_id);
  std::uint32_t cseq = sip->sip_cseq->cs_seq;
  long header_expires = sip->sip_expires ? static_cast<long>(sip->sip_expires->ex_delta) : -1;
  bool changed = false;

  if (sip->sip_contact && sip->sip_contact->m_url->url_type == url_any) {
    if (header_expires != 0 || sip->sip_contact->m_next) {
      answer.status = 400;
      answer.phrase = "Wildcard Contact needs Expires: 0";
      return answer;
    }
    changed = !bindings.empty();
    bindings.clear();
  } else {
    // Refuse a too-short interval before changing anything.
    for (auto* m = sip->sip_contact; m; m = m->m_next) {
      long e = m->m_expires ? std::strtol(m->m_expires, nullptr, 10) : header_expires;
      if (e < 0) e = cfg.expires_default;
      if (e > 0 && e < cfg.expires_min) {
        answer.status = 423;
        answer.headers = "Min-Expires: " + std::to_string(cfg.expires_min);
        return answer;
      }
    }
    for (auto* m = sip->sip_contact; m; m = m->m_next) {
      long e = m->m_expires ? std::strtol(m->m_expires, nullptr, 10) : header_expires;
      if (e < 0) e = cfg.expires_default;
      if (e > cfg.expires_max) e = cfg.expires_max;
      std::string uri = url_string(m->m_url);
      auto it = std::find_if(bindings.begin(), bindings.end(),
                             [&](const Binding& b) { return b.contact == uri; });
      if (e == 0) {
        if (it != bindings.end()) {
          bindings.erase(it);
          changed = true;
        }
        continue;
      }
      if (it == bindings.end()) {
        bindings.push_back({});
        it = bindings.end() - 1;
        it->contact = uri;
      } else if (it->call_id == call_id && cseq <= it->cseq) {
        continue;  // an old or repeated request
      }
      it->call_id = call_id;
      it->cseq = cseq;
      it->expires_at = now + e;
      it->received = src.text();
      it->behind_nat = behind_nat(line.nat, sip, src);
      it->user_agent = sip->sip_user_agent ? str(sip->sip_user_agent->g_string) : "";
      changed = true;
    }
  }

  std::string contacts;
  for (auto& b : bindings) {
    contacts += contacts.empty() ? "Contact: " : ", ";
    contacts += "<" + b.contact + ">;expires=" + std::to_string(std::max<std::int64_t>(0, b.expires_at - now));
  }
  // Published before the 200 so that a phone told it is registered is
  // already counted and rung.
  if (changed) publish_bindings(aor);
  answer.status = 200;
  answer.headers = std::move(contacts);
  return answer;
}

void SipStack::Impl::publish_bindings(const std::string& aor) {
  auto it = locations.find(aor);
  std::vector<Binding> copy;
  if (it != locations.end()) copy = it->second;
  {
    std::lock_guard<std::mutex> lock(snapshot_mutex);
    if (copy.empty()) snapshot.erase(aor);
    else snapshot[aor] = copy.size();
  }
  if (it != locations.end() && it->second.empty()) locations.erase(it);
  qualify_sync(aor);
  mwi->bindings_changed(aor, copy);
  backend.bindings_changed(aor, copy);
}

void SipStack::Impl::expire_bindings() {
  auto now = unix_now();
  std::vector<std::string> changed;
  for (auto& [aor, bindings] : locations) {
    auto before = bindings.size();
    bindings.erase(std::remove_if(bindings.begin(), bindings.end(),
                                  [&](const Binding& b) { return b.expires_at <= now; }),
                   bindings.end());
    if (bindings.size() != before) changed.push_back(aor);
  }
  for (auto& aor : changed) publish_bindings(aor);
}

}  // namespace dialtone::plugins::backend::sip
