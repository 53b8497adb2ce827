#include "kernel/log/logging.h"

#include <spdlog/logger.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <algorithm>

namespace dialtone::kernel {
namespace {

constexpr const char* kPattern = "%Y-%m-%dT%H:%M:%S.%e %l [%n] %v";

spdlog::level::level_enum to_spdlog(sdk::LogLevel l) {
  switch (l) {
    case sdk::LogLevel::trace: return spdlog::level::trace;
    case sdk::LogLevel::debug: return spdlog::level::debug;
    case sdk::LogLevel::info: return spdlog::level::info;
    case sdk::LogLevel::warn: return spdlog::level::warn;
    case sdk::LogLevel::error: return spdlog::level::err;
    case sdk::LogLevel::critical: return spdlog::level::critical;
    case sdk::LogLevel::off: return spdlog::level::off;
  }
  return spdlog::level::info;
}

class SpdLogger final : public sdk::Logger {
 public:
  explicit SpdLogger(std::shared_ptr<spdlog::logger> l) : logger_(std::move(l)) {}

  void log(sdk::LogLevel level, std::string_view message) override {
    auto lvl = to_spdlog(level);
    if (!logger_->should_log(lvl)) return;
    if (message.find_first_of("\r\n") == std::string_view::npos) {
      logger_->log(lvl, spdlog::string_view_t(message.data(), message.size()));
    } else {
      std::string escaped = escape_log_message(message);
      logger_->log(lvl, spdlog::string_view_t(escaped.data(), escaped.size()));
    }
  }
  bool enabled(sdk::LogLevel level) const override {
    return level != sdk::LogLevel::off && logger_->should_log(to_spdlog(level));
  }

 private:
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace

std::string escape_log_message(std::string_view message) {
  std::string out;
  out.reserve(message.size() + 8);
  for (char c : message) {
    if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else out += c;
  }
  return out;
}

std::optional<sdk::LogLevel> Logging::parse_level(std::string_view n) {
  std::string s(n);
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  if (s == "trace") return sdk::LogLevel::trace;
  if (s == "debug") return sdk::LogLevel::debug;
  if (s == "info") return sdk::LogLevel::info;
  if (s == "warn" || s == "warning") return sdk::LogLevel::warn;
  if (s == "error" || s == "err") return sdk::LogLevel::error;
  if (s == "critical") return sdk::LogLevel::critical;
  if (s == "off") return sdk::LogLevel::off;
  return std::nullopt;
}

std::string_view Logging::level_name(sdk::LogLevel l) {
  switch (l) {
    case sdk::LogLevel::trace: return "trace";
    case sdk::LogLevel::debug: return "debug";
    case sdk::LogLevel::info: return "info";
    case sdk::LogLevel::warn: return "warn";
    case sdk::LogLevel::error: return "error";
    case sdk::LogLevel::critical: return "critical";
    case sdk::LogLevel::off: return "off";
  }
  return "info";
}

Logging::Logging(LoggingConfig config) {
  std::string problem;
  if (!config.file.empty()) {
    try {
      sink_ = std::make_shared<spdlog::sinks::basic_file_sink_mt>(config.file, false);
    } catch (const std::exception& e) {
      problem = "cannot open log file '" + config.file + "' (" + e.what() +
                "); logging to stderr instead: fix the path or its permissions";
    }
  }
  if (!sink_) sink_ = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  sink_->set_formatter(std::make_unique<spdlog::pattern_formatter>(kPattern));
  if (auto l = parse_level(config.level)) {
    default_level_ = *l;
  } else if (problem.empty()) {
    problem = "unknown log level '" + config.level +
              "'; using info: use one of trace, debug, info, warn, error, critical, off";
  }
  if (!problem.empty()) logger("kernel.log")->error(problem);
}

Logging::~Logging() { flush(); }

std::unique_ptr<sdk::Logger> Logging::logger(std::string id) {
  auto l = std::make_shared<spdlog::logger>(id, sink_);
  // Every line goes out at once: a crash must not eat the lines before it.
  l->flush_on(spdlog::level::trace);
  std::lock_guard lock(mutex_);
  auto it = overrides_.find(id);
  l->set_level(to_spdlog(it == overrides_.end() ? default_level_ : it->second));
  auto& list = loggers_[id];
  std::erase_if(list, [](const auto& w) { return w.expired(); });
  list.push_back(l);
  return std::make_unique<SpdLogger>(std::move(l));
}

void Logging::apply_locked(const std::string& id) {
  auto it = loggers_.find(id);
  if (it == loggers_.end()) return;
  auto o = overrides_.find(id);
  auto lvl = to_spdlog(o == overrides_.end() ? default_level_ : o->second);
  for (auto& w : it->second)
    if (auto l = w.lock()) l->set_level(lvl);
}

void Logging::set_level(std::string_view id, sdk::LogLevel level) {
  std::lock_guard lock(mutex_);
  overrides_[std::string(id)] = level;
  apply_locked(std::string(id));
}

void Logging::set_default_level(sdk::LogLevel level) {
  std::lock_guard lock(mutex_);
  default_level_ = level;
  for (auto& [id, _] : loggers_)
    if (!overrides_.count(id)) apply_locked(id);
}

sdk::LogLevel Logging::default_level() const {
  std::lock_guard lock(mutex_);
  return default_level_;
}

void Logging::flush() { sink_->flush(); }

}  // namespace dialtone::kernel
