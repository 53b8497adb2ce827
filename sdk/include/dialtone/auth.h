// Token checks for plugins that authenticate outside HTTP routes (e.g. a CTI
// socket). HTTP routes need nothing: the kernel checks `Route::acl`.
//
// @code
//   auto auth = host.services().find<dialtone::sdk::Auth>();
//   auto t = auth->check(token, "ctid.presence.me.update");
//   if (!t) return t.error();   // unauthorized (bad/expired token) or forbidden (ACL)
// @endcode
//
// ACLs are `service.resource.action` patterns: `*` is one segment, `#` any
// number of segments, `me` stands for the token's own auth_id.
#pragma once

#include <string_view>

#include "dialtone/http.h"
#include "dialtone/result.h"

namespace dialtone::sdk {

class Auth {
 public:
  static constexpr std::string_view kServiceName = "kernel.auth";
  static constexpr int kServiceVersion = 1;
  virtual ~Auth() = default;

  // Valid, unexpired token whose ACLs grant `required_acl` (empty: any).
  virtual Result<TokenInfo> check(std::string_view token, std::string_view required_acl) = 0;
  // The pure matching rule, exposed so plugins match exactly as the kernel does.
  virtual bool acl_allows(const TokenInfo& token, std::string_view required_acl) const = 0;
};

}  // namespace dialtone::sdk
