#include "tests/support/test_logger.h"

#include <cstdio>

namespace dialtone::testing {

void TestLogger::log(sdk::LogLevel level, std::string_view message) {
  if (level >= sdk::LogLevel::warn) std::fprintf(stderr, "[log] %.*s\n", int(message.size()), message.data());
  std::lock_guard lk(m_);
  lines_.emplace_back(message);
}

std::vector<std::string> TestLogger::lines() const {
  std::lock_guard lk(m_);
  return lines_;
}

bool TestLogger::contains(std::string_view needle) const {
  std::lock_guard lk(m_);
  for (auto& l : lines_)
    if (l.find(needle) != std::string::npos) return true;
  return false;
}

}  // namespace dialtone::testing
