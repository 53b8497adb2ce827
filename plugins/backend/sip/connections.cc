// TCP and TLS connections: the TLS listener, connections held for
// registrations, and the idle and count limits.
#include "plugins/backend/sip/stack_impl.h"

namespace dialtone::plugins::backend::sip {

bool SipStack::Impl::stream_transport(const std::string& received) {
  return received.rfind("tcp:", 0) == 0 || received.rfind("tls:", 0) == 0;
}

void SipStack::Impl::open_tls() {
  bool tls = std::find(cfg.transports.begin(), cfg.transports.end(), "tls") != cfg.transports.end();
  if (!tls) return;
  std::string where = cfg.host + ":" + std::to_string(cfg.tls_port);
  std::string problem = cfg.tls_certificate_dir.empty()
                            ? std::string("sip.tls_certificate_dir is empty; set it to the folder "
                                          "holding agent.pem and cafile.pem")
                            : tls_directory_problem(cfg.tls_certificate_dir);
  if (problem.empty()) {
    std::string url = "sips:" + where;
    // TPTAG_TLS_VERSION(0): negotiate (TLS 1.2 and 1.3) rather than sofia's
    // default TLS 1.0 only, which OpenSSL 3 refuses.
    if (nta_agent_add_tport(agent, URL_STRING_MAKE(url.c_str()),
                            TPTAG_CERTIFICATE(cfg.tls_certificate_dir.c_str()),
                            TPTAG_TLS_VERSION(0), TPTAG_PONG2PING(1), TAG_END()) < 0)
      problem = "sip.tls_port: cannot listen for TLS on " + where +
                " (port in use, address not local, or sofia refused the certificates in " +
                cfg.tls_certificate_dir + "); choose a free port or check the files";
  }
  if (!problem.empty()) {
    log.error("sip: " + problem + "; SIP over TLS is off, UDP and TCP keep serving");
    return;
  }
  tls_bound_port = cfg.tls_port;
  log.info("sip: TLS on " + where + " with certificates from " + cfg.tls_certificate_dir);
}

void SipStack::Impl::limit_connections(bool tcp) {
  if (tcp) conn_ports.push_back(bound_port_of("tcp"));
  if (tls_bound_port) conn_ports.push_back(tls_bound_port);
  if (conn_ports.empty()) return;
  conn_timer = su_timer_create(su_root_task(root), 250);
  su_timer_set_interval(conn_timer, &Impl::on_connections, this, 250);
}

int SipStack::Impl::bound_port_of(const char* proto) {
  tport_t* tp = tport_by_protocol(nta_agent_tports(agent), proto);
  const tp_name_t* name = tp ? tport_name(tp) : nullptr;
  return name && name->tpn_port ? std::atoi(name->tpn_port) : 0;
}

void SipStack::Impl::hold_connection(tport_t* via, const Source& src) {
  if (src.transport != "tcp" && src.transport != "tls") return;
  tport_t* tp = tport_ref(via);
  if (!tp) return;
  auto& slot = held[src.text()];
  if (slot) tport_unref(slot);
  slot = tp;
}

tport_t* SipStack::Impl::connection_of(const std::string& received) {
  auto it = held.find(received);
  if (it == held.end() || tport_is_closed(it->second)) return nullptr;
  return it->second;
}

tport_t* SipStack::Impl::connection_for(const std::string& aor, const std::string& contact) {
  auto it = locations.find(aor);
  if (it == locations.end()) return nullptr;
  for (auto& b : it->second)
    if (b.contact == contact) return connection_of(b.received);
  return nullptr;
}

std::string SipStack::Impl::peer_of(const std::string& received) {
  auto first = received.find(':');
  auto last = received.rfind(':');
  if (first == std::string::npos || last == first) return {};
  std::string ip = received.substr(first + 1, last - first - 1);
  if (ip.find(':') != std::string::npos) ip = "[" + ip + "]";
  return ip + ":" + received.substr(last + 1);
}

void SipStack::Impl::on_connections(void* magic, su_timer_t* t, void* arg) {
  auto* self = static_cast<Impl*>(arg);
  auto started = std::chrono::steady_clock::now();
  self->check_connections();
  auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - started)
                   .count();
  auto next = std::clamp<std::int64_t>(spent * 20, 250, 5000);
  su_timer_set_interval(t, &Impl::on_connections, self, static_cast<su_duration_t>(next));
}

void SipStack::Impl::check_connections() {
  // Every 20th check: let go of connections whose registrations are gone.
  if (++conn_ticks % 20 == 0) {
    std::unordered_map<std::string, bool> used;
    for (auto& [aor, bindings] : locations)
      for (auto& b : bindings) used[b.received] = true;
    for (auto it = held.begin(); it != held.end();) {
      if (!used.count(it->first) || tport_is_closed(it->second)) {
        tport_unref(it->second);
        it = held.erase(it);
      } else {
        ++it;
      }
    }
  }
  // Idle times need one more call per connection: read them every 4th check.
  bool idle_check = conn_ticks % 4 == 0;
  auto open = scanner.scan(cfg.host, conn_ports, idle_check);
  std::unordered_map<std::string, bool> registered;
  for (auto& [received, tp] : held)
    if (!tport_is_closed(tp)) registered[peer_of(received)] = true;
  auto keep = [&](const std::string& peer) { return registered.count(peer) > 0; };
  if (idle_check) ConnectionScanner::close_idle(open, cfg.tcp_idle_timeout.count(), keep);
  tcp_open = open.size();
  if (cfg.tcp_max_connections == 0 || open.size() <= cfg.tcp_max_connections) {
    over_limit = false;
    return;
  }
  auto n = ConnectionScanner::shed(open, cfg.tcp_max_connections, keep);
  if (!over_limit)
    log.warn("sip: " + std::to_string(open.size()) +
             " TCP/TLS connections open, above sip.tcp_max_connections (" +
             std::to_string(cfg.tcp_max_connections) + "): closing the newest " +
             std::to_string(n) + " without a registration; raise the limit if these are phones");
  over_limit = true;
  // Published after the warning, so whoever sees the shed count can also read why.
  tcp_open = open.size() - n;
}

void SipStack::Impl::close_connections() {
  if (conn_timer) su_timer_destroy(conn_timer);
  conn_timer = nullptr;
  for (auto& [_, tp] : held) tport_unref(tp);
  held.clear();
}

}  // namespace dialtone::plugins::backend::sip
