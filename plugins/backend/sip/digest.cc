#include "plugins/backend/sip/digest.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cctype>
#include <cstdio>

namespace dialtone::plugins::backend::sip {
namespace {

std::string hex(const unsigned char* p, std::size_t n) {
  static const char* d = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = d[p[i] >> 4];
    out[2 * i + 1] = d[p[i] & 15];
  }
  return out;
}

std::string hash_hex(DigestAlgorithm a, std::string_view s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(s.data(), s.size(), md, &len, a == DigestAlgorithm::md5 ? EVP_md5() : EVP_sha256(),
             nullptr);
  return hex(md, len);
}

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

void skip_ws(std::string_view s, std::size_t& i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) ++i;
}

}  // namespace

std::optional<DigestCredentials> parse_digest(std::string_view s) {
  std::size_t i = 0;
  skip_ws(s, i);
  if (s.size() - i < 6 || !iequal(s.substr(i, 6), "Digest")) return std::nullopt;
  i += 6;
  if (i < s.size() && s[i] != ' ' && s[i] != '\t') return std::nullopt;
  DigestCredentials c;
  bool any = false;
  while (true) {
    skip_ws(s, i);
    if (i >= s.size()) break;
    std::size_t k0 = i;
    while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '-' ||
                            s[i] == '_'))
      ++i;
    std::string_view key = s.substr(k0, i - k0);
    if (key.empty()) return std::nullopt;
    skip_ws(s, i);
    if (i >= s.size() || s[i] != '=') return std::nullopt;
    ++i;
    skip_ws(s, i);
    std::string value;
    if (i < s.size() && s[i] == '"') {
      ++i;
      bool closed = false;
      while (i < s.size()) {
        char ch = s[i++];
        if (ch == '\\' && i < s.size()) {
          value.push_back(s[i++]);
        } else if (ch == '"') {
          closed = true;
          break;
        } else {
          value.push_back(ch);
        }
      }
      if (!closed) return std::nullopt;
    } else {
      std::size_t v0 = i;
      while (i < s.size() && s[i] != ',' && s[i] != ' ' && s[i] != '\t') ++i;
      value = std::string(s.substr(v0, i - v0));
    }
    if (value.size() > 1024) return std::nullopt;
    std::string* slot = nullptr;
    if (iequal(key, "username")) slot = &c.username;
    else if (iequal(key, "realm")) slot = &c.realm;
    else if (iequal(key, "nonce")) slot = &c.nonce;
    else if (iequal(key, "uri")) slot = &c.uri;
    else if (iequal(key, "response")) slot = &c.response;
    else if (iequal(key, "algorithm")) slot = &c.algorithm;
    else if (iequal(key, "cnonce")) slot = &c.cnonce;
    else if (iequal(key, "nc")) slot = &c.nc;
    else if (iequal(key, "qop")) slot = &c.qop;
    else if (iequal(key, "opaque")) slot = &c.opaque;
    if (slot) *slot = std::move(value);
    any = true;
    skip_ws(s, i);
    if (i < s.size()) {
      if (s[i] != ',') return std::nullopt;
      ++i;
    }
  }
  if (!any || c.username.empty() || c.nonce.empty() || c.uri.empty() || c.response.empty())
    return std::nullopt;
  return c;
}

std::optional<DigestAlgorithm> digest_algorithm(std::string_view name) {
  if (name.empty() || iequal(name, "MD5")) return DigestAlgorithm::md5;
  if (iequal(name, "SHA-256")) return DigestAlgorithm::sha256;
  return std::nullopt;
}

std::string digest_response(DigestAlgorithm a, const DigestCredentials& c,
                            std::string_view password, std::string_view method) {
  std::string ha1 = hash_hex(a, c.username + ":" + c.realm + ":" + std::string(password));
  std::string ha2 = hash_hex(a, std::string(method) + ":" + c.uri);
  if (c.qop.empty()) return hash_hex(a, ha1 + ":" + c.nonce + ":" + ha2);
  return hash_hex(a, ha1 + ":" + c.nonce + ":" + c.nc + ":" + c.cnonce + ":" + c.qop + ":" + ha2);
}

bool equal_secret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(std::tolower(static_cast<unsigned char>(a[i])) ^
                                       std::tolower(static_cast<unsigned char>(b[i])));
  return diff == 0;
}

NonceFactory::NonceFactory(std::string realm, std::chrono::seconds lifetime)
    : realm_(std::move(realm)), lifetime_(lifetime), key_(32, '\0') {
  // A fresh key per process: nonces from a previous run come back as invalid,
  // the client gets a new challenge and no user-visible failure.
  RAND_bytes(reinterpret_cast<unsigned char*>(key_.data()), static_cast<int>(key_.size()));
}

std::string NonceFactory::mac(std::uint64_t stamp) const {
  std::string data = std::to_string(stamp) + ":" + realm_;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &len);
  return hex(md, 16);
}

std::string NonceFactory::make(std::int64_t now) const {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(now));
  return std::string(buf) + mac(static_cast<std::uint64_t>(now));
}

NonceFactory::Check NonceFactory::check(std::string_view nonce, std::int64_t now) const {
  if (nonce.size() != 48) return Check::invalid;
  std::uint64_t stamp = 0;
  for (std::size_t i = 0; i < 16; ++i) {
    char ch = nonce[i];
    int v;
    if (ch >= '0' && ch <= '9') v = ch - '0';
    else if (ch >= 'a' && ch <= 'f') v = ch - 'a' + 10;
    else return Check::invalid;
    stamp = (stamp << 4) | static_cast<std::uint64_t>(v);
  }
  if (!equal_secret(nonce.substr(16), mac(stamp))) return Check::invalid;
  auto age = now - static_cast<std::int64_t>(stamp);
  if (age < -5) return Check::invalid;
  if (age > lifetime_.count()) return Check::stale;
  return Check::valid;
}

}  // namespace dialtone::plugins::backend::sip
