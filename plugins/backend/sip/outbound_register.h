// Outbound registration of trunks to their provider: the option that asks
// for it, the digest answer to the registrar's challenge and the timing of
// refreshes and retries. Plain C++ (no sofia types).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "plugins/backend/sip/endpoint_options.h"  // endpoint_option(): a trunk's options

namespace dialtone::plugins::backend::sip {

// outbound_register = yes|true|on|1 in the endpoint's options.
bool wants_outbound_register(const std::string& options_json);

// A WWW-Authenticate / Proxy-Authenticate Digest challenge.
struct DigestChallenge {
  std::string realm;
  std::string nonce;
  std::string opaque;
  std::string algorithm;  // empty: MD5
  std::string qop;        // "auth" when offered, else empty
  bool stale = false;
};
std::optional<DigestChallenge> parse_challenge(std::string_view value);

// The Authorization value answering `ch` for `method` on `uri`; nullopt
// when the challenge asks for an algorithm or qop this side cannot do.
std::optional<std::string> digest_authorization(const DigestChallenge& ch, const std::string& username,
                                                const std::string& secret, const std::string& method,
                                                const std::string& uri, unsigned nonce_count,
                                                const std::string& cnonce);

// When to refresh a registration granted for `granted_seconds`: at 90 %.
std::chrono::milliseconds refresh_delay(int granted_seconds);
// When to retry after the `failures`-th failure in a row: 5 s doubling, at
// most 5 minutes.
std::chrono::milliseconds retry_delay(int failures);

}  // namespace dialtone::plugins::backend::sip
