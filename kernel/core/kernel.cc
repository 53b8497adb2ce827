#include "kernel/core/kernel.h"

#include <thread>

#include <dialtone/config.h>

#include "kernel/core/kernel_options.h"

namespace dialtone::kernel {

Kernel::Kernel(KernelSetup setup) : setup_(std::move(setup)) {
  logging_ = std::make_unique<Logging>(
      LoggingConfig{setup_.options.get("log.level", "info"), setup_.options.get("log.file")});
  log_ = logging_->logger("kernel");
  for (auto& w : setup_.conf.warnings) log_->warn(w);
  pool_ = std::make_unique<ThreadPool>(std::max(2u, std::thread::hardware_concurrency()), log_.get());
  bus_ = std::make_unique<EventBusImpl>(*log_);
}

Kernel::~Kernel() {
  stop();
  // The plugins' Lua functions were withdrawn by PluginManager::stop(); the
  // states still point at their (empty) entries, so the Lua host goes
  // before the plugin manager that unloads the libraries.
  lua_.reset();
  plugins_.reset();
}

std::vector<ListenerConfig> Kernel::listeners() const {
  std::vector<ListenerConfig> out;
  for (auto& d : kListenerDefaults) {
    const std::string p = std::string("http.") + d.name + ".";
    ListenerConfig l;
    l.name = d.name;
    std::string addr = setup_.options.get(p + "listen", d.listen);
    std::string def = d.listen;
    int def_port = std::stoi(def.substr(def.rfind(':') + 1));
    std::string host = addr, port;
    if (!addr.empty() && addr.front() == '[') {
      auto close = addr.find(']');
      host = addr.substr(1, close - 1);
      if (close + 1 < addr.size()) port = addr.substr(close + 2);
    } else if (auto c = addr.rfind(':'); c != std::string::npos) {
      host = addr.substr(0, c);
      port = addr.substr(c + 1);
    }
    l.host = host;
    l.port = port.empty() ? def_port : std::stoi(port);
    l.tls_cert = setup_.options.get(p + "tls_cert");
    l.tls_key = setup_.options.get(p + "tls_key");
    if (l.tls_cert.empty() && l.tls_key.empty() && !self_signed_.cert.empty()) {
      l.tls_cert = self_signed_.cert.string();
      l.tls_key = self_signed_.key.string();
    }
    l.max_body = static_cast<std::size_t>(setup_.options.get_int(p + "max_body", 1 << 20));
    l.subnets = setup_.options.get_list(p + "subnets");
    out.push_back(std::move(l));
  }
  return out;
}

LuaConfig Kernel::lua_config() const {
  LuaConfig c;
  c.script = setup_.options.get("lua.script");
  c.states = static_cast<std::size_t>(setup_.options.get_int("lua.states", 2));
  return c;
}

void Kernel::make_plugin_manager(sdk::Store* store, bool with_http) {
  KernelContext ctx;
  ctx.make_logger = [this](std::string id) { return logging_->logger(std::move(id)); };
  ctx.set_log_level = [this](std::string_view id, sdk::LogLevel l) { logging_->set_level(id, l); };
  ctx.services = &registry_;
  ctx.bus = bus_.get();
  ctx.executor = pool_.get();
  ctx.store = store;
  if (with_http && http_) {
    ctx.http = http_.get();
    ctx.mount_as = [this](std::string owner, std::string_view listener, sdk::Route route) {
      return http_->mount_as(std::move(owner), listener, std::move(route));
    };
  }
  ctx.lua = lua_.get();
  if (lua_) {
    ctx.export_lua_as = [this](std::string owner, std::string module,
                               std::vector<sdk::LuaFunctionSpec> functions) -> sdk::Status {
      if (!lua_) return sdk::Error::unavailable("lua: the dialplan host is gone");
      return lua_->export_module_as(std::move(owner), std::move(module), std::move(functions));
    };
    // ~Kernel drops the Lua host before the plugin manager: by then there is
    // nothing left to withdraw from.
    ctx.withdraw_lua = [this](std::string_view owner, std::string_view reason) {
      if (lua_) lua_->withdraw(owner, reason);
    };
  }
  ctx.data_dir = setup_.data_dir;
  plugins_ = std::make_unique<PluginManager>(std::move(ctx), *log_);
}

void Kernel::configure_offline() {
  lua_ = std::make_unique<LuaHostImpl>(lua_config(), *log_);
  make_plugin_manager(nullptr, false);
  plugins_->load_dir(setup_.plugin_dir);
  for (auto& e : plugins_->resolve(setup_.conf, setup_.conf_root)) log_->error(e);
  plugins_->configure();
}

sdk::Status Kernel::start() {
  for (auto& e : setup_.errors) log_->error(e);
  if (!setup_.errors.empty())
    return sdk::Error::invalid(std::to_string(setup_.errors.size()) +
                               " configuration error(s), see above; dialtoned --check-config lists them");
  std::error_code ec;
  std::filesystem::create_directories(setup_.data_dir, ec);
  if (ec)
    return sdk::Error::unavailable("cannot create data directory " + setup_.data_dir.string() + ": " +
                                   ec.message() + "; set kernel.data_dir or pass --data-dir");

  StoreConfig store_config;
  store_config.dsn = setup_.options.get("store.dsn");
  store_config.pool_size = static_cast<std::size_t>(setup_.options.get_int("store.pool_size", 8));
  if (store_config.dsn.empty()) {
    auto cluster = PrivateCluster::start(setup_.data_dir / "pg", *log_);
    if (!cluster) return sdk::Error::unavailable("private database cluster: " + cluster.error().message);
    cluster_ = std::move(*cluster);
    store_config.dsn = cluster_->dsn();
  }
  auto store = PgStore::open(store_config, *bus_, *log_);
  if (!store) return store.error();  // already says "store: ..." and how to fix it
  store_ = std::move(*store);

  AuthConfig auth_config;
  auth_config.default_expiration =
      static_cast<int>(setup_.options.get_duration("auth.token_expiration").count() / 1000);
  auth_config.max_failures = static_cast<int>(setup_.options.get_int("auth.max_failures", 5));
  auth_config.failure_window =
      static_cast<int>(setup_.options.get_duration("auth.failure_window").count() / 1000);
  auth_config.ban = static_cast<int>(setup_.options.get_duration("auth.ban").count() / 1000);
  auth_config.ldap_uri = setup_.options.get("auth.ldap_uri");
  auth_config.ldap_bind_dn = setup_.options.get("auth.ldap_bind_dn");
  auth_config.ldap_bind_password = setup_.options.get("auth.ldap_bind_password");
  auth_config.ldap_base_dn = setup_.options.get("auth.ldap_base_dn");
  auth_config.ldap_login_attribute = setup_.options.get("auth.ldap_login_attribute", "uid");
  auth_config.ldap_email_attribute = setup_.options.get("auth.ldap_email_attribute", "mail");
  if (auto acls = setup_.options.get_list("auth.ldap_acls"); !acls.empty()) auth_config.ldap_acls = acls;
  if (auto acls = setup_.options.get_list("auth.user_acls"); !acls.empty()) auth_config.user_acls = acls;
  auth_ = std::make_unique<AuthService>(*store_, *log_, auth_config);
  if (auto s = auth_->migrate(); !s) return sdk::Error::unavailable("auth: " + s.error().message);

  if (setup_.options.get_bool("http.tls_self_signed", false)) {
    auto pair = ensure_self_signed(setup_.data_dir / "tls");
    if (!pair) return pair.error();
    self_signed_ = *pair;
    log_->info(std::string("http: ") + (pair->created ? "created" : "using") + " the self-signed certificate " +
               pair->cert.string() + " (clients trust this file, or set tls_cert/tls_key per listener)");
  }
  http_ = std::make_unique<HttpServerImpl>(listeners(), *log_);
  if (auto s = auth_->mount(*http_, "auth"); !s) return sdk::Error::internal("auth: " + s.error().message);
  http_->set_auth(auth_.get());
  (void)registry_.provide_as("kernel", std::string(sdk::Auth::kServiceName), sdk::Auth::kServiceVersion,
                             "", std::shared_ptr<void>(std::shared_ptr<void>(), static_cast<sdk::Auth*>(auth_.get())));
  (void)registry_.provide_as("kernel", std::string(sdk::Accounts::kServiceName), sdk::Accounts::kServiceVersion,
                             "", std::shared_ptr<void>(std::shared_ptr<void>(), static_cast<sdk::Accounts*>(auth_.get())));
  // The call core: backends register their legs, calld-style REST on "calld".
  calls_ = std::make_unique<CallCoreImpl>(*bus_, *log_);
  if (auto s = calls_->mount(*http_, "calld"); !s) return sdk::Error::internal("calls: " + s.error().message);
  // Originating reads users and lines from api.confd's snapshot, found when asked.
  calls_->set_config_source([this]() -> std::shared_ptr<const sdk::ConfigSnapshot> {
    auto config = registry_.find<sdk::ConfigService>();
    return config ? config->snapshot() : nullptr;
  });
  (void)registry_.provide_as("kernel", std::string(sdk::CallCore::kServiceName), sdk::CallCore::kServiceVersion,
                             "", std::shared_ptr<void>(std::shared_ptr<void>(), static_cast<sdk::CallCore*>(calls_.get())));
  // The presence model (BLF, MWI): channel events now, the configuration
  // service once api.confd provides it.
  presence_ = std::make_unique<PresenceServiceImpl>(*bus_, *log_, [this] {
    return std::static_pointer_cast<sdk::ConfigService>(
        registry_.find_erased(sdk::ConfigService::kServiceName, sdk::ConfigService::kServiceVersion, ""));
  });
  (void)registry_.provide_as("kernel", std::string(sdk::PresenceService::kServiceName),
                             sdk::PresenceService::kServiceVersion, "",
                             std::shared_ptr<void>(std::shared_ptr<void>(),
                                                   static_cast<sdk::PresenceService*>(presence_.get())));
  sdk::Route reload_route;
  reload_route.method = "POST";
  reload_route.path = "/0.1/reload";
  reload_route.acl = "dialtone.reload";
  reload_route.summary = "Re-read conf.d and apply what can change without a restart";
  reload_route.handler = [this](const sdk::HttpRequest&) { return handle_reload(); };
  if (auto s = http_->mount_as("kernel", "confd", std::move(reload_route)); !s)
    return sdk::Error::internal("mount /0.1/reload: " + s.error().message);

  lua_ = std::make_unique<LuaHostImpl>(lua_config(), *log_);
  // A broken dialplan fails calls, not the PBX: plugins and the REST API keep running.
  if (auto s = lua_->start(); !s)
    log_->error(s.error().message.rfind("lua: ", 0) == 0 ? s.error().message : "lua: " + s.error().message);
  // The dialplan's call API (call:dial{...}) and `local/<exten>@<context>` legs.
  if (auto s = calls_->export_lua(*lua_); !s) return sdk::Error::internal("calls: " + s.error().message);
  // Call completion (*40): the dialplan's `completion` module.
  completion_ = std::make_unique<CallCompletion>(*calls_, *presence_, *log_,
                                                 [this]() -> std::shared_ptr<const sdk::ConfigSnapshot> {
                                                   auto config = registry_.find<sdk::ConfigService>();
                                                   return config ? config->snapshot() : nullptr;
                                                 });
  if (auto s = completion_->export_lua(*lua_); !s) return sdk::Error::internal("completion: " + s.error().message);
  local_driver_ = std::make_shared<LocalDriver>(*calls_, *lua_, *log_);
  if (auto s = calls_->register_driver("local", local_driver_); !s)
    return sdk::Error::internal("calls: " + s.error().message);

  make_plugin_manager(store_.get(), true);
  plugins_->load_dir(setup_.plugin_dir);
  for (auto& e : plugins_->resolve(setup_.conf, setup_.conf_root)) log_->error(e);
  plugins_->configure();
  plugins_->start();
  presence_->attach_config();

  if (auto s = http_->start(); !s) return sdk::Error::unavailable("http: " + s.error().message);

  auto hint = auth_->ensure_admin(setup_.data_dir / "admin-password", token_url());
  if (hint) admin_hint_ = *hint;
  else log_->error("admin user: " + hint.error().message);
  return {};
}

std::string Kernel::token_url() const {
  for (auto& l : listeners()) {
    if (l.name != "auth") continue;
    // A wildcard bind is reachable on loopback, which is where the admin runs curl.
    std::string host = l.host;
    if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
    else if (host == "::") host = "::1";
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    int port = http_ ? http_->port("auth") : l.port;
    return std::string(l.tls_cert.empty() || l.tls_key.empty() ? "http://" : "https://") + host + ":" +
           std::to_string(port) + "/0.1/token";
  }
  return "http://127.0.0.1:9497/0.1/token";
}

std::vector<std::string> Kernel::listener_lines() const {
  std::vector<std::string> out;
  if (!http_) return out;
  for (auto& l : listeners()) {
    auto host = l.host.find(':') != std::string::npos ? "[" + l.host + "]" : l.host;
    out.push_back("listening: " + l.name + " " +
                  (l.tls_cert.empty() || l.tls_key.empty() ? "http://" : "https://") + host + ":" +
                  std::to_string(http_->port(l.name)));
  }
  return out;
}

ReloadReport Kernel::reload() {
  std::lock_guard lock(reload_mutex_);
  ReloadReport report;
  if (!plugins_ || stopped_) {
    report.errors.push_back("dialtoned is not running");
    return report;
  }
  auto fresh = load_setup(setup_.cli);
  report.errors = fresh.errors;
  if (!report.errors.empty()) {
    for (auto& e : report.errors) log_->error("reload refused, running configuration kept: " + e);
    return report;
  }
  // The dialplan is re-read from its file first: new calls take the new
  // script, calls in progress finish on the old states. A script that does
  // not compile refuses the whole reload, so nothing changes.
  // Without a dialplan running (it failed at start), a script that still
  // fails is only logged, as at start. The Lua host logs what it loaded.
  if (lua_) {
    const bool had_dialplan = lua_->running();
    if (auto s = lua_->reload(); !s && had_dialplan) {
      report.errors.push_back(s.error().message + "; the running dialplan stays");
      log_->error("reload refused, running configuration kept: " + report.errors.back());
      return report;
    }
  }
  report = plugins_->reload(fresh.conf, fresh.conf_root);
  // api.confd may have been stopped or started again: presence follows the
  // configuration service provided now.
  if (presence_) presence_->attach_config();
  if (!report.ok()) return report;
  std::vector<std::string> fixed;
  for (auto& k : changed_options(setup_.options, fresh.options)) {
    if (k == "log.level") {
      if (auto l = Logging::parse_level(fresh.options.get(k))) logging_->set_default_level(*l);
      report.applied.push_back("kernel: log.level");
    } else {
      fixed.push_back(k);
    }
  }
  if (!fixed.empty()) {
    std::string line = "kernel: restart needed for ";
    for (std::size_t i = 0; i < fixed.size(); ++i) line += (i ? ", " : "") + fixed[i];
    report.restart_needed.push_back(line);
    log_->warn(line);
  }
  for (auto& w : fresh.conf.warnings) log_->warn(w);
  // The running configuration is now the new one, except what needs a restart.
  auto merged = setup_.options.all();
  if (fresh.options.has("log.level")) merged["log.level"] = fresh.options.get("log.level");
  setup_.options = sdk::Options(std::move(merged));
  log_->info("reload: " + std::to_string(report.applied.size()) + " applied, " +
             std::to_string(report.restart_needed.size()) + " need a restart");
  return report;
}

sdk::HttpResponse Kernel::handle_reload() {
  auto r = reload();
  if (!r.ok()) return sdk::HttpResponse::error(400, r.errors);
  return sdk::HttpResponse::json(
      200, sdk::json::object({{"applied", sdk::json::Raw{sdk::json::array(r.applied)}},
                              {"restart_needed", sdk::json::Raw{sdk::json::array(r.restart_needed)}}}));
}

void Kernel::stop() {
  {
    std::lock_guard lock(reload_mutex_);
    if (stopped_) return;
    stopped_ = true;
  }
  // Before presence: its requests watch presence resources.
  if (completion_) completion_->stop();
  // Before the plugins: its configuration watch belongs to one of them.
  if (presence_) presence_->stop();
  if (plugins_) plugins_->stop();
  if (http_) http_->stop();
  if (calls_ && local_driver_) calls_->unregister_driver("local");
  if (lua_) lua_->stop();
  registry_.withdraw_all("kernel");
  if (calls_) calls_->stop();
  if (store_) store_->close();
  if (cluster_) cluster_->stop();
  if (pool_) pool_->shutdown();
  if (logging_) logging_->flush();
}

}  // namespace dialtone::kernel
