#include "io_worker.h"

#include <pthread.h>
#include <sndfile.h>

#include <algorithm>

namespace dialtone::plugins::media {

Recording::Recording(std::filesystem::path path, SNDFILE* file, int rate, int max_seconds,
                     std::function<void(sdk::media::MediaEvent)> done, int silence_seconds,
                     std::filesystem::path publish_as)
    : path_(std::move(path)),
      publish_as_(std::move(publish_as)),
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
      failed_.store(true);
      sf_close(file_);
      file_ = nullptr;
      const auto& named = publish_as_.empty() ? path_ : publish_as_;
      std::error_code ec;
      if (!publish_as_.empty()) std::filesystem::remove(path_, ec);  // nothing half-written stays
      log.error("media: recording " + named.string() + " stopped: cannot write (" + why + ")" +
                (publish_as_.empty() ? "" : ", nothing kept") +
                "; the call goes on without recording - free disk space or fix the directory");
      report(false, named.string() + ": " + why);
      return true;
    }
    tail += n;
  }
  tail_.store(tail, std::memory_order_release);
  if (!done) return false;
  sf_write_sync(file_);
  sf_close(file_);
  file_ = nullptr;
  std::string detail = path_.string();
  if (!publish_as_.empty()) {
    std::error_code ec;
    detail = publish_as_.string();
    if (tail == 0) {
      std::filesystem::remove(path_, ec);
      report(false, detail + ": nothing recorded");
      return true;
    }
    std::filesystem::rename(path_, publish_as_, ec);
    if (ec) {
      std::filesystem::remove(path_, ec);
      log.error("media: recording " + detail + " not kept: cannot rename it into place (" + ec.message() +
                ") - fix the directory");
      report(false, detail + ": " + ec.message());
      return true;
    }
  }
  if (auto d = dropped_.load(); d) detail += " (" + std::to_string(d) + " samples dropped)";
  report(true, std::move(detail));
  return true;
}

void Recording::report(bool ok, std::string detail) {
  sdk::media::MediaEvent e;
  e.type = sdk::media::EventType::record_done;
  e.ok = ok;
  e.detail = std::move(detail);
  if (done_) done_(std::move(e));
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
