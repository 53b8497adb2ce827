#include "tests/support/test_bus.h"

#include <dialtone/topic.h>

#include <vector>

namespace dialtone::testing {
bool topic_matches(std::string_view pattern, std::string_view topic) { return sdk::topic_matches(pattern, topic); }

class TestBus::Handle final : public sdk::Subscription {
 public:
  Handle(TestBus* bus, std::uint64_t id, std::shared_ptr<Sub> sub) : bus_(bus), id_(id), sub_(std::move(sub)) {}
  ~Handle() override {
    std::lock_guard lk(bus_->m_);
    bus_->subs_.erase(id_);
  }
  std::uint64_t delivered() const override {
    std::lock_guard lk(bus_->m_);
    return sub_->delivered;
  }
  std::uint64_t dropped() const override { return 0; }

 private:
  TestBus* bus_;
  std::uint64_t id_;
  std::shared_ptr<Sub> sub_;
};

void TestBus::publish(std::shared_ptr<const sdk::Event> event) {
  std::vector<std::shared_ptr<Sub>> targets;
  {
    std::lock_guard lk(m_);
    // Recorded with its JSON text too: tests read `body` whichever way it was published.
    events_.push_back(*event);
    if (events_.back().body.empty()) events_.back().body = event->json();
    for (auto& [id, s] : subs_)
      if (topic_matches(s->pattern, event->topic)) {
        ++s->delivered;
        targets.push_back(s);
      }
  }
  cv_.notify_all();
  for (auto& s : targets) {
    s->handler(*event);
    if (s->after_batch) s->after_batch();
  }
}

std::unique_ptr<sdk::Subscription> TestBus::subscribe(std::string pattern, sdk::EventHandler handler,
                                                      sdk::SubscribeOptions options) {
  auto sub = std::make_shared<Sub>(Sub{std::move(pattern), std::move(handler), 0, std::move(options.after_batch)});
  std::lock_guard lk(m_);
  std::uint64_t id = ++next_;
  subs_[id] = sub;
  return std::make_unique<Handle>(this, id, sub);
}

std::vector<sdk::Event> TestBus::events() const {
  std::lock_guard lk(m_);
  return events_;
}

std::optional<sdk::Event> TestBus::wait_for(std::string_view topic, std::chrono::milliseconds timeout,
                                            std::size_t skip) {
  std::unique_lock lk(m_);
  std::optional<sdk::Event> found;
  cv_.wait_for(lk, timeout, [&] {
    std::size_t n = 0;
    for (auto& e : events_)
      if (e.topic == topic && n++ == skip) {
        found = e;
        return true;
      }
    return false;
  });
  return found;
}

}  // namespace dialtone::testing
