// The running kernel: owns every component in start order and the plugins.
//
//   auto setup = load_setup(cli);            // conf.d read, kernel options validated
//   Kernel kernel(std::move(setup));
//   if (auto s = kernel.start(); !s) { std::cerr << s.error().message; return 1; }
//   for (auto& l : kernel.listener_lines()) std::cout << l << "\n";
//   ... SIGHUP -> kernel.reload(); SIGTERM -> kernel.stop();
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <dialtone/result.h>

#include "kernel/auth/auth_service.h"
#include "kernel/bus/event_bus.h"
#include "kernel/calls/call_completion.h"
#include "kernel/calls/call_core.h"
#include "kernel/calls/local_driver.h"
#include "kernel/presence/presence_service.h"
#include "kernel/core/plugin_manager.h"
#include "kernel/core/service_registry.h"
#include "kernel/core/setup.h"
#include "kernel/executor/thread_pool.h"
#include "kernel/http/http_server.h"
#include "kernel/http/self_signed_cert.h"
#include "kernel/log/logging.h"
#include "kernel/lua/lua_host.h"
#include "kernel/store/pg_store.h"
#include "kernel/store/private_cluster.h"

namespace dialtone::kernel {

class Kernel {
 public:
  // Sets up logging only; nothing is opened or started.
  explicit Kernel(KernelSetup setup);
  ~Kernel();
  Kernel(const Kernel&) = delete;
  Kernel& operator=(const Kernel&) = delete;

  // Store (private cluster when no DSN), auth, HTTP, Lua, then the plugins.
  // An error is one line (e.g. the database cannot be reached); the caller
  // exits non-zero. Plugins that fail do not make this fail.
  sdk::Status start();
  // Loads and configures the plugins without a database or listeners
  // (--list-plugins).
  void configure_offline();
  // Re-reads conf.d; on any error the running configuration stays.
  ReloadReport reload();
  // Plugins in reverse start order, then listeners, Lua, store, cluster.
  void stop();

  PluginManager& plugins() { return *plugins_; }
  // "listening: confd http://127.0.0.1:9486", one per listener.
  std::vector<std::string> listener_lines() const;
  // Names the auth listener's real address ("... -X POST http://127.0.0.1:<port>/0.1/token").
  const std::string& admin_hint() const { return admin_hint_; }
  // POST /0.1/token on the auth listener as bound (a wildcard host shown as loopback).
  std::string token_url() const;
  sdk::Logger& log() { return *log_; }
  int http_port(std::string_view listener) const { return http_ ? http_->port(listener) : 0; }
  // The call core (null before start()).
  CallCoreImpl* calls() { return calls_.get(); }
  // Every mounted route, the kernel's and the plugins'.
  std::vector<HttpServerImpl::RouteInfo> routes() const {
    return http_ ? http_->routes() : std::vector<HttpServerImpl::RouteInfo>{};
  }

 private:
  std::vector<ListenerConfig> listeners() const;
  LuaConfig lua_config() const;
  void make_plugin_manager(sdk::Store* store, bool with_http);
  sdk::HttpResponse handle_reload();

  KernelSetup setup_;
  std::mutex reload_mutex_;
  bool stopped_ = false;
  std::string admin_hint_;
  CertificatePair self_signed_;  // set when http.tls_self_signed is on
  // Declaration order is construction order; destruction runs backwards.
  std::unique_ptr<Logging> logging_;
  std::unique_ptr<sdk::Logger> log_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<EventBusImpl> bus_;
  std::unique_ptr<PrivateCluster> cluster_;
  std::unique_ptr<PgStore> store_;
  std::unique_ptr<AuthService> auth_;
  std::unique_ptr<CallCoreImpl> calls_;
  std::unique_ptr<PresenceServiceImpl> presence_;
  std::unique_ptr<CallCompletion> completion_;  // *40, on the call core and presence
  std::unique_ptr<HttpServerImpl> http_;
  std::unique_ptr<LuaHostImpl> lua_;
  std::shared_ptr<LocalDriver> local_driver_;
  ServiceRegistryImpl registry_;
  std::unique_ptr<PluginManager> plugins_;
};

}  // namespace dialtone::kernel
