#include "b_channels.h"

#include <cerrno>

#include "dahdi_device.h"

#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace dialtone::plugins::dahdi {

void BChannelPump::add(ChannelKey key, int fd, bool alaw) {
  std::lock_guard lock(mutex_);
  auto& c = chans_[key];
  c.fd = fd;
  c.socket = is_socket(fd);
  c.silence = alaw ? 0xd5 : 0xff;
}

void BChannelPump::start() {
  if (running_.exchange(true)) return;
  thread_ = std::thread([this] { run(); });
}

void BChannelPump::stop() {
  if (running_.exchange(false) && thread_.joinable()) thread_.join();
  std::lock_guard lock(mutex_);
  for (auto& [_, c] : chans_)
    if (c.fd >= 0) ::close(c.fd), c.fd = -1;
}

void BChannelPump::on_events(ChannelKey key, std::function<void(int)> sink) {
  std::lock_guard lock(mutex_);
  chans_[key].events = std::move(sink);
}

bool BChannelPump::hook(ChannelKey key, HookCommand command) {
  std::lock_guard lock(mutex_);
  auto it = chans_.find(key);
  if (it == chans_.end() || it->second.fd < 0) return false;
  return send_hook(it->second.fd, it->second.socket, command);
}

void BChannelPump::connect(ChannelKey key, AudioPort port) {
  std::lock_guard lock(mutex_);
  auto it = chans_.find(key);
  if (it != chans_.end()) it->second.port = std::move(port);
}

void BChannelPump::disconnect(ChannelKey key) { connect(key, {}); }

BChannelStats BChannelPump::stats(ChannelKey key) const {
  std::lock_guard lock(mutex_);
  auto it = chans_.find(key);
  return it == chans_.end() ? BChannelStats{} : it->second.stats;
}

BChannelStats BChannelPump::totals() const {
  std::lock_guard lock(mutex_);
  BChannelStats t;
  for (auto& [_, c] : chans_) {
    t.frames_in += c.stats.frames_in;
    t.frames_out += c.stats.frames_out;
    t.short_reads += c.stats.short_reads;
  }
  return t;
}

// Absolute 20 ms deadlines on CLOCK_MONOTONIC: a late tick does not shift
// the ones after it, so the pace stays 8 kHz on average.
void BChannelPump::run() {
  if (realtime_) {
    // As the media engine's threads: other load on the cores must not
    // delay a tick, or every line hears a gap.
    sched_param p{};
    p.sched_priority = 10;
    if (int rc = pthread_setschedparam(pthread_self(), SCHED_FIFO, &p); rc != 0)
      log_.log(sdk::LogLevel::warn, "dahdi: B-channel thread without real-time priority (" +
                                        std::string(std::strerror(rc)) +
                                        "): run dialtoned as root or with CAP_SYS_NICE, or set dahdi.realtime = false");
  }
  timespec next{};
  clock_gettime(CLOCK_MONOTONIC, &next);
  Frame in{}, out{};
  while (running_) {
    next.tv_nsec += 20'000'000;
    if (next.tv_nsec >= 1'000'000'000) next.tv_nsec -= 1'000'000'000, ++next.tv_sec;
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, nullptr) == EINTR) {
    }
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    auto late_ns = (now.tv_sec - next.tv_sec) * 1'000'000'000LL + (now.tv_nsec - next.tv_nsec);
    if (late_ns > 20'000'000) {
      ++late_;
      // Far behind (the machine was suspended, a debugger stopped us):
      // start again from now rather than bursting to catch up.
      if (late_ns > 200'000'000) next = now;
    }
    ++ticks_;
    std::lock_guard lock(mutex_);
    for (auto& [key, c] : chans_) {
      if (c.fd < 0) continue;
      while (true) {
        long n = frame_read(c.fd, in.data(), in.size(), c.socket);
        if (n < 0 && errno == kDeviceEvent) {
          // A card's channel event (an analog port's hook or ring; a
          // B-channel's alarms are its span's, on the D-channel).
          int e = take_device_event(c.fd);
          if (e >= 0 && c.events) c.events(e);
          continue;
        }
        if (n <= 0) break;
        if (int e = event_message(in.data(), n); e >= 0) {  // a simulated port's event
          if (c.events) c.events(e);
          continue;
        }
        if (static_cast<std::size_t>(n) != kFrameBytes) {
          ++c.stats.short_reads;
          continue;
        }
        ++c.stats.frames_in;
        if (c.port.sink) c.port.sink(in);
      }
      if (c.port.source) c.port.source(out);
      else out.fill(c.silence);
      if (frame_write(c.fd, out.data(), out.size(), c.socket) == static_cast<long>(kFrameBytes))
        ++c.stats.frames_out;
    }
  }
}

}  // namespace dialtone::plugins::dahdi
