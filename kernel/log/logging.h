// The kernel's logging: one spdlog sink (stderr or a file) shared by every
// logger, each logger tagged with its owner's id (plugin id or kernel
// component) and filtered by a level that can be set per id.
//
//   Logging logging({.level = "info", .file = "/var/log/dialtone/dialtoned.log"});
//   auto log = logging.logger("directory.ldap");
//   log->info("connected");   // 2024-05-01T12:00:00.123 info [directory.ldap] connected
//   logging.set_level("directory.ldap", sdk::LogLevel::debug);
//
// Nothing here touches spdlog's global registry: plugins only ever see the
// sdk::Logger interface. All members are thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <dialtone/host.h>

namespace spdlog {
class logger;
namespace sinks {
class sink;
}
}  // namespace spdlog

namespace dialtone::kernel {

struct LoggingConfig {
  std::string level = "info";
  std::string file;  // empty = stderr
};

class Logging {
 public:
  // An unknown level or a file that cannot be opened is reported on the
  // resulting sink (stderr as the fallback) and replaced by a working default.
  explicit Logging(LoggingConfig config);
  ~Logging();
  Logging(const Logging&) = delete;
  Logging& operator=(const Logging&) = delete;

  // A logger tagged `[id]`. It may outlive this object (it keeps the sink).
  std::unique_ptr<sdk::Logger> logger(std::string id);
  // Overrides the level of every logger with this id, present and future.
  void set_level(std::string_view id, sdk::LogLevel level);
  // The level of loggers whose id has no override.
  void set_default_level(sdk::LogLevel level);
  sdk::LogLevel default_level() const;
  // Writes buffered lines to the sink's file now.
  void flush();

  // "trace", "debug", "info", "warn"/"warning", "error"/"err", "critical", "off".
  static std::optional<sdk::LogLevel> parse_level(std::string_view name);
  static std::string_view level_name(sdk::LogLevel level);

 private:
  void apply_locked(const std::string& id);

  std::shared_ptr<spdlog::sinks::sink> sink_;
  mutable std::mutex mutex_;
  sdk::LogLevel default_level_ = sdk::LogLevel::info;
  std::map<std::string, sdk::LogLevel, std::less<>> overrides_;
  std::map<std::string, std::vector<std::weak_ptr<spdlog::logger>>, std::less<>> loggers_;
};

// Replaces characters that would split one event over several lines
// (\n, \r) with their escaped forms.
std::string escape_log_message(std::string_view message);

}  // namespace dialtone::kernel
