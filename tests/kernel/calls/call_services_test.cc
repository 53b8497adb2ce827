// Pickup and parking on the call core alone, with a backend that is not
// SIP: a test driver that rings, answers, cancels and bridges on request.
// What the services ask of drivers (cancel the ringing legs, answer both
// parties, bridge them) and what they publish is checked here; the SIP path
// with real phones is tests/plugins/media/calls/pickup_parking_test.cc.
#include "kernel/calls/call_core.h"

#include <chrono>
#include <future>
#include <mutex>
#include <set>

#include <gtest/gtest.h>

#include "tests/support/test_bus.h"
#include "tests/support/test_logger.h"

namespace dialtone::kernel {
namespace {

using sdk::ChannelDirection;
using sdk::ChannelState;

// Legs ring at once; answer, cancel and hang-up report back at once.
struct FakeDriver final : sdk::ChannelDriver {
  explicit FakeDriver(CallCoreImpl& core) : core(core) {}
  CallCoreImpl& core;
  std::mutex m;
  std::set<std::string> cancelled;
  std::vector<std::pair<std::string, std::string>> bridged;
  sdk::Status originate(const sdk::OriginateRequest& r) override {
    for (auto& l : r.legs) (void)core.set_state(l.channel_id, ChannelState::ringing);
    return {};
  }
  sdk::Status cancel(const sdk::Channel& c, int) override {
    {
      std::lock_guard lock(m);
      cancelled.insert(c.id);
    }
    return core.end_channel(c.id, 487);
  }
  sdk::Status answer(const sdk::Channel& c) override { return core.set_state(c.id, ChannelState::up); }
  sdk::Status bridge(const sdk::Channel& a, const sdk::Channel& b, sdk::MediaPath) override {
    std::lock_guard lock(m);
    bridged.emplace_back(a.id, b.id);
    return {};
  }
  sdk::Status hangup(const sdk::Channel& c, int cause) override { return core.end_channel_q850(c.id, cause ? cause : 16); }
};

class CallServicesTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(core_.register_driver("fake", driver_)); }
  std::string caller(const std::string& endpoint) {
    sdk::ChannelSpec s;
    s.backend = "fake";
    s.endpoint = endpoint;
    s.direction = ChannelDirection::inbound;
    s.caller_number = endpoint;
    return *core_.create_channel(std::move(s));
  }
  template <class T>
  static T get(std::future<T>& f) {
    EXPECT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    return f.get();
  }
  sdk::Status pickup(const std::string& picker, const std::string& leg) {
    std::promise<sdk::Status> p;
    auto f = p.get_future();
    core_.pickup(picker, leg, [&p](sdk::Status s) { p.set_value(s); });
    return get(f);
  }
  sdk::Status unpark(const std::string& retriever, const std::string& lot, int slot) {
    std::promise<sdk::Status> p;
    auto f = p.get_future();
    core_.unpark(retriever, lot, slot, [&p](sdk::Status s) { p.set_value(s); });
    return get(f);
  }
  std::shared_future<std::string> waiting(const std::string& channel) {
    auto p = std::make_shared<std::promise<std::string>>();
    core_.wait_parked(channel, [p](std::string o) { p->set_value(o); });
    return p->get_future().share();
  }
  static sdk::ParkRequest lot(std::string id, int first, int last, int timeout = 0) {
    sdk::ParkRequest r;
    r.lot = std::move(id);
    r.context = "default";
    r.first_slot = first;
    r.last_slot = last;
    r.timeout_seconds = timeout;
    return r;
  }

  testing::TestBus bus_;
  testing::TestLogger log_;
  CallCoreImpl core_{bus_, log_};
  std::shared_ptr<FakeDriver> driver_ = std::make_shared<FakeDriver>(core_);
};

// alice's call rings bob's two phones; carol picks it up: both phones are
// cancelled, alice and carol answered and bridged, alice's dial answered
// by carol, and calls.pickup names them.
TEST_F(CallServicesTest, PickupCancelsTheRingingLegsAndBridgesCallerAndPicker) {
  auto alice = caller("alice");
  std::promise<sdk::DialOutcome> outcome;
  sdk::DialOptions o;
  o.targets = {"fake/bob", "fake/bob-mobile"};
  core_.dial(alice, o, [&](const sdk::DialOutcome& r) { outcome.set_value(r); });
  auto ringing = core_.ringing_leg({"fake/bob"});
  ASSERT_TRUE(ringing) << ringing.error().message;
  EXPECT_FALSE(core_.ringing_leg({"fake/dave"})) << "nothing rings on dave's line";
  auto carol = caller("carol");
  ASSERT_TRUE(pickup(carol, *ringing));
  auto f = outcome.get_future();
  auto r = get(f);
  EXPECT_EQ(r.status, "answered");
  EXPECT_EQ(r.channel, carol);
  EXPECT_EQ(driver_->cancelled.size(), 2u) << "both of bob's phones stop ringing";
  ASSERT_EQ(driver_->bridged.size(), 1u);
  EXPECT_EQ(driver_->bridged[0], std::make_pair(alice, carol));
  EXPECT_EQ(core_.channel(alice)->state, ChannelState::up);
  EXPECT_EQ(core_.channel(carol)->state, ChannelState::up);
  EXPECT_EQ(core_.channel(alice)->peer, carol);
  auto e = bus_.wait_for("calls.pickup");
  ASSERT_TRUE(e);
  EXPECT_NE(e->body.find("\"picker\":\"" + carol + "\""), std::string::npos) << e->body;
  EXPECT_NE(e->body.find("\"ringing_endpoint\":\"fake/bob\""), std::string::npos) << e->body;
  // The leg is gone: a second pickup of it is refused, and says so.
  auto again = pickup(caller("dave"), *ringing);
  EXPECT_FALSE(again);
}

// Slots rotate, a full lot refuses, a retrieved call's wait says so, a
// parked caller hanging up frees its slot, and a timeout is told once.
TEST_F(CallServicesTest, ParkingSlotsRotateFillRetrieveAbandonAndTimeOut) {
  auto a = caller("a"), b = caller("b"), c = caller("c");
  EXPECT_EQ(*core_.park(a, lot("1", 701, 702)), 701);
  EXPECT_EQ(*core_.park(b, lot("1", 701, 702)), 702);
  auto full = core_.park(c, lot("1", 701, 702));
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, sdk::ErrorCode::unavailable);
  EXPECT_FALSE(core_.park(a, lot("1", 701, 702))) << "parked twice";
  auto a_fate = waiting(a);
  auto r = caller("r");
  ASSERT_TRUE(unpark(r, "1", 701));
  EXPECT_EQ(a_fate.get(), "retrieved");
  EXPECT_EQ(driver_->bridged.back(), std::make_pair(a, r));
  EXPECT_EQ(unpark(caller("r2"), "1", 701).error().code, sdk::ErrorCode::not_found) << "701 is empty now";
  // 702 was taken last: the search starts after it and wraps to 701.
  EXPECT_EQ(*core_.park(c, lot("1", 701, 702)), 701);
  auto b_fate = waiting(b);
  ASSERT_TRUE(core_.hangup_channel(b));
  EXPECT_EQ(b_fate.get(), "hangup");
  EXPECT_TRUE(bus_.wait_for("calls.park.abandoned"));
  auto d = caller("d");
  EXPECT_EQ(*core_.park(d, lot("2", 801, 801, 1)), 801);
  auto d_fate = waiting(d);
  EXPECT_EQ(d_fate.get(), "timeout");
  auto t = bus_.wait_for("calls.park.timeout");
  ASSERT_TRUE(t);
  EXPECT_NE(t->body.find("\"slot\":\"801\""), std::string::npos) << t->body;
  auto left = core_.parked_calls();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].channel, c);
}

}  // namespace
}  // namespace dialtone::kernel
