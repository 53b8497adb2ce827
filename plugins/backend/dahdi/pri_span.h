// One ISDN span's D-channel: a libpri instance reading and writing HDLC
// frames on a file descriptor (a DAHDI D-channel, or one end of the
// simulated span's socket pair) through pri_new_cb's callbacks. Only the
// signalling thread touches it: libpri is not thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

extern "C" {
#include <libpri.h>
}

#include <dialtone/host.h>

#include "span_config.h"

namespace dialtone::plugins::dahdi {

class PriSpan {
 public:
  // `fd`: non-blocking, one HDLC frame per read/write (FCS bytes included).
  PriSpan(const SpanConfig& config, int fd, sdk::Logger& log);
  ~PriSpan();
  PriSpan(const PriSpan&) = delete;
  PriSpan& operator=(const PriSpan&) = delete;

  struct pri* pri() const { return pri_; }
  int fd() const { return fd_; }
  const SpanConfig& config() const { return config_; }
  bool dchan_up() const { return up_; }
  void set_dchan_up(bool up) { up_ = up; }

  // Frames that libpri received which do not hold a well-formed Q.931
  // message; each one logged once (then every 100th).
  std::uint64_t malformed() const { return malformed_; }

  // Simulated spans: a frame this span writes goes through `filter` first
  // (a test's unplugged cable drops it). Empty: written as is.
  void set_write_filter(std::function<bool(const std::uint8_t*, int)> filter) { filter_ = std::move(filter); }

 private:
  static int io_read(struct pri* pri, void* buf, int len);
  static int io_write(struct pri* pri, void* buf, int len);
  void check_frame(const std::uint8_t* frame, int len);

  SpanConfig config_;
  int fd_;
  bool socket_;  // a simulated span's socket, else a DAHDI D-channel
  sdk::Logger& log_;
  struct pri* pri_ = nullptr;
  std::atomic<bool> up_{false};
  std::atomic<std::uint64_t> malformed_{0};
  std::function<bool(const std::uint8_t*, int)> filter_;
};

// libpri's messages and errors go through one process-wide hook; they land
// in `log` at debug level (libpri is verbose about what it rejects).
void route_libpri_messages(sdk::Logger* log);

}  // namespace dialtone::plugins::dahdi
