// SRTP with SDES keys (RFC 4568) through libsrtp2: one context to protect what
// we send with our key, one to check what we receive with the peer's.
#pragma once

#include <cstdint>
#include <string>

#include <dialtone/media.h>
#include <dialtone/result.h>

struct srtp_ctx_t_;

namespace dialtone::plugins::media {

// libsrtp2's trailer for the supported suites (10-byte tag at most).
inline constexpr int kSrtpTrailer = 16;

class SrtpSession {
 public:
  SrtpSession() = default;
  ~SrtpSession();
  SrtpSession(const SrtpSession&) = delete;
  SrtpSession& operator=(const SrtpSession&) = delete;

  // Validates both keys (suite known, 30 bytes of base64); the error names the bad one.
  sdk::Status init(const sdk::media::CryptoAttribute& local, const sdk::media::CryptoAttribute& remote);
  bool active() const { return tx_ != nullptr; }
  // `len` grows by the auth tag; the buffer must have kSrtpTrailer spare bytes.
  bool protect(std::uint8_t* buf, int& len);
  // False when authentication or replay checks fail.
  bool unprotect(std::uint8_t* buf, int& len);

 private:
  srtp_ctx_t_* tx_ = nullptr;
  srtp_ctx_t_* rx_ = nullptr;
};

bool srtp_suite_supported(const std::string& suite);

}  // namespace dialtone::plugins::media
