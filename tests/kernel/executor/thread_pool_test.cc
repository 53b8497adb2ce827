#include "kernel/executor/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace dialtone::kernel {
namespace {

using namespace std::chrono_literals;

struct RecordingLogger : sdk::Logger {
  std::mutex m;
  std::vector<std::string> lines;
  void log(sdk::LogLevel, std::string_view msg) override {
    std::lock_guard l(m);
    lines.emplace_back(msg);
  }
  bool enabled(sdk::LogLevel) const override { return true; }
};

TEST(ThreadPool, RunsEveryPostedTaskOnWorkerThreads) {
  ThreadPool pool(2);
  std::atomic<int> count{0};
  std::promise<void> done;
  for (int i = 0; i < 1000; ++i) {
    pool.post([&] {
      if (++count == 1000) done.set_value();
    });
  }
  ASSERT_EQ(done.get_future().wait_for(30s), std::future_status::ready);
  EXPECT_EQ(count.load(), 1000);
}

TEST(ThreadPool, AfterRunsTimersInDeadlineOrder) {
  ThreadPool pool(1);
  std::mutex m;
  std::vector<int> order;
  std::promise<void> done;
  pool.after(300ms, [&] {
    std::lock_guard l(m);
    order.push_back(3);
    done.set_value();
  });
  pool.after(100ms, [&] {
    std::lock_guard l(m);
    order.push_back(1);
  });
  pool.after(200ms, [&] {
    std::lock_guard l(m);
    order.push_back(2);
  });
  ASSERT_EQ(done.get_future().wait_for(30s), std::future_status::ready);
  std::lock_guard l(m);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(ThreadPool, CancelledTimerNeverFires) {
  ThreadPool pool(1);
  std::atomic<bool> cancelled_fired{false};
  std::promise<void> later;
  auto id = pool.after(200ms, [&] { cancelled_fired = true; });
  EXPECT_TRUE(pool.cancel(id));
  EXPECT_FALSE(pool.cancel(id));
  pool.after(400ms, [&] { later.set_value(); });
  ASSERT_EQ(later.get_future().wait_for(30s), std::future_status::ready);
  EXPECT_FALSE(cancelled_fired.load());
}

TEST(ThreadPool, CancelAfterFiringReturnsFalse) {
  ThreadPool pool(1);
  std::promise<void> fired;
  auto id = pool.after(1ms, [&] { fired.set_value(); });
  ASSERT_EQ(fired.get_future().wait_for(30s), std::future_status::ready);
  EXPECT_FALSE(pool.cancel(id));
}

TEST(ThreadPool, ThrowingTaskIsLoggedAndPoolKeepsWorking) {
  RecordingLogger log;
  ThreadPool pool(1, &log);
  pool.post([] { throw std::runtime_error("boom"); });
  std::promise<void> next;
  pool.post([&] { next.set_value(); });
  ASSERT_EQ(next.get_future().wait_for(30s), std::future_status::ready);
  std::lock_guard l(log.m);
  ASSERT_EQ(log.lines.size(), 1u);
  EXPECT_NE(log.lines[0].find("boom"), std::string::npos);
}

TEST(ThreadPool, ShutdownRunsQueuedTasksAndDropsPendingTimers) {
  std::atomic<int> ran{0};
  std::atomic<bool> timer_fired{false};
  ThreadPool pool(1);
  for (int i = 0; i < 100; ++i) pool.post([&] { ++ran; });
  pool.after(1h, [&] { timer_fired = true; });
  pool.shutdown();
  EXPECT_EQ(ran.load(), 100);
  EXPECT_FALSE(timer_fired.load());
  pool.post([&] { ++ran; });  // ignored after shutdown
  pool.shutdown();
  EXPECT_EQ(ran.load(), 100);
}

}  // namespace
}  // namespace dialtone::kernel
