// Digest authentication (RFC 7616, qop=auth) computed on the phone's or the
// provider's side with OpenSSL, independently of the plugin's digest.cc, so
// a test checks the plugin against the RFC rather than against itself.
#pragma once

#include <openssl/evp.h>

#include <map>
#include <regex>
#include <string>

namespace dialtone::testing {

// Lower-case hex of MD5 or SHA-256 ("SHA-256") of `text`.
inline std::string hash_hex(const std::string& algorithm, const std::string& text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), md, &len, algorithm == "SHA-256" ? EVP_sha256() : EVP_md5(), nullptr);
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(d[md[i] >> 4]);
    out.push_back(d[md[i] & 15]);
  }
  return out;
}

// The parameters of a Digest header value (quotes removed).
inline std::map<std::string, std::string> digest_params(const std::string& value) {
  std::map<std::string, std::string> out;
  static const std::regex param(R"(([a-z]+)=(\"([^\"]*)\"|[^, \r]+))");
  for (std::sregex_iterator it(value.begin(), value.end(), param), end; it != end; ++it)
    out[(*it)[1]] = (*it)[3].matched ? (*it)[3].str() : (*it)[2].str();
  return out;
}

// The qop=auth response for `method` on `uri` with nonce count `nc` (8 hex
// digits) and client nonce `cnonce`.
inline std::string qop_auth_response(const std::string& algorithm, const std::string& username,
                                     const std::string& realm, const std::string& password,
                                     const std::string& method, const std::string& uri,
                                     const std::string& nonce, const std::string& nc,
                                     const std::string& cnonce) {
  std::string ha1 = hash_hex(algorithm, username + ":" + realm + ":" + password);
  std::string ha2 = hash_hex(algorithm, method + ":" + uri);
  return hash_hex(algorithm, ha1 + ":" + nonce + ":" + nc + ":" + cnonce + ":auth:" + ha2);
}

}  // namespace dialtone::testing
