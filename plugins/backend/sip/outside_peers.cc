// Dialtone behind NAT: what a peer outside sip.local_net is told. The NAT
// device forwards the public address to Dialtone, so Via, Contact and the
// SDP of anchored media name that address toward outside peers (or their
// answers and media would go to a private address they cannot reach);
// phones inside keep the real one, which the NAT would not loop back.
#include "plugins/backend/sip/stack_impl.h"

#include <dialtone/text.h>

namespace dialtone::plugins::backend::sip {

std::string SipStack::Impl::host_of_uri(const std::string& uri) {
  Home h;
  url_t* u = url_make(h.get(), uri.c_str());
  return u && u->url_host ? std::string(u->url_host) : std::string();
}

const sip_contact_t* SipStack::Impl::contact_toward(const std::string& peer) {
  if (cfg.external.signaling_host.empty() || !outside(peer) || !contact) return contact;
  if (!external_contact) {
    url_t* u = url_hdup(home.get(), contact->m_url);
    if (!u) return contact;
    u->url_host = su_strdup(home.get(), cfg.external.signaling_host.c_str());
    int port = cfg.external.signaling_port ? cfg.external.signaling_port : bound_port.load();
    u->url_port = su_strdup(home.get(), std::to_string(port).c_str());
    external_contact = sip_contact_create(home.get(), reinterpret_cast<url_string_t*>(u), nullptr);
    if (!external_contact) return contact;
  }
  return external_contact;
}

std::string SipStack::Impl::sdp_toward(const std::string& sdp, const std::string& peer) const {
  if (sdp.empty() || cfg.external.media().empty() || !outside(peer)) return sdp;
  const auto& m = cfg.media;
  return sdp_toward_outside(sdp, m.advertise.empty() ? m.relay.bind : m.advertise,
                            cfg.external.media());
}

std::string SipStack::Impl::via_toward(const std::string& peer, const std::string& uri) {
  if (cfg.external.signaling_host.empty() || !outside(peer)) return {};
  std::string transport = "UDP";
  int port = cfg.external.signaling_port ? cfg.external.signaling_port : bound_port.load();
  std::string lower = sdk::text::to_lower(uri);
  if (lower.rfind("sips:", 0) == 0 || lower.find(";transport=tls") != std::string::npos) {
    transport = "TLS";
    port = cfg.external.signaling_tls_port ? cfg.external.signaling_tls_port : cfg.tls_port;
  } else if (lower.find(";transport=tcp") != std::string::npos) {
    transport = "TCP";
  }
  return "SIP/2.0/" + transport + " " + cfg.external.signaling_host + ":" + std::to_string(port) +
         ";rport";
}

std::pair<std::string, std::string> SipStack::Impl::leg_peer(const Call& c, nta_leg_t* leg) const {
  if (leg && leg == c.a_leg) return {c.a_peer, c.a_peer_uri};
  for (auto& br : c.branches)
    if (leg && br->leg == leg) return {br->peer, br->peer_uri};
  return {};
}

std::pair<std::string, std::string> SipStack::Impl::side_peer(const Call& c, MediaLeg side) const {
  if (side == MediaLeg::a) return {c.a_peer, c.a_peer_uri};
  if (c.winner) return {c.winner->peer, c.winner->peer_uri};
  return {};
}

}  // namespace dialtone::plugins::backend::sip
