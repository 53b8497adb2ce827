// A fake kernel for unit-testing a plugin without dialtoned: every Host
// facility is in memory and inspectable, and PluginHarness drives the plugin
// through the same DIALTONE_PLUGIN entry points the kernel calls.
//
// @code
//   #include <dialtone/testing/fake_host.h>
//
//   TEST(Hello, AnswersOnItsRoute) {
//     dialtone::testing::FakeHost host("example.hello");
//     dialtone::testing::PluginHarness<Hello> plugin(host, dialtone_plugin_manifest_v1.options);
//     ASSERT_TRUE(plugin.run({{"hello.greeting", "hi"}}));   // create, configure, start
//     auto r = host.http()->call("GET", "/0.1/hello");
//     EXPECT_EQ(r.status, 200);
//     EXPECT_TRUE(host.log().contains("started"));
//     host.bus().publish("config.user.created", "{}");       // delivered inline
//     EXPECT_EQ(host.bus().published().size(), 1u);
//   }                                                        // stop, destroy
// @endcode
//
// Link with `Dialtone::testing` (or `dialtone_sdk_testing` in-tree).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <dialtone/bus.h>
#include <dialtone/host.h>
#include <dialtone/http.h>
#include <dialtone/lua.h>
#include <dialtone/options.h>
#include <dialtone/plugin.h>
#include <dialtone/result.h>
#include <dialtone/service_registry.h>
#include <dialtone/services.h>
#include <dialtone/store.h>

// The manifest of the plugin compiled into the test binary, e.g.
// PluginHarness<P>(host, dialtone_plugin_manifest_v1.options).
extern "C" DIALTONE_EXPORT const dialtone_plugin_manifest dialtone_plugin_manifest_v1;

namespace dialtone::testing {

// The bus's matching rule: `*` one dot-separated segment, `#` zero or more.
bool topic_matches(std::string_view pattern, std::string_view topic);

// Captures every line instead of writing it.
class FakeLogger final : public sdk::Logger {
 public:
  struct Line {
    sdk::LogLevel level;
    std::string message;
  };
  void log(sdk::LogLevel level, std::string_view message) override;
  bool enabled(sdk::LogLevel level) const override;

  // Lines below this level are not captured (default: trace, i.e. all).
  void set_level(sdk::LogLevel level);
  std::vector<Line> lines() const;
  // True if some captured line contains `text`.
  bool contains(std::string_view text) const;
  std::size_t count(sdk::LogLevel level) const;
  void clear();

 private:
  mutable std::mutex mutex_;
  sdk::LogLevel level_ = sdk::LogLevel::trace;
  std::vector<Line> lines_;
};

// dialtoned's own registry (dialtone/service_registry.h): what the plugin
// provides is recorded as provided by the host's plugin id, and duplicates,
// null objects and version mismatches are answered as dialtoned answers them.
// describe() lists "name/instance vN (owner)" in provide order.
class FakeServiceRegistry final : public sdk::ServiceTable {
 public:
  explicit FakeServiceRegistry(std::string owner) : sdk::ServiceTable(std::move(owner)) {}
};

// Records every published event. Synchronous mode (the default) delivers to
// matching subscribers inside publish(); deferred mode queues deliveries
// until deliver_pending(). A handler that throws is recorded in the log as
// an error, like the kernel does.
class FakeBus final : public sdk::EventBus {
 public:
  explicit FakeBus(FakeLogger& log) : log_(log) {}
  using sdk::EventBus::publish;
  void publish(std::shared_ptr<const sdk::Event> event) override;
  std::unique_ptr<sdk::Subscription> subscribe(std::string pattern, sdk::EventHandler handler,
                                               sdk::SubscribeOptions options = {}) override;

  void set_synchronous(bool synchronous);
  // Delivers queued events (deferred mode); returns how many deliveries ran.
  std::size_t deliver_pending();
  // Each with its JSON text in `body` too, whichever way it was published.
  std::vector<sdk::Event> published() const;
  // Published events whose topic matches `pattern`.
  std::vector<sdk::Event> published(std::string_view pattern) const;
  void clear_published();
  // Patterns of the live subscriptions.
  std::vector<std::string> subscriptions() const;

  struct Entry;

 private:
  void deliver(const std::shared_ptr<Entry>& e, const sdk::Event& ev);

  FakeLogger& log_;
  mutable std::mutex mutex_;
  bool synchronous_ = true;
  std::vector<std::shared_ptr<const sdk::Event>> published_;
  std::vector<std::shared_ptr<Entry>> entries_;
  std::vector<std::pair<std::weak_ptr<Entry>, std::shared_ptr<const sdk::Event>>> pending_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

// post() runs tasks inline by default; in deferred mode they wait for
// run_pending(). Timers use a virtual clock moved by advance().
class FakeExecutor final : public sdk::Executor {
 public:
  void post(std::function<void()> task) override;
  std::uint64_t after(std::chrono::milliseconds delay, std::function<void()> task) override;
  bool cancel(std::uint64_t timer_id) override;

  void set_inline(bool run_inline);
  // Runs queued tasks, including those they post, until none is left.
  std::size_t run_pending();
  // Moves the virtual clock; due timers run (in deadline order) then pending tasks.
  std::size_t advance(std::chrono::milliseconds by);
  std::size_t pending_tasks() const;
  std::size_t pending_timers() const;

 private:
  struct Timer {
    std::chrono::milliseconds due;
    std::uint64_t id;
    std::function<void()> task;
  };
  mutable std::mutex mutex_;
  bool inline_ = true;
  std::vector<std::function<void()>> tasks_;
  std::vector<Timer> timers_;
  std::chrono::milliseconds now_{0};
  std::uint64_t next_id_ = 1;
};

// Records mounted routes and calls them as the kernel would after its
// checks: `{param}` segments, query string, lower-cased headers, and a token
// (see set_token()) on token routes.
class FakeHttp final : public sdk::HttpServer {
 public:
  struct Mounted {
    std::string listener;
    sdk::Route route;
  };
  sdk::Status mount(std::string_view listener, sdk::Route route) override;
  void unmount_all(std::string_view owner_plugin_id) override;
  int port(std::string_view listener) const override { return 0; }

  // Listener names mount() accepts; empty (the default) accepts any.
  void set_listeners(std::vector<std::string> names);
  // The token handed to token routes; defaults to one granting `#`.
  void set_token(std::optional<sdk::TokenInfo> token);

  // 404 when no route matches the path, 405 when only the method differs,
  // 401 for a token route when set_token(nullopt).
  sdk::HttpResponse call(std::string_view method, std::string_view target,
                         std::string body = {},
                         std::map<std::string, std::string> headers = {});
  // The route mounted for (method, path pattern), e.g. ("GET", "/1.1/users/{id}").
  const sdk::Route* route(std::string_view method, std::string_view path) const;
  // The ACL a call to `target` would require, `{param}` substituted; empty if none.
  std::string required_acl(std::string_view method, std::string_view target) const;
  std::vector<Mounted> routes() const;

 private:
  const Mounted* match(std::string_view method, std::string_view path,
                       std::map<std::string, std::string>* params, bool* path_matched) const;

  mutable std::mutex mutex_;
  std::vector<std::string> listeners_;
  std::vector<Mounted> routes_;
  std::optional<sdk::TokenInfo> token_;
  bool token_set_ = false;
};

// Records exported modules and calls exported functions. An async reply is
// resumed by running the fake executor's pending tasks.
class FakeLua final : public sdk::LuaHost {
 public:
  explicit FakeLua(FakeExecutor& executor) : executor_(executor) {}
  sdk::Status export_module(std::string module, std::vector<sdk::LuaFunctionSpec> functions) override;
  void call(std::string function, sdk::LuaValues args,
            std::function<void(sdk::Result<sdk::LuaValues>)> done) override;
  sdk::Status reload() override;

  // Calls `module.function(args...)` as the dialplan would.
  sdk::Result<sdk::LuaValues> call_function(std::string_view module, std::string_view function,
                                            sdk::LuaValues args = {});
  std::vector<std::string> modules() const;
  const std::vector<sdk::LuaFunctionSpec>* functions(std::string_view module) const;

  // Answers call() (dialplan entry points); default: no values.
  void on_call(std::function<sdk::Result<sdk::LuaValues>(const std::string&, const sdk::LuaValues&)> f);
  std::vector<std::string> calls() const;
  int reloads() const { return reloads_; }

 private:
  FakeExecutor& executor_;
  mutable std::mutex mutex_;
  std::map<std::string, std::vector<sdk::LuaFunctionSpec>, std::less<>> modules_;
  std::vector<std::string> calls_;
  std::function<sdk::Result<sdk::LuaValues>(const std::string&, const sdk::LuaValues&)> on_call_;
  int reloads_ = 0;
};

class FakeHost final : public sdk::Host {
 public:
  // data_dir() is a fresh temporary directory removed with the host.
  explicit FakeHost(std::string plugin_id = "test.plugin");
  ~FakeHost() override;
  FakeHost(const FakeHost&) = delete;
  FakeHost& operator=(const FakeHost&) = delete;

  std::string_view plugin_id() const override { return plugin_id_; }
  FakeLogger& log() override { return log_; }
  FakeServiceRegistry& services() override { return services_; }
  FakeBus& bus() override { return bus_; }
  FakeExecutor& executor() override { return executor_; }
  sdk::Store* store() override { return store_; }
  FakeHttp* http() override { return &http_; }
  FakeLua* lua() override { return &lua_; }
  std::filesystem::path data_dir() const override { return data_dir_; }

  // The store the plugin sees (not owned); nullptr by default.
  void set_store(sdk::Store* store) { store_ = store; }

 private:
  std::string plugin_id_;
  FakeLogger log_;
  FakeServiceRegistry services_{plugin_id_};
  FakeBus bus_{log_};
  FakeExecutor executor_;
  FakeHttp http_;
  FakeLua lua_{executor_};
  sdk::Store* store_ = nullptr;
  std::filesystem::path data_dir_;
};

// Checks `values` against a plugin's option table with dialtoned's own
// validator (dialtone/option_check.h: every type, address, subnets, path and
// lists included) and returns them merged over the defaults, in the
// canonical form the plugin will get from dialtoned (durations in ms...).
// The error is dialtoned's first message for these values.
sdk::Result<sdk::Options> validate_options(const sdk::OptionSpec* specs,
                                           const std::map<std::string, std::string>& values,
                                           std::string_view plugin_id = "plugin");

// Drives plugin P through Shim<P>, the vtable DIALTONE_PLUGIN exports:
// create -> configure -> start -> (reload) -> stop -> destroy. The
// destructor stops a started plugin and destroys it.
template <class P>
class PluginHarness {
 public:
  // `options`: the plugin's OptionSpec table (dialtone_plugin_manifest_v1.options)
  // to validate and default options; nullptr passes options through as given.
  explicit PluginHarness(FakeHost& host, const sdk::OptionSpec* options = nullptr)
      : host_(host), specs_(options) {}
  ~PluginHarness() {
    if (started_) (void)stop();
    if (self_) vt().destroy(self_);
  }
  PluginHarness(const PluginHarness&) = delete;
  PluginHarness& operator=(const PluginHarness&) = delete;

  sdk::Status create() {
    sdk::Error err;
    self_ = vt().create(&host_, &err);
    if (!self_) return err;
    return {};
  }
  sdk::Status configure(const std::map<std::string, std::string>& values = {}) {
    if (!self_) return sdk::Error::conflict("configure() before create()");
    auto opts = prepare(values);
    if (!opts) return opts.error();
    sdk::Error err;
    if (!vt().configure(self_, &*opts, &err)) return err;
    return {};
  }
  sdk::Status start() {
    if (!self_) return sdk::Error::conflict("start() before create()");
    sdk::Error err;
    if (!vt().start(self_, &err)) return err;
    started_ = true;
    return {};
  }
  sdk::Status stop() {
    if (!self_) return sdk::Error::conflict("stop() before create()");
    started_ = false;
    sdk::Error err;
    if (!vt().stop(self_, &err)) return err;
    return {};
  }
  bool supports_reload() { return self_ && vt().supports_reload(self_); }
  // Like the kernel: refused when the plugin does not support reload.
  sdk::Status reload(const std::map<std::string, std::string>& values) {
    if (!self_) return sdk::Error::conflict("reload() before create()");
    if (!supports_reload()) return sdk::Error::unsupported("plugin does not support reload");
    auto opts = prepare(values);
    if (!opts) return opts.error();
    sdk::Error err;
    if (!vt().reload(self_, &*opts, &err)) return err;
    return {};
  }
  // create + configure + start, stopping at the first failure.
  sdk::Status run(const std::map<std::string, std::string>& values = {}) {
    if (auto s = create(); !s) return s;
    if (auto s = configure(values); !s) return s;
    return start();
  }
  P* plugin() { return static_cast<P*>(static_cast<sdk::Plugin*>(self_)); }
  bool started() const { return started_; }

 private:
  static const dialtone_plugin_vtable& vt() { return sdk::detail::Shim<P>::vtable; }
  sdk::Result<sdk::Options> prepare(const std::map<std::string, std::string>& values) {
    if (!specs_) return sdk::Options(values);
    return validate_options(specs_, values, host_.plugin_id());
  }

  FakeHost& host_;
  const sdk::OptionSpec* specs_;
  void* self_ = nullptr;
  bool started_ = false;
};

}  // namespace dialtone::testing
