// Calls between two simulated E1 spans joined back to back, real libpri on
// both ends: span 1 (pri_cpe, the PBX's port) and span 2 (pri_net, playing
// the operator). Every call goes through the call core and the dialplan
// (dialplan.lua: the shipped calls and incalls modules).
extern "C" {
#include <libpri.h>
}

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "audio_probe.h"
#include "dahdi_host.h"

namespace dialtone::testing {
namespace {

using plugins::dahdi::AudioPort;

std::map<std::string, std::string> two_spans() {
  return {
      {"dahdi.overlap_timeout", "300ms"},
      // system.conf: span=1,1,0,ccs,hdb3 / bchan=1-15,17-31 / dchan=16
      {"span.1.driver", "simulated"}, {"span.1.peer", "2"},
      {"span.1.timing", "1"}, {"span.1.framing", "ccs"}, {"span.1.coding", "hdb3"},
      {"span.1.bchan", "1-15,17-31"}, {"span.1.dchan", "16"},
      {"span.1.signalling", "pri_cpe"}, {"span.1.switchtype", "euroisdn"},
      {"span.1.group", "0,11"}, {"span.1.context", "from-pabx"},
      {"span.1.pridialplan", "dynamic"}, {"span.1.overlapdial", "outgoing"},
      // span=2,0,0,ccs,hdb3 / bchan=32-46,48-62 / dchan=47
      {"span.2.driver", "simulated"}, {"span.2.peer", "1"},
      {"span.2.timing", "0"}, {"span.2.bchan", "32-46,48-62"}, {"span.2.dchan", "47"},
      {"span.2.signalling", "pri_net"}, {"span.2.switchtype", "euroisdn"},
      {"span.2.group", "2,12"}, {"span.2.context", "from-extern"},
      {"span.2.overlapdial", "incoming"},
  };
}

rapidjson::Document json(const std::string& s) {
  rapidjson::Document d;
  d.Parse(s.c_str());
  return d;
}

class DahdiCallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    driver_ = host_.start_dahdi(two_spans());
    ASSERT_TRUE(eventually([&] {
      auto s = driver_->spans();
      return s.size() == 2 && s[0].dchan_up && s[1].dchan_up;
    })) << "both D-channels come up";
  }

  void TearDown() override {
    if (!HasFailure()) return;
    for (auto& l : host_.logger().lines()) std::fprintf(stderr, "  | %s\n", l.c_str());
    for (auto& e : host_.test_bus().events()) std::fprintf(stderr, "  * %s %s\n", e.topic.c_str(), e.body.c_str());
  }

  // The log line the test dialplan writes for a routed call.
  std::string routed(const std::string& exten) {
    std::string found;
    eventually([&] {
      for (auto& l : host_.logger().lines())
        if (l.find("routed " + exten + " ") != std::string::npos) found = l;
      return !found.empty();
    });
    return found;
  }

  // The inbound channel span 2 created for the call (the operator's side).
  std::string inbound_on(int span) {
    std::string id;
    eventually([&] {
      for (auto& c : host_.calls().channels())
        if (c.backend == "dahdi" && c.direction == sdk::ChannelDirection::inbound &&
            c.endpoint.rfind(std::to_string(span) + "/", 0) == 0)
          id = c.id;
      return !id.empty();
    });
    return id;
  }

  bool idle() {
    return eventually([&] {
      for (auto& s : driver_->spans())
        if (s.calls) return false;
      for (auto& c : host_.calls().channels())
        if (c.backend == "dahdi") return false;  // the callers' test legs may remain
      return true;
    });
  }

  DahdiTestHost host_;
  std::shared_ptr<plugins::dahdi::DahdiDriver> driver_;
};

TEST_F(DahdiCallTest, DChannelStateIsABusEventPerSpan) {
  auto up1 = host_.test_bus().wait_for("dahdi.span.dchan", std::chrono::seconds(10), 0);
  auto up2 = host_.test_bus().wait_for("dahdi.span.dchan", std::chrono::seconds(10), 1);
  ASSERT_TRUE(up1 && up2);
  std::set<int> spans;
  for (auto* e : {&*up1, &*up2}) {
    auto d = json(e->body);
    EXPECT_STREQ(d["state"].GetString(), "up") << e->body;
    spans.insert(d["span"].GetInt());
  }
  EXPECT_EQ(spans, (std::set<int>{1, 2}));
}

TEST_F(DahdiCallTest, BusyOnTheFarSpanIsCause17AndSip486) {
  auto d = host_.dial({"dahdi/1/0140001017"});
  auto o = DahdiTestHost::wait_outcome(*d);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->status, "busy");
  EXPECT_EQ(o->q850, 17);
  EXPECT_EQ(o->sip, 486);
  EXPECT_EQ(o->failover, std::optional<bool>(false)) << "a busy callee is busy through any trunk";
  // Overlap out of span 1 (digits after SETUP ACKNOWLEDGE), the type of
  // number from pridialplan = dynamic: the national prefix travels as the
  // type of number and comes back on the caller's number.
  auto line = routed("busy");
  EXPECT_NE(line.find("did=140001017 context=from-extern caller=0612345678"), std::string::npos) << line;
  EXPECT_NE(line.find("incall=2 calling_ton=national called_ton=national pres=allowed span=2"), std::string::npos)
      << line;
  EXPECT_TRUE(idle());
}

TEST_F(DahdiCallTest, UnallocatedNumberIsCause1AndSip404) {
  auto d = host_.dial({"dahdi/g11/0149999999"});  // group 11: span 1
  auto o = DahdiTestHost::wait_outcome(*d);
  ASSERT_TRUE(o);
  EXPECT_NE(o->status, "answered");
  EXPECT_EQ(o->q850, 1);
  EXPECT_EQ(o->sip, 404);
  EXPECT_TRUE(idle());
}

TEST_F(DahdiCallTest, NoAnswerBehindTheFarSpanIsCause19) {
  auto d = host_.dial({"dahdi/1/0140001019"});
  auto o = DahdiTestHost::wait_outcome(*d);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->status, "noanswer");
  EXPECT_EQ(o->q850, 19);
  EXPECT_EQ(o->sip, 408);
  EXPECT_TRUE(idle());
}

TEST_F(DahdiCallTest, RingingReachesTheCallerAndCancelClearsBothSpans) {
  auto d = host_.dial({"dahdi/1/0140001024"});  // incall pattern 14000102X
  ASSERT_FALSE(routed("ring").empty());
  // ALERTING from span 2 (its dialplan rings test/nobody) reaches span 1.
  ASSERT_TRUE(eventually([&] {
    for (auto& c : host_.calls().channels())
      if (c.backend == "dahdi" && c.direction == sdk::ChannelDirection::outbound)
        return c.state == sdk::ChannelState::ringing;
    return false;
  }));
  auto far = inbound_on(2);
  ASSERT_FALSE(far.empty());
  host_.calls().cancel_dial(std::string());  // no-op on an unknown id
  ASSERT_TRUE(host_.calls().hangup_channel(d->origin, 16));
  auto o = DahdiTestHost::wait_outcome(*d);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->status, "cancel");
  EXPECT_TRUE(eventually([&] { return !host_.calls().channel(far); })) << "span 2's leg ends too";
  EXPECT_TRUE(idle());
}

TEST_F(DahdiCallTest, AnsweredCallCarriesTonesBothWaysOnTheBChannel) {
  auto d = host_.dial({"dahdi/1/0140001000"});
  auto o = DahdiTestHost::wait_outcome(*d);
  ASSERT_TRUE(o);
  ASSERT_EQ(o->status, "answered");
  auto near = driver_->b_channel(o->channel);
  auto far_id = inbound_on(2);
  auto far = driver_->b_channel(far_id);
  ASSERT_TRUE(near && far);
  EXPECT_EQ(near->second, far->second) << "both ends of the call use the same time slot";

  auto to_far = std::make_shared<ToneProbe>();
  auto to_near = std::make_shared<ToneProbe>();
  auto s1 = std::make_shared<SineSource>(1004, 8000);
  auto s2 = std::make_shared<SineSource>(440, 4000);
  driver_->connect_audio(*near, AudioPort{[s1](plugins::dahdi::Frame& f) { (*s1)(f); },
                                          [to_near](const plugins::dahdi::Frame& f) { (*to_near)(f); }});
  driver_->connect_audio(*far, AudioPort{[s2](plugins::dahdi::Frame& f) { (*s2)(f); },
                                         [to_far](const plugins::dahdi::Frame& f) { (*to_far)(f); }});
  // One second of audio each way (50 frames), beyond what was in flight.
  ASSERT_TRUE(eventually([&] { return to_far->samples() >= 8000 + 1600 && to_near->samples() >= 8000 + 1600; }));
  EXPECT_NEAR(to_far->amplitude(1004, 4000), 8000, 800) << "1004 Hz reaches span 2 at its level";
  EXPECT_LT(to_far->amplitude(440, 4000), 200) << "and nothing of the other direction";
  EXPECT_NEAR(to_far->rms(4000), 8000 / std::sqrt(2.0), 600);
  EXPECT_NEAR(to_near->amplitude(440, 4000), 4000, 400) << "440 Hz reaches span 1";
  EXPECT_LT(to_near->amplitude(1004, 4000), 100);
  auto st = driver_->audio_stats(*far);
  EXPECT_EQ(st.short_reads, 0u);

  ASSERT_TRUE(host_.calls().hangup_channel(d->origin, 16));
  EXPECT_TRUE(eventually([&] { return !host_.calls().channel(far_id); }));
  EXPECT_TRUE(idle());
}

TEST_F(DahdiCallTest, EnBlocCallByGroupFromSpan2ReachesSpan1sContextAnonymously) {
  auto d = host_.dial({"dahdi/g12/2001"}, "0298765432", 20, /*anonymous=*/true);
  auto o = DahdiTestHost::wait_outcome(*d);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->status, "answered");
  auto line = routed("answer");
  EXPECT_NE(line.find("did=2001 context=from-pabx caller=0298765432 name= incall=10"), std::string::npos) << line;
  EXPECT_NE(line.find("pres=restricted span=1"), std::string::npos) << line;
  ASSERT_TRUE(host_.calls().hangup_channel(d->origin, 16));
  EXPECT_TRUE(idle());
}

TEST_F(DahdiCallTest, AChannelNamedByItsDahdiNumberCarriesTheCall) {
  // Span 2's channel 40 (bchan 32-46,48-62) is its 9th time slot: the call
  // arrives on span 1's channel 9.
  auto d = host_.dial({"dahdi/2/40/2001"});
  auto o = DahdiTestHost::wait_outcome(*d);
  ASSERT_TRUE(o);
  ASSERT_EQ(o->status, "answered");
  EXPECT_EQ(driver_->b_channel(o->channel), (std::optional<plugins::dahdi::ChannelKey>{{2, 9}}));
  auto in = inbound_on(1);
  ASSERT_FALSE(in.empty());
  EXPECT_EQ(host_.calls().channel(in)->endpoint, "1/9");
  // Taken: a second call on it is refused with cause 44.
  auto again = host_.dial({"dahdi/2/40/2001"});
  auto o2 = DahdiTestHost::wait_outcome(*again);
  ASSERT_TRUE(o2);
  EXPECT_EQ(o2->q850, 44);
  auto bad = host_.dial({"dahdi/2/16/2001"});  // span 1's D-channel, not span 2's
  auto o3 = DahdiTestHost::wait_outcome(*bad);
  ASSERT_TRUE(o3);
  EXPECT_EQ(o3->q850, 28);
  ASSERT_TRUE(host_.calls().hangup_channel(d->origin, 16));
  EXPECT_TRUE(idle());
}

TEST_F(DahdiCallTest, RestartEndsTheCallsOnBothSpans) {
  auto d = host_.dial({"dahdi/1/0140001000"});
  auto o = DahdiTestHost::wait_outcome(*d);
  ASSERT_TRUE(o);
  ASSERT_EQ(o->status, "answered");
  auto far = inbound_on(2);
  ASSERT_FALSE(far.empty());
  driver_->restart_span(1);
  EXPECT_TRUE(eventually([&] { return !host_.calls().channel(o->channel); })) << "span 1 ends its leg";
  ASSERT_TRUE(eventually([&] { return !host_.calls().channel(far); })) << "span 2 ends its leg";
  // The core publishes a channel's end after removing it: wait for the event.
  int far_cause = 0;
  EXPECT_TRUE(eventually([&] {
    for (auto& e : host_.test_bus().events())
      if (e.topic == "calls.channel.ended") {
        auto j = json(e.body);
        if (j["id"].GetString() == far) far_cause = j["q850_cause"].GetInt();
      }
    return far_cause != 0;
  })) << "span 2's leg is published ended";
  EXPECT_EQ(far_cause, 41) << "span 2 ends its leg on RESTART with cause 41 (temporary failure)";
  EXPECT_TRUE(idle());
  // The channels are usable again.
  auto again = host_.dial({"dahdi/1/0140001017"});
  auto o2 = DahdiTestHost::wait_outcome(*again);
  ASSERT_TRUE(o2);
  EXPECT_EQ(o2->q850, 17);
}

TEST_F(DahdiCallTest, PulledCableTakesTheDChannelDownThenUpAgain) {
  // Q.921 notices a silent link after T203 then N200 x T200: shorten T203.
  driver_->set_timer(1, PRI_TIMER_T203, 500);
  driver_->set_timer(2, PRI_TIMER_T203, 500);
  driver_->unplug(1, true);
  ASSERT_TRUE(eventually([&] {
    for (auto& s : driver_->spans())
      if (s.dchan_up) return false;
    return true;
  }, std::chrono::seconds(30)));
  bool down_event = false;
  for (auto& e : host_.test_bus().events())
    if (e.topic == "dahdi.span.dchan" && json(e.body)["state"].GetString() == std::string("down")) down_event = true;
  EXPECT_TRUE(down_event);
  // No circuit while the D-channel is down: cause 34.
  auto d = host_.dial({"dahdi/1/0140001000"});
  auto o = DahdiTestHost::wait_outcome(*d);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->q850, 34);
  EXPECT_EQ(o->failover, std::optional<bool>(true)) << "an outgoing route tries its next trunk";
  driver_->unplug(1, false);
  ASSERT_TRUE(eventually([&] {
    for (auto& s : driver_->spans())
      if (!s.dchan_up) return false;
    return true;
  }, std::chrono::seconds(30)));
  auto again = host_.dial({"dahdi/1/0140001017"});
  auto o2 = DahdiTestHost::wait_outcome(*again);
  ASSERT_TRUE(o2);
  EXPECT_EQ(o2->q850, 17);
}

}  // namespace
}  // namespace dialtone::testing
