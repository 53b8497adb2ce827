// The dialplan's call API with no SIP at all: the kernel's call core and
// Lua host, the `local` channel driver and the SDK's TestChannelDriver.
// Answer, busy, no answer, parallel ring (first answer wins, the others are
// cancelled), a local leg that runs the dialplan again, the loop guard,
// channel variables, argument checking and the ended events.
#include <future>
#include <mutex>
#include <string>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <dialtone/testing/test_channel_driver.h>

#include "kernel/calls/call_core.h"
#include "kernel/calls/local_driver.h"
#include "kernel/lua/lua_host.h"
#include "tests/support/eventually.h"
#include "tests/support/test_bus.h"
#include "tests/support/test_logger.h"

namespace sdk = dialtone::sdk;
using dialtone::testing::TestChannelDriver;
using dialtone::testing::eventually;
using Behaviour = TestChannelDriver::Behaviour;

namespace {

class CallApi : public ::testing::Test {
 protected:
  void SetUp() override {
    core_ = std::make_shared<dialtone::kernel::CallCoreImpl>(bus_, log_);
    dialtone::kernel::LuaConfig cfg;
    cfg.script = std::filesystem::path(LUA_TEST_DIR) / "call_api_test.lua";
    lua_ = std::make_unique<dialtone::kernel::LuaHostImpl>(cfg, log_);
    ASSERT_TRUE(lua_->start());
    ASSERT_TRUE(core_->export_lua(*lua_));
    local_ = std::make_shared<dialtone::kernel::LocalDriver>(*core_, *lua_, log_);
    ASSERT_TRUE(core_->register_driver("local", local_));
    driver_ = std::make_shared<TestChannelDriver>(core_);
    ASSERT_TRUE(core_->register_driver("test", driver_));
  }
  void TearDown() override {
    core_->unregister_driver("local");
    core_->unregister_driver("test");
    lua_->stop();
    core_->stop();
  }

  // Runs `fn` for a new inbound call to `callee`, as a backend does.
  sdk::Result<sdk::LuaValues> run(const std::string& fn, const std::string& callee,
                                  std::map<std::string, std::string> vars = {}, sdk::LuaValues extra = {}) {
    caller_ = driver_->call_in("alice", callee);
    auto t = std::make_shared<sdk::LuaTable>();
    t->fields["id"] = caller_;
    t->fields["channel"] = caller_;
    t->fields["caller_number"] = "1000";
    t->fields["called_number"] = callee;
    t->fields["context"] = "default";
    auto v = std::make_shared<sdk::LuaTable>();
    for (auto& [k, val] : vars) v->fields[k] = val;
    t->fields["vars"] = v;
    sdk::LuaValues args{t};
    for (auto& e : extra) args.push_back(e);
    std::promise<sdk::Result<sdk::LuaValues>> p;
    lua_->call(fn, args, [&](sdk::Result<sdk::LuaValues> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }
  // A field of the decision table route_call returned.
  static std::string field(const sdk::Result<sdk::LuaValues>& r, const char* key) {
    if (!r || r->empty() || !r->front().as_table()) return "<no table>";
    auto& f = r->front().as_table()->fields;
    auto it = f.find(key);
    if (it == f.end()) return "<nil>";
    if (auto* s = it->second.as_string()) return *s;
    if (auto i = it->second.as_int()) return std::to_string(*i);
    return "<other>";
  }
  std::future<sdk::Result<sdk::LuaValues>> run_async(const std::string& callee,
                                                     std::map<std::string, std::string> vars) {
    return std::async(std::launch::async, [this, callee, vars] { return run("route_call", callee, vars); });
  }
  bool wait_ringing(const std::string& target, std::size_t n = 1) {
    return eventually([&] {
      std::size_t ringing = 0;
      for (auto& c : core_->channels())
        if (c.backend == "test" && c.endpoint == target && c.state == sdk::ChannelState::ringing) ++ringing;
      return ringing >= n;
    });
  }

  // alice's call to 1 answered by bob: `bob` is his channel.
  void talking_to_bob(std::string& bob) {
    driver_->script("bob", Behaviour::answer);
    auto r = run("route_call", "1", {{"TARGETS", "test/bob"}});
    ASSERT_EQ(field(r, "status"), "answered");
    bob = core_->channel(caller_)->peer;
  }
  // A REFER of `transferor` to 2000 (context default) for media on `path`;
  // the progress the core reports to it is kept in told().
  sdk::TransferReport refer_to_2000(const std::string& transferor, sdk::MediaPath path) {
    sdk::TransferReport report;
    report.request.channel_id = transferor;
    report.request.exten = "2000";
    report.request.context = "default";
    report.path = path;
    report.progress = [this](int status, bool final) {
      std::lock_guard<std::mutex> lock(told_m_);
      told_.emplace_back(status, final);
    };
    return report;
  }
  std::vector<std::pair<int, bool>> told() {
    std::lock_guard<std::mutex> lock(told_m_);
    return told_;
  }
  // The caller rings 2000's dialplan target (dave), who answers; the body of
  // the calls.channel.transferred that follows.
  void dave_answers(std::string& transferred) {
    ASSERT_TRUE(wait_ringing("dave")) << "the caller now rings 2000's dialplan target";
    ASSERT_TRUE(driver_->answer_leg("dave"));
    auto ev = bus_.wait_for("calls.channel.transferred");
    ASSERT_TRUE(ev);
    transferred = ev->body;
    EXPECT_NE(transferred.find("\"exten\":\"2000\""), std::string::npos) << transferred;
  }

  dialtone::testing::TestLogger log_;
  dialtone::testing::TestBus bus_;
  std::shared_ptr<dialtone::kernel::CallCoreImpl> core_;
  std::unique_ptr<dialtone::kernel::LuaHostImpl> lua_;
  std::shared_ptr<dialtone::kernel::LocalDriver> local_;
  std::shared_ptr<TestChannelDriver> driver_;
  std::string caller_;
  std::mutex told_m_;
  std::vector<std::pair<int, bool>> told_;
};

TEST_F(CallApi, AnsweredLegIsLinkedToTheCaller) {
  driver_->script("bob", Behaviour::answer);
  auto r = run("route_call", "1", {{"TARGETS", "test/bob"}});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(field(r, "status"), "answered");
  EXPECT_EQ(field(r, "cause"), "16");
  EXPECT_EQ(field(r, "target"), "test/bob");
  EXPECT_EQ(field(r, "var"), "yes") << "call:setvar then call:getvar";
  auto caller = core_->channel(caller_);
  ASSERT_TRUE(caller);
  ASSERT_FALSE(caller->peer.empty());
  auto bob = core_->channel(caller->peer);
  ASSERT_TRUE(bob);
  EXPECT_EQ(bob->endpoint, "bob");
  EXPECT_EQ(bob->state, sdk::ChannelState::up);
  EXPECT_EQ(bob->call_id, caller->call_id) << "the dialed leg belongs to the caller's call";
  auto v = core_->variable(bob->id, "FROM_DIALPLAN");
  EXPECT_TRUE(v && *v == "yes") << "the dialed leg inherits the caller's variables";
}

TEST_F(CallApi, BusyLegGivesBusyWithItsCause) {
  driver_->script("bob", Behaviour::busy);
  auto r = run("route_call", "1", {{"TARGETS", "test/bob"}});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(field(r, "status"), "busy");
  EXPECT_EQ(field(r, "cause"), "17");
  EXPECT_EQ(field(r, "code"), "486") << "RFC 3398: 17 -> 486";
  auto ended = bus_.wait_for("calls.channel.ended");
  ASSERT_TRUE(ended);
  rapidjson::Document d;
  d.Parse(ended->body.c_str());
  ASSERT_TRUE(d.IsObject());
  EXPECT_EQ(d["q850_cause"].GetInt(), 17);
  EXPECT_EQ(d["sip_code"].GetInt(), 486);
  EXPECT_EQ(d["duration_ms"].GetInt64(), 0) << "never answered";
  EXPECT_STREQ(d["endpoint"].GetString(), "bob");
}

TEST_F(CallApi, NoAnswerCancelsTheLegWhenTheTimeRunsOut) {
  auto r = run("route_call", "1", {{"TARGETS", "test/bob"}, {"TIMEOUT", "1"}});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(field(r, "status"), "noanswer");
  EXPECT_EQ(driver_->cancelled("bob"), 1u);
  for (auto& c : core_->channels()) EXPECT_NE(c.endpoint, "bob") << "the cancelled leg is gone";
}

TEST_F(CallApi, ParallelRingFirstAnswerWinsOthersAreCancelled) {
  auto result = run_async("1", {{"TARGETS", "test/bob,test/carol,test/erin"}, {"TIMEOUT", "20"}});
  ASSERT_TRUE(wait_ringing("bob"));
  ASSERT_TRUE(wait_ringing("carol"));
  ASSERT_TRUE(wait_ringing("erin"));
  ASSERT_TRUE(driver_->answer_leg("carol"));
  auto r = result.get();
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(field(r, "status"), "answered");
  EXPECT_EQ(field(r, "target"), "test/carol");
  EXPECT_EQ(driver_->cancelled("bob"), 1u);
  EXPECT_EQ(driver_->cancelled("erin"), 1u);
  EXPECT_EQ(driver_->cancelled("carol"), 0u);
}

TEST_F(CallApi, BusyAndRefusedLegsLetAnotherAnswer) {
  driver_->script("bob", Behaviour::busy);
  driver_->script("carol", Behaviour::refuse);
  auto result = run_async("1", {{"TARGETS", "test/bob,test/carol,test/erin"}, {"TIMEOUT", "20"}});
  ASSERT_TRUE(wait_ringing("erin"));
  ASSERT_TRUE(driver_->answer_leg("erin"));
  auto r = result.get();
  EXPECT_EQ(field(r, "status"), "answered");
  EXPECT_EQ(field(r, "target"), "test/erin");
}

TEST_F(CallApi, LocalLegRunsTheDialplanForItsExtension) {
  auto result = run_async("1", {{"TARGETS", "local/2000@default"}, {"TIMEOUT", "20"}});
  ASSERT_TRUE(wait_ringing("dave")) << "route_call ran for 2000 and dialed test/dave";
  ASSERT_TRUE(driver_->answer_leg("dave"));
  auto r = result.get();
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(field(r, "status"), "answered");
  EXPECT_EQ(field(r, "target"), "local/2000@default");
  // Caller, local leg and dave; hanging dave up ends the local leg too.
  std::string local, dave;
  for (auto& c : core_->channels()) {
    if (c.backend == "local") local = c.id;
    if (c.endpoint == "dave") dave = c.id;
  }
  ASSERT_FALSE(local.empty());
  ASSERT_FALSE(dave.empty());
  EXPECT_EQ(core_->channel(local)->state, sdk::ChannelState::up);
  ASSERT_TRUE(core_->hangup_channel(dave));
  EXPECT_FALSE(core_->channel(local)) << "a local leg ends with either side";
}

TEST_F(CallApi, CallerLeavingCancelsLocalLegAndWhatItRings) {
  auto result = run_async("1", {{"TARGETS", "local/2000@default"}, {"TIMEOUT", "20"}});
  ASSERT_TRUE(wait_ringing("dave"));
  ASSERT_TRUE(core_->hangup_channel(caller_));
  auto r = result.get();
  EXPECT_EQ(field(r, "status"), "cancel");
  EXPECT_EQ(driver_->cancelled("dave"), 1u);
  EXPECT_TRUE(core_->channels().empty()) << core_->channels().size() << " channel(s) left";
}

TEST_F(CallApi, LocalLoopIsStoppedWithAClearError) {
  auto r = run("route_call", "1", {{"TARGETS", "local/3000@default"}});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(field(r, "status"), "unavailable");
  EXPECT_TRUE(log_.contains("local legs nested")) << "one line names the loop";
  EXPECT_TRUE(core_->channels().size() == 1u) << "only the caller is left";
}

TEST_F(CallApi, UnknownBackendIsSkippedAndNamed) {
  auto r = run("route_call", "1", {{"TARGETS", "pots/12"}});
  EXPECT_EQ(field(r, "status"), "unavailable");
  EXPECT_TRUE(log_.contains("no channel driver 'pots'"));
}

TEST_F(CallApi, WrongArgumentIsALuaErrorNamingTheFunction) {
  auto r = run("wrong_dial", "1");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("channel.dial"), std::string::npos) << r.error().message;
}

TEST_F(CallApi, DtmfReachesTheDriver) {
  auto r = run("dtmf", "1", {}, {sdk::LuaValue("12#")});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(driver_->dtmf(caller_), "12#");
  auto bad = run("dtmf", "1", {}, {sdk::LuaValue("12x")});
  EXPECT_FALSE(bad);
}

// A media application's verb becomes a method of `call`.
TEST_F(CallApi, RegisteredVerbIsAMethodOfCall) {
  std::string played;
  ASSERT_TRUE(core_->register_verb({"play", "call: table, file: string", "nothing", "Plays `file`.",
                                    [&played](const sdk::LuaValues& args) {
                                      played = *args[1].as_string();
                                      return sdk::LuaReply::values({});
                                    }}));
  EXPECT_EQ(core_->register_verb({"dial", "", "", "", [](const sdk::LuaValues&) { return sdk::LuaReply(); }})
                .error()
                .code,
            sdk::ErrorCode::conflict);
  auto r = run("play", "1", {}, {sdk::LuaValue("welcome.wav")});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(played, "welcome.wav");
}

// A driver reports a blind transfer: the core hangs up the transferor and
// its peer dials the extension through a local leg.
TEST_F(CallApi, BlindTransferReportedByADriverIsCarriedOut) {
  std::string bob, transferred;
  ASSERT_NO_FATAL_FAILURE(talking_to_bob(bob));
  ASSERT_TRUE(core_->request_transfer(refer_to_2000(bob, sdk::MediaPath::engine).request));
  EXPECT_FALSE(core_->channel(bob)) << "the transferor is hung up";
  ASSERT_NO_FATAL_FAILURE(dave_answers(transferred));
  EXPECT_NE(transferred.find("\"kind\":\"blind\""), std::string::npos) << transferred;
}

// A REFER on a leg whose media ends in the engine: the core carries it out.
// The transferor hears 100 then 200 (final) and is hung up; the caller is
// sent to 2000's dialplan, which rings dave, and talks to him.
TEST_F(CallApi, TransferRequestOnAnEngineLegIsCarriedOutByTheCore) {
  std::string bob, transferred;
  ASSERT_NO_FATAL_FAILURE(talking_to_bob(bob));
  ASSERT_TRUE(core_->transfer_requested(refer_to_2000(bob, sdk::MediaPath::engine)));
  EXPECT_EQ(driver_->transfers_carried(), 0u) << "an engine leg's transfer is the core's";
  EXPECT_FALSE(core_->channel(bob)) << "the transferor is hung up";
  auto told_now = told();
  ASSERT_EQ(told_now.size(), 2u);
  EXPECT_EQ(told_now[0], std::make_pair(100, false));
  EXPECT_EQ(told_now[1], std::make_pair(200, true));
  ASSERT_TRUE(core_->channel(caller_)) << "the transferee stays";
  ASSERT_NO_FATAL_FAILURE(dave_answers(transferred));
  EXPECT_NE(transferred.find("\"context\":\"default\""), std::string::npos) << transferred;
}

// Legs bridged inside their driver (SIP's relayed calls), blind transfer: the
// core dials one leg of that driver from the transferee to the target, named
// as the transferor's own dial; the transferor keeps its call until that leg
// is answered, then the transfer is published and the transferor hung up.
TEST_F(CallApi, BlindTransferBetweenLegsBridgedByTheirDriverDialsThroughThatDriver) {
  driver_->carries_transfers(true);
  std::string bob;
  ASSERT_NO_FATAL_FAILURE(talking_to_bob(bob));
  const auto legs_before = driver_->legs().size();
  ASSERT_TRUE(core_->transfer_requested(refer_to_2000(bob, sdk::MediaPath::relayed)));
  std::string target;
  eventually([&] {
    auto legs = driver_->legs();
    if (legs.size() > legs_before) target = legs.back().target;
    return !target.empty();
  });
  ASSERT_NE(target.find("2000"), std::string::npos) << "the transferee's driver rings the target: '" << target << "'";
  EXPECT_EQ(driver_->transfers_carried(), 0u) << "a blind transfer is the core's, not handed back";
  EXPECT_TRUE(core_->channel(bob)) << "the transferor keeps its call while the target rings";
  ASSERT_TRUE(driver_->answer_leg(target));
  auto ev = bus_.wait_for("calls.channel.transferred");
  ASSERT_TRUE(ev);
  EXPECT_NE(ev->body.find("\"exten\":\"2000\""), std::string::npos) << ev->body;
  EXPECT_TRUE(eventually([&] { return !core_->channel(bob); })) << "the transferor is hung up once the target answered";
  ASSERT_TRUE(core_->channel(caller_)) << "the transferee stays";
  auto told_now = told();
  ASSERT_FALSE(told_now.empty());
  EXPECT_EQ(told_now.front(), std::make_pair(100, false));
  EXPECT_EQ(told_now.back(), std::make_pair(200, true));
}

// Requests the core refuses: the driver answers the REFER with the reason.
TEST_F(CallApi, TransferRequestsThatCannotBeCarriedOutAreRefused) {
  auto lone = driver_->call_in("carol", "3");
  sdk::TransferReport report;
  report.request.channel_id = lone;
  report.request.exten = "2000";
  report.path = sdk::MediaPath::engine;
  auto s = core_->transfer_requested(report);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, sdk::ErrorCode::invalid) << "a leg talking to nobody";
  report.request.channel_id = "nope";
  EXPECT_EQ(core_->transfer_requested(report).error().code, sdk::ErrorCode::not_found);
  std::string bob;
  ASSERT_NO_FATAL_FAILURE(talking_to_bob(bob));
  report.request.channel_id = bob;
  report.request.kind = sdk::TransferRequest::Kind::attended;
  report.replaces = "unknown-call-id@host";
  EXPECT_EQ(core_->transfer_requested(report).error().code, sdk::ErrorCode::not_found)
      << "Replaces naming no channel";
}

// A blind transfer from a leg bridged by its driver but talking to nobody
// (its party gone, or a dialplan application): the core refuses it itself
// and never hands it back to the driver to carry out on its own.
TEST_F(CallApi, BlindTransferFromALegTalkingToNobodyIsRefusedByTheCore) {
  driver_->carries_transfers(true);
  auto lone = driver_->call_in("carol", "3");
  auto s = core_->transfer_requested(refer_to_2000(lone, sdk::MediaPath::relayed));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, sdk::ErrorCode::invalid) << s.error().message;
  EXPECT_EQ(driver_->transfers_carried(), 0u) << "the transfer was handed back to the driver";
  EXPECT_TRUE(core_->channel(lone)) << "the refused transferor keeps its call";
}

// A new leg replaces an answered one (an INVITE with Replaces): the core
// has the driver swap it in, the caller now talks to the newcomer, the
// replacement is published on the replaced leg, which is hung up.
TEST_F(CallApi, ANewLegReplacingAnAnsweredOneIsSwappedInAndTheReplacedHungUp) {
  driver_->carries_transfers(true);
  std::string bob;
  ASSERT_NO_FATAL_FAILURE(talking_to_bob(bob));
  auto newcomer = driver_->call_in("carol", "1002");
  sdk::ReplaceReport report;
  report.channel_id = newcomer;
  report.replaced = bob;
  ASSERT_TRUE(core_->replace_requested(report));
  EXPECT_EQ(driver_->replacements(), 1u);
  auto ev = bus_.wait_for("calls.channel.transferred");
  ASSERT_TRUE(ev);
  EXPECT_NE(ev->body.find("\"target_channel\":\"" + newcomer + "\""), std::string::npos) << ev->body;
  EXPECT_NE(ev->body.find("\"id\":\"" + bob + "\""), std::string::npos) << ev->body;
  EXPECT_TRUE(eventually([&] { return !core_->channel(bob); })) << "the replaced leg is hung up";
  ASSERT_TRUE(core_->channel(caller_));
  EXPECT_EQ(core_->channel(caller_)->peer, newcomer);
  // Nothing to replace: refused with the reason the driver answers.
  report.replaced = bob;
  EXPECT_EQ(core_->replace_requested(report).error().code, sdk::ErrorCode::not_found);
  report.replaced.clear();
  report.replaces = "unknown-call-id@host";
  EXPECT_EQ(core_->replace_requested(report).error().code, sdk::ErrorCode::not_found);
}

TEST(CauseMapping, FollowsRfc3398BothWays) {
  EXPECT_EQ(sdk::q850_from_sip(486), 17);
  EXPECT_EQ(sdk::q850_from_sip(404), 1);
  EXPECT_EQ(sdk::q850_from_sip(480), 18);
  EXPECT_EQ(sdk::q850_from_sip(503), 41);
  EXPECT_EQ(sdk::q850_from_sip(200), 16);
  EXPECT_EQ(sdk::sip_from_q850(17), 486);
  EXPECT_EQ(sdk::sip_from_q850(34), 503);
  EXPECT_EQ(sdk::sip_from_q850(19), 480);
  EXPECT_EQ(sdk::sip_from_q850(16), 200);
  EXPECT_EQ(sdk::sip_from_q850(102), 408);
}

}  // namespace
