// One thread that runs delayed tasks in deadline order: every dialtone.sleep
// of every state shares it (no thread per sleep).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

namespace dialtone::kernel {

class TimerThread {
 public:
  TimerThread();
  ~TimerThread();
  TimerThread(const TimerThread&) = delete;
  TimerThread& operator=(const TimerThread&) = delete;

  // Runs `task` on the timer thread after `delay`. Tasks must be short: they
  // delay every later timer.
  void after(std::chrono::milliseconds delay, std::function<void()> task);
  // Drops pending tasks and joins the thread.
  void stop();

 private:
  struct Item {
    std::chrono::steady_clock::time_point at;
    std::uint64_t seq;
    std::function<void()> task;
  };
  struct Later {
    bool operator()(const Item& a, const Item& b) const {
      return a.at != b.at ? a.at > b.at : a.seq > b.seq;
    }
  };
  void run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::priority_queue<Item, std::vector<Item>, Later> queue_;
  std::uint64_t seq_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace dialtone::kernel
