#include "kernel/lua/timer_thread.h"

#include <utility>

namespace dialtone::kernel {

TimerThread::TimerThread() : thread_([this] { run(); }) {}

TimerThread::~TimerThread() { stop(); }

void TimerThread::after(std::chrono::milliseconds delay, std::function<void()> task) {
  {
    std::lock_guard lk(mu_);
    if (stopping_) return;
    queue_.push(Item{std::chrono::steady_clock::now() + delay, seq_++, std::move(task)});
  }
  cv_.notify_one();
}

void TimerThread::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
    queue_ = {};
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void TimerThread::run() {
  std::unique_lock lk(mu_);
  while (!stopping_) {
    if (queue_.empty()) {
      cv_.wait(lk);
      continue;
    }
    const auto at = queue_.top().at;
    if (std::chrono::steady_clock::now() < at) {
      cv_.wait_until(lk, at);
      continue;
    }
    // priority_queue::top is const; the item is popped right after.
    auto task = std::move(const_cast<Item&>(queue_.top()).task);
    queue_.pop();
    lk.unlock();
    try {
      task();
    } catch (...) {
      // A timer task belongs to a host function; its failure must not stop other timers.
    }
    lk.lock();
  }
}

}  // namespace dialtone::kernel
