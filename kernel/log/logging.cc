#include "kernel/log/logging.h"

#include <dialtone/text.h>

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <spdlog/async_logger.h>
#include <spdlog/details/thread_pool.h>
#include <spdlog/logger.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>

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

// Records the highest barrier number the writer thread has reached: every
// line queued before that barrier has been handed to the sink.
class BarrierSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  // Waits until barrier `n` is reached or `deadline` passes.
  bool wait(std::uint64_t n, std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(seen_mutex_);
    return seen_cv_.wait_until(lock, deadline, [&] { return seen_ >= n; });
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::uint64_t n = 0;
    std::from_chars(msg.payload.data(), msg.payload.data() + msg.payload.size(), n);
    {
      std::lock_guard lock(seen_mutex_);
      seen_ = std::max(seen_, n);
    }
    seen_cv_.notify_all();
  }
  void flush_() override {}

 private:
  std::mutex seen_mutex_;
  std::condition_variable seen_cv_;
  std::uint64_t seen_ = 0;
};

constexpr auto kOverflow = spdlog::async_overflow_policy::overrun_oldest;

}  // namespace

// The queue, its writer thread and the barrier used to wait for it.
struct Logging::Writer {
  Writer(std::shared_ptr<spdlog::sinks::sink> s, std::size_t queue_size) : sink(std::move(s)) {
    pool = std::make_shared<spdlog::details::thread_pool>(
        std::max<std::size_t>(queue_size, 16), 1,
        [] { pthread_setname_np(pthread_self(), "log"); });
    barrier_sink = std::make_shared<BarrierSink>();
    barrier = std::make_shared<spdlog::async_logger>("", barrier_sink, pool, kOverflow);
    barrier->set_level(spdlog::level::info);
  }
  ~Writer() {
    drain(std::chrono::seconds(5));
    barrier.reset();
    pool.reset();  // joins the writer thread after the lines still queued
  }

  // Every line queued before the call is written, then the sink flushed.
  // A barrier dropped by a full queue is posted again; gives up at `limit`.
  bool drain(std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    const std::uint64_t n = ++posted;
    bool reached = false;
    while (!reached && std::chrono::steady_clock::now() < deadline) {
      const std::string token = std::to_string(n);
      barrier->info(spdlog::string_view_t(token.data(), token.size()));
      reached = barrier_sink->wait(
          n, std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(200)));
    }
    try {
      sink->flush();
    } catch (...) {
    }
    return reached;
  }

  std::shared_ptr<spdlog::sinks::sink> sink;
  std::shared_ptr<spdlog::details::thread_pool> pool;
  std::shared_ptr<BarrierSink> barrier_sink;
  std::shared_ptr<spdlog::async_logger> barrier;
  std::atomic<std::uint64_t> posted{0};
};

namespace {

class SpdLogger final : public sdk::Logger {
 public:
  SpdLogger(std::shared_ptr<spdlog::logger> l, std::shared_ptr<Logging::Writer> w)
      : logger_(std::move(l)), writer_(std::move(w)) {}

  void log(sdk::LogLevel level, std::string_view message) override {
    auto lvl = to_spdlog(level);
    if (!logger_->should_log(lvl)) return;
    if (message.find_first_of("\r\n") == std::string_view::npos) {
      logger_->log(lvl, spdlog::string_view_t(message.data(), message.size()));
    } else {
      std::string escaped = escape_log_message(message);
      logger_->log(lvl, spdlog::string_view_t(escaped.data(), escaped.size()));
    }
    // A critical line usually precedes the end of the process: it must be
    // on disk before the caller goes on.
    if (level == sdk::LogLevel::critical) writer_->drain(std::chrono::seconds(2));
  }
  bool enabled(sdk::LogLevel level) const override {
    return level != sdk::LogLevel::off && logger_->should_log(to_spdlog(level));
  }

 private:
  std::shared_ptr<spdlog::logger> logger_;
  std::shared_ptr<Logging::Writer> writer_;
};

std::atomic<Logging*> g_fatal_target{nullptr};

void on_fatal_signal(int sig) {
  // Not async-signal-safe, but the process is dying: writing what is queued
  // is worth the risk. Should the flush deadlock (a crash inside malloc),
  // SIGALRM's default action ends the process anyway.
  ::alarm(3);
  if (Logging* l = g_fatal_target.load()) l->flush();
  ::raise(sig);  // SA_RESETHAND restored the default action
}

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
  auto s = sdk::text::to_lower(n);
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
  writer_ = std::make_shared<Writer>(sink_, config.queue_size);
  g_fatal_target.store(this);
  if (!problem.empty()) logger("kernel.log")->error(problem);
}

Logging::~Logging() {
  Logging* self = this;
  g_fatal_target.compare_exchange_strong(self, nullptr);
  flush();
  if (auto n = dropped()) {
    logger("kernel.log")->warn(std::to_string(n) +
                               " log lines were dropped because the log queue was full; "
                               "lower the log level or raise the queue size");
    flush();
  }
}

std::unique_ptr<sdk::Logger> Logging::logger(std::string id) {
  auto l = std::make_shared<spdlog::async_logger>(id, sink_, writer_->pool, kOverflow);
  // The writer thread flushes after each line: a crash must not eat the
  // lines it already took from the queue.
  l->flush_on(spdlog::level::trace);
  std::lock_guard lock(mutex_);
  auto it = overrides_.find(id);
  l->set_level(to_spdlog(it == overrides_.end() ? default_level_ : it->second));
  auto& list = loggers_[id];
  std::erase_if(list, [](const auto& w) { return w.expired(); });
  list.push_back(l);
  return std::make_unique<SpdLogger>(std::move(l), writer_);
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

void Logging::flush() { writer_->drain(std::chrono::seconds(5)); }

std::size_t Logging::dropped() const { return writer_->pool->overrun_counter(); }

void Logging::install_fatal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_fatal_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND | SA_NODEFER;
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) ::sigaction(sig, &sa, nullptr);
  static std::terminate_handler previous = std::set_terminate([] {
    if (Logging* l = g_fatal_target.load()) l->flush();
    if (previous) previous();
    std::abort();
  });
}

}  // namespace dialtone::kernel
