// HTTP digest authentication for SIP (RFC 3261 section 22, RFC 7616 for
// SHA-256): the header parser, stateless nonces and the response check.
// Plain C++: no sofia types, so the fuzzer and the tests use it directly.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dialtone::plugins::backend::sip {

enum class DigestAlgorithm { md5, sha256 };

// The fields of an Authorization / Proxy-Authorization header value.
struct DigestCredentials {
  std::string username;
  std::string realm;
  std::string nonce;
  std::string uri;
  std::string response;
  std::string algorithm;  // as sent; empty means MD5
  std::string cnonce;
  std::string nc;
  std::string qop;
  std::string opaque;
};

// Parses `Digest k=v, k="v", ...`. Returns nothing for anything that is not a
// well-formed Digest value with username, realm, nonce, uri and response.
std::optional<DigestCredentials> parse_digest(std::string_view value);

// MD5 or SHA-256 per the `algorithm` parameter; nothing for others.
std::optional<DigestAlgorithm> digest_algorithm(std::string_view name);

// The expected `response` for these credentials and password (hex).
std::string digest_response(DigestAlgorithm algorithm, const DigestCredentials& c,
                            std::string_view password, std::string_view method);

// Constant-time comparison, so response checks leak nothing through timing.
bool equal_secret(std::string_view a, std::string_view b);

// Nonces that need no server state: hex(issue time) + hex(HMAC-SHA256(key,
// time|realm)). A nonce is valid while younger than the lifetime; an older
// one with a good MAC is stale (the client retries without asking the user).
class NonceFactory {
 public:
  enum class Check { valid, stale, invalid };

  NonceFactory(std::string realm, std::chrono::seconds lifetime);
  std::string make(std::int64_t now_seconds) const;
  Check check(std::string_view nonce, std::int64_t now_seconds) const;

 private:
  std::string mac(std::uint64_t stamp) const;
  std::string realm_;
  std::chrono::seconds lifetime_;
  std::string key_;
};

}  // namespace dialtone::plugins::backend::sip
