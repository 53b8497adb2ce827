// The kernel's HTTP server: one Poco::Net::HTTPServer per named listener,
// serving the routes that the kernel and plugins mount.
//
// @code
//   dialtone::kernel::HttpServerImpl http({{.name = "auth", .port = 9497}}, log);
//   http.set_auth(&auth_service);
//   http.mount("auth", {.method = "GET", .path = "/0.1/ping", .auth = sdk::RouteAuth::none,
//                       .handler = [](auto&) { return sdk::HttpResponse::json(200, "{}"); }});
//   if (auto s = http.start(); !s) { log.error(s.error().message); return 1; }
// @endcode
//
// Before a handler runs the server applies, in order: the listener's subnet
// allow-list (403), routing (404 / 405 with Allow), the body limit (413), the
// token and ACL of token routes (401 / 403), the JSON content type of bodies
// (415), Accept negotiation (406) and the XiVO list parameters (400).
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <dialtone/auth.h>
#include <dialtone/host.h>
#include <dialtone/http.h>

namespace dialtone::kernel {

struct ListenerConfig {
  std::string name{};
  std::string host = "127.0.0.1";
  int port = 0;  // 0: ephemeral, see HttpServerImpl::port()
  std::string tls_cert{}, tls_key{};  // both set: HTTPS
  std::size_t max_body = 1 << 20;
  std::vector<std::string> subnets{};  // CIDR allow-list; empty = any
  // Poco serves one keep-alive connection per thread: this bounds concurrent clients.
  int max_threads = 128;
  int max_queued = 256;  // accepted connections waiting for a thread
};

class HttpServerImpl final : public sdk::HttpServer {
 public:
  struct RouteInfo {
    std::string listener, owner, method, path, acl, summary;
  };

  HttpServerImpl(std::vector<ListenerConfig> listeners, sdk::Logger& log);
  ~HttpServerImpl() override;
  HttpServerImpl(const HttpServerImpl&) = delete;
  HttpServerImpl& operator=(const HttpServerImpl&) = delete;

  // Not owned; must outlive the server. Token routes answer 503 while unset.
  void set_auth(sdk::Auth* auth);

  // Mounts `route` for `owner` (a plugin id, or "kernel"). Routes may be
  // mounted and unmounted while the server runs.
  sdk::Status mount_as(std::string owner, std::string_view listener, sdk::Route route);
  std::vector<RouteInfo> routes() const;

  // Binds every listener; on failure nothing stays bound and the error names
  // the listener, the address and the fix.
  sdk::Status start();
  // Stops accepting, closes connections and waits for running handlers.
  void stop();

  // sdk::HttpServer. mount() mounts as owner "kernel".
  sdk::Status mount(std::string_view listener, sdk::Route route) override;
  void unmount_all(std::string_view owner_plugin_id) override;
  int port(std::string_view listener) const override;

  struct Listener;

 private:
  Listener* find(std::string_view name) const;
  void stop_unlocked();

  std::vector<std::unique_ptr<Listener>> listeners_;
  sdk::Logger& log_;
  std::atomic<sdk::Auth*> auth_{nullptr};
  std::mutex start_mu_;
  bool started_ = false;
};

}  // namespace dialtone::kernel
