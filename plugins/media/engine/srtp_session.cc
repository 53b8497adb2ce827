#include "srtp_session.h"

#include <cstring>
#include <mutex>

#include <srtp2/srtp.h>

#include <dialtone/base64.h>

namespace dialtone::plugins::media {
namespace {

// srtp_init() fails when another component of the process initialised the
// library first; srtp_create() below is the real check.
bool library_ready() {
  static const bool ok = (srtp_init(), true);
  return ok;
}

bool set_policy(srtp_crypto_policy_t& p, const std::string& suite) {
  if (suite == "AES_CM_128_HMAC_SHA1_80") {
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p);
    return true;
  }
  if (suite == "AES_CM_128_HMAC_SHA1_32") {
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&p);
    return true;
  }
  return false;
}

sdk::Status make(srtp_t* out, const sdk::media::CryptoAttribute& a, srtp_ssrc_type_t dir,
                 const char* which) {
  std::string key;
  if (!srtp_suite_supported(a.suite))
    return sdk::Error::unsupported(std::string("SRTP ") + which + " crypto suite " + a.suite +
                                   " is not supported (use AES_CM_128_HMAC_SHA1_80 or _32)");
  if (!sdk::base64_decode(a.key_base64, key) || key.size() != SRTP_AES_128_KEY_LEN + SRTP_SALT_LEN)
    return sdk::Error::invalid(std::string("SRTP ") + which +
                               " key is not 30 bytes of base64 (a=crypto inline:<key>)");
  srtp_policy_t policy;
  std::memset(&policy, 0, sizeof(policy));
  set_policy(policy.rtp, a.suite);
  set_policy(policy.rtcp, a.suite);
  policy.ssrc.type = dir;
  policy.key = reinterpret_cast<unsigned char*>(key.data());
  policy.window_size = 128;
  policy.allow_repeat_tx = 1;
  if (srtp_create(out, &policy) != srtp_err_status_ok)
    return sdk::Error::internal(std::string("libsrtp2 refused the ") + which + " key");
  return {};
}

}  // namespace

bool srtp_suite_supported(const std::string& suite) {
  return suite == "AES_CM_128_HMAC_SHA1_80" || suite == "AES_CM_128_HMAC_SHA1_32";
}

SrtpSession::~SrtpSession() {
  if (tx_) srtp_dealloc(tx_);
  if (rx_) srtp_dealloc(rx_);
}

sdk::Status SrtpSession::init(const sdk::media::CryptoAttribute& local,
                              const sdk::media::CryptoAttribute& remote) {
  if (!library_ready()) return sdk::Error::internal("libsrtp2 failed to initialise");
  if (auto s = make(&tx_, local, ssrc_any_outbound, "local"); !s.ok()) return s;
  if (auto s = make(&rx_, remote, ssrc_any_inbound, "remote"); !s.ok()) {
    srtp_dealloc(tx_);
    tx_ = nullptr;
    return s;
  }
  return {};
}

bool SrtpSession::protect(std::uint8_t* buf, int& len) {
  return srtp_protect(tx_, buf, &len) == srtp_err_status_ok;
}

bool SrtpSession::unprotect(std::uint8_t* buf, int& len) {
  return srtp_unprotect(rx_, buf, &len) == srtp_err_status_ok;
}

}  // namespace dialtone::plugins::media
