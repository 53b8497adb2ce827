#include <dialtone/view/text.h>

#include <cstdint>

#include <dialtone/url.h>

namespace dialtone::plugins::view {
namespace {

// Decodes one code point at `i`; returns its length, 0 when invalid.
std::size_t decode(std::string_view s, std::size_t i, std::uint32_t& cp) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = b(0);
  if (c < 0x80) {
    cp = c;
    return 1;
  }
  std::size_t len;
  std::uint32_t min;
  if ((c & 0xE0) == 0xC0) {
    len = 2, cp = c & 0x1F, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3, cp = c & 0x0F, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4, cp = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

bool is_control(std::uint32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
}

bool xml_forbidden(std::uint32_t cp) { return cp == 0xFFFE || cp == 0xFFFF; }

}  // namespace

std::string clean_utf8(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  bool pending_space = false;
  std::size_t i = 0;
  while (i < in.size()) {
    std::uint32_t cp = 0;
    std::size_t len = decode(in, i, cp);
    bool space = false;
    std::string_view piece;
    if (len == 0) {
      piece = "?";
      len = 1;
    } else if (is_control(cp) || cp == ' ') {
      space = true;
    } else if (xml_forbidden(cp)) {
      piece = "?";
    } else {
      piece = in.substr(i, len);
    }
    i += len;
    if (space) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += piece;
  }
  return out;
}

std::string truncate_chars(std::string_view clean, std::size_t max_chars) {
  std::size_t chars = 0;
  std::size_t i = 0;
  while (i < clean.size()) {
    if (chars == max_chars) break;
    unsigned char c = static_cast<unsigned char>(clean[i]);
    std::size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
    if (i + len > clean.size()) break;
    i += len;
    ++chars;
  }
  std::string out(clean.substr(0, i));
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string display_text(std::string_view in, std::size_t max_chars) {
  return truncate_chars(clean_utf8(in), max_chars);
}

std::string page_url(std::string_view self_url, std::string_view term, std::size_t offset) {
  std::string url(self_url);
  url += "?term=";
  url += sdk::percent_encode(term);
  url += "&offset=";
  url += std::to_string(offset);
  return url;
}

}  // namespace dialtone::plugins::view
