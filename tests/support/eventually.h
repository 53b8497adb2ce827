// Waiting on a condition in a test: `done` is polled until it holds or a
// generous bound passes. A slow or loaded machine only makes the test slower;
// the bound turns a hang into a failure instead of a stuck run.
//
// @code
//   #include "tests/support/eventually.h"
//   ASSERT_TRUE(dialtone::testing::eventually([&] { return writer.written() == 8; }));
//   EXPECT_TRUE(eventually([&] { return phone.audio_size() >= 16000; }, std::chrono::seconds(30)));
// @endcode
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace dialtone::testing {

// True as soon as `done()` is; false when it still is not after `limit`.
inline bool eventually(const std::function<bool()>& done,
                       std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

}  // namespace dialtone::testing
