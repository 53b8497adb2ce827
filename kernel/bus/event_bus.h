// The in-process event bus behind sdk::EventBus.
//
//   EventBusImpl bus(log);
//   auto sub = bus.subscribe("call.*.answered", [](const sdk::Event& e) { ... },
//                            {.queue_capacity = 1024, .name = "cti"});
//   bus.publish("call.42.answered", "{}");
//
// Each subscription owns a bounded queue and a delivery thread, so publish()
// never blocks on a subscriber: a full queue drops the event for that
// subscriber only (counted, and logged at most once a second per subscriber).
// Topic -> subscribers matches are cached until the next (un)subscribe, and
// one shared Event is handed to every subscriber. A delivery thread takes its
// whole queue at once (then runs the subscription's after_batch). It sleeps
// until a publish wakes it; publish_batch() wakes each subscriber once for
// all its events. Only while events come less than 200 us apart (a stream)
// does it sleep on a 200 us timer (or until 256 are queued) rather than be
// woken per publish, so delivery may lag publish by up to 0.2 ms then, and
// not at all otherwise.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <dialtone/bus.h>
#include <dialtone/host.h>

namespace dialtone::kernel {

// AMQP-style topic match on dot-separated segments: `*` is exactly one
// segment, `#` zero or more. An empty topic has no segments.
bool topic_matches(std::string_view pattern, std::string_view topic);

class EventBusImpl final : public sdk::EventBus {
 public:
  struct SubscriptionStats {
    std::string name;
    std::string pattern;
    std::size_t queued = 0;
    std::uint64_t delivered = 0;
    std::uint64_t dropped = 0;
  };
  struct Stats {
    std::uint64_t published = 0;
    std::uint64_t delivered = 0;  // summed over live subscriptions
    std::uint64_t dropped = 0;    // summed over live subscriptions
    std::vector<SubscriptionStats> subscriptions;
  };

  // `log` must outlive the bus; drop and handler-failure lines go there.
  explicit EventBusImpl(sdk::Logger& log);
  // Stops every delivery thread; Subscriptions still held become inert.
  ~EventBusImpl() override;
  EventBusImpl(const EventBusImpl&) = delete;
  EventBusImpl& operator=(const EventBusImpl&) = delete;

  using sdk::EventBus::publish;
  void publish(std::shared_ptr<const sdk::Event> event) override;
  void publish_batch(std::vector<std::shared_ptr<const sdk::Event>> events) override;
  std::unique_ptr<sdk::Subscription> subscribe(std::string pattern, sdk::EventHandler handler,
                                               sdk::SubscribeOptions options = {}) override;

  Stats stats() const;

  struct Core;
  struct Subscriber;

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace dialtone::kernel
