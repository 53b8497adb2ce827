// HTTP routes that plugins mount on the kernel's named listeners.
//
// @code
//   host.http()->mount("confd", {
//     .method = "GET",
//     .path = "/1.1/users/{id}",
//     .acl = "confd.users.{id}.read",
//     .summary = "Read a user",
//     .handler = [this](const dialtone::sdk::HttpRequest& req) {
//       auto id = req.params.at("id");
//       if (!found) return dialtone::sdk::HttpResponse::error(404, {"User was not found: " + id});
//       return dialtone::sdk::HttpResponse::json(200, body);
//     }});
// @endcode
//
// Listeners (name -> address, TLS, body limit, allowed subnets) are configured
// in the kernel's conf.d file; defaults follow XiVO's ports: confd 9486,
// auth 9497, dird 9489, phoned 9498, provd 8666, provd_phones 8667, calld 9500.
//
// The kernel does, before the handler runs: subnet check (403), token check
// from `X-Auth-Token` (401) and ACL check (403) with `{param}` substituted,
// body size limit (413), and for list routes the XiVO list parameters
// (search, order, direction, limit, offset; 400 on bad values).
// Handlers run on the listener's worker threads and may block briefly.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dialtone/json.h"
#include "dialtone/result.h"

namespace dialtone::sdk {

struct TokenInfo {
  std::string token;
  std::string auth_id;   // user or service uuid
  std::string username;
  std::string backend;   // "dialtone_user", "dialtone_service", ...
  std::vector<std::string> acls;
  std::int64_t issued_at = 0;  // unix seconds
  std::int64_t expires_at = 0;
};

// XiVO list conventions (seed 12.6.6), parsed and validated by the kernel.
struct ListQuery {
  std::string search;
  std::string order;           // empty: the route's default
  bool descending = false;     // direction=desc
  std::optional<long> limit;   // none: no limit
  long offset = 0;
  std::map<std::string, std::string> filters;  // other query params, exact-match filters
};

struct HttpRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> query;    // decoded
  std::map<std::string, std::string> headers;  // names lower-cased
  std::map<std::string, std::string> params;   // from {name} path segments
  std::string body;
  std::string remote_address;                  // IP only
  std::optional<TokenInfo> token;              // set on authenticated routes
  std::optional<ListQuery> list;               // set on list routes

  std::string header(std::string_view name, std::string fallback = {}) const {
    auto it = headers.find(std::string(name));
    return it == headers.end() ? fallback : it->second;
  }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  static HttpResponse json(int status, std::string body) {
    return {status, "application/json", std::move(body), {}};
  }
  static HttpResponse text(int status, std::string body, std::string type = "text/plain") {
    return {status, std::move(type), std::move(body), {}};
  }
  static HttpResponse empty(int status = 204) { return {status, "", "", {}}; }
  // XiVO's error shape: a JSON list of messages.
  static HttpResponse error(int status, const std::vector<std::string>& messages);
};

enum class RouteAuth {
  token,  // X-Auth-Token required, ACL checked (default)
  none,   // public (phone-facing routes still obey the listener's subnets)
  basic,  // Authorization: Basic, checked by the handler (POST /0.1/token)
};

// Every member has a default, so a route written with designated
// initializers names only what it sets.
struct Route {
  std::string method{};   // GET, POST, PUT, DELETE, HEAD
  std::string path{};     // "/1.1/users/{id}"; `{name}` matches one segment
  std::string acl{};      // "confd.users.{id}.read"; `{name}` substituted
  RouteAuth auth = RouteAuth::token;
  std::string summary{};  // one line, for the route listing and OpenAPI
  // Non-empty: a list route. Allowed `order` values; the first is the default.
  std::vector<std::string> sort_columns{};
  std::function<HttpResponse(const HttpRequest&)> handler{};
};

class HttpServer {
 public:
  virtual ~HttpServer() = default;
  // Refuses an unknown listener or a (method, path) already mounted there.
  virtual Status mount(std::string_view listener, Route route) = 0;
  virtual void unmount_all(std::string_view owner_plugin_id) = 0;
  // Listener port actually bound (useful with port 0 in tests); 0 if unknown.
  virtual int port(std::string_view listener) const = 0;
};

inline HttpResponse HttpResponse::error(int status, const std::vector<std::string>& messages) {
  return json(status, ::dialtone::sdk::json::array(messages));
}

}  // namespace dialtone::sdk
