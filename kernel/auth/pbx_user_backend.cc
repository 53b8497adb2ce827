// The xivo_user backend's second source: XiVO's CTI login is the confd
// user's `username` and `password` (POST /1.1/users, the CSV import), so a
// token asked with backend xivo_user and no matching auth account is checked
// against api.confd's users when that plugin runs on this database. The token
// belongs to that user (auth_id = xivo_user_uuid = its uuid) with
// `[auth] user_acls`.
#include <openssl/crypto.h>

#include "kernel/auth/auth_service.h"

namespace dialtone::kernel {

sdk::Result<sdk::TokenInfo> AuthService::pbx_user_token(const std::string& username, const std::string& password,
                                                         int expiration) {
  sdk::Error wrong{sdk::ErrorCode::unauthorized, "wrong user name or password"};
  if (username.empty() || password.empty()) return wrong;
  auto has = store_.exec("SELECT to_regclass('confd_users') IS NOT NULL AS t");
  if (!has) return has.error();
  if (has->get(0, "t") != "t") return wrong;
  auto q = store_.exec("SELECT uuid::text AS u, password FROM confd_users WHERE username = $1 AND password IS NOT NULL",
                       {username});
  if (!q) return q.error();
  if (q->rows.empty()) return wrong;
  std::string stored = q->get(0, "password");
  if (stored.size() != password.size() || CRYPTO_memcmp(stored.data(), password.data(), stored.size()) != 0)
    return wrong;
  auto info = std::make_shared<sdk::TokenInfo>();
  info->auth_id = q->get(0, "u");
  info->username = username;
  info->backend = "xivo_user";
  info->acls = config_.user_acls;
  return issue_token(std::move(info), expiration);
}

}  // namespace dialtone::kernel
