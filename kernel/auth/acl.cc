#include "kernel/auth/acl.h"

#include <cstddef>

namespace dialtone::kernel {
namespace {

constexpr std::size_t kMaxSegments = 64;

// Splits on '.' into at most kMaxSegments views; returns false beyond that so
// absurd inputs cannot make matching expensive.
bool split(std::string_view s, std::string_view* out, std::size_t& n) {
  n = 0;
  std::size_t i = 0;
  while (true) {
    if (n == kMaxSegments) return false;
    auto j = s.find('.', i);
    if (j == std::string_view::npos) {
      out[n++] = s.substr(i);
      return true;
    }
    out[n++] = s.substr(i, j - i);
    i = j + 1;
  }
}

bool match(const std::string_view* p, std::size_t pn, const std::string_view* r, std::size_t rn,
           std::string_view auth_id) {
  std::size_t pi = 0, ri = 0;
  // Classic wildcard matching with backtracking to the last `#` only:
  // linear in practice, O(pn * rn) worst case.
  std::size_t star_p = SIZE_MAX, star_r = 0;
  while (ri < rn) {
    if (pi < pn && p[pi] == "#") {
      star_p = pi++;
      star_r = ri;
      continue;
    }
    if (pi < pn) {
      const auto& seg = p[pi];
      bool ok = seg == "*" || seg == r[ri] || (seg == "me" && !auth_id.empty() && r[ri] == auth_id);
      if (ok) {
        ++pi;
        ++ri;
        continue;
      }
    }
    if (star_p != SIZE_MAX) {
      pi = star_p + 1;
      ri = ++star_r;
      continue;
    }
    return false;
  }
  while (pi < pn && p[pi] == "#") ++pi;
  return pi == pn;
}

}  // namespace

bool acl_pattern_matches(std::string_view pattern, std::string_view auth_id, std::string_view required) {
  std::string_view p[kMaxSegments], r[kMaxSegments];
  std::size_t pn = 0, rn = 0;
  if (pattern.empty() || !split(pattern, p, pn) || !split(required, r, rn)) return false;
  return match(p, pn, r, rn, auth_id);
}

bool acl_allows(const std::vector<std::string>& granted, std::string_view auth_id, std::string_view required) {
  if (required.empty()) return true;
  bool allowed = false;
  for (const auto& g : granted) {
    if (!g.empty() && g.front() == '!') {
      if (acl_pattern_matches(std::string_view(g).substr(1), auth_id, required)) return false;
    } else if (!allowed) {
      allowed = acl_pattern_matches(g, auth_id, required);
    }
  }
  return allowed;
}

}  // namespace dialtone::kernel
