// What a trunk's provider may answer to Dialtone's requests: the digest
// challenge Dialtone answers with the trunk's credentials, and the answers
// after which an outgoing route tries its next trunk. Plain C++ (no sofia
// types), so the tests use it directly.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plugins/backend/sip/outbound_register.h"

namespace dialtone::plugins::backend::sip {

// A trunk's failover_codes option: SIP statuses ("404") and classes ("5xx")
// after which the route goes on to its next trunk.
struct FailoverCodes {
  std::vector<int> codes;
  std::vector<int> classes;  // 5 for "5xx"
  bool matches(int status) const;
};

// "401, 403, 5xx": nothing when a token is neither a status 400-699 nor a
// class 4xx-6xx, or when the list is empty.
std::optional<FailoverCodes> parse_failover_codes(std::string_view text);

// XiVO's behaviour: credentials refused (401/403/407 once answered), 404,
// no answer (408), 480 and every server failure (5xx, 503 with Retry-After
// included). Busy (486) and declined (603) end the route.
inline constexpr const char* kDefaultFailoverCodes = "401,403,404,407,408,480,5xx";
const FailoverCodes& default_failover_codes();

// The challenge to answer among `offered` (the WWW-Authenticate or
// Proxy-Authenticate values of one response, in header order): the first
// Digest one with an algorithm Dialtone computes (MD5, SHA-256), in `realm`
// when it is not empty. RFC 8760: the server lists its preferred first.
std::optional<DigestChallenge> pick_challenge(const std::vector<std::string>& offered,
                                              const std::string& realm);

// True when one of `sent` (the request's Authorization or
// Proxy-Authorization values) already answered `realm`: a new challenge in
// that realm, unless stale, means the credentials are wrong.
bool answered_realm(const std::vector<std::string>& sent, const std::string& realm);

}  // namespace dialtone::plugins::backend::sip
