// Checking option values against a plugin's OptionSpec table. dialtoned and
// the fake host (dialtone/testing/fake_host.h) both call these, so a plugin's
// tests refuse exactly what dialtoned refuses, in the same words.
//
// @code
//   auto ms = dialtone::sdk::normalize_option(
//       {"ldap.timeout", dialtone::sdk::OptionType::duration}, "1.5s", "/etc/dialtone/conf.d");
//   // *ms == "1500"
//   auto checked = dialtone::sdk::check_options("directory.ldap", kOptions,
//       {{"ldap.timeout", {"soon", "conf.d/20-ldap.conf:4", "/etc/dialtone/conf.d"}}},
//       "conf.d/20-ldap.conf:1", "/etc/dialtone");
//   // checked.errors[0] == "conf.d/20-ldap.conf:4: bad value 'soon' for ldap.timeout
//   //                       (duration): expected a duration such as 300ms, 1.5s, 2m or 1h"
// @endcode
//
// Linked from Dialtone::options (part of the installed SDK).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dialtone/options.h"
#include "dialtone/result.h"
#include "dialtone/text.h"

namespace dialtone::sdk {

std::string_view option_type_name(OptionType type);

// A boolean option's value as the validator reads it: true for yes, true, on
// or 1, false for no, false, off or 0 (any case, blanks trimmed), nullopt for
// anything else. For values read outside conf.d (a confd endpoint's options,
// a provd document) that must mean what the same word means in conf.d.
inline std::optional<bool> parse_boolean(std::string_view raw) {
  auto v = text::trim_view(raw);
  if (text::is_true(v)) return true;
  if (text::iequals(v, "no") || text::iequals(v, "false") || text::iequals(v, "off") || v == "0") return false;
  return std::nullopt;
}

// `name` matches `pattern` where each `*` segment of the pattern stands for
// exactly one segment of the name.
bool option_name_matches(std::string_view pattern, std::string_view name);
// An exact name wins over a wildcard one; null when none matches.
const OptionSpec* find_option(const OptionSpec* table, std::string_view name);

// Checks one value and returns its canonical form: booleans as true/false,
// durations as whole milliseconds, lists and subnets trimmed and joined with
// ",", relative paths made absolute against `base`. The error says what was
// expected, without a location.
Result<std::string> normalize_option(const OptionSpec& spec, std::string_view raw,
                                     const std::filesystem::path& base);

// Closest known option name for an unknown one (wildcards filled in from the
// unknown name where they line up); empty when the table is empty.
std::string closest_option(const OptionSpec* table, std::string_view unknown);

struct OptionValue {
  std::string value;             // as written
  std::string where;             // "file:line" prefixed to its errors; may be empty
  std::filesystem::path base;    // relative paths resolve against it
};

struct CheckedOptions {
  Options options;                  // given values merged over the defaults
  std::vector<std::string> errors;  // one line each, "where: message"
};

// Checks every given value (unknown names, types, ranges, choices, required
// options) and merges them over the table's defaults. `section_where`
// prefixes the errors about missing required options; relative path
// defaults resolve against `default_base`.
CheckedOptions check_options(std::string_view plugin_id, const OptionSpec* table,
                             const std::map<std::string, OptionValue>& values,
                             std::string_view section_where,
                             const std::filesystem::path& default_base);

}  // namespace dialtone::sdk
