// SipStack's public face: start and stop, and the thread-safe accessors and
// requests that other threads post to the SIP thread.
#include "plugins/backend/sip/stack_impl.h"

#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

namespace dialtone::plugins::backend::sip {

// ---- public face --------------------------------------------------------

SipStack::SipStack(SipConfig config, SipBackend& backend, sdk::Logger& log)
    : impl_(std::make_shared<Impl>(std::move(config), backend, log)) {}

SipStack::~SipStack() { stop(); }

int free_port(const std::string& host) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    int t = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    inet_pton(AF_INET, host.c_str(), &a.sin_addr);
    a.sin_port = 0;
    if (::bind(t, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(t);
      return 0;
    }
    socklen_t len = sizeof a;
    getsockname(t, reinterpret_cast<sockaddr*>(&a), &len);
    int u = ::socket(AF_INET, SOCK_DGRAM, 0);
    bool ok = ::bind(u, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(u);
    ::close(t);
    if (ok) return ntohs(a.sin_port);
  }
  return 0;
}

sdk::Status SipStack::start() {
  auto impl = impl_;
  int port = impl->cfg.port;
  if (port == 0) port = free_port(impl->cfg.host);
  if (port == 0) return sdk::Error::unavailable("sip: no free port on " + impl->cfg.host);
  if (impl->cfg.tls_port == 0) impl->cfg.tls_port = free_port(impl->cfg.host);
  auto& media = impl->cfg.media;
  // A wildcard relay address cannot go in SDP: phones get the SIP address.
  if (media.advertise.empty() && (media.relay.bind == "0.0.0.0" || media.relay.bind == "::"))
    media.advertise = impl->cfg.host;
  impl->relay = std::make_unique<RtpRelay>(media.relay, &impl->log);
  if (auto s = impl->relay->start(); !s) {
    impl->relay.reset();
    return s.error();
  }
  impl->thread = std::thread([impl, port] {
    // Named for top -H, perf and the benchmarks (bench/sip/run_interconnect.sh).
    pthread_setname_np(pthread_self(), "sip");
    Impl::current() = impl.get();
    impl->run(port);
  });
  std::unique_lock<std::mutex> lock(impl->start_mutex);
  impl->start_cv.wait(lock, [&] { return impl->start_done; });
  if (!impl->start_error.empty()) {
    lock.unlock();
    impl->thread.join();
    impl->relay.reset();
    return sdk::Error::unavailable("sip: " + impl->start_error);
  }
  impl->log.info("sip: listening on " + impl->cfg.host + ":" + std::to_string(impl->bound_port.load()));
  return {};
}

void SipStack::stop() {
  auto impl = impl_;
  if (!impl->thread.joinable()) return;
  impl->inbox->post([impl] {
    if (impl->root) su_root_break(impl->root);
  });
  impl->thread.join();
  if (impl->relay) impl->relay->stop();
}

int SipStack::port() const { return impl_->bound_port; }

int SipStack::tls_port() const { return impl_->tls_bound_port; }

std::size_t SipStack::tcp_connections() const { return impl_->tcp_open; }

void SipStack::reconfigure(const SipConfig& c) {
  auto impl = impl_;
  impl->inbox->post([impl, c] {
    auto& cfg = impl->cfg;
    cfg.max_pending = c.max_pending;
    cfg.max_queue_delay = c.max_queue_delay;
    cfg.retry_after = c.retry_after;
    cfg.expires_min = c.expires_min;
    cfg.expires_max = c.expires_max;
    cfg.expires_default = c.expires_default;
    cfg.auth_algorithms = c.auth_algorithms;
    cfg.credential_cache = c.credential_cache;
    cfg.notify_timeout = c.notify_timeout;
    cfg.session_min_se = c.session_min_se;
    cfg.rel100_when_supported = c.rel100_when_supported;
    cfg.media.direct_media = c.media.direct_media;
    cfg.media.codecs = c.media.codecs;
    // Subscriptions held stay; these apply to the next SUBSCRIBE.
    cfg.subscribe_expires_min = c.subscribe_expires_min;
    cfg.subscribe_expires_max = c.subscribe_expires_max;
    cfg.subscribe_expires_default = c.subscribe_expires_default;
    cfg.subscribe_max_per_line = c.subscribe_max_per_line;
    cfg.mwi_unsolicited = c.mwi_unsolicited;
  });
}

void SipStack::set_pickup_code(std::string code) {
  auto impl = impl_;
  impl->inbox->post([impl, code = std::move(code)]() mutable { impl->cfg.pickup_code = std::move(code); });
}

void SipStack::deactivate(std::vector<SavedSubscription> subscriptions) {
  auto impl = impl_;
  impl->inbox->post([impl, subscriptions = std::move(subscriptions)]() mutable {
    impl->subscriptions->deactivate(std::move(subscriptions));
  });
}

void SipStack::invalidate_credentials() {
  auto impl = impl_;
  impl->inbox->post([impl] {
    impl->credentials.clear();
    impl->trunks_fetched_ms = -1;
    impl->load_registrations();
    impl->with_trunks([] {});  // the trunks qualified follow the configuration
  });
}

std::size_t SipStack::contact_count(const std::string& aor) const {
  std::lock_guard<std::mutex> lock(impl_->snapshot_mutex);
  auto it = impl_->snapshot.find(aor);
  return it == impl_->snapshot.end() ? 0 : it->second;
}

std::vector<std::string> SipStack::registered_aors() const {
  std::lock_guard<std::mutex> lock(impl_->snapshot_mutex);
  std::vector<std::string> aors;
  for (auto& [aor, n] : impl_->snapshot)
    if (n > 0) aors.push_back(aor);
  return aors;
}

std::size_t SipStack::active_calls() const { return impl_->call_count; }

RelayStats SipStack::media_totals() const {
  return impl_->relay ? impl_->relay->totals() : RelayStats{};
}

std::size_t SipStack::media_free_pairs() const {
  return impl_->relay ? impl_->relay->free_pairs() : 0;
}

std::size_t SipStack::active_calls_of(const std::vector<std::string>& usernames) const {
  std::lock_guard<std::mutex> lock(impl_->lines_mutex);
  std::size_t n = 0;
  for (auto& u : usernames) {
    auto it = impl_->line_calls.find(u);
    if (it != impl_->line_calls.end()) n += static_cast<std::size_t>(it->second);
  }
  return n;
}

void SipStack::dial(const std::string& call_id, DialRequest req,
                    std::function<void(DialResult)> done) {
  auto impl = impl_;
  auto shared = std::make_shared<std::function<void(DialResult)>>(std::move(done));
  bool posted = impl->inbox->post([impl, call_id, req = std::move(req), shared] {
    impl->dial(call_id, req, std::move(*shared));
  });
  if (!posted) (*shared)(DialResult{"cancelled", 0});
}

}  // namespace dialtone::plugins::backend::sip

namespace dialtone::plugins::backend::sip {

void SipStack::hangup(const std::string& call_id, int status, const std::string& channel) {
  auto impl = impl_;
  impl->inbox->post([impl, call_id, status, channel] { impl->hangup(call_id, status, channel); });
}

void SipStack::cancel_leg(const std::string& channel) {
  auto impl = impl_;
  impl->inbox->post([impl, channel] { impl->cancel_leg(channel); });
}

SipStack::TransactionCounts SipStack::transactions() const {
  return {impl_->server_transactions.load(), impl_->client_transactions.load(),
          impl_->dialog_legs.load(), impl_->transaction_samples.load()};
}

std::map<std::string, std::string> SipStack::registrations() const {
  std::lock_guard<std::mutex> lock(impl_->regs_mutex);
  return impl_->reg_states;
}

std::map<std::string, std::vector<std::string>> SipStack::trunk_addresses() const {
  std::lock_guard<std::mutex> lock(impl_->dns_mutex);
  return impl_->dns_snapshot;
}

std::vector<ContactReachability> SipStack::reachability(const std::string& aor) const {
  return impl_->qualify.of(aor);
}

void SipStack::notify(NotifyTarget target, std::function<void(NotifyResult)> done) {
  auto impl = impl_;
  auto shared = std::make_shared<std::function<void(NotifyResult)>>(std::move(done));
  bool posted = impl->inbox->post([impl, target = std::move(target), shared] {
    impl->notify(target, std::move(*shared));
  });
  if (!posted) (*shared)(NotifyResult{503, 0, "the SIP stack is stopped"});
}

}  // namespace dialtone::plugins::backend::sip
