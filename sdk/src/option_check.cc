// The option validator shared by dialtoned (kernel/core/option_values.cc)
// and the fake host (sdk/testing): one implementation, so a plugin's tests
// refuse exactly what dialtoned refuses, with the same words.
#include "dialtone/option_check.h"

#include "dialtone/text.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <set>

namespace dialtone::sdk {
namespace {

using text::join;
using text::split;
using text::trim;

std::vector<std::string> split_items(std::string_view s) { return text::split_list(s, ','); }

bool parse_int(std::string_view s, std::int64_t& out) {
  if (s.empty()) return false;
  std::string str(s);
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(str.c_str(), &end, 10);
  if (errno != 0 || end != str.c_str() + str.size()) return false;
  out = v;
  return true;
}

bool valid_port(std::string_view s) {
  std::int64_t p = 0;
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }) &&
         parse_int(s, p) && p >= 0 && p <= 65535;
}

bool valid_hostname(std::string_view h) {
  if (h.empty() || h.size() > 253) return false;
  return std::all_of(h.begin(), h.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
  });
}

bool is_ipv6(std::string_view s) {
  in6_addr a{};
  return inet_pton(AF_INET6, std::string(s).c_str(), &a) == 1;
}

bool is_ipv4(std::string_view s) {
  in_addr a{};
  return inet_pton(AF_INET, std::string(s).c_str(), &a) == 1;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// "source.*.uri" -> "source."; empty when the name has no wildcard.
std::string wildcard_prefix(std::string_view pattern) {
  auto star = pattern.find('*');
  if (star == std::string_view::npos) return {};
  return std::string(pattern.substr(0, star));
}

}  // namespace

std::string_view option_type_name(OptionType type) {
  using T = OptionType;
  switch (type) {
    case T::string: return "string";
    case T::integer: return "integer";
    case T::boolean: return "boolean";
    case T::decimal: return "decimal";
    case T::duration: return "duration";
    case T::list: return "list";
    case T::choice: return "choice";
    case T::path: return "path";
    case T::address: return "address";
    case T::subnets: return "subnets";
    case T::ranges: return "ranges";
  }
  return "string";
}

bool option_name_matches(std::string_view pattern, std::string_view name) {
  auto p = split(pattern, '.');
  auto n = split(name, '.');
  if (p.size() != n.size()) return false;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] == "*") {
      if (n[i].empty()) return false;
    } else if (p[i] != n[i]) {
      return false;
    }
  }
  return true;
}

const OptionSpec* find_option(const OptionSpec* table, std::string_view name) {
  if (!table) return nullptr;
  // An exact name wins over a wildcard one.
  for (auto* s = table; s->name; ++s)
    if (name == s->name) return s;
  for (auto* s = table; s->name; ++s)
    if (option_name_matches(s->name, name)) return s;
  return nullptr;
}

Result<std::string> normalize_option(const OptionSpec& spec, std::string_view raw_in,
                                          const std::filesystem::path& base) {
  using T = OptionType;
  std::string raw = trim(raw_in);
  switch (spec.type) {
    case T::string:
      return raw;
    case T::integer: {
      std::int64_t v = 0;
      if (!parse_int(raw, v)) return Error::invalid("expected a whole number");
      if (v < spec.min)
        return Error::invalid(raw + " is below the minimum " + std::to_string(spec.min));
      if (v > spec.max)
        return Error::invalid(raw + " is above the maximum " + std::to_string(spec.max));
      return std::to_string(v);
    }
    case T::boolean: {
      if (auto b = parse_boolean(raw)) return std::string(*b ? "true" : "false");
      return Error::invalid("expected true or false (also yes/no, on/off, 1/0)");
    }
    case T::decimal: {
      char* end = nullptr;
      errno = 0;
      double d = std::strtod(raw.c_str(), &end);
      if (raw.empty() || errno != 0 || end != raw.c_str() + raw.size() || !std::isfinite(d))
        return Error::invalid("expected a number such as 0.5");
      return raw;
    }
    case T::duration: {
      std::size_t i = 0;
      while (i < raw.size() && (std::isdigit(static_cast<unsigned char>(raw[i])) || raw[i] == '.')) ++i;
      std::string num = raw.substr(0, i), unit = text::to_lower(trim(raw.substr(i)));
      double factor = 0;
      if (unit.empty() || unit == "s") factor = 1000;
      else if (unit == "ms") factor = 1;
      else if (unit == "m") factor = 60000;
      else if (unit == "h") factor = 3600000;
      char* end = nullptr;
      double d = num.empty() ? -1 : std::strtod(num.c_str(), &end);
      if (factor == 0 || num.empty() || end != num.c_str() + num.size() ||
          std::count(num.begin(), num.end(), '.') > 1 || d < 0)
        return Error::invalid("expected a duration such as 300ms, 1.5s, 2m or 1h");
      return std::to_string(static_cast<std::int64_t>(std::llround(d * factor)));
    }
    case T::list:
      return join(split_items(raw), ",");
    case T::choice: {
      auto choices = split(spec.choices ? spec.choices : "", '|');
      if (std::find(choices.begin(), choices.end(), raw) == choices.end())
        return Error::invalid("expected one of " + join(choices, ", "));
      return raw;
    }
    case T::path: {
      if (raw.empty()) return raw;
      std::filesystem::path p(raw);
      if (p.is_relative()) p = base / p;
      return p.lexically_normal().string();
    }
    case T::address: {
      const std::string fix = "expected host:port, [v6]:port or host";
      if (raw.empty()) return Error::invalid(fix);
      if (raw.front() == '[') {
        auto close = raw.find(']');
        if (close == std::string::npos || !is_ipv6(raw.substr(1, close - 1)))
          return Error::invalid(fix);
        auto rest = raw.substr(close + 1);
        if (!rest.empty() && (rest[0] != ':' || !valid_port(rest.substr(1))))
          return Error::invalid("port must be 0-65535; " + fix);
        return raw;
      }
      auto colon = raw.rfind(':');
      if (colon != std::string::npos && raw.find(':') != colon)
        return Error::invalid("write an IPv6 address as [v6]:port; " + fix);
      std::string host = colon == std::string::npos ? raw : raw.substr(0, colon);
      if (!valid_hostname(host)) return Error::invalid(fix);
      if (colon != std::string::npos && !valid_port(raw.substr(colon + 1)))
        return Error::invalid("port must be 0-65535; " + fix);
      return raw;
    }
    case T::subnets: {
      auto items = split_items(raw);
      for (auto& item : items) {
        auto slash = item.find('/');
        std::string ip = item.substr(0, slash);
        bool v4 = is_ipv4(ip), v6 = !v4 && is_ipv6(ip);
        std::int64_t bits = v4 ? 32 : 128;
        bool ok = v4 || v6;
        if (ok && slash != std::string::npos) {
          auto len = item.substr(slash + 1);
          ok = !len.empty() && std::all_of(len.begin(), len.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }) &&
               parse_int(len, bits) && bits <= (v4 ? 32 : 128);
        }
        if (!ok)
          return Error::invalid("'" + item +
                                     "' is not a subnet; expected CIDRs such as 127.0.0.0/8, ::1/128");
      }
      return join(items, ",");
    }
    case T::ranges: {
      // Each item "n" or "lo-hi", within [min, max], none overlapping:
      // normalized ascending, so "17-31,1-15" reads back as "1-15,17-31".
      const std::string fix = "expected numbers and ranges such as 1-15,17-31";
      auto items = split_items(raw);
      if (items.empty()) return Error::invalid(fix);
      std::vector<std::pair<std::int64_t, std::int64_t>> spans;
      for (auto& item : items) {
        auto dash = item.find('-', 1);
        std::int64_t lo = 0, hi = 0;
        if (!parse_int(trim(item.substr(0, dash)), lo) ||
            (dash != std::string::npos && !parse_int(trim(item.substr(dash + 1)), hi)))
          return Error::invalid("'" + item + "': " + fix);
        if (dash == std::string::npos) hi = lo;
        if (hi < lo) return Error::invalid("'" + item + "' runs backwards; write it " + std::to_string(hi) + "-" +
                                           std::to_string(lo));
        if (lo < spec.min || hi > spec.max)
          return Error::invalid("'" + item + "' is outside " + std::to_string(spec.min) + "-" +
                                std::to_string(spec.max));
        spans.emplace_back(lo, hi);
      }
      std::sort(spans.begin(), spans.end());
      std::vector<std::string> out;
      for (std::size_t i = 0; i < spans.size(); ++i) {
        if (i > 0 && spans[i].first <= spans[i - 1].second)
          return Error::invalid(std::to_string(spans[i].first) + " is listed twice");
        out.push_back(spans[i].first == spans[i].second
                          ? std::to_string(spans[i].first)
                          : std::to_string(spans[i].first) + "-" + std::to_string(spans[i].second));
      }
      return join(out, ",");
    }
  }
  return raw;
}

std::string closest_option(const OptionSpec* table, std::string_view unknown) {
  std::string best;
  std::size_t best_d = SIZE_MAX;
  auto u = split(unknown, '.');
  for (auto* s = table; s && s->name; ++s) {
    // Fill wildcards from the unknown name so `source.corp.urii` suggests
    // `source.corp.uri` rather than `source.*.uri`.
    auto p = split(s->name, '.');
    for (std::size_t i = 0; i < p.size() && i < u.size(); ++i)
      if (p[i] == "*") p[i] = u[i];
    auto candidate = join(p, ".");
    auto d = edit_distance(unknown, candidate);
    if (d < best_d) {
      best_d = d;
      best = candidate;
    }
  }
  return best;
}

CheckedOptions check_options(std::string_view plugin_id, const OptionSpec* table,
                             const std::map<std::string, OptionValue>& given,
                             std::string_view section_where,
                             const std::filesystem::path& default_base) {
  CheckedOptions out;
  std::map<std::string, std::string> values;
  std::map<std::string, std::set<std::string>> instances;  // wildcard prefix -> instance names
  const std::string pid(plugin_id);
  auto at = [](std::string_view where) { return where.empty() ? std::string() : std::string(where) + ": "; };

  for (auto& [name, v] : given) {
    auto* spec = find_option(table, name);
    if (!spec) {
      std::string msg = at(v.where) + "unknown option '" + name + "' for plugin " + pid;
      auto hint = closest_option(table, name);
      if (!hint.empty()) msg += "; did you mean '" + hint + "'?";
      else msg += "; this plugin has no options";
      out.errors.push_back(msg);
      continue;
    }
    auto norm = normalize_option(*spec, v.value, v.base);
    if (!norm) {
      out.errors.push_back(at(v.where) + "bad value '" + trim(v.value) + "' for " + name + " (" +
                           std::string(option_type_name(spec->type)) + "): " + norm.error().message);
      continue;
    }
    values[name] = *norm;
    auto prefix = wildcard_prefix(spec->name);
    if (!prefix.empty()) {
      auto rest = name.substr(prefix.size());
      instances[prefix].insert(rest.substr(0, rest.find('.')));
    }
  }

  for (auto* s = table; s && s->name; ++s) {
    std::vector<std::string> names;
    auto prefix = wildcard_prefix(s->name);
    if (prefix.empty()) {
      names.push_back(s->name);
    } else {
      for (auto& inst : instances[prefix]) {
        std::string n = s->name;
        n.replace(prefix.size(), 1, inst);
        names.push_back(n);
      }
    }
    for (auto& n : names) {
      if (values.count(n)) continue;
      if (s->flags & kRequired || !s->default_value) {
        if (s->flags & kRequired) {
          auto dot = n.rfind('.');
          out.errors.push_back(at(section_where) + "plugin " + pid + ": required option '" + n +
                               "' is not set; add `" + n.substr(dot + 1) + " = ...` under [" +
                               n.substr(0, dot) + "]");
        }
        continue;
      }
      auto norm = normalize_option(*s, s->default_value, default_base);
      values[n] = norm ? *norm : std::string(s->default_value);
    }
  }
  out.options = Options(std::move(values));
  return out;
}

}  // namespace dialtone::sdk
