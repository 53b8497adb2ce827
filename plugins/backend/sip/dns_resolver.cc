// Trunk hosts given by name: the addresses incoming requests from such a
// trunk come from, looked up with sofia's asynchronous resolver on the SIP
// loop (SRV targets of _sip._udp.<host>, and the host's own A/AAAA), kept
// for the records' TTL and looked up again then, so a provider moving its
// servers is followed. Outgoing requests need nothing here: sofia's
// transaction layer resolves a named Request-URI per RFC 3263 itself.
#include "plugins/backend/sip/stack_impl.h"

namespace dialtone::plugins::backend::sip {

namespace {

bool ip_literal(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  std::string h = host.size() > 2 && host.front() == '[' ? host.substr(1, host.size() - 2) : host;
  return inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

// Bounds on how long an answer is kept: a TTL of 0 would query in a loop,
// a day-long one would miss a move for a day.
constexpr std::uint32_t kMinTtl = 1;
constexpr std::uint32_t kMaxTtl = 3600;
// After a round that found nothing (no such name, server down).
constexpr long kRetryMs = 30000;

}  // namespace

void SipStack::Impl::sync_trunk_dns() {
  std::set<std::string> names;
  for (auto& t : trunks)
    if (!t.ip.empty() && !ip_literal(t.ip)) names.insert(t.ip);
  for (auto it = trunk_dns.begin(); it != trunk_dns.end();) {
    if (names.count(it->first)) {
      ++it;
      continue;
    }
    if (it->second->timer) su_timer_destroy(it->second->timer);
    it = trunk_dns.erase(it);
  }
  if (!names.empty() && !resolver) {
    resolver = sres_resolver_create(root, cfg.resolv_conf.empty() ? nullptr : cfg.resolv_conf.c_str(),
                                    TAG_END());
    if (!resolver) log.error("sip: cannot start the DNS resolver; trunks given by name are not recognized");
  }
  for (auto& name : names) {
    if (trunk_dns.count(name) || !resolver) continue;
    auto d = std::make_unique<TrunkDns>();
    d->host = name;
    d->timer = su_timer_create(su_root_task(root), 1000);
    TrunkDns* p = d.get();
    trunk_dns.emplace(name, std::move(d));
    resolve(*p);
  }
  std::lock_guard<std::mutex> lock(dns_mutex);
  for (auto it = dns_snapshot.begin(); it != dns_snapshot.end();)
    it = trunk_dns.count(it->first) ? std::next(it) : dns_snapshot.erase(it);
}

void SipStack::Impl::resolve(TrunkDns& d) {
  ++d.round;
  d.found.clear();
  d.ttl = kMaxTtl;
  // Held at one until the three queries are out, so an answer coming
  // back at once cannot end the round early.
  d.outstanding = 1;
  query(d, sres_type_srv, "_sip._udp." + d.host);
  query(d, sres_type_a, d.host);
  query(d, sres_type_aaaa, d.host);
  if (--d.outstanding == 0) dns_round_done(d);
}

void SipStack::Impl::query(TrunkDns& d, std::uint16_t type, const std::string& name) {
  auto* q = new DnsQuery{this, d.host, d.round};
  ++d.outstanding;
  if (!sres_query(resolver, &Impl::on_dns_answer, q, type, name.c_str())) {
    delete q;
    --d.outstanding;
  }
}

void SipStack::Impl::on_dns_answer(sres_context_t* context, sres_query_t*, sres_record_t** answers) {
  std::unique_ptr<DnsQuery> q(static_cast<DnsQuery*>(context));
  Impl* self = q->self;
  auto it = self->trunk_dns.find(q->host);
  if (it == self->trunk_dns.end() || it->second->round != q->round) {
    sres_free_answers(self->resolver, answers);
    return;
  }
  TrunkDns& d = *it->second;
  --d.outstanding;
  for (auto** a = answers; a && *a; ++a) {
    const sres_common_t* r = (*a)->sr_record;
    if (r->r_status != 0) continue;
    d.ttl = std::min(d.ttl, std::max(kMinTtl, r->r_ttl));
    char buf[INET6_ADDRSTRLEN] = {0};
    if (r->r_type == sres_type_a) {
      inet_ntop(AF_INET, &(*a)->sr_a->a_addr, buf, sizeof buf);
      d.found.insert(buf);
    } else if (r->r_type == sres_type_aaaa) {
      inet_ntop(AF_INET6, &(*a)->sr_aaaa->aaaa_addr, buf, sizeof buf);
      d.found.insert(buf);
    } else if (r->r_type == sres_type_srv && (*a)->sr_srv->srv_target) {
      std::string target = (*a)->sr_srv->srv_target;
      if (!target.empty() && target.back() == '.') target.pop_back();
      if (target.empty()) continue;
      if (ip_literal(target)) {
        d.found.insert(target);
      } else {
        self->query(d, sres_type_a, target);
        self->query(d, sres_type_aaaa, target);
      }
    }
  }
  sres_free_answers(self->resolver, answers);
  if (d.outstanding == 0) self->dns_round_done(d);
}

void SipStack::Impl::dns_round_done(TrunkDns& d) {
  long next_ms = static_cast<long>(d.ttl) * 1000;
  if (d.found.empty()) {
    if (!d.failing)
      log.warn("sip: trunk host " + d.host +
               " resolves to no address (no SRV _sip._udp, A or AAAA record); requests from it "
               "are not taken as the trunk's until it does: check the name and sip.resolv_conf");
    d.failing = true;
    next_ms = kRetryMs;
  } else {
    d.failing = false;
    if (d.found != d.addresses) {
      auto list = [](const std::set<std::string>& s) {
        std::string out;
        for (auto& a : s) out += (out.empty() ? "" : ", ") + a;
        return out.empty() ? std::string("nothing") : out;
      };
      log.info("sip: trunk host " + d.host + " resolves to " + list(d.found) + " (was " +
               list(d.addresses) + ")");
      d.addresses = d.found;
      std::lock_guard<std::mutex> lock(dns_mutex);
      dns_snapshot[d.host] = std::vector<std::string>(d.addresses.begin(), d.addresses.end());
    }
  }
  if (d.timer) su_timer_set_interval(d.timer, &Impl::on_dns_timer, &d, next_ms);
}

void SipStack::Impl::on_dns_timer(void*, su_timer_t*, void* arg) {
  auto* d = static_cast<TrunkDns*>(arg);
  current()->resolve(*d);
}

void SipStack::Impl::close_dns() {
  for (auto& [_, d] : trunk_dns)
    if (d->timer) su_timer_destroy(d->timer);
  trunk_dns.clear();  // answers still in flight find no entry
  if (resolver) sres_resolver_destroy(resolver);
  resolver = nullptr;
}

bool SipStack::Impl::from_trunk(const TrunkInfo& t, const Source& src) const {
  if (t.port != 0 && t.port != src.port) return false;
  if (t.ip == src.ip) return true;
  auto it = trunk_dns.find(t.ip);
  return it != trunk_dns.end() && it->second->addresses.count(src.ip) > 0;
}

}  // namespace dialtone::plugins::backend::sip
