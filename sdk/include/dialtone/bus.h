// In-process publish/subscribe on dotted topics (XiVO's bus topics: call,
// channel, user, presence, config changes...).
//
// @code
//   auto sub = host.bus().subscribe("config.user.#", [](const dialtone::sdk::Event& e) {
//     // runs on this subscription's own delivery thread
//   });
//   host.bus().publish("config.user.created", R"({"id":42})");
//   // `sub` unsubscribes when destroyed.
// @endcode
//
// Patterns: `*` matches one segment, `#` zero or more. Each subscription has a
// bounded queue: publish() never blocks; when a subscriber's queue is full the
// event is dropped for that subscriber only, counted and logged.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace dialtone::sdk {

struct Event {
  std::string topic;
  std::string body;  // JSON by convention
};

using EventHandler = std::function<void(const Event&)>;

struct SubscribeOptions {
  std::size_t queue_capacity = 65536;
  std::string name;  // shown in logs and stats; defaults to the plugin id
};

class Subscription {
 public:
  virtual ~Subscription() = default;
  virtual std::uint64_t delivered() const = 0;
  virtual std::uint64_t dropped() const = 0;
};

class EventBus {
 public:
  virtual ~EventBus() = default;
  virtual void publish(std::shared_ptr<const Event> event) = 0;
  void publish(std::string topic, std::string body) {
    publish(std::make_shared<const Event>(Event{std::move(topic), std::move(body)}));
  }
  virtual std::unique_ptr<Subscription> subscribe(std::string pattern, EventHandler handler,
                                                  SubscribeOptions options = {}) = 0;
};

}  // namespace dialtone::sdk
