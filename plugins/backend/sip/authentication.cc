// Digest authentication of REGISTER and INVITE: challenges, the
// credentials cache, and failure counting for bans.
#include "plugins/backend/sip/stack_impl.h"

namespace dialtone::plugins::backend::sip {

auto SipStack::Impl::make_challenge(bool stale) -> Challenge {
  std::string head = "Digest realm=\"" + cfg.realm + "\", nonce=\"" + nonces.make(unix_now()) +
                     "\", qop=\"auth\", algorithm=";
  const char* tail = stale ? ", stale=true" : "";
  Challenge c;
  c.first = head + digest_algorithm_name(cfg.auth_algorithms.front()) + tail;
  if (cfg.auth_algorithms.size() > 1)
    c.second = head + digest_algorithm_name(cfg.auth_algorithms[1]) + tail;
  return c;
}

void SipStack::Impl::challenge(nta_incoming_t* irq, bool proxy, bool stale) {
  auto [first, second] = make_challenge(stale);
  bool two = !second.empty();
  if (proxy)
    nta_incoming_treply(irq, SIP_407_PROXY_AUTH_REQUIRED,
                        SIPTAG_PROXY_AUTHENTICATE_STR(first.c_str()),
                        TAG_IF(two, SIPTAG_PROXY_AUTHENTICATE_STR(second.c_str())), TAG_END());
  else
    nta_incoming_treply(irq, SIP_401_UNAUTHORIZED, SIPTAG_WWW_AUTHENTICATE_STR(first.c_str()),
                        TAG_IF(two, SIPTAG_WWW_AUTHENTICATE_STR(second.c_str())), TAG_END());
  nta_incoming_destroy(irq);
}

void SipStack::Impl::reply(nta_incoming_t* irq, int status, const char* phrase) {
  nta_incoming_treply(irq, status, phrase, TAG_END());
  nta_incoming_destroy(irq);
}

std::optional<DigestCredentials> SipStack::Impl::our_credentials(const msg_auth_t* list) {
  for (auto* au = list; au; au = au->au_next) {
    auto c = parse_digest(auth_text(au));
    if (c && c->realm == cfg.realm) return c;
  }
  return std::nullopt;
}

void SipStack::Impl::auth_failed(const std::string& user, const Source& src) {
  log.warn("sip: auth failed for \"" + user + "\" from " + src.ip);
  if (bans.failure(src.ip, std::chrono::steady_clock::now()))
    log.warn("sip: banned " + src.ip + " for " + std::to_string(cfg.ban_time.count()) +
             "s after " + std::to_string(cfg.ban_failures) + " auth failures");
}

std::optional<std::uint32_t> SipStack::Impl::nonce_count(const DigestCredentials& c) {
  // With qop the nonce count must be there (it is what replay protection
  // checks); without, a nonce serves once (counted as 1).
  if (c.qop.empty()) return 1;
  return parse_nonce_count(c.nc);
}

auto SipStack::Impl::auth_step(const std::optional<DigestCredentials>& creds) -> AuthStep {
  if (!creds) return AuthStep::challenge;
  auto algorithm = digest_algorithm(creds->algorithm);
  bool offered = algorithm && std::find(cfg.auth_algorithms.begin(), cfg.auth_algorithms.end(),
                                        *algorithm) != cfg.auth_algorithms.end();
  if (!offered || (!creds->qop.empty() && (creds->qop != "auth" || creds->cnonce.empty())) ||
      !nonce_count(*creds))
    return AuthStep::challenge;
  switch (nonces.check(creds->nonce, unix_now())) {
    case NonceFactory::Check::invalid:
      return AuthStep::challenge;
    case NonceFactory::Check::stale:
      return AuthStep::stale;
    case NonceFactory::Check::valid:
      break;
  }
  return AuthStep::check;
}

int SipStack::Impl::authenticate(nta_incoming_t* irq, const sip_t* sip, bool proxy,
                                 const char* method,
                                 std::function<void(nta_incoming_t*, const LineCredentials&)> next) {
  Source src = source_of(irq);
  if (bans.banned(src.ip, std::chrono::steady_clock::now())) {
    reply(irq, SIP_403_FORBIDDEN);
    return 0;
  }
  auto creds = our_credentials(proxy ? sip->sip_proxy_authorization : sip->sip_authorization);
  switch (auth_step(creds)) {
    case AuthStep::challenge:
      challenge(irq, proxy, false);
      return 0;
    case AuthStep::stale:
      challenge(irq, proxy, true);
      return 0;
    default:
      break;
  }
  verify_digest(src, *creds, sip, method,
                [this, irq, proxy, next = std::move(next)](Verdict v, const LineCredentials* line) {
                  switch (v) {
                    case Verdict::ok:
                      next(irq, *line);
                      return;
                    case Verdict::unavailable:
                      reply(irq, SIP_503_SERVICE_UNAVAILABLE);
                      return;
                    case Verdict::forbidden:
                      reply(irq, SIP_403_FORBIDDEN);
                      return;
                    case Verdict::retransmission:
                      reply(irq, SIP_482_LOOP_DETECTED);
                      return;
                    case Verdict::stale:
                      challenge(irq, proxy, true);
                      return;
                  }
                });
  return 0;
}

void SipStack::Impl::verify_digest(const Source& src, const DigestCredentials& c, const sip_t* sip,
                                   const char* method,
                                   std::function<void(Verdict, const LineCredentials*)> done) {
  auto algorithm = digest_algorithm(c.algorithm);
  std::optional<std::uint32_t> nc = nonce_count(c);
  if (!algorithm || !nc) {  // auth_step() lets none of these through
    done(Verdict::stale, nullptr);
    return;
  }
  std::string m = method;
  std::uint32_t request = request_fingerprint(sip);
  ++awaiting_credentials;
  with_credentials(c.username, [this, src, c, a = *algorithm, count = *nc, m, request,
                                done = std::move(done)](const std::optional<LineCredentials>& line,
                                                        bool ok) {
    --awaiting_credentials;
    if (!ok) {
      done(Verdict::unavailable, nullptr);
      return;
    }
    if (!line || !equal_secret(digest_response(a, c, line->secret, m), c.response)) {
      auth_failed(c.username, src);
      done(Verdict::forbidden, nullptr);
      return;
    }
    // Counted only once the response is verified, so a forged request
    // cannot use up a client's nonce counts.
    switch (nonces.use(c.nonce, count, request)) {
      case NonceFactory::Use::fresh:
        break;
      // The same request again after its transaction ended (the front door
      // drops those it sees): merged, RFC 3261 8.2.2.2, not a replay.
      case NonceFactory::Use::retransmission:
        done(Verdict::retransmission, nullptr);
        return;
      // stale=true: the credentials were right, so a phone that merely
      // reused a count retries with the new nonce instead of asking its
      // user; a replayer gains nothing from it.
      case NonceFactory::Use::replayed:
        log.warn("sip: replayed digest (nc " + c.nc + ") for \"" + c.username + "\" from " +
                 src.ip);
        done(Verdict::stale, nullptr);
        return;
      case NonceFactory::Use::forgotten:
        done(Verdict::stale, nullptr);
        return;
    }
    bans.success(src.ip);
    done(Verdict::ok, &*line);
  });
}

void SipStack::Impl::with_credentials(const std::string& user,
                                      std::function<void(const std::optional<LineCredentials>&, bool)> cb) {
  auto now = mono_ms();
  auto it = credentials.find(user);
  if (it != credentials.end()) {
    // Unknown users are asked again after a second, so a line created in
    // the store can register right away.
    auto ttl = it->second.creds ? cfg.credential_cache.count() * 1000 : 1000;
    if (now - it->second.fetched_ms < ttl) {
      cb(it->second.creds, true);
      return;
    }
  }
  auto& waiters = credential_waiters[user];
  waiters.push_back(std::move(cb));
  if (waiters.size() > 1) return;
  std::weak_ptr<Inbox> weak = inbox;
  backend.find_credentials(user, [this, weak, user](std::optional<LineCredentials> c, bool ok) {
    if (auto in = weak.lock())
      in->post([this, user, c = std::move(c), ok] { on_credentials(user, c, ok); });
  });
}

void SipStack::Impl::on_credentials(const std::string& user,
                                    const std::optional<LineCredentials>& c, bool ok) {
  if (ok) credentials[user] = CachedCredentials{c, mono_ms()};
  auto waiters = std::move(credential_waiters[user]);
  credential_waiters.erase(user);
  for (auto& w : waiters) w(c, ok);
}

}  // namespace dialtone::plugins::backend::sip
