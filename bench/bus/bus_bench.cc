// Publish rate of the event bus with N subscribers (default 4) and one
// publishing thread, in two modes: a new Event allocated per publish (what
// real publishers do) and one pre-built Event published again and again
// (the bus's own cost). Prints messages/s published, deliveries and drops.
//
//   bus_bench [events=2000000] [subscribers=4] [queue_capacity=65536]
#include "kernel/bus/event_bus.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct CountingLogger : dialtone::sdk::Logger {
  std::atomic<int> lines{0};
  // Drop reports are expected when subscribers fall behind; count them only.
  void log(dialtone::sdk::LogLevel, std::string_view) override { ++lines; }
  bool enabled(dialtone::sdk::LogLevel) const override { return true; }
};

void run(const char* mode, bool fresh_events, long events, int nsubs, std::size_t capacity) {
  CountingLogger log;
  dialtone::kernel::EventBusImpl bus(log);
  const char* patterns[] = {"call.#", "call.*.answered", "#", "call.*.*"};
  std::vector<std::atomic<std::uint64_t>> bytes(nsubs);
  std::vector<std::unique_ptr<dialtone::sdk::Subscription>> subs;
  for (int i = 0; i < nsubs; ++i) {
    subs.push_back(bus.subscribe(
        patterns[i % 4],
        [&c = bytes[i]](const dialtone::sdk::Event& e) {
          c.store(c.load(std::memory_order_relaxed) + e.body.size(), std::memory_order_relaxed);
        },
        {.queue_capacity = capacity, .name = "bench-" + std::to_string(i)}));
  }
  // 64 distinct topics, as a PBX publishes call.<n>.<state>; all cached after the first.
  std::vector<std::string> topics;
  std::vector<std::shared_ptr<const dialtone::sdk::Event>> prebuilt;
  for (int i = 0; i < 64; ++i) {
    topics.push_back("call." + std::to_string(i) + ".answered");
    prebuilt.push_back(std::make_shared<const dialtone::sdk::Event>(
        dialtone::sdk::Event{topics.back(), R"({"call_id":"1700000000.42"})"}));
  }

  auto t0 = Clock::now();
  if (fresh_events) {
    for (long i = 0; i < events; ++i) bus.publish(topics[i & 63], R"({"call_id":"1700000000.42"})");
  } else {
    for (long i = 0; i < events; ++i) bus.publish(prebuilt[i & 63]);
  }
  auto t1 = Clock::now();
  for (;;) {
    std::size_t queued = 0;
    for (auto& s : bus.stats().subscriptions) queued += s.queued;
    if (queued == 0) break;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  // The last batch taken off a queue may still be in its handlers.
  std::uint64_t delivered = 0, dropped = 0;
  for (int i = 0; i < 1000; ++i) {
    delivered = dropped = 0;
    for (auto& s : subs) {
      delivered += s->delivered();
      dropped += s->dropped();
    }
    if (delivered + dropped == static_cast<std::uint64_t>(events) * nsubs) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  auto t2 = Clock::now();
  double pub_s = std::chrono::duration<double>(t1 - t0).count();
  double all_s = std::chrono::duration<double>(t2 - t0).count();
  std::printf("%-22s published %10.0f msg/s (%ld in %.3f s) | delivered %llu/%llu, %.0f/s | dropped %llu (%d log lines)\n",
              mode, events / pub_s, events, pub_s, static_cast<unsigned long long>(delivered),
              static_cast<unsigned long long>(events) * nsubs, delivered / all_s,
              static_cast<unsigned long long>(dropped), log.lines.load());
}

}  // namespace

int main(int argc, char** argv) {
  const long events = argc > 1 ? std::atol(argv[1]) : 2'000'000;
  const int nsubs = argc > 2 ? std::atoi(argv[2]) : 4;
  const std::size_t capacity = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 65536;
  std::printf("events=%ld subscribers=%d queue_capacity=%zu\n", events, nsubs, capacity);
  run("new Event per publish", true, events, nsubs, capacity);
  run("shared pre-built Event", false, events, nsubs, capacity);
  return 0;
}
