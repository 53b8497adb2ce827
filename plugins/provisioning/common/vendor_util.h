// Helpers of the vendor engine (described_vendor.cc): case-insensitive
// matching, path components and time zones in the forms phones expect.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <dialtone/provisioning.h>

namespace dialtone::plugins::provisioning {

// Case-insensitive search; npos if absent.
std::size_t ifind(std::string_view haystack, std::string_view needle, std::size_t from = 0);
bool istarts_with(std::string_view s, std::string_view prefix);
// The last path component ("a/b/c.cfg" -> "c.cfg").
std::string_view basename(std::string_view path);

// UTC offset in minutes of an IANA zone (standard time); nullopt if unknown.
std::optional<int> utc_offset_minutes(std::string_view iana);
// "+01:00" / "-05:00" style, "GMT+1" style.
std::string utc_offset_hhmm(int minutes);

}  // namespace dialtone::plugins::provisioning
