// What every benchmark needs besides the code it measures: a logger, a
// percentile and a stopwatch. Header-only.
//
// @code
//   #include "bench/support/bench_util.h"
//   dialtone::bench::StderrLog log;                    // or NullLog for quiet runs
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

#include <dialtone/host.h>

namespace dialtone::bench {

// Every line to stderr.
class StderrLog final : public sdk::Logger {
 public:
  void log(sdk::LogLevel, std::string_view m) override { std::cerr << m << "\n"; }
  bool enabled(sdk::LogLevel) const override { return true; }
};

// Nothing logged: what a benchmark of the hot path wants.
class NullLog final : public sdk::Logger {
 public:
  void log(sdk::LogLevel, std::string_view) override {}
  bool enabled(sdk::LogLevel) const override { return false; }
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
