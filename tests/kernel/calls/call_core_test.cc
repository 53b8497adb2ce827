// The call core's channel table and events: what a backend reports is what
// anyone lists, each change is one bus event, ended channels are gone, and
// hang-ups reach the owning backend's driver.
#include "kernel/calls/call_core.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "kernel/bus/event_bus.h"
#include "tests/support/test_bus.h"
#include "tests/support/test_logger.h"
#include "tests/support/sip_leg.h"

namespace dialtone::kernel {
namespace {

using sdk::ChannelDirection;
using sdk::ChannelState;

struct RecordingDriver final : sdk::ChannelDriver {
  std::mutex mutex;
  std::vector<std::pair<std::string, int>> asked;  // (backend_ref, cause)
  sdk::Status hangup(const sdk::Channel& c, int cause) override {
    std::lock_guard lock(mutex);
    asked.emplace_back(c.backend_ref, cause);
    return {};
  }
};

rapidjson::Document json(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str());
  return d;
}

sdk::ChannelSpec leg(ChannelDirection dir, std::string endpoint, std::string call_id = {}) {
  return testing::sip_leg(dir, std::move(endpoint), std::move(call_id));
}

class CallCoreTest : public ::testing::Test {
 protected:
  testing::TestBus bus_;
  testing::TestLogger log_;
  CallCoreImpl core_{bus_, log_};
};

TEST_F(CallCoreTest, AnsweredCallShowsTwoLinkedUpChannelsOfOneCall) {
  auto a = core_.create_channel(leg(ChannelDirection::inbound, "alice"));
  ASSERT_TRUE(a) << a.error().message;
  auto b = core_.create_channel(leg(ChannelDirection::outbound, "bob", *a));
  ASSERT_TRUE(b);
  EXPECT_NE(*a, *b);
  ASSERT_TRUE(core_.set_state(*b, ChannelState::ringing));
  ASSERT_TRUE(core_.set_state(*a, ChannelState::up));
  ASSERT_TRUE(core_.set_state(*b, ChannelState::up));
  ASSERT_TRUE(core_.link(*a, *b));

  auto list = core_.channels();
  ASSERT_EQ(list.size(), 2u);
  for (auto& c : list) {
    EXPECT_EQ(c.call_id, *a) << "both legs belong to the caller's call";
    EXPECT_EQ(c.state, ChannelState::up);
    EXPECT_EQ(c.peer, c.id == *a ? *b : *a);
    EXPECT_GT(c.answered_at_ms, 0);
  }
  auto one = core_.channel(*b);
  ASSERT_TRUE(one);
  EXPECT_EQ(one->endpoint, "bob");
  EXPECT_EQ(one->direction, ChannelDirection::outbound);
  EXPECT_EQ(one->protocol_id, "abc@host");
}

TEST_F(CallCoreTest, EveryChangeIsOneBusEventWithTheChannel) {
  auto a = core_.create_channel(leg(ChannelDirection::inbound, "alice"));
  ASSERT_TRUE(a);
  ASSERT_TRUE(core_.set_state(*a, ChannelState::ringing));
  ASSERT_TRUE(core_.set_state(*a, ChannelState::ringing));  // unchanged: no event
  ASSERT_TRUE(core_.end_channel(*a, 486));
  core_.stop();  // publishes what is queued

  std::vector<std::string> topics;
  for (auto& e : bus_.events()) topics.push_back(e.topic);
  EXPECT_EQ(topics, (std::vector<std::string>{"calls.channel.created", "calls.channel.state",
                                              "calls.channel.ended"}));
  auto created = json(bus_.events()[0].body);
  ASSERT_TRUE(created.IsObject()) << bus_.events()[0].body;
  EXPECT_STREQ(created["id"].GetString(), a->c_str());
  EXPECT_STREQ(created["call_id"].GetString(), a->c_str());
  EXPECT_STREQ(created["endpoint"].GetString(), "alice");
  EXPECT_STREQ(created["direction"].GetString(), "inbound");
  EXPECT_STREQ(created["state"].GetString(), "down");
  EXPECT_STREQ(created["caller_number"].GetString(), "1001");
  EXPECT_STREQ(json(bus_.events()[1].body)["state"].GetString(), "ringing");
  auto ended = json(bus_.events()[2].body);
  EXPECT_STREQ(ended["state"].GetString(), "ended");
  EXPECT_EQ(ended["cause"].GetInt(), 486);
}

// A transfer: alice, up with bob, is linked to carol instead; followers see
// alice and carol reported again with their new peer, bob's link dropped.
TEST_F(CallCoreTest, RelinkingChannelsThatAreUpReportsTheirNewPeer) {
  auto a = core_.create_channel(leg(ChannelDirection::inbound, "alice"));
  auto b = core_.create_channel(leg(ChannelDirection::outbound, "bob", *a));
  auto c = core_.create_channel(leg(ChannelDirection::outbound, "carol"));
  ASSERT_TRUE(core_.link(*a, *b));  // not up yet: reported by the state change
  for (auto& id : {*a, *b, *c}) ASSERT_TRUE(core_.set_state(id, ChannelState::up));
  ASSERT_TRUE(core_.link(*a, *b));  // same peer: nothing new
  ASSERT_TRUE(core_.end_channel(*b, 200));
  ASSERT_TRUE(core_.link(*c, *a));
  core_.stop();

  std::vector<std::string> states;
  for (auto& e : bus_.events())
    if (e.topic == "calls.channel.state") {
      auto j = json(e.body);
      states.push_back(std::string(j["endpoint"].GetString()) + "->" + j["peer"].GetString());
    }
  EXPECT_EQ(states, (std::vector<std::string>{"alice->" + *b, "bob->" + *a, "carol->", "carol->" + *a,
                                              "alice->" + *c}));
  EXPECT_EQ(core_.channel(*a)->peer, *c);
}

TEST_F(CallCoreTest, EndedChannelsAreGoneAndTheirPeerUnlinked) {
  auto a = core_.create_channel(leg(ChannelDirection::inbound, "alice"));
  auto b = core_.create_channel(leg(ChannelDirection::outbound, "bob", *a));
  ASSERT_TRUE(core_.link(*a, *b));
  ASSERT_TRUE(core_.end_channel(*b, 200));
  auto rest = core_.channels();
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].id, *a);
  EXPECT_TRUE(rest[0].peer.empty());
  EXPECT_EQ(core_.end_channel(*b, 200).error().code, sdk::ErrorCode::not_found);
  EXPECT_EQ(core_.set_state(*b, ChannelState::up).error().code, sdk::ErrorCode::not_found);
  EXPECT_FALSE(core_.channel(*b));
  ASSERT_TRUE(core_.end_channel(*a, 200));
  EXPECT_TRUE(core_.channels().empty());
}

TEST_F(CallCoreTest, HangupsReachTheOwningBackendsDriver) {
  auto driver = std::make_shared<RecordingDriver>();
  ASSERT_TRUE(core_.register_driver("sip", driver));
  EXPECT_EQ(core_.register_driver("sip", driver).error().code, sdk::ErrorCode::conflict);
  auto a = core_.create_channel(leg(ChannelDirection::inbound, "alice"));
  auto b = core_.create_channel(leg(ChannelDirection::outbound, "bob", *a));

  ASSERT_TRUE(core_.hangup_channel(*b, sdk::q850::user_busy));
  ASSERT_TRUE(core_.hangup_call(*a));
  {
    std::lock_guard lock(driver->mutex);
    ASSERT_EQ(driver->asked.size(), 3u) << "one channel, then both legs of the call";
    EXPECT_EQ(driver->asked[0], (std::pair<std::string, int>{"stack-call-1", sdk::q850::user_busy}));
  }
  EXPECT_EQ(core_.hangup_channel("nope").error().code, sdk::ErrorCode::not_found);
  EXPECT_EQ(core_.hangup_call("nope").error().code, sdk::ErrorCode::not_found);
  // The backend asked; only its own end_channel() removes the legs.
  EXPECT_EQ(core_.channels().size(), 2u);
}

TEST_F(CallCoreTest, UnregisteringABackendEndsItsChannels) {
  auto driver = std::make_shared<RecordingDriver>();
  ASSERT_TRUE(core_.register_driver("sip", driver));
  (void)core_.create_channel(leg(ChannelDirection::inbound, "alice"));
  auto other = leg(ChannelDirection::inbound, "span1");
  other.backend = "dahdi";
  auto kept = core_.create_channel(other);
  core_.unregister_driver("sip");
  auto rest = core_.channels();
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].id, *kept);
  auto c = core_.create_channel(leg(ChannelDirection::inbound, "alice"));
  EXPECT_EQ(core_.hangup_channel(*c).error().code, sdk::ErrorCode::unavailable) << "no driver any more";
}

TEST(CallCoreLimits, TheTableAndTheEventQueueAreBounded) {
  testing::TestBus bus;
  testing::TestLogger log;
  CallCoreImpl core(bus, log, CallCoreConfig{.max_channels = 3, .max_queued_events = 65536});
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(core.create_channel(leg(ChannelDirection::inbound, "alice")));
  auto refused = core.create_channel(leg(ChannelDirection::inbound, "alice"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, sdk::ErrorCode::unavailable);
  EXPECT_NE(refused.error().message.find("maximum"), std::string::npos) << refused.error().message;
}

// Backends report from several threads at once (SIP, later DAHDI): every
// channel created is listed until ended, and every event is published.
TEST(CallCoreConcurrency, ParallelBackendsKeepTheTableConsistent) {
  testing::TestBus bus;
  testing::TestLogger log;
  CallCoreImpl core(bus, log);
  constexpr int kThreads = 4, kCalls = 2000;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kCalls; ++i) {
        auto a = core.create_channel(leg(ChannelDirection::inbound, "alice"));
        auto b = core.create_channel(leg(ChannelDirection::outbound, "bob", a ? *a : ""));
        // Linked before up, as a backend answering does (a re-link of
        // channels already up is one more event each).
        if (!a || !b || !core.set_state(*b, ChannelState::ringing) || !core.link(*a, *b) ||
            !core.set_state(*a, ChannelState::up) || !core.set_state(*b, ChannelState::up) ||
            !core.end_channel(*b, 200) || !core.end_channel(*a, 200))
          ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  core.stop();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_TRUE(core.channels().empty());
  // Per call: 2 created, ringing, 2 bridged, 2 up, ended b, a unbridged, ended a.
  EXPECT_EQ(bus.events().size() + core.events_dropped(), std::size_t(kThreads) * kCalls * 10);
}

}  // namespace
}  // namespace dialtone::kernel
