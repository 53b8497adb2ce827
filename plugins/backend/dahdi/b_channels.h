// B-channel audio: every 20 ms, one thread reads what each B-channel
// received (160-byte A-law or µ-law frames at 8 kHz) and writes one frame
// to each. It runs apart from the signalling, SIP and dialplan threads so
// that no audio waits on them, nor they on audio.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include <dialtone/host.h>

#include "dahdi_device.h"

namespace dialtone::plugins::dahdi {

constexpr std::size_t kFrameBytes = 160;  // 20 ms at 8000 samples/s, one byte each
using Frame = std::array<std::uint8_t, kFrameBytes>;

// (span, channel within the span)
using ChannelKey = std::pair<int, int>;

// What a B-channel sends (fills `out` with the next 20 ms) and receives.
struct AudioPort {
  std::function<void(Frame& out)> source;         // empty: silence
  std::function<void(const Frame& in)> sink;      // empty: dropped
};

struct BChannelStats {
  std::uint64_t frames_in = 0, frames_out = 0;
  std::uint64_t short_reads = 0;  // a read that was not one whole frame
};

class BChannelPump {
 public:
  BChannelPump(sdk::Logger& log, bool realtime) : log_(log), realtime_(realtime) {}
  ~BChannelPump() { stop(); }

  // Before start(): the channel's file descriptor (non-blocking, one frame
  // per read/write); `alaw` picks the silence byte. The pump owns it.
  void add(ChannelKey key, int fd, bool alaw);
  void start();
  void stop();

  // Before start(): who hears the channel's own events (an analog port's
  // hook and ring: DAHDI_GETEVENT on a card, a control message on a
  // simulated port). Runs on the B-channel thread.
  void on_events(ChannelKey key, std::function<void(int event)> sink);
  // Any thread: a hook command to the channel (analog ports).
  bool hook(ChannelKey key, HookCommand command);

  // Any thread: what the channel plays and who hears it (a call's media).
  void connect(ChannelKey key, AudioPort port);
  void disconnect(ChannelKey key);
  BChannelStats stats(ChannelKey key) const;
  BChannelStats totals() const;  // every channel's, added up
  // Ticks run so far, and ticks that started more than 20 ms late.
  std::uint64_t ticks() const { return ticks_; }
  std::uint64_t late_ticks() const { return late_; }

 private:
  void run();
  struct Chan {
    int fd = -1;
    bool socket = true;  // a simulated span's socket, else a DAHDI channel
    std::uint8_t silence = 0xd5;
    AudioPort port;
    std::function<void(int)> events;
    BChannelStats stats;
  };
  sdk::Logger& log_;
  bool realtime_;
  mutable std::mutex mutex_;
  std::map<ChannelKey, Chan> chans_;
  std::thread thread_;
  std::atomic<bool> running_{false};
  std::atomic<std::uint64_t> ticks_{0}, late_{0};
};

}  // namespace dialtone::plugins::dahdi
