// ACL matching, XiVO style (seed 12.6.4): an ACL is `service.resource.action`,
// dot-separated. In a granted ACL, `*` matches exactly one segment, `#` zero or
// more segments, `me` the token's own auth_id (or the literal `me`), and a
// leading `!` makes it a denial that wins over every grant.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dialtone::kernel {

// True if one granted pattern matches `required` (negation ignored).
bool acl_pattern_matches(std::string_view pattern, std::string_view auth_id, std::string_view required);

// True if `granted` allows `required`: no `!` pattern matches it and at least
// one plain pattern does. An empty `required` asks only for a valid token.
bool acl_allows(const std::vector<std::string>& granted, std::string_view auth_id, std::string_view required);

}  // namespace dialtone::kernel
