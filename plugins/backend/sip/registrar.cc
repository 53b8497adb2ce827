// The registrar: REGISTER bindings, their expiry sweep and publication.
#include "plugins/backend/sip/stack_impl.h"

namespace dialtone::plugins::backend::sip {

int SipStack::Impl::on_register(nta_incoming_t* irq, const sip_t* sip) {
  if (!sip->sip_to || !sip->sip_to->a_url->url_user || !sip->sip_call_id || !sip->sip_cseq)
    return 400;
  return authenticate(irq, sip, false, "REGISTER",
                      [this, sip](nta_incoming_t* irq, const LineCredentials& line) {
                        do_register(irq, sip, line);
                      });
}

void SipStack::Impl::do_register(nta_incoming_t* irq, const sip_t* sip,
                                 const LineCredentials& line) {
  std::string aor = str(sip->sip_to->a_url->url_user);
  if (aor != line.username) {
    reply(irq, 403, "Authenticated user does not own this AOR");
    return;
  }
  Source src = source_of(irq);
  hold_connection(irq, src);
  auto now = unix_now();
  auto& bindings = locations[aor];
  std::string call_id = str(sip->sip_call_id->i_id);
  std::uint32_t cseq = sip->sip_cseq->cs_seq;
  long header_expires = sip->sip_expires ? static_cast<long>(sip->sip_expires->ex_delta) : -1;
  bool changed = false;

  if (sip->sip_contact && sip->sip_contact->m_url->url_type == url_any) {
    if (header_expires != 0 || sip->sip_contact->m_next) {
      reply(irq, 400, "Wildcard Contact needs Expires: 0");
      return;
    }
    changed = !bindings.empty();
    bindings.clear();
  } else {
    // Refuse a too-short interval before changing anything.
    for (auto* m = sip->sip_contact; m; m = m->m_next) {
      long e = m->m_expires ? std::strtol(m->m_expires, nullptr, 10) : header_expires;
      if (e < 0) e = cfg.expires_default;
      if (e > 0 && e < cfg.expires_min) {
        std::string min = std::to_string(cfg.expires_min);
        nta_incoming_treply(irq, SIP_423_INTERVAL_TOO_BRIEF, SIPTAG_MIN_EXPIRES_STR(min.c_str()),
                            TAG_END());
        nta_incoming_destroy(irq);
        return;
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
    if (!contacts.empty()) contacts += ", ";
    contacts += "<" + b.contact + ">;expires=" + std::to_string(std::max<std::int64_t>(0, b.expires_at - now));
  }
  // Published before the 200 so that a phone told it is registered is
  // already counted and rung.
  if (changed) publish_bindings(aor);
  nta_incoming_treply(irq, SIP_200_OK, TAG_IF(!contacts.empty(), SIPTAG_CONTACT_STR(contacts.c_str())),
                      TAG_END());
  nta_incoming_destroy(irq);
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
