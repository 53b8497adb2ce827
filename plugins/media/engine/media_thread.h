// A media thread: one epoll set of endpoint sockets plus a timerfd that ticks
// every 20 ms. Each tick decodes every endpoint's input, runs the mixers, then
// encodes and sends every endpoint's output. Commands from other threads are
// queued and run at the start of a tick.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace dialtone::plugins::media {

struct EngineContext;
class EndpointCore;
class MixerCore;

class MediaThread {
 public:
  MediaThread(EngineContext& ctx, int index);
  ~MediaThread();
  MediaThread(const MediaThread&) = delete;
  MediaThread& operator=(const MediaThread&) = delete;

  bool start();
  void stop();
  // Any thread.
  void post(std::function<void(MediaThread&)> cmd);

  // On this thread only.
  void attach(EndpointCore* ep);
  void detach(EndpointCore* ep);
  void destroy(EndpointCore* ep);  // detach, close, delete on the I/O thread
  void add_mixer(std::shared_ptr<MixerCore> m);
  void remove_mixer(MixerCore* m);
  // Moves `ep` into mixer `m` (which lives on m's thread), forwarding if `ep` moved.
  void join(EndpointCore* ep, std::shared_ptr<MixerCore> m);
  void leave(EndpointCore* ep, std::shared_ptr<MixerCore> m);

  int index() const { return index_; }
  std::size_t endpoint_count() const { return count_.load(std::memory_order_relaxed); }
  // Ticks that started later than one period after the previous one.
  std::uint64_t overruns() const { return overruns_.load(std::memory_order_relaxed); }
  std::uint64_t ticks() const { return ticks_.load(std::memory_order_relaxed); }

 private:
  void run();
  void tick();

  EngineContext& ctx_;
  int index_;
  int epfd_ = -1, timerfd_ = -1;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex cmd_m_;
  std::atomic<bool> cmd_pending_{false};
  std::vector<std::function<void(MediaThread&)>> cmds_, running_;
  std::vector<EndpointCore*> endpoints_;
  std::vector<std::shared_ptr<MixerCore>> mixers_;
  std::atomic<std::size_t> count_{0};
  std::atomic<std::uint64_t> overruns_{0}, ticks_{0};
};

}  // namespace dialtone::plugins::media
