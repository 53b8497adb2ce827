// The engine's I/O thread: loads sound files, writes recordings and delivers
// events to handlers, so that media threads never block on a file or on
// application code.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <dialtone/host.h>
#include <dialtone/media.h>

typedef struct sf_private_tag SNDFILE;

namespace dialtone::plugins::media {

// A WAV being written: the media thread appends samples to a lock-free
// single-producer ring, the I/O thread drains it into the file.
class Recording {
 public:
  // `silence_seconds` > 0: the recording ends after that much silence
  // following some sound (a caller who stopped talking). `publish_as` set:
  // `path` is a temporary, renamed to `publish_as` once closed with some
  // sound in it, removed otherwise (a failed write, no sample).
  Recording(std::filesystem::path path, SNDFILE* file, int rate, int max_seconds,
            std::function<void(sdk::media::MediaEvent)> done, int silence_seconds = 0,
            std::filesystem::path publish_as = {});
  ~Recording();

  // Media thread. False once the recording is over (stopped, full, max length).
  bool append(const std::int16_t* samples, int n);
  // Media thread (or anyone): no more samples; the I/O thread closes the file.
  void finish() { finished_.store(true, std::memory_order_release); }
  bool over() const { return finished_.load(std::memory_order_acquire) || failed_.load(std::memory_order_acquire); }
  int rate() const { return rate_; }

  // I/O thread: writes what is buffered; true when the recording is closed.
  bool drain(sdk::Logger& log);

 private:
  static constexpr std::size_t kCap = 1 << 16;  // 4 s at 16 kHz
  void report(bool ok, std::string detail);
  std::filesystem::path path_;
  std::filesystem::path publish_as_;
  SNDFILE* file_;
  int rate_;
  std::uint64_t max_samples_;
  std::uint64_t produced_ = 0;
  std::uint64_t silence_limit_ = 0;  // samples
  std::uint64_t quiet_ = 0;          // consecutive quiet samples
  bool heard_ = false;               // some sound came: silence counts from then
  std::unique_ptr<std::int16_t[]> ring_;
  std::atomic<std::size_t> head_{0}, tail_{0};
  std::atomic<bool> finished_{false}, failed_{false};
  std::atomic<std::uint64_t> dropped_{0};
  std::function<void(sdk::media::MediaEvent)> done_;
};

class IoWorker {
 public:
  explicit IoWorker(sdk::Logger& log) : log_(log) {}
  ~IoWorker() { stop(); }
  void start();
  void stop();
  void post(std::function<void()> task);
  void add_recording(std::shared_ptr<Recording> r);
  sdk::Logger& log() { return log_; }

 private:
  void run();
  sdk::Logger& log_;
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  std::vector<std::shared_ptr<Recording>> recordings_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace dialtone::plugins::media
