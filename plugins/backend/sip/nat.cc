// Phones behind NAT: registrations reached at the address they came from,
// and the dialog targets of such phones rewritten to it (rewrite_contact).
// Responses follow rport (RFC 3581), forced by sip.force_rport.
#include "plugins/backend/sip/stack_impl.h"

namespace dialtone::plugins::backend::sip {

bool SipStack::Impl::behind_nat(NatMode mode, const sip_t* sip, const Source& src) {
  const sip_via_t* v = sip->sip_via;
  if (!v || !v->v_host) return mode == NatMode::source;
  int port = v->v_port ? std::atoi(v->v_port) : 0;
  return reach_at_source(mode, v->v_host, port, src.ip, src.port);
}

const Binding* SipStack::Impl::binding_of(const std::string& aor, const std::string& contact) const {
  auto it = locations.find(aor);
  if (it == locations.end()) return nullptr;
  for (auto& b : it->second)
    if (b.contact == contact) return &b;
  return nullptr;
}

std::string SipStack::Impl::nat_next_hop(Branch& br, const std::string& aor, const std::string& contact) {
  const Binding* b = binding_of(aor, contact);
  if (!b || !b->behind_nat) return {};
  br.nat_received = b->received;
  // TCP and TLS phones are called over the connection they registered on.
  return stream_transport(b->received) ? std::string() : route_of(b->received);
}

const sip_contact_t* SipStack::Impl::reachable_contact(su_home_t* home, const sip_contact_t* m,
                                                       const sip_record_route_t* rr,
                                                       const std::string& received) {
  // Behind a proxy the route set reaches the phone; without a contact
  // there is nothing to rewrite.
  if (!m || received.empty() || rr) return m;
  auto first = received.find(':');
  auto last = received.rfind(':');
  if (first == std::string::npos || last == first) return m;
  std::string transport = received.substr(0, first);
  std::string ip = received.substr(first + 1, last - first - 1);
  if (ip.find(':') != std::string::npos) ip = "[" + ip + "]";
  url_t* u = url_hdup(home, m->m_url);
  if (!u) return m;
  url_strip_transport(u);  // also drops the port: set after
  u->url_host = su_strdup(home, ip.c_str());
  u->url_port = su_strdup(home, received.substr(last + 1).c_str());
  if (transport != "udp") url_param_add(home, u, ("transport=" + transport).c_str());
  sip_contact_t* out = sip_contact_create(home, reinterpret_cast<url_string_t*>(u), nullptr);
  return out ? out : m;
}

}  // namespace dialtone::plugins::backend::sip
