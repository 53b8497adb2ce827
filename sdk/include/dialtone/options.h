// Plugin options, declared as data. The kernel validates every conf.d value
// against this table before the plugin sees anything, prints it for
// `dialtoned --describe <plugin>`, and renders it into the admin docs.
//
// @code
//   static constexpr dialtone::sdk::OptionSpec kOptions[] = {
//     {"ldap.uri", dialtone::sdk::OptionType::string, "ldap://127.0.0.1", "LDAP server URI"},
//     {"ldap.timeout", dialtone::sdk::OptionType::duration, "300ms", "network timeout",
//      dialtone::sdk::kReloadable},
//     {"source.*.delimiter", dialtone::sdk::OptionType::string, ",", "CSV delimiter"},
//     {}};  // an entry with a null name ends the table
//   ...
//   auto uri = opts.get("ldap.uri");                 // already validated
//   for (auto& name : opts.instances("source")) ...  // [source.<name>] sections
// @endcode
//
// Names are `section.key`. A `*` stands for one name segment, so a plugin can
// accept any number of `[source.<name>]` sections.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "dialtone/text.h"

namespace dialtone::sdk {

enum class OptionType : std::uint8_t {
  string,
  integer,   // decimal, optional [min, max]
  boolean,   // true/false/yes/no/on/off/1/0
  decimal,   // floating point
  duration,  // "300ms", "1.5s", "2m", "1h"; a bare number is seconds
  list,      // comma-separated strings
  choice,    // one of `choices` ("a|b|c")
  path,      // a file-system path (relative paths are relative to the conf.d file)
  address,   // host:port, [v6]:port or host
  subnets,   // comma-separated CIDRs: "127.0.0.0/8, ::1/128"
  ranges,    // numbers and ranges as in DAHDI's system.conf: "1-15,17-31"; [min, max] bound each
};

enum OptionFlags : std::uint32_t {
  kNone = 0,
  kReloadable = 1u << 0,  // a change applies on reload without restarting the plugin
  kRequired = 1u << 1,    // no default: the admin must set it
  kSecret = 1u << 2,      // never printed in logs or --describe values
};

// Plain data, so a table of them is constant-initialized and readable before
// any plugin code runs.
struct OptionSpec {
  const char* name = nullptr;
  OptionType type = OptionType::string;
  const char* default_value = nullptr;  // nullptr: no default
  const char* help = "";
  std::uint32_t flags = kNone;
  const char* choices = nullptr;  // for OptionType::choice: "a|b|c"
  std::int64_t min = INT64_MIN;   // for OptionType::integer
  std::int64_t max = INT64_MAX;
};

// The validated values of one plugin: conf.d values merged over the defaults.
// Every getter returns the declared default when the admin set nothing.
class Options {
 public:
  Options() = default;
  explicit Options(std::map<std::string, std::string> values) : values_(std::move(values)) {}

  bool has(std::string_view name) const { return values_.count(std::string(name)) != 0; }

  std::string get(std::string_view name, std::string_view fallback = {}) const {
    auto it = values_.find(std::string(name));
    return it == values_.end() ? std::string(fallback) : it->second;
  }

  std::int64_t get_int(std::string_view name, std::int64_t fallback = 0) const {
    auto it = values_.find(std::string(name));
    if (it == values_.end()) return fallback;
    try { return std::stoll(it->second); } catch (...) { return fallback; }
  }

  double get_double(std::string_view name, double fallback = 0) const {
    auto it = values_.find(std::string(name));
    if (it == values_.end()) return fallback;
    try { return std::stod(it->second); } catch (...) { return fallback; }
  }

  bool get_bool(std::string_view name, bool fallback = false) const {
    auto it = values_.find(std::string(name));
    if (it == values_.end()) return fallback;
    return text::is_true(it->second);
  }

  // Durations are normalized by the kernel to whole milliseconds.
  std::chrono::milliseconds get_duration(std::string_view name,
                                         std::chrono::milliseconds fallback = {}) const {
    auto it = values_.find(std::string(name));
    if (it == values_.end()) return fallback;
    try { return std::chrono::milliseconds(std::stoll(it->second)); } catch (...) { return fallback; }
  }

  // The numbers of a `ranges` value ("1-3,5" -> 1, 2, 3, 5), ascending.
  std::vector<std::int64_t> get_ranges(std::string_view name) const {
    std::vector<std::int64_t> out;
    for (auto& item : get_list(name)) {
      auto dash = item.find('-');
      try {
        std::int64_t lo = std::stoll(item.substr(0, dash));
        std::int64_t hi = dash == std::string::npos ? lo : std::stoll(item.substr(dash + 1));
        for (auto v = lo; v <= hi; ++v) out.push_back(v);
      } catch (...) {
      }
    }
    return out;
  }

  // Comma-separated values, trimmed, empty items dropped.
  std::vector<std::string> get_list(std::string_view name) const { return text::split_list(get(name), ','); }

  // Names of the `[prefix.<name>]` sections that were configured, sorted.
  std::vector<std::string> instances(std::string_view prefix) const {
    std::set<std::string> names;
    std::string p = std::string(prefix) + ".";
    for (auto& [k, _] : values_) {
      if (k.compare(0, p.size(), p) != 0) continue;
      auto rest = k.substr(p.size());
      auto dot = rest.find('.');
      if (dot != std::string::npos) names.insert(rest.substr(0, dot));
    }
    return {names.begin(), names.end()};
  }

  const std::map<std::string, std::string>& all() const { return values_; }

 private:
  std::map<std::string, std::string> values_;
};

}  // namespace dialtone::sdk
