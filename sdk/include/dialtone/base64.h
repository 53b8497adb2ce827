// Base64 with padding (RFC 4648): HTTP Basic credentials, SDES keys (a=crypto
// inline:), LDIF values.
//
// @code
//   #include <dialtone/base64.h>
//   dialtone::sdk::base64_encode("admin:pw");              // "YWRtaW46cHc="
//   std::string raw;
//   dialtone::sdk::base64_decode("YWRtaW46cHc=", raw);     // true, raw == "admin:pw"
// @endcode
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace dialtone::sdk {

inline constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

inline std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < in.size(); i += 3) {
    unsigned v = static_cast<unsigned>(static_cast<unsigned char>(in[i])) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned>(static_cast<unsigned char>(in[i + 1])) << 8;
    if (i + 2 < in.size()) v |= static_cast<unsigned char>(in[i + 2]);
    out += kBase64Alphabet[(v >> 18) & 63];
    out += kBase64Alphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kBase64Alphabet[(v >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kBase64Alphabet[v & 63] : '=';
  }
  return out;
}

// Decodes up to the padding into `out`; false on a character outside the
// alphabet.
inline bool base64_decode(std::string_view in, std::string& out) {
  out.clear();
  unsigned v = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    auto p = kBase64Alphabet.find(c);
    if (p == std::string_view::npos) return false;
    v = (v << 6) | static_cast<unsigned>(p);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((v >> bits) & 0xFF);
    }
  }
  return true;
}

}  // namespace dialtone::sdk
