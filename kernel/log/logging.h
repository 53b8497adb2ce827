// The kernel's logging: one spdlog sink (stderr or a file) shared by every
// logger, each logger tagged with its owner's id (plugin id or kernel
// component) and filtered by a level that can be set per id.
//
// Logging never blocks the caller on I/O: a line is formatted into a bounded
// queue and written by one background thread. When the queue is full the
// oldest queued line is dropped (and counted), never the caller delayed, so
// the SIP, media and dialplan threads can log at any rate. flush() waits for
// the queue to be written; a critical line, the destructor and a fatal signal
// (after install_fatal_handlers()) flush too.
//
//   Logging logging({.level = "info", .file = "/var/log/dialtone/dialtoned.log"});
//   auto log = logging.logger("directory.ldap");
//   log->info("connected");   // 2024-05-01T12:00:00.123 info [directory.ldap] connected
//   logging.set_level("directory.ldap", sdk::LogLevel::debug);
//
// Nothing here touches spdlog's global registry: plugins only ever see the
// sdk::Logger interface. All members are thread-safe.
#pragma once

#include <cstddef>
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
  // Lines waiting for the writer thread; past it the oldest is dropped.
  std::size_t queue_size = 8192;
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
  // Waits until every line logged before the call is written to the sink,
  // then flushes the sink's file.
  void flush();
  // Lines dropped so far because the queue was full.
  std::size_t dropped() const;

  // Makes SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT and std::terminate write
  // the queued lines of the most recently constructed Logging (bounded wait)
  // before the process dies. For dialtoned's main(), once.
  static void install_fatal_handlers();

  struct Writer;  // the queue and its thread (logging.cc)

  // "trace", "debug", "info", "warn"/"warning", "error"/"err", "critical", "off".
  static std::optional<sdk::LogLevel> parse_level(std::string_view name);
  static std::string_view level_name(sdk::LogLevel level);

 private:
  void apply_locked(const std::string& id);

  std::shared_ptr<spdlog::sinks::sink> sink_;
  // Shared with every logger made here, so a logger that outlives this object
  // still has its writer thread.
  std::shared_ptr<Writer> writer_;
  mutable std::mutex mutex_;
  sdk::LogLevel default_level_ = sdk::LogLevel::info;
  std::map<std::string, sdk::LogLevel, std::less<>> overrides_;
  std::map<std::string, std::vector<std::weak_ptr<spdlog::logger>>, std::less<>> loggers_;
};

// Replaces characters that would split one event over several lines
// (\n, \r) with their escaped forms.
std::string escape_log_message(std::string_view message);

}  // namespace dialtone::kernel
