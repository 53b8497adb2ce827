#include "plugins/backend/sip/digest.h"

#include <dialtone/text.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
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

// Fetched once: EVP_md5() and EVP_sha256() make EVP_Digest look the
// algorithm up in the default provider at every call (three per verified
// request), which cost more than the hashing itself.
const EVP_MD* fetched(DigestAlgorithm a) {
  static EVP_MD* const md5 = EVP_MD_fetch(nullptr, "MD5", nullptr);
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  const EVP_MD* md = a == DigestAlgorithm::md5 ? md5 : sha256;
  if (md) return md;
  return a == DigestAlgorithm::md5 ? EVP_md5() : EVP_sha256();
}

std::string hash_hex(DigestAlgorithm a, std::string_view s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(s.data(), s.size(), md, &len, fetched(a), nullptr);
  return hex(md, len);
}

using sdk::text::iequals;

void skip_ws(std::string_view s, std::size_t& i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) ++i;
}

}  // namespace

std::optional<DigestCredentials> parse_digest(std::string_view s) {
  std::size_t i = 0;
  skip_ws(s, i);
  if (s.size() - i < 6 || !iequals(s.substr(i, 6), "Digest")) return std::nullopt;
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
    if (iequals(key, "username")) slot = &c.username;
    else if (iequals(key, "realm")) slot = &c.realm;
    else if (iequals(key, "nonce")) slot = &c.nonce;
    else if (iequals(key, "uri")) slot = &c.uri;
    else if (iequals(key, "response")) slot = &c.response;
    else if (iequals(key, "algorithm")) slot = &c.algorithm;
    else if (iequals(key, "cnonce")) slot = &c.cnonce;
    else if (iequals(key, "nc")) slot = &c.nc;
    else if (iequals(key, "qop")) slot = &c.qop;
    else if (iequals(key, "opaque")) slot = &c.opaque;
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
  if (name.empty() || iequals(name, "MD5")) return DigestAlgorithm::md5;
  if (iequals(name, "SHA-256")) return DigestAlgorithm::sha256;
  return std::nullopt;
}

const char* digest_algorithm_name(DigestAlgorithm a) {
  return a == DigestAlgorithm::sha256 ? "SHA-256" : "MD5";
}

std::optional<std::vector<DigestAlgorithm>> parse_digest_algorithms(
    const std::vector<std::string>& names) {
  std::vector<DigestAlgorithm> out;
  for (auto& n : names) {
    if (n.empty()) return std::nullopt;
    auto a = digest_algorithm(n);
    if (!a) return std::nullopt;
    if (std::find(out.begin(), out.end(), *a) == out.end()) out.push_back(*a);
  }
  if (out.empty()) return std::nullopt;
  return out;
}

std::optional<std::uint32_t> parse_nonce_count(std::string_view nc) {
  if (nc.empty() || nc.size() > 8) return std::nullopt;
  std::uint32_t v = 0;
  for (char ch : nc) {
    int d;
    if (ch >= '0' && ch <= '9') d = ch - '0';
    else if (ch >= 'a' && ch <= 'f') d = ch - 'a' + 10;
    else if (ch >= 'A' && ch <= 'F') d = ch - 'A' + 10;
    else return std::nullopt;
    v = (v << 4) | static_cast<std::uint32_t>(d);
  }
  return v;
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
    diff |= static_cast<unsigned char>(sdk::text::to_lower(a[i]) ^ sdk::text::to_lower(b[i]));
  return diff == 0;
}

namespace {

void put_hex64(std::uint64_t v, char* out) {
  static const char* d = "0123456789abcdef";
  for (int i = 15; i >= 0; --i, v >>= 4) out[i] = d[v & 15];
}

bool get_hex64(std::string_view s, std::uint64_t& v) {
  v = 0;
  for (char ch : s) {
    int d;
    if (ch >= '0' && ch <= '9') d = ch - '0';
    else if (ch >= 'a' && ch <= 'f') d = ch - 'a' + 10;
    else return false;
    v = (v << 4) | static_cast<std::uint64_t>(d);
  }
  return true;
}

constexpr std::size_t kNonceSize = 64;  // 16 stamp + 16 serial + 32 MAC

}  // namespace

NonceFactory::NonceFactory(std::string realm, std::chrono::seconds lifetime, std::size_t window)
    : realm_(std::move(realm)),
      lifetime_(lifetime),
      counts_(window < 1 ? 1 : window, 0),
      requests_(counts_.size(), 0) {
  // A fresh key per process: nonces from a previous run come back as invalid,
  // the client gets a new challenge and no user-visible failure.
  unsigned char key[32];
  RAND_bytes(key, sizeof key);
  unsigned char ipad[64], opad[64];
  for (std::size_t i = 0; i < 64; ++i) {
    unsigned char k = i < sizeof key ? key[i] : 0;
    ipad[i] = k ^ 0x36;
    opad[i] = k ^ 0x5c;
  }
  inner_ = EVP_MD_CTX_new();
  outer_ = EVP_MD_CTX_new();
  work_ = EVP_MD_CTX_new();
  EVP_DigestInit_ex(inner_, EVP_sha256(), nullptr);
  EVP_DigestUpdate(inner_, ipad, sizeof ipad);
  EVP_DigestInit_ex(outer_, EVP_sha256(), nullptr);
  EVP_DigestUpdate(outer_, opad, sizeof opad);
  // Serials start at a random point so that two processes sharing a realm
  // (and a restart) do not hand out the same stamp and serial.
  RAND_bytes(reinterpret_cast<unsigned char*>(&next_serial_), sizeof next_serial_);
  next_serial_ >>= 1;
}

NonceFactory::~NonceFactory() {
  EVP_MD_CTX_free(inner_);
  EVP_MD_CTX_free(outer_);
  EVP_MD_CTX_free(work_);
}

void NonceFactory::mac(std::uint64_t stamp, std::uint64_t serial, char out[32]) const {
  unsigned char data[16];
  for (int i = 0; i < 8; ++i) {
    data[i] = static_cast<unsigned char>(stamp >> (56 - 8 * i));
    data[8 + i] = static_cast<unsigned char>(serial >> (56 - 8 * i));
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_MD_CTX_copy_ex(work_, inner_);
  EVP_DigestUpdate(work_, data, sizeof data);
  EVP_DigestUpdate(work_, realm_.data(), realm_.size());
  EVP_DigestFinal_ex(work_, md, &len);
  EVP_MD_CTX_copy_ex(work_, outer_);
  EVP_DigestUpdate(work_, md, len);
  EVP_DigestFinal_ex(work_, md, &len);
  static const char* d = "0123456789abcdef";
  for (int i = 0; i < 16; ++i) {
    out[2 * i] = d[md[i] >> 4];
    out[2 * i + 1] = d[md[i] & 15];
  }
}

std::string NonceFactory::make(std::int64_t now) {
  std::uint64_t serial = next_serial_++;
  counts_[serial % counts_.size()] = 0;
  requests_[serial % counts_.size()] = 0;
  std::string out(kNonceSize, '0');
  put_hex64(static_cast<std::uint64_t>(now), out.data());
  put_hex64(serial, out.data() + 16);
  mac(static_cast<std::uint64_t>(now), serial, out.data() + 32);
  return out;
}

NonceFactory::Check NonceFactory::check(std::string_view nonce, std::int64_t now) const {
  if (nonce.size() != kNonceSize) return Check::invalid;
  std::uint64_t stamp = 0, serial = 0;
  if (!get_hex64(nonce.substr(0, 16), stamp) || !get_hex64(nonce.substr(16, 16), serial))
    return Check::invalid;
  char expected[32];
  mac(stamp, serial, expected);
  if (!equal_secret(nonce.substr(32), std::string_view(expected, sizeof expected)))
    return Check::invalid;
  auto age = now - static_cast<std::int64_t>(stamp);
  if (age < -5) return Check::invalid;
  if (age > lifetime_.count()) return Check::stale;
  return Check::valid;
}

NonceFactory::Use NonceFactory::use(std::string_view nonce, std::uint32_t nc, std::uint32_t request) {
  std::uint64_t serial = 0;
  if (nonce.size() != kNonceSize || !get_hex64(nonce.substr(16, 16), serial)) return Use::forgotten;
  // Issued before the last `window` nonces: its slot now belongs to another.
  if (serial >= next_serial_ || next_serial_ - serial > counts_.size()) return Use::forgotten;
  auto slot = serial % counts_.size();
  auto& last = counts_[slot];
  if (nc == last && request != 0 && requests_[slot] == request) return Use::retransmission;
  if (nc <= last) return Use::replayed;
  last = nc;
  requests_[slot] = request;
  return Use::fresh;
}

bool NonceFactory::used_by(std::string_view nonce, std::uint32_t nc, std::uint32_t request) const {
  std::uint64_t serial = 0;
  if (request == 0 || nonce.size() != kNonceSize || !get_hex64(nonce.substr(16, 16), serial))
    return false;
  if (serial >= next_serial_ || next_serial_ - serial > counts_.size()) return false;
  auto slot = serial % counts_.size();
  return counts_[slot] == nc && requests_[slot] == request;
}

}  // namespace dialtone::plugins::backend::sip
