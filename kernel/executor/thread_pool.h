// Worker threads for blocking work plus one timer thread, behind
// sdk::Executor.
//
//   ThreadPool pool(4, &log);
//   pool.post([] { slow_lookup(); });
//   auto id = pool.after(std::chrono::seconds(30), [] { ring_timeout(); });
//   if (pool.cancel(id)) { /* the timer had not fired */ }
//
// A task that throws is caught and logged; the worker keeps going.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <unordered_map>
#include <vector>

#include <dialtone/host.h>

namespace dialtone::kernel {

class ThreadPool final : public sdk::Executor {
 public:
  // `log` (may be null) must outlive the pool.
  explicit ThreadPool(std::size_t threads, sdk::Logger* log = nullptr);
  ~ThreadPool() override;
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void post(std::function<void()> task) override;
  std::uint64_t after(std::chrono::milliseconds delay, std::function<void()> task) override;
  bool cancel(std::uint64_t timer_id) override;

  // Discards pending timers, runs the tasks already queued, joins every
  // thread. Later post()/after() calls are ignored. Idempotent; must not be
  // called from one of the pool's own tasks.
  void shutdown();

  std::size_t size() const { return workers_.size(); }

 private:
  using Clock = std::chrono::steady_clock;
  struct Timer {
    Clock::time_point due;
    std::uint64_t id;
    bool operator>(const Timer& o) const { return due > o.due || (due == o.due && id > o.id); }
  };

  void work();
  void time();
  void run(std::function<void()>& task);

  sdk::Logger* log_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;

  std::mutex timer_mutex_;
  std::condition_variable timer_cv_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> heap_;
  std::unordered_map<std::uint64_t, std::function<void()>> timers_;
  std::uint64_t next_timer_id_ = 1;
  bool timer_stopping_ = false;

  std::mutex shutdown_mutex_;
  std::vector<std::thread> workers_;
  std::thread timer_thread_;
};

}  // namespace dialtone::kernel
