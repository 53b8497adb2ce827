// The kernel as one plugin sees it. The host is passed to the plugin's
// constructor; there are no globals to fetch. Everything it returns lives at
// least as long as the plugin.
//
// @code
//   dialtone::sdk::Status MyPlugin::start() {
//     host_.log().info("starting");
//     auto* store = host_.store();          // nullptr if the kernel runs without a database
//     host_.executor().post([store] { ...blocking work off the SIP/dialplan threads... });
//     sub_ = host_.bus().subscribe("config.user.*", [](const dialtone::sdk::Event& e) { ... });
//     return {};
//   }
// @endcode
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace dialtone::sdk {

class ServiceRegistry;
class EventBus;
class Store;
class HttpServer;
class LuaHost;

enum class LogLevel { trace, debug, info, warn, error, critical, off };

// Writes through the kernel's logger, tagged with the plugin id. One call is
// one line; never pass secrets.
class Logger {
 public:
  virtual ~Logger() = default;
  virtual void log(LogLevel level, std::string_view message) = 0;
  virtual bool enabled(LogLevel level) const = 0;

  void trace(std::string_view m) { log(LogLevel::trace, m); }
  void debug(std::string_view m) { log(LogLevel::debug, m); }
  void info(std::string_view m) { log(LogLevel::info, m); }
  void warn(std::string_view m) { log(LogLevel::warn, m); }
  void error(std::string_view m) { log(LogLevel::error, m); }
};

// Worker threads for blocking I/O and timers. Callbacks run on a pool
// thread, never on the SIP or dialplan thread.
class Executor {
 public:
  virtual ~Executor() = default;
  virtual void post(std::function<void()> task) = 0;
  // Runs `task` once after `delay`. Returns an id for cancel().
  virtual std::uint64_t after(std::chrono::milliseconds delay, std::function<void()> task) = 0;
  // True if the timer had not fired yet.
  virtual bool cancel(std::uint64_t timer_id) = 0;
};

class Host {
 public:
  virtual ~Host() = default;

  virtual std::string_view plugin_id() const = 0;
  virtual Logger& log() = 0;
  virtual ServiceRegistry& services() = 0;
  virtual EventBus& bus() = 0;
  virtual Executor& executor() = 0;
  // nullptr when the kernel has no database (only in tests with the fake host
  // or when the admin disables the store).
  virtual Store* store() = 0;
  virtual HttpServer* http() = 0;
  virtual LuaHost* lua() = 0;
  // A directory that belongs to this plugin under the kernel's data dir.
  virtual std::filesystem::path data_dir() const = 0;
};

}  // namespace dialtone::sdk
