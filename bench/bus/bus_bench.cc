// Publish rate of the event bus with N subscribers (default 4) and one
// publishing thread, in two modes: a new Event allocated per publish (what
// real publishers do) and one pre-built Event published again and again
// (the bus's own cost). Prints messages/s published, deliveries and drops.
//
//   bus_bench [events=2000000] [subscribers=4] [queue_capacity=65536]
//
// Paced mode: what a PBX's bus sees, bursts of a few events (a call's
// channel events) every millisecond, published together with publish_batch()
// as the call core does. Prints the process's CPU per delivery, the context
// switches per burst and the delivery latency (publish to handler):
//
//   bus_bench paced [bursts/s=1000] [events per burst=4] [seconds=10] [subscribers=4]
#include "kernel/bus/event_bus.h"

#include <sys/resource.h>

#include <algorithm>
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

double cpu_s() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

long switches() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_nvcsw + u.ru_nivcsw;
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

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

  double cpu0 = cpu_s();
  long sw0 = switches();
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
  double cpu = cpu_s() - cpu0;
  long sw = switches() - sw0;
  double pub_s = std::chrono::duration<double>(t1 - t0).count();
  double all_s = std::chrono::duration<double>(t2 - t0).count();
  std::printf("%-22s published %10.0f msg/s (%ld in %.3f s) | delivered %llu/%llu, %.0f/s | dropped %llu (%d log lines)"
              " | CPU %.3f us per delivery, %ld context switches\n",
              mode, events / pub_s, events, pub_s, static_cast<unsigned long long>(delivered),
              static_cast<unsigned long long>(events) * nsubs, delivered / all_s,
              static_cast<unsigned long long>(dropped), log.lines.load(), delivered ? cpu * 1e6 / delivered : 0.0, sw);
}

int paced(int rate, int per_burst, int seconds, int nsubs) {
  CountingLogger log;
  dialtone::kernel::EventBusImpl bus(log);
  const char* patterns[] = {"calls.#", "calls.channel.*", "#", "calls.channel.created"};
  // Latencies per subscriber (each written by its own delivery thread only).
  std::vector<std::vector<double>> lat(nsubs);
  std::vector<std::unique_ptr<dialtone::sdk::Subscription>> subs;
  for (int i = 0; i < nsubs; ++i) {
    lat[i].reserve(static_cast<std::size_t>(rate) * per_burst * seconds);
    subs.push_back(bus.subscribe(
        patterns[i % 4],
        [&l = lat[i]](const dialtone::sdk::Event& e) { l.push_back((now_ns() - e.number("t")) / 1e3); },
        {.queue_capacity = 65536, .name = "bench-" + std::to_string(i)}));
  }
  const char* topics[] = {"calls.channel.created", "calls.channel.state", "calls.channel.created",
                          "calls.channel.ended"};
  auto period = std::chrono::nanoseconds(1'000'000'000 / rate);
  long bursts = static_cast<long>(rate) * seconds;
  double cpu0 = cpu_s();
  long sw0 = switches();
  auto next = Clock::now();
  for (long b = 0; b < bursts; ++b) {
    std::vector<std::shared_ptr<const dialtone::sdk::Event>> burst;
    for (int k = 0; k < per_burst; ++k)
      burst.push_back(std::make_shared<const dialtone::sdk::Event>(
          topics[k % 4], std::vector<dialtone::sdk::EventField>{{"id", "ch-1"}, {"t", now_ns()}}));
    bus.publish_batch(std::move(burst));
    next += period;
    std::this_thread::sleep_until(next);
  }
  std::uint64_t expected = 0;
  for (int i = 0; i < nsubs; ++i) {
    std::uint64_t per = 0;
    for (int k = 0; k < per_burst; ++k)
      if (dialtone::kernel::topic_matches(patterns[i % 4], topics[k % 4])) ++per;
    expected += per * bursts;
  }
  std::uint64_t delivered = 0;
  for (int i = 0; i < 10000 && delivered < expected; ++i) {
    delivered = 0;
    for (auto& s : subs) delivered += s->delivered();
    if (delivered < expected) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  double cpu = cpu_s() - cpu0;
  long sw = switches() - sw0;
  subs.clear();  // the latency vectors are complete once the threads stopped
  std::vector<double> all;
  for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  auto q = [&](double p) { return all.empty() ? 0.0 : all[std::min(all.size() - 1, std::size_t(p * all.size()))]; };
  std::printf("paced: %d bursts/s x %d events x %d s, %d subscribers: delivered %llu/%llu | CPU %.3f s, "
              "%.2f us per delivery | context switches %.2f per burst | latency p50 %.0f us, p99 %.0f us, max %.0f us\n",
              rate, per_burst, seconds, nsubs, static_cast<unsigned long long>(delivered),
              static_cast<unsigned long long>(expected), cpu, delivered ? cpu * 1e6 / delivered : 0.0,
              static_cast<double>(sw) / bursts, q(0.5), q(0.99), all.empty() ? 0.0 : all.back());
  return delivered == expected ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "paced") {
    int rate = argc > 2 ? std::atoi(argv[2]) : 1000;
    int per_burst = argc > 3 ? std::atoi(argv[3]) : 4;
    int seconds = argc > 4 ? std::atoi(argv[4]) : 10;
    int nsubs = argc > 5 ? std::atoi(argv[5]) : 4;
    if (rate <= 0 || per_burst <= 0 || seconds <= 0 || nsubs <= 0) {
      std::fprintf(stderr, "bus_bench paced: bursts/s, events per burst, seconds and subscribers must be > 0\n");
      return 2;
    }
    return paced(rate, per_burst, seconds, nsubs);
  }
  const long events = argc > 1 ? std::atol(argv[1]) : 2'000'000;
  const int nsubs = argc > 2 ? std::atoi(argv[2]) : 4;
  const std::size_t capacity = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 65536;
  std::printf("events=%ld subscribers=%d queue_capacity=%zu\n", events, nsubs, capacity);
  run("new Event per publish", true, events, nsubs, capacity);
  run("shared pre-built Event", false, events, nsubs, capacity);
  return 0;
}
