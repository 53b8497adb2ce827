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
//
// Accounts lets a plugin that sets the server up (confd's wizard) give an
// account its password, as the auth API's administrator would:
//
// @code
//   auto accounts = host.services().find<dialtone::sdk::Accounts>();
//   if (auto s = accounts->set_account("root", password, {"#"}); !s) return s.error();
// @endcode
#pragma once

#include <string>
#include <string_view>
#include <vector>

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

class Accounts {
 public:
  static constexpr std::string_view kServiceName = "kernel.auth.accounts";
  static constexpr int kServiceVersion = 1;
  virtual ~Accounts() = default;

  // Creates the enabled account `username` (backend dialtone_user) with
  // `password` and `acls`, or gives an existing one that password and those
  // ACLs and enables it. Returns its uuid. Any thread; blocks on the store.
  virtual Result<std::string> set_account(std::string_view username, std::string_view password,
                                          std::vector<std::string> acls) = 0;
};

}  // namespace dialtone::sdk
