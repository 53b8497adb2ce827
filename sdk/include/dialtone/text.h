// Small string helpers shared by the kernel, the SDK and the plugins, so that
// trimming a conf.d value or splitting a comma list is written once.
//
// @code
//   #include <dialtone/text.h>
//   namespace text = dialtone::sdk::text;
//   text::trim("  a b \r\n");        // "a b"
//   text::split("a,b,,c", ',');      // {"a", "b", "", "c"}
//   text::split_list(" a, b ,,c");   // {"a", "b", "c"}: trimmed, empty items dropped
//   text::to_lower("Yealink");       // "yealink"; to_upper("sip") "SIP"; to_lower('A') 'a'
//   text::istarts_with("basic x", "Basic ");  // true
//   text::iequals("Via", "VIA");     // true (ASCII letters, any case)
//   text::is_true("Yes");            // true: yes, true, on, 1 in any case
//   text::join({"a", "b"}, ", ");    // "a, b"
//   text::is_uuid("11111111-1111-4111-8111-111111111111");  // true
//   text::like_escape("50%_off");    // "50\\%\\_off", for SQL LIKE ... ESCAPE '\\'
//   text::ldap_filter_escape("a*(b)");  // "a\\2a\\28b\\29" (RFC 4515)
//   text::xml_escape("a<b & \"c\"");  // "a&lt;b &amp; &quot;c&quot;", for text and attributes
// @endcode
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dialtone::sdk::text {

// Spaces, tabs and line ends: what conf.d values, CSV headers and lists carry.
inline constexpr std::string_view kBlanks = " \t\r\n";

inline std::string_view trim_view(std::string_view s) {
  auto b = s.find_first_not_of(kBlanks);
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(kBlanks);
  return s.substr(b, e - b + 1);
}

inline std::string trim(std::string_view s) { return std::string(trim_view(s)); }

// Every piece between separators, empty ones included; "" gives no piece.
// Views into `s`, written into `out` (cleared first) so a hot path can reuse it.
inline void split_into(std::string_view s, char sep, std::vector<std::string_view>& out) {
  out.clear();
  if (s.empty()) return;
  std::size_t start = 0;
  for (;;) {
    auto end = s.find(sep, start);
    if (end == std::string_view::npos) {
      out.push_back(s.substr(start));
      return;
    }
    out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
}

inline std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  split_into(s, sep, parts);
  return {parts.begin(), parts.end()};
}

// A list as conf.d writes it ("a, b,c"): items trimmed, empty ones dropped.
inline std::vector<std::string> split_list(std::string_view s, char sep = ',') {
  std::vector<std::string_view> parts;
  split_into(s, sep, parts);
  std::vector<std::string> out;
  for (auto p : parts)
    if (auto t = trim_view(p); !t.empty()) out.emplace_back(t);
  return out;
}

// ASCII letters only: protocol tokens, hex digits, codec and header names
// (no locale, so "I" is "i" everywhere; bytes above 0x7F are left as they are).
inline constexpr char to_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
inline constexpr char to_upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

inline std::string to_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = to_lower(c);
  return out;
}

inline std::string to_upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = to_upper(c);
  return out;
}

inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  return true;
}

// `s` starts with `prefix`, in any case ("basic xyz" starts with "Basic ").
inline bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// A yes as conf.d, endpoint options and provd documents write it: yes, true,
// on or 1, in any case. Anything else (no, false, off, 0, "") is a no.
inline bool is_true(std::string_view v) {
  return iequals(v, "yes") || iequals(v, "true") || iequals(v, "on") || v == "1";
}

inline std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out;
}

// 8-4-4-4-12 hexadecimal digits, as XiVO's uuids are written.
inline bool is_uuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < 36; ++i) {
    char c = s[i];
    bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if ((i == 8 || i == 13 || i == 18 || i == 23) ? c != '-' : !hex) return false;
  }
  return true;
}

// `s` with SQL LIKE's wildcards (% and _) and the escape character escaped
// by a backslash: matches itself only (LIKE's default escape is \).
inline std::string like_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

// A value for an LDAP search filter (RFC 4515): *, (, ), \ and NUL as \XX.
// The five XML predefined entities, so a value is safe in element text and in
// attribute values quoted either way (phone XML, dialog-info, PIDF).
inline std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

inline std::string ldap_filter_escape(std::string_view v) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : v) {
    if (c == '*' || c == '(' || c == ')' || c == '\\' || c == 0) {
      out += '\\';
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace dialtone::sdk::text
