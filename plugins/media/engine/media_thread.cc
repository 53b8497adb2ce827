#include "media_thread.h"

#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "endpoint.h"
#include "engine_context.h"
#include "mixer.h"

namespace dialtone::plugins::media {

MediaThread::MediaThread(EngineContext& ctx, int index) : ctx_(ctx), index_(index) {
  endpoints_.reserve(4096);
  mixers_.reserve(256);
  cmds_.reserve(256);
  running_.reserve(256);
}

MediaThread::~MediaThread() {
  stop();
  for (auto* ep : endpoints_) delete ep;
  if (epfd_ >= 0) ::close(epfd_);
  if (timerfd_ >= 0) ::close(timerfd_);
}

bool MediaThread::start() {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  timerfd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (epfd_ < 0 || timerfd_ < 0) return false;
  itimerspec its{};
  its.it_interval.tv_nsec = static_cast<long>(ctx_.cfg.tick_ms) * 1000000L;
  its.it_value = its.it_interval;
  if (timerfd_settime(timerfd_, 0, &its, nullptr) != 0) return false;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // the timer
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, timerfd_, &ev) != 0) return false;
  stop_ = false;
  thread_ = std::thread([this] { run(); });
  return true;
}

void MediaThread::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void MediaThread::post(std::function<void(MediaThread&)> cmd) {
  std::lock_guard lk(cmd_m_);
  cmds_.push_back(std::move(cmd));
  cmd_pending_.store(true, std::memory_order_release);
}

void MediaThread::run() {
  // Named so `top -H` and the bench can tell media threads apart.
  pthread_setname_np(pthread_self(), ("media-" + std::to_string(index_)).c_str());
  if (ctx_.cfg.realtime) {
    // A compiler or a database on the same cores must not delay a 20 ms tick.
    sched_param sp{};
    sp.sched_priority = 10;
    if (int err = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp); err != 0 && index_ == 0)
      ctx_.io.post([&log = ctx_.log, err] {
        log.warn(std::string("media: cannot give media threads real-time priority (") + std::strerror(err) +
                 "); audio may stutter under load - grant CAP_SYS_NICE or set media.realtime = false");
      });
  }
  epoll_event events[256];
  while (!stop_.load(std::memory_order_relaxed)) {
    int n = epoll_wait(epfd_, events, 256, 100);
    for (int i = 0; i < n; ++i) {
      if (events[i].data.ptr == nullptr) {
        std::uint64_t expirations = 0;
        if (read(timerfd_, &expirations, sizeof expirations) != sizeof expirations) continue;
        if (expirations > 1) overruns_.fetch_add(expirations - 1, std::memory_order_relaxed);
        // Catch up a little so streams keep their rate after a hiccup, but
        // never spiral when the machine is overloaded.
        for (std::uint64_t t = 0; t < std::min<std::uint64_t>(expirations, 3); ++t) tick();
      } else {
        static_cast<EndpointCore*>(events[i].data.ptr)->on_readable();
      }
    }
  }
}

void MediaThread::tick() {
  ticks_.fetch_add(1, std::memory_order_relaxed);
  if (cmd_pending_.load(std::memory_order_acquire)) {
    {
      std::lock_guard lk(cmd_m_);
      running_.swap(cmds_);
      cmd_pending_.store(false, std::memory_order_relaxed);
    }
    for (auto& c : running_) c(*this);
    running_.clear();
  }
  for (auto* ep : endpoints_) ep->tick_input();
  for (auto& m : mixers_) m->mix();
  for (auto* ep : endpoints_) ep->tick_output();
}

void MediaThread::attach(EndpointCore* ep) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = ep;
  if (ep->fd() >= 0 && epoll_ctl(epfd_, EPOLL_CTL_ADD, ep->fd(), &ev) != 0)
    ctx_.log.error("media: cannot watch an RTP socket: " + std::string(std::strerror(errno)));
  ep->attached = this;
  ep->slot = endpoints_.size();
  endpoints_.push_back(ep);
  count_.store(endpoints_.size(), std::memory_order_relaxed);
}

void MediaThread::detach(EndpointCore* ep) {
  if (ep->attached != this) return;
  if (ep->fd() >= 0) epoll_ctl(epfd_, EPOLL_CTL_DEL, ep->fd(), nullptr);
  std::size_t i = ep->slot;
  endpoints_[i] = endpoints_.back();
  endpoints_[i]->slot = i;
  endpoints_.pop_back();
  ep->attached = nullptr;
  count_.store(endpoints_.size(), std::memory_order_relaxed);
}

void MediaThread::destroy(EndpointCore* ep) {
  if (ep->attached != this) {
    // Still travelling to another thread (joining a mixer): follow it.
    if (auto* h = ep->home.load(std::memory_order_acquire); h && h != this)
      h->post([ep](MediaThread& t) { t.destroy(ep); });
    return;
  }
  if (ep->mixer) ep->mixer->remove(ep);
  detach(ep);
  ep->close();
  ctx_.io.post([ep] { delete ep; });
}

void MediaThread::add_mixer(std::shared_ptr<MixerCore> m) { mixers_.push_back(std::move(m)); }

void MediaThread::remove_mixer(MixerCore* m) {
  auto it = std::find_if(mixers_.begin(), mixers_.end(), [&](auto& p) { return p.get() == m; });
  if (it == mixers_.end()) return;
  auto keep = *it;  // freed by the I/O thread, not here
  keep->close();
  mixers_.erase(it);
  ctx_.io.post([keep] {});
}

void MediaThread::join(EndpointCore* ep, std::shared_ptr<MixerCore> m) {
  if (ep->attached != this) {
    if (auto* h = ep->home.load(std::memory_order_acquire); h && h != this)
      h->post([ep, m](MediaThread& t) { t.join(ep, m); });
    return;
  }
  if (ep->mixer == m.get()) return;
  if (ep->mixer) ep->mixer->remove(ep);
  if (m->home() == this) {
    m->add(ep);
    return;
  }
  // A mixer sums its members within one tick, so they all live on its thread.
  detach(ep);
  MediaThread* to = m->home();
  to->post([ep, m](MediaThread& t) {
    t.attach(ep);
    m->add(ep);
  });
  ep->home.store(to, std::memory_order_release);
}

void MediaThread::leave(EndpointCore* ep, std::shared_ptr<MixerCore> m) {
  if (ep->attached != this) {
    if (auto* h = ep->home.load(std::memory_order_acquire); h && h != this)
      h->post([ep, m](MediaThread& t) { t.leave(ep, m); });
    return;
  }
  if (ep->mixer == m.get()) m->remove(ep);
}

}  // namespace dialtone::plugins::media
