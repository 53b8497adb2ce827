#include "kernel/bus/event_bus.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/eventually.h"

namespace dialtone::kernel {
namespace {

using namespace std::chrono_literals;

struct RecordingLogger : sdk::Logger {
  mutable std::mutex m;
  std::vector<std::string> lines;
  void log(sdk::LogLevel, std::string_view msg) override {
    std::lock_guard l(m);
    lines.emplace_back(msg);
  }
  bool enabled(sdk::LogLevel) const override { return true; }
  std::vector<std::string> snapshot() const {
    std::lock_guard l(m);
    return lines;
  }
};

using testing::eventually;

struct MatchCase {
  const char* pattern;
  const char* topic;
  bool expected;
};

TEST(TopicMatches, Table) {
  const MatchCase cases[] = {
      {"call.created", "call.created", true},
      {"call.created", "call.ended", false},
      {"call.created", "call.created.extra", false},
      {"call.created.extra", "call.created", false},
      {"call.*", "call.created", true},
      {"call.*", "call", false},
      {"call.*", "call.a.b", false},
      {"*.created", "call.created", true},
      {"*", "call", true},
      {"*", "call.created", false},
      {"*.*", "a.b", true},
      {"call.*.answered", "call.42.answered", true},
      {"call.*.answered", "call.42.hungup", false},
      {"call.#", "call", true},
      {"call.#", "call.created", true},
      {"call.#", "call.1.2.3", true},
      {"call.#", "channel.created", false},
      {"call.#", "callx.created", false},
      {"#", "anything.at.all", true},
      {"#", "single", true},
      {"#", "", true},
      {"*", "", false},
      {"", "", true},
      {"", "a", false},
      {"#.answered", "answered", true},
      {"#.answered", "call.1.answered", true},
      {"#.answered", "call.1.answered.late", false},
      {"a.#.z", "a.z", true},
      {"a.#.z", "a.b.c.z", true},
      {"a.#.z", "a.b.c", false},
      {"a.#.#.z", "a.z", true},
      {"#.b.#", "a.b.c", true},
      {"#.b.#", "a.c", false},
      {"a.*.#", "a", false},
      {"a.*.#", "a.b", true},
      {"a.*.#", "a.b.c.d", true},
      {"#.*", "", false},
      {"#.*", "x", true},
      {"a..b", "a..b", true},
      {"a.*.b", "a..b", true},
      {"user.#", "user.", true},
      {"Call.created", "call.created", false},
  };
  for (const auto& c : cases)
    EXPECT_EQ(topic_matches(c.pattern, c.topic), c.expected)
        << "pattern '" << c.pattern << "' topic '" << c.topic << "'";
}

TEST(EventBus, DeliversOnlyMatchingTopicsInPublishOrder) {
  RecordingLogger log;
  EventBusImpl bus(log);
  std::mutex m;
  std::vector<std::string> got;
  auto sub = bus.subscribe("call.*.answered", [&](const sdk::Event& e) {
    std::lock_guard l(m);
    got.push_back(e.topic + "=" + e.body);
  });
  for (int i = 0; i < 1000; ++i) {
    bus.publish("call." + std::to_string(i) + ".answered", std::to_string(i));
    bus.publish("call." + std::to_string(i) + ".ringing", "no");
  }
  ASSERT_TRUE(eventually([&] { return sub->delivered() == 1000; }));
  std::lock_guard l(m);
  ASSERT_EQ(got.size(), 1000u);
  for (int i = 0; i < 1000; ++i)
    EXPECT_EQ(got[i], "call." + std::to_string(i) + ".answered=" + std::to_string(i));
}

// publish_batch keeps the events' order, topics cached or not, and each
// subscription's after_batch runs after the handler has had every event of
// a run: the last one has seen them all (what records.cel's spool relies on).
TEST(EventBus, PublishBatchKeepsOrderAndAfterBatchFollowsEveryEvent) {
  RecordingLogger log;
  EventBusImpl bus(log);
  struct Seen {
    std::mutex m;
    std::vector<std::string> got;
    std::size_t handled = 0, at_last_after = 0, afters = 0;
  } all, answered;
  auto subscribe = [&bus](const char* pattern, Seen& seen) {
    return bus.subscribe(
        pattern,
        [&seen](const sdk::Event& e) {
          std::lock_guard l(seen.m);
          seen.got.push_back(e.topic + "=" + e.body);
          ++seen.handled;
        },
        {.queue_capacity = 4096, .name = pattern, .after_batch = [&seen] {
           std::lock_guard l(seen.m);
           seen.at_last_after = seen.handled;
           ++seen.afters;
         }});
  };
  auto s1 = subscribe("call.#", all);
  auto s2 = subscribe("call.*.answered", answered);
  bus.publish("call.0.answered", "warm");  // this topic is cached, the batch's others are not
  std::vector<std::shared_ptr<const sdk::Event>> batch;
  for (int i = 0; i < 300; ++i) {
    batch.push_back(std::make_shared<const sdk::Event>("call.0.answered", std::to_string(i)));
    batch.push_back(std::make_shared<const sdk::Event>("call." + std::to_string(i) + ".ringing", std::to_string(i)));
  }
  batch.push_back(nullptr);  // ignored
  bus.publish_batch(std::move(batch));
  ASSERT_TRUE(eventually([&] {
    std::scoped_lock l(all.m, answered.m);
    return all.at_last_after == 601 && answered.at_last_after == 301;
  }));
  std::scoped_lock l(all.m, answered.m);
  ASSERT_EQ(all.got.size(), 601u);
  ASSERT_EQ(answered.got.size(), 301u);
  for (int i = 0; i < 300; ++i) {
    EXPECT_EQ(all.got[1 + 2 * i], "call.0.answered=" + std::to_string(i));
    EXPECT_EQ(all.got[2 + 2 * i], "call." + std::to_string(i) + ".ringing=" + std::to_string(i));
    EXPECT_EQ(answered.got[1 + i], "call.0.answered=" + std::to_string(i));
  }
  EXPECT_GE(all.afters, 1u);
  EXPECT_LE(all.afters, 601u);
  EXPECT_LE(answered.afters, 301u);
}

TEST(EventBus, EverySubscriberGetsTheSameSharedEvent) {
  RecordingLogger log;
  EventBusImpl bus(log);
  std::atomic<const sdk::Event*> a{nullptr}, b{nullptr};
  auto s1 = bus.subscribe("user.#", [&](const sdk::Event& e) { a = &e; });
  auto s2 = bus.subscribe("#", [&](const sdk::Event& e) { b = &e; });
  auto ev = std::make_shared<const sdk::Event>(sdk::Event{"user.created", "{\"id\":1}"});
  bus.publish(ev);
  ASSERT_TRUE(eventually([&] { return s1->delivered() == 1 && s2->delivered() == 1; }));
  EXPECT_EQ(a.load(), ev.get());
  EXPECT_EQ(b.load(), ev.get());
}

// An event published as fields is read by field and written as JSON only
// when a subscriber asks, once for all of them; one published as JSON text
// is read by field the same way.
TEST(EventBus, FieldsAreReadDirectlyAndJsonIsWrittenOnceOnDemand) {
  RecordingLogger log;
  EventBusImpl bus(log);
  std::atomic<int> read{0};
  std::mutex m;
  std::vector<const std::string*> texts;
  std::vector<std::string> ids;
  auto reader = bus.subscribe("calls.#", [&](const sdk::Event& e) {
    std::lock_guard l(m);
    ids.emplace_back(e.text("id"));
    EXPECT_EQ(e.number("created_at_ms", -1), 1700000000123);
    EXPECT_TRUE(e.flag("held"));
    EXPECT_EQ(e.text("held"), "");          // a boolean is not a string
    EXPECT_EQ(e.number("missing", -1), -1);
    ++read;
  });
  std::vector<std::unique_ptr<sdk::Subscription>> senders;
  for (int i = 0; i < 3; ++i)
    senders.push_back(bus.subscribe("#", [&](const sdk::Event& e) {
      const std::string& j = e.json();
      std::lock_guard l(m);
      texts.push_back(&j);
    }));
  // Held here too, so that the texts' addresses stay comparable.
  auto fields = std::make_shared<const sdk::Event>(
      "calls.channel.created",
      std::vector<sdk::EventField>{{"id", "c1"}, {"caller_name", "Al \"Q\" \\ B"},
                                   {"created_at_ms", std::int64_t{1700000000123}}, {"held", true}, {"cause", 16}});
  auto text = std::make_shared<const sdk::Event>(
      "calls.channel.ended", R"({"id":"c2","created_at_ms":1700000000123,"held":true,"extra":{"a":[1,2]}})");
  bus.publish(fields);
  bus.publish(text);
  ASSERT_TRUE(eventually([&] {
    std::lock_guard l(m);
    return read == 2 && texts.size() == 6;
  }));
  std::lock_guard l(m);
  EXPECT_EQ(ids, (std::vector<std::string>{"c1", "c2"}));
  // Each event's text is one string shared by its three senders.
  std::vector<std::string> first, second;
  for (auto* t : texts) (t->find("\"c1\"") != std::string::npos ? first : second).push_back(*t);
  ASSERT_EQ(first.size(), 3u);
  ASSERT_EQ(second.size(), 3u);
  EXPECT_EQ(first[0],
            R"({"id":"c1","caller_name":"Al \"Q\" \\ B","created_at_ms":1700000000123,"held":true,"cause":16})");
  EXPECT_EQ(second[0], R"({"id":"c2","created_at_ms":1700000000123,"held":true,"extra":{"a":[1,2]}})");
  std::set<const std::string*> distinct(texts.begin(), texts.end());
  EXPECT_EQ(distinct.size(), 2u);
}

// publish(topic, {{key, value}, ...}) through the SDK's interface.
TEST(EventBus, PublishesAFieldList) {
  RecordingLogger log;
  EventBusImpl bus(log);
  std::atomic<int> count{-1};
  auto sub = bus.subscribe("hello.#", [&](const sdk::Event& e) {
    if (e.text("message") == "hi") count = static_cast<int>(e.number("count"));
  });
  sdk::EventBus& api = bus;
  api.publish("hello.greeted", {{"message", "hi"}, {"count", 3}});
  ASSERT_TRUE(eventually([&] { return sub->delivered() == 1; }));
  EXPECT_EQ(count.load(), 3);
}

// A copy reads the same fields and text as the original (its caches start empty).
TEST(EventBus, AnEventCopyReadsTheSame) {
  sdk::Event e("calls.channel.held", std::vector<sdk::EventField>{{"id", "c9"}, {"held", true}});
  const std::string before = e.json();
  sdk::Event copy = e;
  EXPECT_EQ(copy.json(), before);
  EXPECT_EQ(copy.text("id"), "c9");
  sdk::Event parsed("t", R"({"id":"c9","n":-3,"bad":)");
  EXPECT_EQ(parsed.text("id"), "");  // not JSON: no fields
  EXPECT_EQ(parsed.json(), R"({"id":"c9","n":-3,"bad":)");
}

TEST(EventBus, NewSubscriptionSeesTopicsAlreadyCached) {
  RecordingLogger log;
  EventBusImpl bus(log);
  std::atomic<int> first{0}, second{0};
  auto s1 = bus.subscribe("presence.*", [&](const sdk::Event&) { ++first; });
  bus.publish("presence.user", "1");  // caches the match for this topic
  auto s2 = bus.subscribe("presence.user", [&](const sdk::Event&) { ++second; });
  bus.publish("presence.user", "2");
  ASSERT_TRUE(eventually([&] { return first == 2 && second == 1; }));
  s1.reset();
  bus.publish("presence.user", "3");
  ASSERT_TRUE(eventually([&] { return second == 2; }));
  EXPECT_EQ(first.load(), 2);
}

TEST(EventBus, SlowSubscriberDoesNotSlowThePublisherNorTheFastSubscriber) {
  RecordingLogger log;
  EventBusImpl bus(log);
  constexpr int kEvents = 100000;
  std::atomic<int> fast_count{0};
  std::promise<void> slow_started;
  std::atomic<bool> slow_started_set{false};
  auto fast = bus.subscribe("call.#", [&](const sdk::Event&) { ++fast_count; },
                            {.queue_capacity = kEvents, .name = "fast"});
  auto slow = bus.subscribe(
      "call.#",
      [&](const sdk::Event&) {
        if (!slow_started_set.exchange(true)) slow_started.set_value();
        // 100k events at 10 ms each would need over 16 minutes.
        std::this_thread::sleep_for(10ms);
      },
      {.queue_capacity = 100, .name = "slow-cti"});
  auto ev = std::make_shared<const sdk::Event>(sdk::Event{"call.1.answered", "{}"});
  // A publisher held by the slow subscriber would take over 16 minutes and
  // drop nothing; the drop counts below say it was not held.
  for (int i = 0; i < kEvents; ++i) bus.publish(ev);

  ASSERT_TRUE(eventually([&] { return fast_count == kEvents; }));
  EXPECT_EQ(fast->dropped(), 0u);
  // The slow one holds at most one batch in its handler plus a full queue.
  EXPECT_GE(slow->dropped(), static_cast<std::uint64_t>(kEvents - 2 * 100 - 1));
  EXPECT_LT(slow->dropped(), static_cast<std::uint64_t>(kEvents));

  auto st = bus.stats();
  EXPECT_EQ(st.published, static_cast<std::uint64_t>(kEvents));
  ASSERT_EQ(st.subscriptions.size(), 2u);
  EXPECT_EQ(st.subscriptions[1].name, "slow-cti");
  EXPECT_EQ(st.subscriptions[1].dropped, slow->dropped());

  // Drops are logged naming the subscriber, but rate-limited, not once per event.
  auto lines = log.snapshot();
  ASSERT_GE(lines.size(), 1u);
  EXPECT_LT(lines.size(), 100u);
  EXPECT_NE(lines[0].find("'slow-cti'"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("dropped"), std::string::npos) << lines[0];
  slow.reset();  // waits for the in-flight 10 ms handler only
}

TEST(EventBus, UnsubscribeFromInsideOwnHandler) {
  RecordingLogger log;
  EventBusImpl bus(log);
  std::unique_ptr<sdk::Subscription> sub;
  std::atomic<int> calls{0};
  std::promise<void> unsubscribed;
  std::mutex sub_mutex;
  std::unique_lock hold(sub_mutex);
  sub = bus.subscribe("a.b", [&](const sdk::Event&) {
    ++calls;
    std::lock_guard l(sub_mutex);
    if (sub) {
      sub.reset();
      unsubscribed.set_value();
    }
  });
  hold.unlock();
  bus.publish("a.b", "1");
  bus.publish("a.b", "2");
  ASSERT_EQ(unsubscribed.get_future().wait_for(60s), std::future_status::ready);
  bus.publish("a.b", "3");
  // The bus keeps working for other subscribers afterwards.
  std::atomic<int> other{0};
  auto s2 = bus.subscribe("a.*", [&](const sdk::Event&) { ++other; });
  bus.publish("a.b", "4");
  ASSERT_TRUE(eventually([&] { return other == 1; }));
  EXPECT_EQ(calls.load(), 1);
  EXPECT_TRUE(bus.stats().subscriptions.size() == 1);
}

TEST(EventBus, UnsubscribeFromAnotherThreadWaitsForTheInFlightHandler) {
  RecordingLogger log;
  EventBusImpl bus(log);
  std::promise<void> entered;
  std::atomic<bool> finished{false};
  auto sub = bus.subscribe("x", [&](const sdk::Event&) {
    entered.set_value();
    std::this_thread::sleep_for(200ms);
    finished = true;
  });
  bus.publish("x", "");
  ASSERT_EQ(entered.get_future().wait_for(60s), std::future_status::ready);
  sub.reset();
  EXPECT_TRUE(finished.load());
}

TEST(EventBus, NoDeliveryAfterUnsubscribeReturns) {
  RecordingLogger log;
  EventBusImpl bus(log);
  std::atomic<bool> stopped{false};
  std::atomic<int> late{0};
  auto sub = bus.subscribe("#", [&](const sdk::Event&) {
    if (stopped) ++late;
  });
  std::atomic<bool> run{true};
  std::thread publisher([&] {
    while (run) bus.publish("t", "");
  });
  std::this_thread::sleep_for(20ms);
  sub.reset();
  stopped = true;
  std::this_thread::sleep_for(20ms);
  run = false;
  publisher.join();
  EXPECT_EQ(late.load(), 0);
}

TEST(EventBus, ThrowingHandlerIsLoggedAndKeepsReceiving) {
  RecordingLogger log;
  EventBusImpl bus(log);
  std::atomic<int> seen{0};
  auto sub = bus.subscribe(
      "config.#",
      [&](const sdk::Event& e) {
        ++seen;
        if (e.body == "bad") throw std::runtime_error("cannot parse body");
      },
      {.name = "confd-cache"});
  bus.publish("config.user.created", "bad");
  bus.publish("config.user.created", "good");
  ASSERT_TRUE(eventually([&] { return sub->delivered() == 2; }));
  EXPECT_EQ(seen.load(), 2);
  auto lines = log.snapshot();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("'confd-cache'"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("cannot parse body"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("config.user.created"), std::string::npos) << lines[0];
}

TEST(EventBus, ConcurrentPublishersAndSubscribeChurn) {
  RecordingLogger log;
  EventBusImpl bus(log);
  std::atomic<int> total{0};
  auto steady = bus.subscribe("load.#", [&](const sdk::Event&) { ++total; });
  std::atomic<bool> run{true};
  std::thread churn([&] {
    while (run) {
      auto s = bus.subscribe("load.*", [](const sdk::Event&) {});
    }
  });
  std::vector<std::thread> pubs;
  for (int t = 0; t < 2; ++t)
    pubs.emplace_back([&, t] {
      for (int i = 0; i < 20000; ++i) bus.publish("load." + std::to_string(i % 50), "");
    });
  for (auto& p : pubs) p.join();
  run = false;
  churn.join();
  ASSERT_TRUE(eventually([&] { return total == 40000; }));
  EXPECT_EQ(steady->dropped(), 0u);
}

TEST(EventBus, DestroyingTheBusWithLiveSubscriptionsIsSafe) {
  RecordingLogger log;
  std::unique_ptr<sdk::Subscription> sub;
  {
    EventBusImpl bus(log);
    sub = bus.subscribe("#", [](const sdk::Event&) {});
    bus.publish("a", "");
  }
  EXPECT_LE(sub->delivered(), 1u);
  sub.reset();
}

}  // namespace
}  // namespace dialtone::kernel
