// What every benchmark needs besides the code it measures: a logger, a bus
// that drops what it is given, a percentile and a stopwatch. Header-only.
//
// @code
//   #include "bench/support/bench_util.h"
//   dialtone::bench::StderrLog log;                    // or WarnLog, NullLog for quiet runs
//   dialtone::bench::NullBus bus;                      // a production bus with no subscriber
//   auto t0 = std::chrono::steady_clock::now();
//   ...
//   std::printf("%.1f ms, p99 %.2f ms\n", dialtone::bench::ms_since(t0),
//               dialtone::bench::percentile(samples, 0.99));
// @endcode
#pragma once

#include <algorithm>
#include <chrono>
#include <iostream>
#include <string_view>
#include <vector>

#include <dialtone/bus.h>
#include <dialtone/host.h>

namespace dialtone::bench {

// Every line to stderr.
class StderrLog final : public sdk::Logger {
 public:
  void log(sdk::LogLevel, std::string_view m) override { std::cerr << m << "\n"; }
  bool enabled(sdk::LogLevel) const override { return true; }
};

// Warnings and errors only, as dialtoned logs at level warn.
class WarnLog final : public sdk::Logger {
 public:
  void log(sdk::LogLevel l, std::string_view m) override {
    if (enabled(l)) std::cerr << m << "\n";
  }
  bool enabled(sdk::LogLevel l) const override { return l >= sdk::LogLevel::warn; }
};

// Nothing logged: what a benchmark of the hot path wants.
class NullLog final : public sdk::Logger {
 public:
  void log(sdk::LogLevel, std::string_view) override {}
  bool enabled(sdk::LogLevel) const override { return false; }
};

// Drops every event: the bus of a server nobody subscribes to, whose cost
// (and memory, under load) a benchmark should not count.
class NullBus final : public sdk::EventBus {
 public:
  using sdk::EventBus::publish;
  void publish(std::shared_ptr<const sdk::Event>) override {}
  std::unique_ptr<sdk::Subscription> subscribe(std::string, sdk::EventHandler, sdk::SubscribeOptions) override {
    return nullptr;
  }
};

// The `p` quantile (0..1) of `v`, nearest rank.
inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * v.size()))];
}

inline double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace dialtone::bench
