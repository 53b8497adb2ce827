// Topic patterns of the bus (dialtone/bus.h): one matching rule for the
// kernel's bus, the SDK's fake host and any plugin that filters topics itself.
//
// @code
//   #include <dialtone/topic.h>
//   dialtone::sdk::topic_matches("call.*.answered", "call.42.answered");  // true
//   dialtone::sdk::topic_matches("config.user.#", "config.user");         // true: # is zero or more
//   dialtone::sdk::topic_matches("config.*", "config.user.created");      // false: * is exactly one
// @endcode
#pragma once

#include <string_view>
#include <vector>

#include "dialtone/text.h"

namespace dialtone::sdk {

// Glob matching over dot-separated segments: `*` one segment, `#` zero or
// more. An empty topic has no segments.
inline bool topic_matches(std::string_view pattern, std::string_view topic) {
  thread_local std::vector<std::string_view> p, t;
  text::split_into(pattern, '.', p);
  text::split_into(topic, '.', t);
  std::size_t pi = 0, ti = 0, star = std::string_view::npos, mark = 0;
  while (ti < t.size()) {
    if (pi < p.size() && p[pi] == "#") {
      star = pi++;
      mark = ti;
    } else if (pi < p.size() && (p[pi] == "*" || p[pi] == t[ti])) {
      ++pi;
      ++ti;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == "#") ++pi;
  return pi == p.size();
}

}  // namespace dialtone::sdk
