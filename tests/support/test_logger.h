// sdk::Logger for tests: keeps every line so tests can assert on messages, and
// echoes warnings and errors to stderr.
#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <dialtone/host.h>

namespace dialtone::testing {

class TestLogger final : public sdk::Logger {
 public:
  void log(sdk::LogLevel level, std::string_view message) override;
  bool enabled(sdk::LogLevel) const override { return true; }

  std::vector<std::string> lines() const;
  // True if any line contains `needle`.
  bool contains(std::string_view needle) const;

 private:
  mutable std::mutex m_;
  std::vector<std::string> lines_;
};

}  // namespace dialtone::testing
