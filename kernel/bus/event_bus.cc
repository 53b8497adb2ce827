#include "kernel/bus/event_bus.h"

#include <dialtone/topic.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

#include <pthread.h>

namespace dialtone::kernel {
namespace {

using EventPtr = std::shared_ptr<const sdk::Event>;

constexpr std::int64_t kReportIntervalNs = 1'000'000'000;
// Topics carry ids (call.<id>.answered), so the match cache is bounded.
constexpr std::size_t kMaxCachedTopics = 8192;
// Longest delivery delay added while a subscriber is fed a stream (events
// less than this apart). At 200 us a subscriber of a few thousand events a
// second (CEL, presence, websocketd at 500 calls/s) found its queue empty
// after most naps, went idle and was then woken by the publisher for the
// next event: two context switches per event. At 1 ms it stays on its timer
// while traffic lasts; bursts further apart wake it once each.
constexpr std::chrono::microseconds kBusyWait{1000};
constexpr std::size_t kMaxWakeBatch = 256;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// At most one report per interval from any number of threads; returns the
// count to report (0: stay quiet).
class RateLimit {
 public:
  std::uint64_t due(std::uint64_t total) {
    auto now = now_ns();
    auto last = last_ns_.load(std::memory_order_relaxed);
    if (now - last < kReportIntervalNs) return 0;
    if (!last_ns_.compare_exchange_strong(last, now)) return 0;
    return total - reported_.exchange(total);
  }

 private:
  std::atomic<std::int64_t> last_ns_{INT64_MIN / 2};
  std::atomic<std::uint64_t> reported_{0};
};

}  // namespace

bool topic_matches(std::string_view pattern, std::string_view topic) { return sdk::topic_matches(pattern, topic); }

struct EventBusImpl::Subscriber {
  std::string name;
  std::string pattern;
  sdk::EventHandler handler;
  std::function<void()> after_batch;
  std::size_t capacity;

  std::mutex mutex;
  std::condition_variable cv;
  std::vector<EventPtr> queue;
  // idle: asleep until notified (the next push wakes it);
  // timed: asleep for at most kBusyWait (a push wakes it once wake_batch are queued).
  enum class Wait { awake, timed, idle };
  Wait wait = Wait::awake;
  std::size_t wake_batch = 1;
  bool finished = false;  // delivery thread left its loop
  std::atomic<bool> stopping{false};
  std::atomic<bool> stop_claimed{false};

  std::atomic<std::uint64_t> delivered{0};
  std::atomic<std::uint64_t> dropped{0};
  std::atomic<std::uint64_t> failures{0};
  RateLimit drop_report;
  RateLimit failure_report;

  std::thread thread;

  struct Pushed {
    std::uint64_t report = 0;  // drops to report now (0: none)
    bool wake = false;         // the caller must call cv.notify_one()
  };
  // Queues `e`; wakes the thread only when it sleeps (idle), or when a full
  // batch waits (timed). A caller publishing several events notifies once
  // after the last.
  Pushed push(const EventPtr& e) {
    Pushed p;
    std::lock_guard lock(mutex);
    if (stopping.load(std::memory_order_relaxed)) return p;
    if (queue.size() >= capacity) {
      auto total = dropped.load(std::memory_order_relaxed) + 1;
      dropped.store(total, std::memory_order_relaxed);
      p.report = drop_report.due(total);
    } else {
      queue.push_back(e);
      if (wait == Wait::idle || (wait == Wait::timed && queue.size() >= wake_batch)) {
        wait = Wait::awake;
        p.wake = true;
      }
    }
    return p;
  }

  void stop() {
    bool self = std::this_thread::get_id() == thread.get_id();
    if (stop_claimed.exchange(true)) {
      // Someone else is stopping it; still honour "returns after the
      // in-flight handler" unless we are that handler.
      if (!self) {
        std::unique_lock lock(mutex);
        cv.wait(lock, [this] { return finished; });
      }
      return;
    }
    {
      std::lock_guard lock(mutex);
      stopping.store(true);
    }
    cv.notify_all();
    if (self) thread.detach();
    else if (thread.joinable()) thread.join();
  }
};

struct EventBusImpl::Core {
  explicit Core(sdk::Logger& l) : log(l) {}

  sdk::Logger& log;
  mutable std::shared_mutex mutex;
  std::vector<std::shared_ptr<Subscriber>> subscribers;
  std::unordered_map<std::string, std::vector<Subscriber*>> cache;
  std::atomic<std::uint64_t> published{0};
  std::uint64_t next_id = 1;

  std::mutex threads_mutex;
  std::condition_variable threads_cv;
  int live_threads = 0;

  // The subscribers a publish must wake, each once; no allocation for the
  // usual few.
  class WakeList {
   public:
    void add(Subscriber* s) {
      if (std::find(few_, few_ + n_, s) != few_ + n_ || std::find(more_.begin(), more_.end(), s) != more_.end())
        return;
      if (n_ < std::size(few_)) few_[n_++] = s;
      else more_.push_back(s);
    }
    void wake() {
      for (std::size_t i = 0; i < n_; ++i) few_[i]->cv.notify_one();
      for (auto* s : more_) s->cv.notify_one();
      n_ = 0;
      more_.clear();
    }

   private:
    Subscriber* few_[16];
    std::size_t n_ = 0;
    std::vector<Subscriber*> more_;
  };

  // Queues `e` to `subs`; those to wake are added to `wake`.
  void deliver(const std::vector<Subscriber*>& subs, const EventPtr& e, WakeList& wake) {
    for (auto* s : subs) {
      auto p = s->push(e);
      if (p.wake) wake.add(s);
      if (p.report) {
        log.warn("bus subscriber '" + s->name + "' (pattern '" + s->pattern +
                 "') is too slow: its queue of " + std::to_string(s->capacity) +
                 " is full; dropped " + std::to_string(p.report) + " event(s) since the last report, " +
                 std::to_string(s->dropped.load()) + " in total");
      }
    }
  }

  // The subscribers of `topic`, cached (mutex held shared; `write` tells
  // whether it is held exclusively, so a miss may fill the cache). Returns
  // null on a miss under a shared lock.
  const std::vector<Subscriber*>* matches(const std::string& topic, bool write) {
    auto it = cache.find(topic);
    if (it != cache.end()) return &it->second;
    if (!write) return nullptr;
    std::vector<Subscriber*> found;
    for (auto& s : subscribers)
      if (topic_matches(s->pattern, topic)) found.push_back(s.get());
    if (cache.size() >= kMaxCachedTopics) cache.clear();
    return &cache.emplace(topic, std::move(found)).first->second;
  }

  // Queues `n` events to their subscribers, then wakes each sleeping one
  // once, under the lock that keeps them subscribed (an unsubscribe waits).
  void publish(const EventPtr* events, std::size_t n) {
    published.fetch_add(n, std::memory_order_relaxed);
    WakeList wake;
    std::size_t done = 0;
    {
      std::shared_lock lock(mutex);
      for (; done < n; ++done) {
        auto* subs = matches(events[done]->topic, false);
        if (!subs) break;  // a topic not cached yet: the rest under the exclusive lock
        deliver(*subs, events[done], wake);
      }
      wake.wake();
      if (done == n) return;
    }
    std::unique_lock lock(mutex);
    for (; done < n; ++done) deliver(*matches(events[done]->topic, true), events[done], wake);
    wake.wake();
  }

  void run(const std::shared_ptr<Subscriber>& s) {
    std::vector<EventPtr> batch;
    // Whether events come closer together than kBusyWait (a stream): then the
    // timer gathers them, instead of a wake-up per publish (a futex
    // wake-up per publish would cost the publisher more than the rest of
    // publish() together). Bursts further apart (a call's events, published
    // together with publish_batch) wake the thread once each, and no timer
    // wakes it for nothing after them.
    bool stream = false;
    auto last_run = std::chrono::steady_clock::time_point{};
    std::unique_lock lock(s->mutex);
    for (;;) {
      while (s->queue.empty() && !s->stopping.load(std::memory_order_relaxed)) {
        if (stream) {
          s->wait = Subscriber::Wait::timed;
          s->cv.wait_for(lock, kBusyWait);
          if (s->queue.empty()) stream = false;  // the stream paused
        } else {
          s->wait = Subscriber::Wait::idle;
          s->cv.wait(lock);
          if (!s->queue.empty() && std::chrono::steady_clock::now() - last_run < kBusyWait) stream = true;
        }
      }
      s->wait = Subscriber::Wait::awake;
      if (s->stopping.load(std::memory_order_relaxed)) break;
      batch.swap(s->queue);
      lock.unlock();
      std::size_t handled = 0;
      for (auto& e : batch) {
        if (s->stopping.load(std::memory_order_relaxed)) break;
        ++handled;
        try {
          s->handler(*e);
        } catch (const std::exception& ex) {
          report_failure(*s, *e, ex.what());
        } catch (...) {
          report_failure(*s, *e, "non-standard exception");
        }
        s->delivered.store(s->delivered.load(std::memory_order_relaxed) + 1,
                           std::memory_order_relaxed);
      }
      // Also when stopping: the events handled so far get their after_batch.
      if (s->after_batch && handled) {
        try {
          s->after_batch();
        } catch (const std::exception& ex) {
          report_failure(*s, *batch[handled - 1], ex.what());
        } catch (...) {
          report_failure(*s, *batch[handled - 1], "non-standard exception");
        }
      }
      batch.clear();
      if (!stream) last_run = std::chrono::steady_clock::now();
      lock.lock();
    }
    s->queue.clear();
    lock.unlock();
    // Captures of the handler are released here, after its last call.
    s->handler = nullptr;
    s->after_batch = nullptr;
    {
      std::lock_guard l(s->mutex);
      s->finished = true;
      s->cv.notify_all();
    }
    std::lock_guard l(threads_mutex);
    --live_threads;
    threads_cv.notify_all();
  }

  void report_failure(Subscriber& s, const sdk::Event& e, const char* what) {
    auto total = s.failures.fetch_add(1) + 1;
    if (auto n = s.failure_report.due(total)) {
      log.error("bus subscriber '" + s.name + "' handler threw on topic '" + e.topic +
                "': " + what + " (" + std::to_string(n) +
                " failure(s) since the last report); the subscription keeps running");
    }
  }

  void remove(Subscriber* s) {
    std::unique_lock lock(mutex);
    std::erase_if(subscribers, [s](const auto& p) { return p.get() == s; });
    cache.clear();
  }
};

namespace {

class SubscriptionHandle final : public sdk::Subscription {
 public:
  SubscriptionHandle(std::shared_ptr<EventBusImpl::Core> core,
                     std::shared_ptr<EventBusImpl::Subscriber> sub)
      : core_(std::move(core)), sub_(std::move(sub)) {}
  ~SubscriptionHandle() override {
    core_->remove(sub_.get());
    sub_->stop();
  }
  std::uint64_t delivered() const override { return sub_->delivered.load(); }
  std::uint64_t dropped() const override { return sub_->dropped.load(); }

 private:
  std::shared_ptr<EventBusImpl::Core> core_;
  std::shared_ptr<EventBusImpl::Subscriber> sub_;
};

}  // namespace

EventBusImpl::EventBusImpl(sdk::Logger& log) : core_(std::make_shared<Core>(log)) {}

EventBusImpl::~EventBusImpl() {
  std::vector<std::shared_ptr<Subscriber>> subs;
  {
    std::unique_lock lock(core_->mutex);
    subs.swap(core_->subscribers);
    core_->cache.clear();
  }
  for (auto& s : subs) s->stop();
  // Threads detached by a handler unsubscribing itself still use the logger.
  std::unique_lock lock(core_->threads_mutex);
  core_->threads_cv.wait(lock, [this] { return core_->live_threads == 0; });
}

void EventBusImpl::publish(std::shared_ptr<const sdk::Event> event) {
  if (event) core_->publish(&event, 1);
}

void EventBusImpl::publish_batch(std::vector<std::shared_ptr<const sdk::Event>> events) {
  std::erase(events, nullptr);
  if (!events.empty()) core_->publish(events.data(), events.size());
}

std::unique_ptr<sdk::Subscription> EventBusImpl::subscribe(std::string pattern,
                                                           sdk::EventHandler handler,
                                                           sdk::SubscribeOptions options) {
  auto s = std::make_shared<Subscriber>();
  s->pattern = std::move(pattern);
  s->handler = std::move(handler);
  s->after_batch = std::move(options.after_batch);
  s->capacity = options.queue_capacity ? options.queue_capacity : 1;
  s->wake_batch = std::clamp<std::size_t>(s->capacity / 4, 1, kMaxWakeBatch);
  s->queue.reserve(std::min<std::size_t>(s->capacity, 1024));
  {
    std::unique_lock lock(core_->mutex);
    s->name = options.name.empty() ? "subscriber-" + std::to_string(core_->next_id) : options.name;
    ++core_->next_id;
  }
  {
    std::lock_guard l(core_->threads_mutex);
    ++core_->live_threads;
  }
  s->thread = std::thread([core = core_, s] { core->run(s); });
  // Named after its subscription (top -H, perf, /proc/<pid>/task/*/comm):
  // what each subscriber's deliveries cost shows per thread.
  pthread_setname_np(s->thread.native_handle(), s->name.substr(0, 15).c_str());
  {
    std::unique_lock lock(core_->mutex);
    core_->subscribers.push_back(s);
    core_->cache.clear();
  }
  return std::make_unique<SubscriptionHandle>(core_, s);
}

EventBusImpl::Stats EventBusImpl::stats() const {
  Stats st;
  st.published = core_->published.load();
  std::shared_lock lock(core_->mutex);
  for (auto& s : core_->subscribers) {
    SubscriptionStats ss;
    ss.name = s->name;
    ss.pattern = s->pattern;
    {
      std::lock_guard l(s->mutex);
      ss.queued = s->queue.size();
    }
    ss.delivered = s->delivered.load();
    ss.dropped = s->dropped.load();
    st.delivered += ss.delivered;
    st.dropped += ss.dropped;
    st.subscriptions.push_back(std::move(ss));
  }
  return st;
}

}  // namespace dialtone::kernel
