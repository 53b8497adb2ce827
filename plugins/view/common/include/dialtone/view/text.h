// Text helpers shared by the phone views: UTF-8 cleaning, truncation by
// characters and the paging links phones follow. Escaping is the template
// engine's (dialtone/mustache.h).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace dialtone::plugins::view {

// Valid UTF-8 with no control characters: C0/C1 controls and DEL become a
// space, bytes that are not valid UTF-8 (and code points XML 1.0 forbids)
// become '?'. Leading and trailing spaces are removed, inner runs collapsed.
std::string clean_utf8(std::string_view in);

// At most `max_chars` code points of an already clean string; never cuts a
// multi-byte sequence.
std::string truncate_chars(std::string_view clean, std::size_t max_chars);

// clean_utf8 then truncate_chars.
std::string display_text(std::string_view in, std::size_t max_chars);

// self_url?term=<term>&offset=<offset> (unescaped; escape it for XML).
std::string page_url(std::string_view self_url, std::string_view term, std::size_t offset);

inline constexpr std::string_view kXmlContentType = "text/xml; charset=utf-8";
inline constexpr std::string_view kHtmlContentType = "text/html; charset=utf-8";

}  // namespace dialtone::plugins::view
