// Decoding a request's path and query as dialtoned's HTTP server does; the
// SDK's fake host decodes with the same function, so a plugin's tests see
// the parameters dialtoned would hand it.
//
// @code
//   #include <dialtone/url.h>
//   dialtone::sdk::percent_decode("a%20b+c", true);   // "a b c": a query key or value
//   dialtone::sdk::percent_decode("a%20b+c", false);  // "a b+c": a path segment
//   dialtone::sdk::percent_encode("Zoë O'Hara/2");     // "Zo%C3%AB%20O%27Hara%2F2": a segment or a query value
// @endcode
#pragma once

#include <string>
#include <string_view>

namespace dialtone::sdk {

// Every byte but RFC 3986's unreserved characters (letters, digits, - . _ ~)
// as %XX, so the text is one path segment or one query value.
inline std::string percent_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char c : s) {
    bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                c == '.' || c == '_' || c == '~';
    if (keep) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// %XX sequences decoded (a malformed one kept as written); `plus_as_space`
// for a query string's keys and values, not for a path.
inline std::string percent_decode(std::string_view s, bool plus_as_space) {
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      int h = hex(s[i + 1]), l = hex(s[i + 2]);
      if (h >= 0 && l >= 0) {
        out += static_cast<char>(h * 16 + l);
        i += 2;
        continue;
      }
    }
    out += (plus_as_space && c == '+') ? ' ' : c;
  }
  return out;
}

}  // namespace dialtone::sdk
