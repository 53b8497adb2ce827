// sdk::Host for one plugin: its id, a logger tagged with the id, its view of
// the service registry, the shared kernel services, HTTP and Lua proxies that
// record the plugin as the owner of its routes and Lua functions (taken back
// when it stops or fails), and its data directory.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include <dialtone/host.h>
#include <dialtone/http.h>
#include <dialtone/lua.h>

#include "kernel/core/service_registry.h"

namespace dialtone::kernel {

// What the kernel shares with every plugin. Pointers may be null where noted.
struct KernelContext {
  std::function<std::unique_ptr<sdk::Logger>(std::string id)> make_logger;
  std::function<void(std::string_view id, sdk::LogLevel)> set_log_level;  // may be empty
  ServiceRegistryImpl* services = nullptr;
  sdk::EventBus* bus = nullptr;
  sdk::Executor* executor = nullptr;
  sdk::Store* store = nullptr;      // null without a database (--list-plugins)
  sdk::HttpServer* http = nullptr;  // null: plugins get no HTTP server
  // Mounts a route on behalf of a plugin; required when `http` is set.
  std::function<sdk::Status(std::string owner, std::string_view listener, sdk::Route)> mount_as;
  sdk::LuaHost* lua = nullptr;
  // Exports Lua functions on behalf of a plugin, and takes them all back;
  // both required when `lua` is set.
  std::function<sdk::Status(std::string owner, std::string module,
                            std::vector<sdk::LuaFunctionSpec>)> export_lua_as;
  std::function<void(std::string_view owner, std::string_view reason)> withdraw_lua;
  std::filesystem::path data_dir;  // plugins get <data_dir>/plugins/<id>
};

class PluginHttp final : public sdk::HttpServer {
 public:
  PluginHttp(const KernelContext& ctx, std::string owner) : ctx_(ctx), owner_(std::move(owner)) {}
  sdk::Status mount(std::string_view listener, sdk::Route route) override {
    return ctx_.mount_as(owner_, listener, std::move(route));
  }
  // A plugin may only drop its own routes.
  void unmount_all(std::string_view) override { ctx_.http->unmount_all(owner_); }
  int port(std::string_view listener) const override { return ctx_.http->port(listener); }

 private:
  const KernelContext& ctx_;
  std::string owner_;
};

class PluginLua final : public sdk::LuaHost {
 public:
  PluginLua(const KernelContext& ctx, std::string owner) : ctx_(ctx), owner_(std::move(owner)) {}
  sdk::Status export_module(std::string module, std::vector<sdk::LuaFunctionSpec> functions) override {
    return ctx_.export_lua_as(owner_, std::move(module), std::move(functions));
  }
  void call(std::string function, sdk::LuaValues args,
            std::function<void(sdk::Result<sdk::LuaValues>)> done) override {
    ctx_.lua->call(std::move(function), std::move(args), std::move(done));
  }
  sdk::Status reload() override { return ctx_.lua->reload(); }

 private:
  const KernelContext& ctx_;
  std::string owner_;
};

class PluginHost final : public sdk::Host {
 public:
  PluginHost(const KernelContext& ctx, std::string id,
             std::shared_ptr<boost::dll::shared_library> library);

  std::string_view plugin_id() const override { return id_; }
  sdk::Logger& log() override { return *log_; }
  sdk::ServiceRegistry& services() override { return services_; }
  sdk::EventBus& bus() override { return *ctx_.bus; }
  sdk::Executor& executor() override { return *ctx_.executor; }
  sdk::Store* store() override { return ctx_.store; }
  sdk::HttpServer* http() override { return ctx_.http ? &http_ : nullptr; }
  sdk::LuaHost* lua() override { return ctx_.lua ? &lua_ : nullptr; }
  // Created on first use, so plugins that keep no state leave no directory.
  std::filesystem::path data_dir() const override;

 private:
  const KernelContext& ctx_;
  std::string id_;
  std::unique_ptr<sdk::Logger> log_;
  PluginServices services_;
  PluginHttp http_;
  PluginLua lua_;
};

}  // namespace dialtone::kernel
