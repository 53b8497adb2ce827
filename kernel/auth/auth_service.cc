#include "kernel/auth/auth_service.h"

#include <dialtone/text.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <ctime>
#include <fstream>
#include <system_error>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "kernel/auth/acl.h"
#include "kernel/auth/auth_internal.h"

namespace dialtone::kernel {
extern const char* const kAuthApiSpec;  // kernel/auth/api.yml, embedded at build time
namespace {

using sdk::HttpResponse;

constexpr std::string_view kRevokeChannel = "dialtone_auth_token_revoked";
constexpr std::int64_t kUnknownTtl = 5;         // seconds a missing token is remembered
constexpr std::size_t kMaxUnknown = 10000;
constexpr std::size_t kCacheSweepAt = 100000;   // sweep expired tokens past this size

constexpr sdk::Migration kMigrations[] = {
    {1, "auth users and tokens",
     "CREATE TABLE auth_user ("
     "  uuid uuid PRIMARY KEY,"
     "  username text NOT NULL UNIQUE,"
     "  password_hash text NOT NULL,"
     "  backend text NOT NULL DEFAULT 'dialtone_user'"
     "    CHECK (backend IN ('dialtone_user', 'dialtone_service')),"
     "  acls text[] NOT NULL DEFAULT '{}',"
     "  enabled boolean NOT NULL DEFAULT true,"
     "  created_at timestamptz NOT NULL DEFAULT now());"
     "CREATE TABLE auth_token ("
     "  token uuid PRIMARY KEY,"
     "  auth_id uuid NOT NULL,"
     "  username text NOT NULL,"
     "  backend text NOT NULL,"
     "  acls text[] NOT NULL,"
     "  issued_at timestamptz NOT NULL,"
     "  expires_at timestamptz NOT NULL);"
     "CREATE INDEX auth_token_expires_at ON auth_token (expires_at);"},
    {2, "auth user names and email (wazo-auth users API)",
     "ALTER TABLE auth_user ADD COLUMN firstname text, ADD COLUMN lastname text, ADD COLUMN email text;"
     "CREATE INDEX auth_user_email ON auth_user (lower(email));"},
};

std::int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    throw std::runtime_error("OpenSSL RAND_bytes failed");
  }
  return out;
}

std::string new_uuid() {
  auto b = random_bytes(16);
  b[6] = static_cast<char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<char>((b[8] & 0x3f) | 0x80);
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    auto c = static_cast<unsigned char>(b[i]);
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

bool is_uuid(std::string_view s) { return sdk::text::is_uuid(s); }

std::string b64_encode(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> b64_decode(std::string_view in) {
  if (in.size() % 4 != 0) return std::nullopt;
  std::string out(3 * in.size() / 4 + 1, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding as zero bytes.
  std::size_t pad = 0;
  if (!in.empty() && in.back() == '=') ++pad;
  if (in.size() > 1 && in[in.size() - 2] == '=') ++pad;
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

std::string pbkdf2(std::string_view password, std::string_view salt, int iterations, std::size_t len) {
  std::string out(len, '\0');
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()),
                        iterations, EVP_sha256(), static_cast<int>(len),
                        reinterpret_cast<unsigned char*>(out.data())) != 1) {
    throw std::runtime_error("OpenSSL PKCS5_PBKDF2_HMAC failed");
  }
  return out;
}

std::string iso_time(std::int64_t t, bool utc) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  if (utc) gmtime_r(&tt, &tm); else localtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return buf;
}

std::string token_json(const sdk::TokenInfo& t) {
  namespace json = sdk::json;
  const bool user = t.backend == "dialtone_user" || t.backend == "ldap_user" || t.backend == "xivo_user";
  return json::object({{"data", json::Raw{json::object({
                                    {"token", t.token},
                                    {"auth_id", t.auth_id},
                                    {"xivo_user_uuid", user ? json::Value(t.auth_id) : json::Value(nullptr)},
                                    {"username", t.username},
                                    {"backend", t.backend},
                                    {"issued_at", iso_time(t.issued_at, false)},
                                    {"expires_at", iso_time(t.expires_at, false)},
                                    {"utc_issued_at", iso_time(t.issued_at, true)},
                                    {"utc_expires_at", iso_time(t.expires_at, true)},
                                    {"acls", json::Raw{json::array(t.acls)}},
                                })}}});
}

}  // namespace

namespace auth_detail {
std::int64_t now_unix() { return kernel::now_unix(); }
std::string new_uuid() { return kernel::new_uuid(); }
bool is_uuid(std::string_view s) { return kernel::is_uuid(s); }
std::string token_json(const sdk::TokenInfo& t) { return kernel::token_json(t); }
}  // namespace auth_detail

// xivo-auth's error body: {"reason": [msg], "timestamp": [t], "status_code": n}.
HttpResponse auth_error(int status, const std::string& message) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  w.Key("reason");
  w.StartArray();
  w.String(message.c_str(), static_cast<rapidjson::SizeType>(message.size()));
  w.EndArray();
  w.Key("timestamp");
  w.StartArray();
  w.Double(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
  w.EndArray();
  w.Key("status_code");
  w.Int(status);
  w.EndObject();
  return HttpResponse::json(status, sb.GetString());
}

std::string backend_alias(std::string_view backend) {
  // XiVO and Wazo names of the same account kinds: user accounts (xivo_user,
  // wazo_user, and xivo_admin for administrators, who are accounts with
  // broader ACLs here) and service accounts (xivo_service).
  if (backend == "xivo_user" || backend == "wazo_user" || backend == "xivo_admin") return "dialtone_user";
  if (backend == "xivo_service") return "dialtone_service";
  return std::string(backend);
}

namespace {

// Keeps the log line one line and unambiguous whatever a client sends as a name.
std::string log_safe(std::string_view s) {
  std::string out;
  for (unsigned char c : s.substr(0, 64)) out += (c < 0x20 || c == '"' || c == '\\' || c == 0x7f) ? '?' : c;
  return out;
}

// A stored hash for unknown users, so a wrong name costs as much time as a
// wrong password and names cannot be probed by timing.
const std::string& dummy_hash() {
  static const std::string h = hash_password("dialtone-dummy-password");
  return h;
}

}  // namespace

// ---------------------------------------------------------------- passwords

std::string hash_password(std::string_view password, int iterations) {
  auto salt = random_bytes(16);
  auto hash = pbkdf2(password, salt, iterations, 32);
  return "pbkdf2_sha256$" + std::to_string(iterations) + "$" + b64_encode(salt) + "$" + b64_encode(hash);
}

bool verify_password(std::string_view password, std::string_view stored) {
  constexpr std::string_view prefix = "pbkdf2_sha256$";
  if (stored.substr(0, prefix.size()) != prefix) return false;
  auto rest = stored.substr(prefix.size());
  auto d1 = rest.find('$');
  if (d1 == std::string_view::npos) return false;
  auto d2 = rest.find('$', d1 + 1);
  if (d2 == std::string_view::npos) return false;
  int iterations = 0;
  auto it = rest.substr(0, d1);
  auto [end, ec] = std::from_chars(it.data(), it.data() + it.size(), iterations);
  if (ec != std::errc() || end != it.data() + it.size() || iterations < 1 || iterations > 10000000) return false;
  auto salt = b64_decode(rest.substr(d1 + 1, d2 - d1 - 1));
  auto expected = b64_decode(rest.substr(d2 + 1));
  if (!salt || !expected || expected->empty()) return false;
  auto got = pbkdf2(password, *salt, iterations, expected->size());
  return CRYPTO_memcmp(got.data(), expected->data(), got.size()) == 0;
}

// ---------------------------------------------------------------- limiter

LoginLimiter::LoginLimiter(int max_failures, int window_seconds, int ban_seconds)
    : max_failures_(std::max(1, max_failures)), window_(window_seconds), ban_(ban_seconds) {}

int LoginLimiter::banned_for(const std::string& ip, std::int64_t now) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(ip);
  if (it == entries_.end() || it->second.banned_until <= now) return 0;
  return static_cast<int>(it->second.banned_until - now);
}

LoginLimiter::Outcome LoginLimiter::record_failure(const std::string& ip, std::int64_t now) {
  std::lock_guard lock(mu_);
  if (entries_.size() > 10000) prune(now);
  auto& e = entries_[ip];
  while (!e.failures.empty() && e.failures.front() <= now - window_) e.failures.pop_front();
  e.failures.push_back(now);
  Outcome out;
  out.failures = static_cast<int>(e.failures.size());
  if (out.failures >= max_failures_ && e.banned_until <= now) {
    e.banned_until = now + ban_;
    out.banned_now = true;
    e.failures.clear();
  }
  return out;
}

void LoginLimiter::record_success(const std::string& ip) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(ip);
  if (it != entries_.end() && it->second.banned_until == 0) entries_.erase(it);
  else if (it != entries_.end()) it->second.failures.clear();
}

void LoginLimiter::prune(std::int64_t now) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    auto& e = it->second;
    bool stale = e.banned_until <= now && (e.failures.empty() || e.failures.back() <= now - window_);
    it = stale ? entries_.erase(it) : std::next(it);
  }
}

// ---------------------------------------------------------------- service

AuthService::AuthService(sdk::Store& store, sdk::Logger& log, AuthConfig config)
    : store_(store), log_(log), config_(config),
      limiter_(config.max_failures, config.failure_window, config.ban) {}

AuthService::~AuthService() = default;

sdk::Status AuthService::migrate() {
  if (auto s = store_.migrate("kernel.auth", kMigrations); !s) return s;
  if (!revocations_) {
    revocations_ = store_.listen(std::string(kRevokeChannel), [this](const std::string& token) { forget(token); });
  }
  return {};
}

sdk::Status AuthService::mount(HttpServerImpl& http, std::string_view listener) {
  http.set_auth(this);
  sdk::Route post;
  post.method = "POST";
  post.path = "/0.1/token";
  post.auth = sdk::RouteAuth::basic;
  post.summary = "Create a token (Basic auth; body {\"backend\", \"expiration\"} optional)";
  post.handler = [this](const sdk::HttpRequest& r) { return post_token(r); };
  sdk::Route head;
  head.method = "HEAD";
  head.path = "/0.1/token/{token}";
  head.auth = sdk::RouteAuth::none;
  head.summary = "Check a token (?scope=<acl>): 204, 404 unknown or expired, 403 scope not granted";
  head.handler = [this](const sdk::HttpRequest& r) { return token_info(r, false); };
  sdk::Route get = head;
  get.method = "GET";
  get.summary = "Read a token (?scope=<acl>)";
  get.handler = [this](const sdk::HttpRequest& r) { return token_info(r, true); };
  sdk::Route del = head;
  del.method = "DELETE";
  del.summary = "Revoke a token";
  del.handler = [this](const sdk::HttpRequest& r) { return delete_token(r); };
  sdk::Route spec;
  spec.method = "GET";
  spec.path = "/0.1/api/api.yml";
  spec.auth = sdk::RouteAuth::none;
  spec.summary = "OpenAPI description of the kernel's API";
  spec.handler = [](const sdk::HttpRequest&) { return HttpResponse::text(200, kAuthApiSpec, "application/x-yaml"); };
  for (auto* r : {&post, &head, &get, &del, &spec}) {
    if (auto s = http.mount_as("kernel.auth", listener, std::move(*r)); !s) return s;
  }
  for (auto& r : account_routes()) {
    if (auto s = http.mount_as("kernel.auth", listener, std::move(r)); !s) return s;
  }
  return {};
}

sdk::Result<std::string> AuthService::create_user(std::string username, std::string password,
                                                  std::vector<std::string> acls, std::string backend) {
  if (username.empty()) return sdk::Error::invalid("user name is empty");
  if (password.empty()) return sdk::Error::invalid("password for user '" + username + "' is empty");
  if (backend != "dialtone_user" && backend != "dialtone_service") {
    return sdk::Error::invalid("unknown auth backend '" + backend + "'; use dialtone_user or dialtone_service");
  }
  auto uuid = new_uuid();
  auto r = store_.exec(
      "INSERT INTO auth_user (uuid, username, password_hash, backend, acls) VALUES ($1, $2, $3, $4, $5::text[])",
      {uuid, username, hash_password(password), backend, sdk::text_array(acls)});
  if (!r) {
    if (r.error().code == sdk::ErrorCode::conflict) {
      return sdk::Error::conflict("auth user '" + username + "' already exists");
    }
    return r.error();
  }
  return uuid;
}

sdk::Result<std::string> AuthService::set_account(std::string_view username, std::string_view password,
                                                  std::vector<std::string> acls) {
  if (username.empty()) return sdk::Error::invalid("user name is empty");
  if (password.empty()) return sdk::Error::invalid("password for user '" + std::string(username) + "' is empty");
  auto r = store_.exec(
      "INSERT INTO auth_user (uuid, username, password_hash, backend, acls) VALUES ($1, $2, $3, 'dialtone_user', "
      "$4::text[]) ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash, acls = "
      "EXCLUDED.acls, enabled = true RETURNING uuid",
      {new_uuid(), std::string(username), hash_password(password), sdk::text_array(acls)});
  if (!r) return r.error();
  return r->get(0, "uuid");
}

sdk::Result<std::string> AuthService::ensure_admin(const std::filesystem::path& password_file,
                                                   std::string_view token_url) {
  std::string hint = "admin password in " + password_file.string() + " (get a token: curl -u admin:$(cat " +
                     password_file.string() + ") -X POST " + std::string(token_url) + ")";
  auto found = store_.exec("SELECT 1 FROM auth_user WHERE username = 'admin'");
  if (!found) return found.error();
  if (!found->rows.empty()) return hint;

  static constexpr std::string_view alphabet =
      "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";  // no look-alikes
  std::string password;
  while (password.size() < 20) {
    for (unsigned char c : random_bytes(32)) {
      // Rejection sampling keeps every character equally likely.
      if (c < 256 - 256 % alphabet.size() && password.size() < 20) password += alphabet[c % alphabet.size()];
    }
  }
  std::error_code ec;
  if (password_file.has_parent_path()) std::filesystem::create_directories(password_file.parent_path(), ec);
  if (ec) {
    return sdk::Error::unavailable("cannot create " + password_file.parent_path().string() + ": " + ec.message() +
                                   "; make the data directory writable by dialtoned");
  }
  // Written aside first: the file only appears once the account really exists,
  // and a lost race against another node leaves that node's file untouched.
  auto temp = password_file;
  temp += ".new";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return sdk::Error::unavailable("cannot write " + temp.string() + ": " +
                                   std::error_code(errno, std::generic_category()).message() +
                                   "; make the data directory writable by dialtoned");
  }
  ::fchmod(fd, 0600);  // O_CREAT does not change the mode of an existing file
  std::string line = password + "\n";
  bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!written) {
    std::filesystem::remove(temp, ec);
    return sdk::Error::unavailable("cannot write " + temp.string() + "; is the disk full?");
  }
  auto created = create_user("admin", password, {"#"});
  if (!created) {
    std::filesystem::remove(temp, ec);
    if (created.error().code == sdk::ErrorCode::conflict) return hint;
    return created.error();
  }
  std::filesystem::rename(temp, password_file, ec);
  if (ec) {
    return sdk::Error::unavailable("created user admin but cannot move its password to " + password_file.string() +
                                   ": " + ec.message() + "; the password is in " + temp.string());
  }
  log_.info("auth: created user admin with ACL #");
  return hint;
}

sdk::Result<sdk::TokenInfo> AuthService::create_token(std::string_view username, std::string_view password,
                                                      std::string_view backend, int expiration) {
  if (expiration == 0) expiration = config_.default_expiration;
  if (expiration < 1 || expiration > config_.max_expiration) {
    return sdk::Error::invalid("expiration must be between 1 and " + std::to_string(config_.max_expiration) +
                               " seconds");
  }
  auto r = store_.exec("SELECT uuid, password_hash, backend, acls, enabled FROM auth_user WHERE username = $1",
                       {std::string(username)});
  if (!r) return r.error();
  bool ok = false;
  if (r->rows.empty()) {
    verify_password(password, dummy_hash());
  } else {
    ok = verify_password(password, r->get(0, "password_hash")) && r->get(0, "enabled") == "t" &&
         (backend.empty() || backend == r->get(0, "backend"));
  }
  if (!ok) return sdk::Error{sdk::ErrorCode::unauthorized, "wrong user name or password"};

  auto info = std::make_shared<sdk::TokenInfo>();
  info->auth_id = r->get(0, "uuid");
  info->username = std::string(username);
  info->backend = r->get(0, "backend");
  info->acls = sdk::parse_text_array(r->get(0, "acls"));
  return issue_token(std::move(info), expiration);
}

sdk::Result<sdk::TokenInfo> AuthService::issue_token(std::shared_ptr<sdk::TokenInfo> info, int expiration) {
  if (expiration == 0) expiration = config_.default_expiration;
  info->token = new_uuid();
  info->issued_at = now_unix();
  info->expires_at = info->issued_at + expiration;
  auto ins = store_.exec(
      "INSERT INTO auth_token (token, auth_id, username, backend, acls, issued_at, expires_at) "
      "VALUES ($1, $2, $3, $4, $5::text[], to_timestamp($6), to_timestamp($7))",
      {info->token, info->auth_id, info->username, info->backend, sdk::text_array(info->acls),
       std::to_string(info->issued_at), std::to_string(info->expires_at)});
  if (!ins) return ins.error();
  std::int64_t now = info->issued_at;
  bool purge = false;
  {
    std::unique_lock lock(cache_mu_);
    cache_[info->token] = info;
    if (now - last_purge_ >= 60) {
      last_purge_ = now;
      purge = true;
    }
  }
  if (purge) {
    // Expired rows are useless; a day of grace keeps them for investigations.
    (void)store_.exec("DELETE FROM auth_token WHERE expires_at < now() - interval '1 day'");
  }
  return *info;
}

sdk::Status AuthService::revoke(std::string_view token) {
  if (!is_uuid(token)) return sdk::Error::not_found("no such token");
  auto r = store_.exec("DELETE FROM auth_token WHERE token = $1", {std::string(token)});
  if (!r) return r.error();
  forget(std::string(token));
  (void)store_.exec("SELECT pg_notify($1, $2)", {std::string(kRevokeChannel), std::string(token)});
  if (r->affected == 0) return sdk::Error::not_found("no such token");
  return {};
}

void AuthService::forget(const std::string& token) {
  std::unique_lock lock(cache_mu_);
  cache_.erase(token);
  ++revocations_seen_;
}

sdk::Result<std::shared_ptr<const sdk::TokenInfo>> AuthService::lookup(std::string_view token) {
  if (!is_uuid(token)) return sdk::Error{sdk::ErrorCode::unauthorized, "invalid token"};
  std::string key(token);
  std::int64_t now = now_unix();
  {
    std::shared_lock lock(cache_mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      if (it->second->expires_at > now) return it->second;
    } else {
      auto u = unknown_.find(key);
      if (u != unknown_.end() && u->second > now) return sdk::Error{sdk::ErrorCode::unauthorized, "invalid token"};
    }
  }
  {
    std::unique_lock lock(cache_mu_);
    auto it = cache_.find(key);
    if (it != cache_.end() && it->second->expires_at <= now) {
      cache_.erase(it);
      return sdk::Error{sdk::ErrorCode::unauthorized, "token expired"};
    }
  }
  std::uint64_t generation;
  {
    std::shared_lock lock(cache_mu_);
    generation = revocations_seen_;
  }
  // Issued by another node sharing the database, or before a restart.
  auto r = store_.exec(
      "SELECT auth_id, username, backend, acls, extract(epoch FROM issued_at)::bigint AS issued_at, "
      "extract(epoch FROM expires_at)::bigint AS expires_at FROM auth_token WHERE token = $1 AND expires_at > now()",
      {key});
  if (!r) return sdk::Error{sdk::ErrorCode::unavailable, "token store unavailable: " + r.error().message};
  std::unique_lock lock(cache_mu_);
  if (r->rows.empty()) {
    if (unknown_.size() >= kMaxUnknown) unknown_.clear();
    unknown_[key] = now + kUnknownTtl;
    return sdk::Error{sdk::ErrorCode::unauthorized, "invalid or expired token"};
  }
  auto info = std::make_shared<sdk::TokenInfo>();
  info->token = key;
  info->auth_id = r->get(0, "auth_id");
  info->username = r->get(0, "username");
  info->backend = r->get(0, "backend");
  info->acls = sdk::parse_text_array(r->get(0, "acls"));
  info->issued_at = std::stoll(r->get(0, "issued_at", "0"));
  info->expires_at = std::stoll(r->get(0, "expires_at", "0"));
  // A revocation during the query may concern this very token: answer, but do not cache.
  if (generation != revocations_seen_) return std::shared_ptr<const sdk::TokenInfo>(info);
  if (cache_.size() >= kCacheSweepAt) {
    for (auto it = cache_.begin(); it != cache_.end();) it = it->second->expires_at <= now ? cache_.erase(it) : std::next(it);
  }
  cache_[key] = info;
  return std::shared_ptr<const sdk::TokenInfo>(info);
}

sdk::Result<sdk::TokenInfo> AuthService::check(std::string_view token, std::string_view required_acl) {
  auto found = lookup(token);
  if (!found) return found.error();
  const auto& info = **found;
  if (!kernel::acl_allows(info.acls, info.auth_id, required_acl)) {
    return sdk::Error{sdk::ErrorCode::forbidden, "token does not grant " + std::string(required_acl)};
  }
  return info;
}

bool AuthService::acl_allows(const sdk::TokenInfo& token, std::string_view required_acl) const {
  return kernel::acl_allows(token.acls, token.auth_id, required_acl);
}

// ---------------------------------------------------------------- routes

HttpResponse AuthService::post_token(const sdk::HttpRequest& req) {
  const std::string& ip = req.remote_address;
  std::int64_t now = now_unix();
  if (int left = limiter_.banned_for(ip, now); left > 0) {
    auto out = auth_error(429, "Too many failed logins from " + ip + "; retry in " + std::to_string(left) + "s");
    out.headers.emplace_back("Retry-After", std::to_string(left));
    return out;
  }
  auto unauthorized = [](std::string msg) {
    auto out = auth_error(401, msg);
    out.headers.emplace_back("WWW-Authenticate", "Basic realm=\"dialtone\"");
    return out;
  };
  std::string authz = req.header("authorization");
  if (authz.size() < 6 || !sdk::text::istarts_with(authz, "Basic ")) {
    return unauthorized("Authentication required: send the user name and password with HTTP Basic auth");
  }
  auto decoded = b64_decode(std::string_view(authz).substr(6));
  auto colon = decoded ? decoded->find(':') : std::string::npos;
  if (colon == std::string::npos) return unauthorized("Malformed Basic credentials: expected base64 of user:password");
  std::string username = decoded->substr(0, colon), password = decoded->substr(colon + 1);

  std::string backend, requested;
  int expiration = 0;
  if (!req.body.empty()) {
    rapidjson::Document doc;
    doc.Parse(req.body.data(), req.body.size());
    if (doc.HasParseError() || !doc.IsObject()) {
      return auth_error(400, "Invalid body: expected a JSON object like {\"expiration\": 3600}");
    }
    if (auto it = doc.FindMember("backend"); it != doc.MemberEnd()) {
      if (!it->value.IsString()) return auth_error(400, "Invalid 'backend': expected a string");
      requested = it->value.GetString();
      backend = backend_alias(requested);
    }
    if (auto it = doc.FindMember("expiration"); it != doc.MemberEnd()) {
      if (!it->value.IsInt() || it->value.GetInt() < 1 || it->value.GetInt() > config_.max_expiration) {
        return auth_error(400, "Invalid 'expiration': expected seconds between 1 and " +
                                   std::to_string(config_.max_expiration));
      }
      expiration = it->value.GetInt();
    }
  }

  if (backend == "ldap_user") return ldap_token(req, username, password, expiration);
  auto token = create_token(username, password, backend, expiration);
  if (!token && token.error().code == sdk::ErrorCode::unauthorized && requested == "xivo_user")
    token = pbx_user_token(username, password, expiration);
  if (!token) {
    if (token.error().code != sdk::ErrorCode::unauthorized) {
      log_.error("auth: cannot create a token: " + token.error().message);
      return auth_error(503, "Token store unavailable; see the server log");
    }
    log_.warn("auth: failed login for user \"" + log_safe(username) + "\" from " + ip);
    auto outcome = limiter_.record_failure(ip, now);
    if (outcome.banned_now) {
      log_.warn("auth: banned " + ip + " for " + std::to_string(config_.ban) + "s after " +
                std::to_string(outcome.failures) + " failures");
    }
    return unauthorized("Authentication failed: wrong user name or password");
  }
  limiter_.record_success(ip);
  return HttpResponse::json(200, token_json(*token));
}

HttpResponse AuthService::token_info(const sdk::HttpRequest& req, bool with_body) {
  const auto& token = req.params.at("token");
  auto found = lookup(token);
  if (!found) {
    if (found.error().code == sdk::ErrorCode::unavailable) {
      return auth_error(503, "Token store unavailable; see the server log");
    }
    return auth_error(404, "No such token, or it has expired");
  }
  auto scope = req.query.find("scope");
  if (scope != req.query.end() && !acl_allows(**found, scope->second)) {
    return auth_error(403, "The token does not grant " + scope->second);
  }
  if (!with_body) return HttpResponse::empty(204);
  return HttpResponse::json(200, token_json(**found));
}

HttpResponse AuthService::delete_token(const sdk::HttpRequest& req) {
  auto s = revoke(req.params.at("token"));
  if (!s) {
    if (s.error().code == sdk::ErrorCode::not_found) return auth_error(404, "No such token");
    log_.error("auth: cannot revoke a token: " + s.error().message);
    return auth_error(503, "Token store unavailable; see the server log");
  }
  return HttpResponse::empty(204);
}

}  // namespace dialtone::kernel
