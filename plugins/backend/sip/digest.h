// HTTP digest authentication for SIP (RFC 3261 section 22, RFC 7616 for
// SHA-256): the header parser, stateless nonces and the response check.
// Plain C++: no sofia types, so the fuzzer and the tests use it directly.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX

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

// "MD5" or "SHA-256", as written in a challenge.
const char* digest_algorithm_name(DigestAlgorithm algorithm);

// The auth.algorithms option ("SHA-256, MD5"): the algorithms offered, in
// order of preference, without repeats; nothing for an unknown name or an
// empty list.
std::optional<std::vector<DigestAlgorithm>> parse_digest_algorithms(
    const std::vector<std::string>& names);

// The nc parameter (8 hex digits, RFC 7616); nothing when malformed.
std::optional<std::uint32_t> parse_nonce_count(std::string_view nc);

// The expected `response` for these credentials and password (hex).
std::string digest_response(DigestAlgorithm algorithm, const DigestCredentials& c,
                            std::string_view password, std::string_view method);

// Constant-time comparison, so response checks leak nothing through timing.
bool equal_secret(std::string_view a, std::string_view b);

// Nonces that need no state to verify: hex(issue time) + hex(serial) +
// hex(HMAC-SHA256(key, time|serial|realm)). A nonce is valid while younger
// than the lifetime; an older one with a good MAC is stale (the client
// retries without asking the user). The serial makes every challenge's
// nonce distinct, so nonce counts can be tracked per nonce.
//
// Replay protection (RFC 7616 nc): use() remembers the highest nonce count
// seen for each of the last `window` nonces issued, in a fixed ring indexed
// by serial: memory stays constant whatever the load. A nonce that has left
// the window is "forgotten" and the client is sent a fresh, stale nonce.
// With the count, a fingerprint of the request that used it (Call-ID, CSeq,
// method, Via branch) is kept: the same request again is a retransmission
// (RFC 3261 17.2.3), not a replay.
class NonceFactory {
 public:
  enum class Check { valid, stale, invalid };
  enum class Use { fresh, replayed, forgotten, retransmission };
  static constexpr std::size_t kDefaultWindow = 1 << 18;

  NonceFactory(std::string realm, std::chrono::seconds lifetime,
               std::size_t window = kDefaultWindow);
  ~NonceFactory();
  NonceFactory(const NonceFactory&) = delete;
  NonceFactory& operator=(const NonceFactory&) = delete;
  std::string make(std::int64_t now_seconds);
  Check check(std::string_view nonce, std::int64_t now_seconds) const;
  // For a nonce that check() found valid and a verified response: records
  // `nc` (requests without qop count as 1, so such a nonce is single-use)
  // and the fingerprint of the request (0: none).
  Use use(std::string_view nonce, std::uint32_t nc, std::uint32_t request = 0);
  // True when `request` is the one that last used `nc` of `nonce`: a
  // retransmission, dropped before any work.
  bool used_by(std::string_view nonce, std::uint32_t nc, std::uint32_t request) const;

 private:
  void mac(std::uint64_t stamp, std::uint64_t serial, char out[32]) const;
  std::string realm_;
  std::chrono::seconds lifetime_;
  // HMAC-SHA256 with the key's inner and outer pads hashed once, copied for
  // each nonce (keying a fresh HMAC per nonce cost more than the rest).
  ::evp_md_ctx_st* inner_ = nullptr;
  ::evp_md_ctx_st* outer_ = nullptr;
  ::evp_md_ctx_st* work_ = nullptr;
  std::uint64_t next_serial_ = 0;
  std::vector<std::uint32_t> counts_;  // by serial % window: the highest nc used
  std::vector<std::uint32_t> requests_;  // by serial % window: the request that used it
};

}  // namespace dialtone::plugins::backend::sip
