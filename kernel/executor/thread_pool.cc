#include "kernel/executor/thread_pool.h"

#include <exception>
#include <string>

namespace dialtone::kernel {

ThreadPool::ThreadPool(std::size_t threads, sdk::Logger* log) : log_(log) {
  if (threads == 0) threads = 1;
  workers_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
  timer_thread_ = std::thread([this] { time(); });
}

ThreadPool::~ThreadPool() { shutdown(); }

void ThreadPool::post(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    tasks_.push_back(std::move(task));
  }
  cv_.notify_one();
}

std::uint64_t ThreadPool::after(std::chrono::milliseconds delay, std::function<void()> task) {
  std::uint64_t id;
  bool earliest;
  {
    std::lock_guard lock(timer_mutex_);
    if (timer_stopping_) return 0;
    id = next_timer_id_++;
    Timer t{Clock::now() + delay, id};
    earliest = heap_.empty() || t.due < heap_.top().due;
    heap_.push(t);
    timers_.emplace(id, std::move(task));
  }
  if (earliest) timer_cv_.notify_one();
  return id;
}

bool ThreadPool::cancel(std::uint64_t timer_id) {
  std::lock_guard lock(timer_mutex_);
  // The heap entry stays and is skipped when it comes due.
  return timers_.erase(timer_id) != 0;
}

void ThreadPool::time() {
  std::unique_lock lock(timer_mutex_);
  while (!timer_stopping_) {
    if (heap_.empty()) {
      timer_cv_.wait(lock);
      continue;
    }
    auto top = heap_.top();
    if (Clock::now() < top.due) {
      timer_cv_.wait_until(lock, top.due);
      continue;
    }
    heap_.pop();
    auto it = timers_.find(top.id);
    if (it == timers_.end()) continue;  // cancelled
    auto task = std::move(it->second);
    timers_.erase(it);
    lock.unlock();
    post(std::move(task));
    lock.lock();
  }
}

void ThreadPool::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
    if (tasks_.empty()) return;  // stopping and drained
    auto task = std::move(tasks_.front());
    tasks_.pop_front();
    lock.unlock();
    run(task);
    task = nullptr;  // release captures outside the lock
    lock.lock();
  }
}

void ThreadPool::run(std::function<void()>& task) {
  try {
    if (task) task();
  } catch (const std::exception& e) {
    if (log_) log_->error(std::string("executor task threw: ") + e.what());
  } catch (...) {
    if (log_) log_->error("executor task threw a non-standard exception");
  }
}

void ThreadPool::shutdown() {
  std::lock_guard guard(shutdown_mutex_);
  {
    std::lock_guard lock(timer_mutex_);
    timer_stopping_ = true;
    timers_.clear();
  }
  timer_cv_.notify_all();
  if (timer_thread_.joinable()) timer_thread_.join();
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& w : workers_)
    if (w.joinable()) w.join();
}

}  // namespace dialtone::kernel
