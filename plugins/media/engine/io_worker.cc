#include "io_worker.h"

#include <pthread.h>
#include <sndfile.h>

#include <algorithm>

namespace dialtone::plugins::media {

Recording::Recording(std::filesystem::path path, SNDFILE* file, int rate, int max_seconds,
                     std::function<void(sdk::media::MediaEvent)> done, int silence_seconds)
    : path_(std::move(path)),
      file_(file),
      rate_(rate),
      max_samples_(max_seconds > 0 ? static_cast<std::uint64_t>(max_seconds) * rate : 0),
      silence_limit_(silence_seconds > 0 ? static_cast<std::uint64_t>(silence_seconds) * rate : 0),
      ring_(new std::int16_t[kCap]),
      done_(std::move(done)) {}

Recording::~Recording() {
  if (file_) sf_close(file_);
}

bool Recording::append(const std::int16_t* s, int n) {
  if (over()) return false;
  if (max_samples_ && produced_ + n >= max_samples_) {
    n = static_cast<int>(max_samples_ - produced_);
    finished_.store(true, std::memory_order_release);
  }
  produced_ += n;
  if (silence_limit_ && n > 0) {
    // Mean square of the frame against about -40 dBFS (RMS 328).
    double sum = 0;
    for (int i = 0; i < n; ++i) sum += static_cast<double>(s[i]) * s[i];
    bool quiet = sum / n < 328.0 * 328.0;
    if (!quiet) heard_ = true;
    quiet_ = quiet ? quiet_ + n : 0;
    if (heard_ && quiet_ >= silence_limit_) finished_.store(true, std::memory_order_release);
  }
  std::size_t head = head_.load(std::memory_order_relaxed);
  std::size_t tail = tail_.load(std::memory_order_acquire);
  if (head - tail + n > kCap) {
    dropped_.fetch_add(n, std::memory_order_relaxed);  // the I/O thread is behind
    return !over();
  }
  for (int i = 0; i < n; ++i) ring_[(head + i) & (kCap - 1)] = s[i];
  head_.store(head + n, std::memory_order_release);
  return !over();
}

bool Recording::drain(sdk::Logger& log) {
  bool done = finished_.load(std::memory_order_acquire);  // read before draining: nothing comes after
  std::size_t tail = tail_.load(std::memory_order_relaxed);
  std::size_t head = head_.load(std::memory_order_acquire);
  while (tail != head && !failed_.load()) {
    std::size_t start = tail & (kCap - 1);
    std::size_t n = std::min(head - tail, kCap - start);
    if (sf_write_short(file_, &ring_[start], static_cast<sf_count_t>(n)) != static_cast<sf_count_t>(n)) {
      std::string why = sf_strerror(file_);
      log.error("media: recording " + path_.string() + " stopped: cannot write (" + why +
                "); the call goes on without recording - free disk space or fix the directory");
      failed_.store(true);
      sdk::media::MediaEvent e;
      e.type = sdk::media::EventType::record_done;
      e.ok = false;
      e.detail = path_.string() + ": " + why;
      if (done_) done_(std::move(e));
      sf_close(file_);
      file_ = nullptr;
      return true;
    }
    tail += n;
  }
  tail_.store(tail, std::memory_order_release);
  if (!done) return false;
  sf_write_sync(file_);
  sf_close(file_);
  file_ = nullptr;
  sdk::media::MediaEvent e;
  e.type = sdk::media::EventType::record_done;
  e.detail = path_.string();
  if (auto d = dropped_.load(); d) e.detail += " (" + std::to_string(d) + " samples dropped)";
  if (done_) done_(std::move(e));
  return true;
}

void IoWorker::start() {
  stop_ = false;
  thread_ = std::thread([this] { run(); });
}

void IoWorker::stop() {
  {
    std::lock_guard lk(m_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void IoWorker::post(std::function<void()> task) {
  {
    std::lock_guard lk(m_);
    tasks_.push_back(std::move(task));
  }
  cv_.notify_one();
}

void IoWorker::add_recording(std::shared_ptr<Recording> r) {
  std::lock_guard lk(m_);
  recordings_.push_back(std::move(r));
}

void IoWorker::run() {
  pthread_setname_np(pthread_self(), "media-io");
  std::unique_lock lk(m_);
  while (true) {
    cv_.wait_for(lk, std::chrono::milliseconds(50), [&] { return stop_ || !tasks_.empty(); });
    while (!tasks_.empty()) {
      auto t = std::move(tasks_.front());
      tasks_.pop_front();
      lk.unlock();
      try {
        t();
      } catch (const std::exception& e) {
        log_.error(std::string("media: I/O task failed: ") + e.what());
      }
      lk.lock();
    }
    auto recs = recordings_;
    lk.unlock();
    std::vector<Recording*> closed;
    for (auto& r : recs)
      if (r->drain(log_)) closed.push_back(r.get());
    lk.lock();
    if (!closed.empty())
      std::erase_if(recordings_, [&](auto& r) {
        return std::find(closed.begin(), closed.end(), r.get()) != closed.end();
      });
    if (stop_ && tasks_.empty()) {
      for (auto& r : recordings_) {
        r->finish();
        r->drain(log_);
      }
      recordings_.clear();
      return;
    }
  }
}

}  // namespace dialtone::plugins::media
