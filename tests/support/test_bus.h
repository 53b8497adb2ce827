// A synchronous sdk::EventBus for tests: publish() runs matching handlers on
// the publishing thread (each delivery a batch of one for `after_batch`) and records every event; wait_for() blocks until an
// event on a topic arrives. Patterns follow the SDK (`*` one segment, `#` any).
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <dialtone/bus.h>

namespace dialtone::testing {

bool topic_matches(std::string_view pattern, std::string_view topic);

class TestBus final : public sdk::EventBus {
 public:
  using sdk::EventBus::publish;
  void publish(std::shared_ptr<const sdk::Event> event) override;
  std::unique_ptr<sdk::Subscription> subscribe(std::string pattern, sdk::EventHandler handler,
                                               sdk::SubscribeOptions options = {}) override;

  // Every event published so far, in order.
  std::vector<sdk::Event> events() const;
  // The first event on `topic` (counting from index `skip` of matches), waiting up to `timeout`.
  std::optional<sdk::Event> wait_for(std::string_view topic,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(10),
                                     std::size_t skip = 0);

 private:
  struct Sub {
    std::string pattern;
    sdk::EventHandler handler;
    std::uint64_t delivered = 0;
    std::function<void()> after_batch;  // after each delivery: a batch of one
  };
  class Handle;
  mutable std::mutex m_;
  std::condition_variable cv_;
  std::vector<sdk::Event> events_;
  std::map<std::uint64_t, std::shared_ptr<Sub>> subs_;
  std::uint64_t next_ = 0;
};

}  // namespace dialtone::testing
