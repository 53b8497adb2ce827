// Trunks: outbound registration to a provider, and the qualify of peer and
// registering trunks.
#include "plugins/backend/sip/stack_impl.h"

namespace dialtone::plugins::backend::sip {

bool SipStack::Impl::same_registration(const TrunkRegistration& a, const TrunkRegistration& b) {
  return a.username == b.username && a.secret == b.secret && a.host == b.host && a.expires == b.expires;
}

void SipStack::Impl::load_registrations() {
  std::weak_ptr<Inbox> weak = inbox;
  backend.find_registrations([this, weak](std::vector<TrunkRegistration> list, bool ok) {
    if (!ok) return;
    if (auto in = weak.lock()) in->post([this, list = std::move(list)] { sync_registrations(list); });
  });
}

void SipStack::Impl::sync_registrations(const std::vector<TrunkRegistration>& list) {
  for (auto it = regs.begin(); it != regs.end();) {
    auto found = std::find_if(list.begin(), list.end(), [&](const TrunkRegistration& t) {
      return t.name == it->first && same_registration(t, it->second->trunk);
    });
    if (found == list.end()) {
      drop_registration(*it->second);
      it = regs.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& t : list) {
    if (regs.count(t.name)) continue;
    auto r = std::make_unique<OutboundReg>();
    r->trunk = t;
    r->timer = su_timer_create(su_root_task(root), 1000);
    OutboundReg* p = r.get();
    regs.emplace(t.name, std::move(r));
    set_reg_state(*p, "pending");
    send_register(*p, {}, false);
  }
  sync_trunk_qualify();
  std::lock_guard<std::mutex> lock(regs_mutex);
  for (auto it = reg_states.begin(); it != reg_states.end();)
    it = regs.count(it->first) ? std::next(it) : reg_states.erase(it);
}

void SipStack::Impl::drop_registration(OutboundReg& r) {
  if (r.orq) nta_outgoing_destroy(r.orq);
  if (r.timer) su_timer_destroy(r.timer);
  if (r.leg) nta_leg_destroy(r.leg);
  r.orq = nullptr;
  r.timer = nullptr;
  r.leg = nullptr;
}

void SipStack::Impl::set_reg_state(OutboundReg& r, const std::string& state) {
  r.state = state;
  std::lock_guard<std::mutex> lock(regs_mutex);
  reg_states[r.trunk.name] = state;
}

void SipStack::Impl::send_register(OutboundReg& r, const std::string& authorization, bool proxy) {
  const auto& t = r.trunk;
  if (!r.leg) {
    std::string aor = "<sip:" + t.username + "@" + t.host + ">";
    std::string call_id = random_token(20) + "@dialtone";
    r.leg = nta_leg_tcreate(agent, &Impl::on_out_leg_request, nullptr, SIPTAG_FROM_STR(aor.c_str()),
                            SIPTAG_TO_STR(aor.c_str()), SIPTAG_CALL_ID_STR(call_id.c_str()), TAG_END());
    if (r.leg) nta_leg_tag(r.leg, nullptr);
  }
  std::string uri = registrar_uri(r);
  // Behind NAT, a provider outside sip.local_net calls the external address.
  std::string peer = host_of_uri(uri);
  std::string via = via_toward(peer, uri);
  const auto& ext = cfg.external;
  bool external = !ext.signaling_host.empty() && outside(peer);
  std::string host = external ? ext.signaling_host : cfg.host;
  int port = external && ext.signaling_port ? ext.signaling_port : bound_port.load();
  std::string me = "<sip:" + t.username + "@" + host + ":" + std::to_string(port) + ">";
  std::string expires = std::to_string(t.expires);
  if (r.leg)
    r.orq = nta_outgoing_tcreate(
        r.leg, &Impl::on_register_response, &r, nullptr, SIP_METHOD_REGISTER,
        URL_STRING_MAKE(uri.c_str()), SIPTAG_CONTACT_STR(me.c_str()), SIPTAG_EXPIRES_STR(expires.c_str()),
        TAG_IF(!via.empty(), NTATAG_USER_VIA(1)), TAG_IF(!via.empty(), SIPTAG_VIA_STR(via.c_str())),
        SIPTAG_USER_AGENT_STR(cfg.user_agent.c_str()),
        TAG_IF(!authorization.empty() && !proxy, SIPTAG_AUTHORIZATION_STR(authorization.c_str())),
        TAG_IF(!authorization.empty() && proxy, SIPTAG_PROXY_AUTHORIZATION_STR(authorization.c_str())),
        TAG_END());
  if (!r.orq) registration_failed(r, 503, "cannot send REGISTER to " + uri);
}

void SipStack::Impl::on_register_timer(void*, su_timer_t*, void* arg) {
  auto* r = static_cast<OutboundReg*>(arg);
  r->auth_tries = 0;
  if (!r->orq) current()->send_register(*r, {}, false);
}

int SipStack::Impl::on_register_response(void* magic, nta_outgoing_t* orq, const sip_t* sip) {
  auto* r = static_cast<OutboundReg*>(magic);
  Impl* self = current();
  int status = sip && sip->sip_status ? static_cast<int>(sip->sip_status->st_status)
                                      : nta_outgoing_status(orq);
  if (status < 200) return 0;
  nta_outgoing_destroy(orq);
  r->orq = nullptr;
  self->on_register_final(*r, sip, status);
  return 0;
}

void SipStack::Impl::on_register_final(OutboundReg& r, const sip_t* sip, int status) {
  const auto& t = r.trunk;
  if ((status == 401 || status == 407) && sip) {
    const msg_auth_t* au = status == 401 ? sip->sip_www_authenticate : sip->sip_proxy_authenticate;
    std::optional<DigestChallenge> ch;
    for (; au && !ch; au = au->au_next) ch = parse_challenge(auth_text(au));
    // One answer per challenge; a second challenge means the credentials are wrong
    // (unless the nonce only went stale).
    if (ch && (r.auth_tries == 0 || ch->stale)) {
      ++r.auth_tries;
      auto value = digest_authorization(*ch, t.username, t.secret, "REGISTER", registrar_uri(r),
                                        ++r.nonce_count, random_token(16));
      if (value) {
        send_register(r, *value, status == 407);
        return;
      }
    }
    log.warn("sip: trunk " + t.name + ": registrar " + t.host + " refused the credentials of \"" +
             t.username + "\" (" + std::to_string(status) + "); check the trunk's username and secret");
    registration_failed(r, status, "wrong credentials");
    return;
  }
  r.auth_tries = 0;
  if (status >= 300) {
    if (status == 403)
      log.warn("sip: trunk " + t.name + ": registrar " + t.host + " forbids \"" + t.username +
               "\" (403); check the trunk's username and secret");
    else
      log.warn("sip: trunk " + t.name + ": REGISTER to " + t.host + " failed with " +
               std::to_string(status));
    registration_failed(r, status, status == 403 ? "forbidden" : "registrar answered " + std::to_string(status));
    return;
  }
  int granted = t.expires;
  if (sip && sip->sip_expires) granted = static_cast<int>(sip->sip_expires->ex_delta);
  std::string mine = t.username + "@" + cfg.host;
  for (auto* m = sip ? sip->sip_contact : nullptr; m; m = m->m_next)
    if (m->m_expires && url_string(m->m_url).find(mine) != std::string::npos)
      granted = std::atoi(m->m_expires);
  if (granted <= 0) granted = t.expires;
  r.failures = 0;
  if (r.state != "registered") {
    log.info("sip: trunk " + t.name + " registered to " + t.host + " for " + std::to_string(granted) + "s");
    set_reg_state(r, "registered");
    backend.registration_changed(t, true, status, {});
  }
  auto delay = refresh_delay(granted);
  if (r.timer) su_timer_set_interval(r.timer, &Impl::on_register_timer, &r, delay.count());
}

void SipStack::Impl::registration_failed(OutboundReg& r, int status, const std::string& detail) {
  ++r.failures;
  bool changed = r.state != "failed";
  set_reg_state(r, "failed");
  if (changed) backend.registration_changed(r.trunk, false, status, detail);
  auto delay = retry_delay(r.failures);
  if (r.timer) su_timer_set_interval(r.timer, &Impl::on_register_timer, &r, delay.count());
}

void SipStack::Impl::close_registrations() {
  for (auto& [_, r] : regs) drop_registration(*r);
  regs.clear();
}

void SipStack::Impl::sync_trunk_qualify() {
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> want;
  std::map<std::string, std::pair<std::string, std::string>> hosts;
  auto add = [&](const std::string& name, const std::string& host, int port) {
    if (host.empty() || host == "dynamic") return;
    std::string hostport = port ? host + ":" + std::to_string(port) : host;
    std::string aor = "trunk:" + name;
    std::string contact = "sip:" + hostport;
    want[aor] = {{contact, "udp:" + host + ":" + std::to_string(port ? port : 5060)}};
    hosts[hostport] = {aor, contact};
  };
  for (auto& t : trunks) add(t.name, t.ip, t.port);
  for (auto& [name, r] : regs) {
    const std::string& h = r->trunk.host;
    auto colon = h.rfind(':');
    bool has_port = colon != std::string::npos && h.find(':') == colon;
    add(name, has_port ? h.substr(0, colon) : h, has_port ? std::atoi(h.c_str() + colon + 1) : 0);
  }
  auto now = mono_ms();
  for (auto& aor : qualified_trunks)
    if (!want.count(aor)) qualify.sync(aor, {}, now);
  qualified_trunks.clear();
  for (auto& [aor, contacts] : want) {
    qualify.sync(aor, contacts, now);
    qualified_trunks.insert(aor);
  }
  trunk_hosts = std::move(hosts);
  sync_trunk_dns();
}

bool SipStack::Impl::trunk_unreachable(const std::string& uri) const {
  auto at = uri.find('@');
  if (at == std::string::npos) return false;
  auto end = uri.find_first_of(";>?", at + 1);
  auto it = trunk_hosts.find(uri.substr(at + 1, end == std::string::npos ? end : end - at - 1));
  return it != trunk_hosts.end() && qualify.unreachable(it->second.first, it->second.second);
}

}  // namespace dialtone::plugins::backend::sip
