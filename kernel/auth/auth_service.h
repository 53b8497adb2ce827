// Users, tokens and ACLs, compatible with XiVO's xivo-auth REST API
// (POST /0.1/token with Basic auth; HEAD/GET/DELETE /0.1/token/{token}).
//
// @code
//   dialtone::kernel::AuthService auth(*store, log, {});
//   if (auto s = auth.migrate(); !s) return s;
//   if (auto hint = auth.ensure_admin(data_dir / "admin-password"); hint) log.info(*hint);
//   http.set_auth(&auth);
//   if (auto s = auth.mount(http, "auth"); !s) return s;
// @endcode
//
// Valid tokens are cached in memory, so an authenticated request costs a hash
// look-up, not a database round trip. Tokens are rows in auth_token, so every
// node sharing the database accepts them; a DELETE is NOTIFYed to all nodes.
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <dialtone/auth.h>
#include <dialtone/bus.h>
#include <dialtone/host.h>
#include <dialtone/store.h>

#include "kernel/http/http_server.h"

namespace dialtone::kernel {

struct AuthConfig {
  int default_expiration = 7200;    // seconds, when POST /0.1/token gives none
  int max_expiration = 86400 * 30;  // larger requests get 400
  int max_failures = 5;             // failed logins from one address...
  int failure_window = 60;          // ...within this many seconds...
  int ban = 300;                    // ...ban it for this many seconds (429)
  // The ldap_user backend (empty uri: not offered). The login is searched
  // under base_dn by login_attribute, then bound with the password; the
  // entry's email_attribute names the PBX user the token belongs to.
  std::string ldap_uri, ldap_bind_dn, ldap_bind_password, ldap_base_dn;
  std::string ldap_login_attribute = "uid", ldap_email_attribute = "mail";
  std::vector<std::string> ldap_acls = {"confd.users.me.#"};
  // ACLs of xivo_user tokens of confd users (their CTI username/password).
  std::vector<std::string> user_acls = {"confd.users.me.#", "ctid-ng.users.me.#", "dird.directories.#",
                                        "dird.personal.#"};
};

// xivo-auth's error body: {"reason": [msg], "timestamp": [unix], "status_code": n}.
sdk::HttpResponse auth_error(int status, const std::string& message);
// Dialtone's backend for a XiVO/Wazo backend name (xivo_user, wazo_user,
// xivo_admin -> dialtone_user; xivo_service -> dialtone_service).
std::string backend_alias(std::string_view backend);

// Failed-login accounting per source address. Time is passed in (unix
// seconds) so behaviour is deterministic. Thread-safe.
class LoginLimiter {
 public:
  LoginLimiter(int max_failures, int window_seconds, int ban_seconds);

  // Seconds left on the ban of `ip`, 0 if it may try.
  int banned_for(const std::string& ip, std::int64_t now);
  struct Outcome {
    int failures = 0;        // failures of `ip` inside the window, this one included
    bool banned_now = false; // this failure started a ban
  };
  Outcome record_failure(const std::string& ip, std::int64_t now);
  // A successful login forgets the address's earlier failures.
  void record_success(const std::string& ip);

 private:
  struct Entry {
    std::deque<std::int64_t> failures;
    std::int64_t banned_until = 0;
  };
  void prune(std::int64_t now);

  int max_failures_, window_, ban_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

// `pbkdf2_sha256$<iterations>$<salt_b64>$<hash_b64>`, random 16-byte salt.
std::string hash_password(std::string_view password, int iterations = 100000);
// Constant-time comparison; false for a malformed stored hash.
bool verify_password(std::string_view password, std::string_view stored);

class AuthService final : public sdk::Auth, public sdk::Accounts {
 public:
  AuthService(sdk::Store& store, sdk::Logger& log, AuthConfig config = {});
  ~AuthService() override;
  AuthService(const AuthService&) = delete;
  AuthService& operator=(const AuthService&) = delete;

  // Creates auth_user / auth_token ("kernel.auth" migrations) and listens
  // for token revocations from other nodes.
  sdk::Status migrate();
  // Mounts the /0.1/token routes on `listener` and makes `http` check tokens here.
  sdk::Status mount(HttpServerImpl& http, std::string_view listener);

  // Creates `admin` (ACL "#") with a random password written to
  // `password_file` (0600) if no such user exists. Returns a line telling the
  // admin where the password is and how to get a token from `token_url`
  // (the auth listener's real address, e.g. "http://127.0.0.1:9497/0.1/token").
  sdk::Result<std::string> ensure_admin(const std::filesystem::path& password_file,
                                        std::string_view token_url = "http://127.0.0.1:9497/0.1/token");

  // Returns the new user's uuid. backend: dialtone_user or dialtone_service.
  sdk::Result<std::string> create_user(std::string username, std::string password, std::vector<std::string> acls,
                                       std::string backend = "dialtone_user");

  // What POST /0.1/token does after Basic auth, minus rate limiting.
  // `expiration` in seconds, 0 for the default. Wrong credentials: unauthorized.
  sdk::Result<sdk::TokenInfo> create_token(std::string_view username, std::string_view password,
                                           std::string_view backend = {}, int expiration = 0);
  sdk::Status revoke(std::string_view token);

  // sdk::Accounts
  sdk::Result<std::string> set_account(std::string_view username, std::string_view password,
                                       std::vector<std::string> acls) override;

  // sdk::Auth
  sdk::Result<sdk::TokenInfo> check(std::string_view token, std::string_view required_acl) override;
  bool acl_allows(const sdk::TokenInfo& token, std::string_view required_acl) const override;

  LoginLimiter& limiter() { return limiter_; }

 private:
  sdk::HttpResponse post_token(const sdk::HttpRequest& req);
  // POST /0.1/token with backend ldap_user (ldap_backend.cc).
  sdk::HttpResponse ldap_token(const sdk::HttpRequest& req, const std::string& username,
                               const std::string& password, int expiration);
  // backend xivo_user on a confd user's username/password (pbx_user_backend.cc).
  sdk::Result<sdk::TokenInfo> pbx_user_token(const std::string& username, const std::string& password,
                                             int expiration);
  // Stores and caches a token for `info` (auth_id, username, backend, acls set).
  sdk::Result<sdk::TokenInfo> issue_token(std::shared_ptr<sdk::TokenInfo> info, int expiration);
  // /0.1/users and /0.1/backends (accounts_api.cc).
  std::vector<sdk::Route> account_routes();
  sdk::HttpResponse token_info(const sdk::HttpRequest& req, bool with_body);
  sdk::HttpResponse delete_token(const sdk::HttpRequest& req);
  sdk::Result<std::shared_ptr<const sdk::TokenInfo>> lookup(std::string_view token);
  void forget(const std::string& token);

  sdk::Store& store_;
  sdk::Logger& log_;
  AuthConfig config_;
  LoginLimiter limiter_;

  mutable std::shared_mutex cache_mu_;
  std::unordered_map<std::string, std::shared_ptr<const sdk::TokenInfo>> cache_;
  // Recently unknown tokens, so a client replaying a bad token cannot make
  // every request a database query.
  std::unordered_map<std::string, std::int64_t> unknown_;
  std::int64_t last_purge_ = 0;
  std::uint64_t revocations_seen_ = 0;

  std::unique_ptr<sdk::Subscription> revocations_;
};

}  // namespace dialtone::kernel
