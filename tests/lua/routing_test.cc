// The shipped dialplan applying what confd stores, with real calls through
// the kernel's call core and no SIP: a real PostgreSQL store with the confd
// schema, api.confd's configuration snapshot, the Lua host running
// lua-dialplan/lib, and the SDK's TestChannelDriver standing in for the
// "sip" backend (a user's line "bob" is the leg sip/bob). Groups (seed
// 5.16), schedules (5.29, on a clock the test sets), call permissions (5.5,
// every example of 5.5.2) and incall destinations.
#include <chrono>
#include <future>
#include <map>
#include <set>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include <dialtone/testing/test_channel_driver.h>

#include "tests/plugins/backend/sip/sip_host.h"

namespace sdk = dialtone::sdk;
using dialtone::testing::SipTestHost;
using dialtone::testing::TestChannelDriver;
using Behaviour = TestChannelDriver::Behaviour;

namespace {

// 2026-07-15 is a Wednesday; Paris is UTC+2 then, New York UTC-4.
std::chrono::system_clock::time_point utc(int year, unsigned month, unsigned day, int hour, int min) {
  using namespace std::chrono;
  return sys_days{std::chrono::year{year} / std::chrono::month{month} / std::chrono::day{day}} + hours{hour} +
         minutes{min};
}

class Routing : public ::testing::Test {
 protected:
  void SetUp() override {
    host_ = std::make_unique<SipTestHost>(std::filesystem::path(LUA_TEST_DIR) / "routing_test.lua");
    core_ = host_->services().find<sdk::CallCore>();
    ASSERT_TRUE(core_);
    driver_ = std::make_shared<TestChannelDriver>(core_, "sip");
    ASSERT_TRUE(host_->calls().register_driver("sip", driver_));
    host_->sql("INSERT INTO confd_contexts (name, type) VALUES ('from-extern', 'incall')");
  }
  void TearDown() override {
    host_->calls().unregister_driver("sip");
    host_.reset();
  }

  // A call from `caller` (a line username, or a number from a trunk when
  // `origin` is "extern") to `callee`; returns route_call's decision.
  sdk::Result<sdk::LuaValues> run(const std::string& callee, std::map<std::string, std::string> vars = {},
                                  const std::string& caller = "alice", const std::string& origin = "intern",
                                  const std::string& context = "default") {
    auto channel = driver_->call_in(caller, callee);
    auto t = std::make_shared<sdk::LuaTable>();
    t->fields["id"] = channel;
    t->fields["channel"] = channel;
    t->fields["caller"] = caller;
    t->fields["caller_number"] = caller;
    t->fields["caller_name"] = caller;
    t->fields["called_number"] = callee;
    t->fields["context"] = context;
    t->fields["origin"] = origin;
    auto v = std::make_shared<sdk::LuaTable>();
    for (auto& [k, val] : vars) v->fields[k] = val;
    t->fields["vars"] = v;
    std::promise<sdk::Result<sdk::LuaValues>> p;
    host_->lua()->call("route_call", {t}, [&](sdk::Result<sdk::LuaValues> r) { p.set_value(std::move(r)); });
    auto r = p.get_future().get();
    // The caller's leg ends with the call, as a backend ends it.
    (void)core_->end_channel_q850(channel, sdk::q850::normal_clearing);
    return r;
  }
  // "done" when answered, else the SIP code the caller gets.
  static std::string outcome(const sdk::Result<sdk::LuaValues>& r) {
    if (!r) return "error: " + r.error().message;
    if (r->empty() || !r->front().as_table()) return "<no decision>";
    auto& f = r->front().as_table()->fields;
    auto action = f.find("action");
    if (action != f.end() && action->second.as_string() && *action->second.as_string() == "done") return "done";
    auto code = f.find("code");
    return code != f.end() && code->second.as_int() ? std::to_string(*code->second.as_int()) : "<no code>";
  }
  std::string call(const std::string& callee, std::map<std::string, std::string> vars = {}) {
    return outcome(run(callee, std::move(vars)));
  }
  sdk::LuaValues probe(const std::string& fn, sdk::LuaValues args) {
    std::promise<sdk::Result<sdk::LuaValues>> p;
    host_->lua()->call(fn, std::move(args), [&](sdk::Result<sdk::LuaValues> r) { p.set_value(std::move(r)); });
    auto r = p.get_future().get();
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : sdk::LuaValues{};
  }
  static std::string str(const sdk::LuaValues& v, std::size_t i = 0) {
    return i < v.size() && v[i].as_string() ? *v[i].as_string() : "<nil>";
  }

  // A user with line `name` at extension `exten` of "default".
  std::string user(const std::string& name, const std::string& exten) {
    return host_->add_line(name, name + "pw", exten);
  }
  // The targets rung so far, in order ("bob,carol").
  std::string rung() const {
    std::string out;
    for (auto& l : driver_->legs()) out += (out.empty() ? "" : ",") + l.target;
    return out;
  }
  // A group at `exten` ringing `members` in order; returns its id.
  std::string group(const std::string& name, const std::string& strategy, const std::vector<std::string>& members,
                    const std::string& exten, const std::string& settings = "timeout = 20, user_timeout = 1, retry_delay = 0") {
    auto g = host_->sql("INSERT INTO confd_groups (name, ring_strategy) VALUES ($1, $2) RETURNING id", {name, strategy});
    host_->sql("UPDATE confd_groups SET " + settings + " WHERE id = $1::int", {g});
    for (std::size_t i = 0; i < members.size(); ++i)
      host_->sql("INSERT INTO confd_group_members VALUES ($1::int, $2::int, $3::int)", {g, members[i], std::to_string(i + 1)});
    if (!exten.empty()) {
      auto x = host_->sql("INSERT INTO confd_extensions (exten, context) VALUES ($1, 'default') RETURNING id", {exten});
      host_->sql("INSERT INTO confd_group_extensions VALUES ($1::int, $2::int)", {g, x});
    }
    return g;
  }

  std::unique_ptr<SipTestHost> host_;
  std::shared_ptr<sdk::CallCore> core_;
  std::shared_ptr<TestChannelDriver> driver_;
};

// ---- groups (seed 5.16, settings of 5.1.1) -----------------------------------

TEST_F(Routing, LinearGroupRingsEachMemberForTheReachabilityTimeoutInOrder) {
  auto a = user("ann", "1101"), b = user("ben", "1102"), c = user("cid", "1103");
  group("linear", "linear", {a, b, c}, "2100");
  driver_->script("cid", Behaviour::answer);
  EXPECT_EQ(call("2100"), "done");
  EXPECT_EQ(rung(), "ann,ben,cid") << "one after the other, in member order";
  EXPECT_EQ(driver_->cancelled("ann"), 1u) << "ann's reachability timeout (1 s) ran out";
  EXPECT_EQ(driver_->cancelled("ben"), 1u);
}

TEST_F(Routing, RingAllRetriesEveryMemberUntilTheGroupTimeThenFallsBackOnNoAnswer) {
  auto a = user("ann", "1101"), b = user("ben", "1102"), d = user("dan", "1104");
  auto g = group("all", "all", {a, b}, "2100", "timeout = 3, user_timeout = 1, retry_delay = 0");
  host_->sql("UPDATE confd_groups SET fallbacks = jsonb_build_object('noanswer_destination', "
             "jsonb_build_object('type', 'user', 'user_id', $2::int)) WHERE id = $1::int", {g, d});
  driver_->script("dan", Behaviour::answer);
  EXPECT_EQ(call("2100"), "done") << "dan, the no-answer fallback, answered";
  EXPECT_GE(driver_->rung("ann"), 2u) << "rung again after its 1 s: " << rung();
  EXPECT_EQ(driver_->rung("ann"), driver_->rung("ben")) << "all members together each round: " << rung();
  EXPECT_EQ(rung().substr(rung().rfind(',') + 1), "dan");
}

TEST_F(Routing, RetryTimeBetweenTriesCanUseUpTheGroupsRingTime) {
  auto a = user("ann", "1101");
  group("slow", "all", {a}, "2100", "timeout = 3, user_timeout = 1, retry_delay = 30");
  EXPECT_EQ(call("2100"), "480");
  EXPECT_EQ(driver_->rung("ann"), 1u) << "the 30 s retry time outlasts the 3 s ring time: no second try";
}

TEST_F(Routing, MemberAlreadyInLineIsSkippedOnlyWhenRingInUseIsOff) {
  auto a = user("ann", "1101"), b = user("ben", "1102");
  auto g = group("desk", "linear", {a, b}, "2100", "timeout = 20, user_timeout = 1, retry_delay = 0, ring_in_use = false");
  driver_->script("ann", Behaviour::answer);
  driver_->script("ben", Behaviour::answer);
  auto busy = driver_->call_in("ann", "9999");  // ann is in a call
  EXPECT_EQ(call("2100"), "done");
  EXPECT_EQ(rung(), "ben") << "ann is in line: not rung";
  host_->sql("UPDATE confd_groups SET ring_in_use = true WHERE id = $1::int", {g});
  EXPECT_EQ(call("2100"), "done");
  EXPECT_EQ(rung(), "ben,ann") << "call a member already in line: ann rings";
  (void)core_->end_channel_q850(busy, sdk::q850::normal_clearing);
}

TEST_F(Routing, EveryMemberBusyGoesToTheBusyFallback) {
  auto a = user("ann", "1101"), b = user("ben", "1102"), e = user("eve", "1105");
  auto g = group("busy", "all", {a, b}, "2100");
  driver_->script("ann", Behaviour::busy);
  driver_->script("ben", Behaviour::busy);
  EXPECT_EQ(call("2100"), "486") << "no fallback: busy";
  host_->sql("UPDATE confd_groups SET fallbacks = jsonb_build_object('busy_destination', "
             "jsonb_build_object('type', 'user', 'user_id', $2::int)) WHERE id = $1::int", {g, e});
  driver_->script("eve", Behaviour::answer);
  EXPECT_EQ(call("2100"), "done");
  EXPECT_EQ(driver_->rung("eve"), 1u);
  EXPECT_TRUE(host_->logger().contains("group busy's busy fallback sends it to user " + e));
}

TEST_F(Routing, CongestionAndFailGoToTheirOwnFallbacks) {
  auto a = user("ann", "1101");
  auto g = group("cong", "linear", {a}, "2100");
  host_->sql("UPDATE confd_groups SET fallbacks = '{\"congestion_destination\": {\"type\": \"hangup\", \"cause\": \"busy\"}, "
             "\"fail_destination\": {\"type\": \"hangup\", \"cause\": \"congestion\"}}' WHERE id = $1::int", {g});
  driver_->script("ann", Behaviour::congestion);
  EXPECT_EQ(call("2100"), "486") << "congestion fallback: hangup busy";
  driver_->script("ann", Behaviour::refuse);
  EXPECT_EQ(call("2100"), "503") << "nobody reachable (fail) fallback: hangup congestion";
  auto empty = group("empty", "all", {}, "2101");
  host_->sql("UPDATE confd_groups SET fallbacks = '{\"fail_destination\": {\"type\": \"hangup\", \"cause\": \"busy\"}}' "
             "WHERE id = $1::int", {empty});
  EXPECT_EQ(call("2101"), "486") << "a group with no member fails to its fail fallback";
}

TEST_F(Routing, RoundRobinMemoryStartsAfterTheLastMemberThatAnswered) {
  auto a = user("ann", "1101"), b = user("ben", "1102"), c = user("cid", "1103");
  group("rr", "memorized_round_robin", {a, b, c}, "2100");
  driver_->script("ann", Behaviour::answer);
  driver_->script("ben", Behaviour::answer);
  driver_->script("cid", Behaviour::answer);
  EXPECT_EQ(call("2100"), "done");
  EXPECT_EQ(call("2100"), "done");
  EXPECT_EQ(call("2100"), "done");
  EXPECT_EQ(call("2100"), "done");
  EXPECT_EQ(rung(), "ann,ben,cid,ann");
}

TEST_F(Routing, LeastRecentAndFewestCallsRingTheLeastUsedMemberFirst) {
  auto a = user("ann", "1101"), b = user("ben", "1102");
  auto g = group("lr", "least_recent", {a, b}, "2100");
  driver_->script("ann", Behaviour::answer);
  driver_->script("ben", Behaviour::answer);
  EXPECT_EQ(call("2100"), "done");  // ann: nobody answered yet, member order
  EXPECT_EQ(call("2100"), "done");  // ben: never answered
  EXPECT_EQ(call("2100"), "done");  // ann: answered longer ago
  EXPECT_EQ(rung(), "ann,ben,ann");
  host_->sql("UPDATE confd_groups SET ring_strategy = 'fewest_calls' WHERE id = $1::int", {g});
  EXPECT_EQ(call("2100"), "done");  // ben: 1 answered against ann's 2
  EXPECT_EQ(rung(), "ann,ben,ann,ben");
}

TEST_F(Routing, RandomStrategiesRingEveryMemberAndWeightsFavourLowPenalties) {
  auto a = user("ann", "1101"), b = user("ben", "1102"), c = user("cid", "1103");
  auto g = group("rnd", "random", {a, b, c}, "2100");
  std::set<std::string> firsts;
  for (int i = 0; i < 60; ++i) {
    auto order = str(probe("group_order", {g, "random"}));
    firsts.insert(order.substr(0, order.find(',')));
  }
  EXPECT_EQ(firsts.size(), 3u) << "each member comes first sometimes";
  // weight_random: penalty 0 against 9, a random number below 1000 against
  // one below 10000: ann first about 95 times in 100.
  host_->sql("UPDATE confd_group_members SET penalty = 9 WHERE group_id = $1::int AND user_id <> $2::int", {g, a});
  int ann_first = 0;
  for (int i = 0; i < 200; ++i)
    if (str(probe("group_order", {g, "weight_random"})).rfind(a + ",", 0) == 0) ++ann_first;
  EXPECT_GT(ann_first, 150) << "the low penalty member is first most of the time";
  EXPECT_LT(ann_first, 200) << "but not always: the others keep a chance";
  driver_->script("ann", Behaviour::answer);
  driver_->script("ben", Behaviour::answer);
  driver_->script("cid", Behaviour::answer);
  host_->sql("UPDATE confd_groups SET ring_strategy = 'weight_random' WHERE id = $1::int", {g});
  EXPECT_EQ(call("2100"), "done");
}

// ---- schedules (seed 5.29) ---------------------------------------------------

// Mon-Fri 09:00-18:00 in `zone`, closed on 25 December (to `holiday`),
// closed otherwise to `closed` (JSON destinations).
std::string add_schedule(SipTestHost& host, const std::string& zone, const std::string& closed,
                         const std::string& holiday) {
  return host.sql(
      "INSERT INTO confd_schedules (name, timezone, open_periods, exceptional_periods, closed_destination) VALUES "
      "('office', $1, '[{\"hours_start\": \"09:00\", \"hours_end\": \"18:00\", \"week_days\": [1,2,3,4,5]}]', "
      "jsonb_build_array(jsonb_build_object('month_days', jsonb_build_array(25), 'months', jsonb_build_array(12), "
      "'destination', $3::jsonb)), $2::jsonb) RETURNING id",
      {zone, closed, holiday});
}

TEST_F(Routing, UserScheduleSendsCallsOutsideOpeningHoursToTheClosedDestination) {
  auto b = user("bob", "1102"), n = user("nat", "1106"), h = user("hal", "1107");
  auto s = add_schedule(*host_, "Europe/Paris", "{\"type\": \"user\", \"user_id\": " + n + "}",
                        "{\"type\": \"user\", \"user_id\": " + h + "}");
  host_->sql("INSERT INTO confd_user_schedules VALUES ($1::int, $2::int)", {b, s});
  for (auto* u : {"bob", "nat", "hal"}) driver_->script(u, Behaviour::answer);

  host_->set_time(utc(2026, 7, 15, 8, 0));  // Wednesday 10:00 in Paris: open
  EXPECT_EQ(call("1102"), "done");
  host_->set_time(utc(2026, 7, 15, 18, 30));  // Wednesday 20:30 in Paris: closed
  EXPECT_EQ(call("1102"), "done");
  host_->set_time(utc(2026, 7, 18, 8, 0));  // Saturday 10:00: closed
  EXPECT_EQ(call("1102"), "done");
  host_->set_time(utc(2026, 12, 25, 10, 0));  // Christmas, a Friday: the holiday's own destination
  EXPECT_EQ(call("1102"), "done");
  EXPECT_EQ(rung(), "bob,nat,nat,hal");
  EXPECT_TRUE(host_->logger().contains("closed schedule 'office' sends it to user " + n));
}

TEST_F(Routing, ScheduleHoursAreReadInTheSchedulesTimeZone) {
  auto paris = add_schedule(*host_, "Europe/Paris", "{\"type\": \"none\"}", "{\"type\": \"none\"}");
  auto ny = add_schedule(*host_, "America/New_York", "{\"type\": \"hangup\", \"cause\": \"busy\"}", "{\"type\": \"none\"}");
  host_->set_time(utc(2026, 7, 15, 7, 30));  // 09:30 in Paris, 03:30 in New York
  EXPECT_EQ(str(probe("local_time", {"Europe/Paris"})), "3 09:30");
  EXPECT_EQ(str(probe("local_time", {"America/New_York"})), "3 03:30");
  EXPECT_EQ(str(probe("schedule_state", {paris})), "open");
  auto r = probe("schedule_state", {ny});
  EXPECT_EQ(str(r, 0), "closed");
  EXPECT_EQ(str(r, 1), "hangup");
  host_->set_time(utc(2026, 1, 14, 8, 30));  // winter: 09:30 in Paris (UTC+1), 03:30 in New York (UTC-5)
  EXPECT_EQ(str(probe("local_time", {"Europe/Paris"})), "3 09:30");
  EXPECT_EQ(str(probe("local_time", {"America/New_York"})), "3 03:30");
  host_->set_time(utc(2026, 1, 14, 14, 30));  // 15:30 in Paris, 09:30 in New York: both open
  EXPECT_EQ(str(probe("schedule_state", {paris})), "open");
  EXPECT_EQ(str(probe("schedule_state", {ny})), "open");
  host_->sql("UPDATE confd_schedules SET enabled = false WHERE id = $1::int", {paris});
  host_->set_time(utc(2026, 1, 18, 3, 0));  // Sunday night, but the schedule is disabled
  EXPECT_EQ(str(probe("schedule_state", {paris})), "open");
}

// A period whose end comes before its start spans midnight; "24:00" ends
// at midnight; the end minute itself is outside.
TEST_F(Routing, PeriodsSpanMidnightAndEndBeforeTheirLastMinute) {
  auto night = host_->sql("INSERT INTO confd_schedules (name, timezone, open_periods) VALUES ('night', 'UTC', "
                          "'[{\"hours_start\": \"22:00\", \"hours_end\": \"06:00\"}]') RETURNING id");
  auto late = host_->sql("INSERT INTO confd_schedules (name, timezone, open_periods) VALUES ('late', 'UTC', "
                         "'[{\"hours_start\": \"18:00\", \"hours_end\": \"24:00\", \"months\": [7]}]') RETURNING id");
  auto at = [&](int h, int m, const std::string& id) {
    host_->set_time(utc(2026, 7, 15, h, m));
    return str(probe("schedule_state", {id}));
  };
  EXPECT_EQ(at(23, 0, night), "open");
  EXPECT_EQ(at(5, 59, night), "open");
  EXPECT_EQ(at(6, 0, night), "closed");
  EXPECT_EQ(at(12, 0, night), "closed");
  EXPECT_EQ(at(23, 59, late), "open");
  EXPECT_EQ(at(17, 59, late), "closed");
  host_->set_time(utc(2026, 8, 15, 20, 0));
  EXPECT_EQ(str(probe("schedule_state", {late})), "closed") << "months: July only";
}

TEST_F(Routing, UnknownTimeZoneIsNamedInTheLogAndReadAsUtc) {
  auto s = host_->sql("INSERT INTO confd_schedules (name, timezone, open_periods) VALUES ('mars', 'Mars/Olympus', "
                      "'[{\"hours_start\": \"09:00\", \"hours_end\": \"10:00\"}]') RETURNING id");
  host_->set_time(utc(2026, 7, 15, 9, 30));
  EXPECT_EQ(str(probe("schedule_state", {s})), "open");
  EXPECT_TRUE(host_->logger().contains("schedule 'mars': time zone 'Mars/Olympus' is not known here"));
}

TEST_F(Routing, GroupIncallAndOutcallSchedulesApplyTheirClosedDestinations) {
  auto a = user("ann", "1101"), n = user("nat", "1106");
  driver_->script("ann", Behaviour::answer);
  driver_->script("nat", Behaviour::answer);
  auto g = group("sched", "all", {a}, "2100");
  auto s = add_schedule(*host_, "Europe/Paris", "{\"type\": \"user\", \"user_id\": " + n + "}", "{\"type\": \"none\"}");
  host_->sql("INSERT INTO confd_group_schedules VALUES ($1::int, $2::int)", {g, s});
  // An incall to the group, with the same schedule; an outcall closed to a hangup.
  auto i = host_->sql("INSERT INTO confd_incalls (destination) VALUES (jsonb_build_object('type', 'user', 'user_id', $1::int)) "
                      "RETURNING id", {a});
  auto x = host_->sql("INSERT INTO confd_extensions (exten, context) VALUES ('5001', 'from-extern') RETURNING id");
  host_->sql("INSERT INTO confd_incall_extensions VALUES ($1::int, $2::int)", {i, x});
  host_->sql("INSERT INTO confd_incall_schedules VALUES ($1::int, $2::int)", {i, s});
  auto e = host_->sql("INSERT INTO confd_endpoints_sip (username, secret, host) VALUES ('prov', 'x', '127.0.0.1:5999') RETURNING id");
  auto t = host_->sql("INSERT INTO confd_trunks (endpoint_sip_id) VALUES ($1::int) RETURNING id", {e});
  auto o = host_->sql("INSERT INTO confd_outcalls (name, patterns) VALUES ('out', '[{\"pattern\": \"0XXXXXXXXX\"}]') RETURNING id");
  host_->sql("INSERT INTO confd_outcall_trunks VALUES ($1::int, $2::int, 1)", {o, t});
  auto closed = host_->sql("INSERT INTO confd_schedules (name, closed_destination) VALUES ('never', "
                           "'{\"type\": \"hangup\", \"cause\": \"busy\"}') RETURNING id");
  host_->sql("INSERT INTO confd_outcall_schedules VALUES ($1::int, $2::int)", {o, closed});
  driver_->script("sip:0123456789@127.0.0.1:5999", Behaviour::answer);

  host_->set_time(utc(2026, 7, 15, 8, 0));  // open
  EXPECT_EQ(call("2100"), "done");
  EXPECT_EQ(outcome(run("5001", {}, "0600000000", "extern", "from-extern")), "done");
  host_->set_time(utc(2026, 7, 15, 20, 0));  // closed
  EXPECT_EQ(call("2100"), "done");
  EXPECT_EQ(outcome(run("5001", {}, "0600000000", "extern", "from-extern")), "done");
  EXPECT_EQ(rung(), "ann,ann,nat,nat") << "closed: the group's and the incall's closed destination";
  EXPECT_EQ(call("0123456789"), "486") << "the outcall's schedule has no open period: closed to hangup busy";
  host_->sql("DELETE FROM confd_outcall_schedules");
  EXPECT_EQ(call("0123456789"), "done");
}

// ---- call permissions (seed 5.5.2, every example) ----------------------------

std::string permission(SipTestHost& host, const std::string& name, const std::string& extensions,
                       const std::string& mode = "deny", const std::string& password = "") {
  return host.sql("INSERT INTO confd_callpermissions (name, extensions, mode, password) VALUES ($1, $2::jsonb, $3, "
                  "NULLIF($4, '')) RETURNING id",
                  {name, extensions, mode, password});
}

class Permissions : public Routing {
 protected:
  void SetUp() override {
    Routing::SetUp();
    alice_ = user("alice", "1001");
    bob_ = user("bob", "1002");
    carol_ = user("carol", "1003");
    for (auto* u : {"alice", "bob", "carol"}) driver_->script(u, Behaviour::answer);
  }
  std::string from(const std::string& caller_user, const std::string& callee, std::map<std::string, std::string> vars = {}) {
    vars["XIVO_USERID"] = caller_user;
    return outcome(run(callee, vars, caller_user == alice_ ? "alice" : caller_user == bob_ ? "bob" : "carol"));
  }
  std::string alice_, bob_, carol_;
};

TEST_F(Permissions, DenyingAUserFromCallingASpecificExtension) {
  auto p = permission(*host_, "no-carol", "[\"1003\"]");
  host_->sql("INSERT INTO confd_user_callpermissions VALUES ($1::int, $2::int)", {alice_, p});
  EXPECT_EQ(from(alice_, "1003"), "403");
  EXPECT_EQ(from(alice_, "1002"), "done") << "other extensions stay allowed";
  EXPECT_EQ(from(bob_, "1003"), "done") << "other users are not concerned";
  EXPECT_TRUE(host_->logger().contains("may not call 1003: call permission 'no-carol'"));
}

TEST_F(Permissions, DenyingAUserOfAGroupFromCallingASpecificExtension) {
  auto g = group("staff", "all", {alice_}, "");  // groups need no number
  auto p = permission(*host_, "staff-no-carol", "[\"1003\"]");
  host_->sql("INSERT INTO confd_group_callpermissions VALUES ($1::int, $2::int)", {g, p});
  EXPECT_EQ(from(alice_, "1003"), "403");
  EXPECT_EQ(from(bob_, "1003"), "done") << "bob is no member";
  // The user's own rules come first: an allow there opens it again.
  auto allow = permission(*host_, "alice-may", "[\"1003\"]", "allow");
  host_->sql("INSERT INTO confd_user_callpermissions VALUES ($1::int, $2::int)", {alice_, allow});
  EXPECT_EQ(from(alice_, "1003"), "done");
}

TEST_F(Permissions, DenyingUsersFromCallingASpecificExtensionOnAnOutgoingCall) {
  auto e = host_->sql("INSERT INTO confd_endpoints_sip (username, secret, host) VALUES ('prov', 'x', '127.0.0.1:5999') RETURNING id");
  auto t = host_->sql("INSERT INTO confd_trunks (endpoint_sip_id) VALUES ($1::int) RETURNING id", {e});
  auto o = host_->sql("INSERT INTO confd_outcalls (name, patterns) VALUES ('out', '[{\"pattern\": \"0XXXXXXXXX\"}]') RETURNING id");
  host_->sql("INSERT INTO confd_outcall_trunks VALUES ($1::int, $2::int, 1)", {o, t});
  auto p = permission(*host_, "no-premium", "[\"08XXXXXXXX\"]");
  host_->sql("INSERT INTO confd_outcall_callpermissions VALUES ($1::int, $2::int)", {o, p});
  driver_->script("sip:0123456789@127.0.0.1:5999", Behaviour::answer);
  EXPECT_EQ(from(alice_, "0899123456"), "403") << "denied on the route, whoever calls";
  EXPECT_EQ(from(bob_, "0899123456"), "403");
  EXPECT_EQ(from(alice_, "0123456789"), "done");
  EXPECT_EQ(driver_->rung("sip:0899123456@127.0.0.1:5999"), 0u);
}

TEST_F(Permissions, DenyingAnIncomingCallComingFromASpecificExtension) {
  auto i = host_->sql("INSERT INTO confd_incalls (destination) VALUES (jsonb_build_object('type', 'user', 'user_id', $1::int)) "
                      "RETURNING id", {bob_});
  auto x = host_->sql("INSERT INTO confd_extensions (exten, context) VALUES ('5001', 'from-extern') RETURNING id");
  host_->sql("INSERT INTO confd_incall_extensions VALUES ($1::int, $2::int)", {i, x});
  auto p = permission(*host_, "no-spam", "[\"0899XXXXXX\"]");
  host_->sql("INSERT INTO confd_incall_callpermissions VALUES ($1::int, $2::int)", {i, p});
  EXPECT_EQ(outcome(run("5001", {}, "0899000000", "extern", "from-extern")), "403") << "the caller's number matches";
  EXPECT_EQ(outcome(run("5001", {}, "0123000000", "extern", "from-extern")), "done");
  EXPECT_EQ(driver_->rung("bob"), 1u);
}

TEST_F(Permissions, AllowRuleOpensADenyAllForSomeNumbers) {
  auto deny = permission(*host_, "deny-all", "[\"X.\"]");
  auto allow = permission(*host_, "but-bob", "[\"1002\"]", "allow");
  host_->sql("INSERT INTO confd_user_callpermissions VALUES ($1::int, $2::int), ($1::int, $3::int)", {alice_, deny, allow});
  EXPECT_EQ(from(alice_, "1002"), "done");
  EXPECT_EQ(from(alice_, "1003"), "403");
}

TEST_F(Permissions, PasswordChallengesInsteadOfDenying) {
  auto p = permission(*host_, "carol-code", "[\"1003\"]", "deny", "1234");
  host_->sql("INSERT INTO confd_user_callpermissions VALUES ($1::int, $2::int)", {alice_, p});
  EXPECT_EQ(from(alice_, "1003"), "403") << "no prompt available: refused";
  EXPECT_TRUE(host_->logger().contains("it asks for a password: no password prompt in this dialplan"));
  EXPECT_EQ(from(alice_, "1003", {{"TYPED", "0000"}}), "403") << "wrong password";
  EXPECT_EQ(from(alice_, "1003", {{"TYPED", "1234"}}), "done") << "the rule's password";
  // The user's own call permission password overrides the rules' (5.5.2 note).
  host_->sql("UPDATE confd_users SET call_permission_password = '4321' WHERE id = $1::int", {alice_});
  EXPECT_EQ(from(alice_, "1003", {{"TYPED", "1234"}}), "403");
  EXPECT_EQ(from(alice_, "1003", {{"TYPED", "4321"}}), "done");
}

TEST_F(Permissions, ForwardedCallIsCheckedAgainstTheForwarder) {
  auto p = permission(*host_, "bob-no-carol", "[\"1003\"]");
  host_->sql("INSERT INTO confd_user_callpermissions VALUES ($1::int, $2::int)", {bob_, p});
  host_->sql("UPDATE confd_users SET forward_unconditional_enabled = true, forward_unconditional_destination = '1003' "
             "WHERE id = $1::int", {bob_});
  EXPECT_EQ(from(alice_, "1002"), "403") << "bob may not reach carol, so his forward may not either";
  EXPECT_EQ(from(alice_, "1003"), "done") << "alice herself may";
}

// ---- incall destinations (every XiVO type) ---------------------------------

class Destinations : public Routing {
 protected:
  // The decision for a call from a trunk to a new incall sending to `destination`.
  std::string to(const std::string& destination) {
    auto did = std::to_string(5100 + ++n_);
    auto i = host_->sql("INSERT INTO confd_incalls (destination) VALUES ($1::jsonb) RETURNING id", {destination});
    auto x = host_->sql("INSERT INTO confd_extensions (exten, context) VALUES ($1, 'from-extern') RETURNING id", {did});
    host_->sql("INSERT INTO confd_incall_extensions VALUES ($1::int, $2::int)", {i, x});
    return outcome(run(did, {}, "0600000000", "extern", "from-extern"));
  }
  int n_ = 0;
};

TEST_F(Destinations, UserGroupExtensionAndOutcallAreRouted) {
  auto b = user("bob", "1002"), c = user("cid", "1003");
  auto g = group("g", "all", {c}, "");
  driver_->script("bob", Behaviour::answer);
  driver_->script("cid", Behaviour::answer);
  EXPECT_EQ(to("{\"type\": \"user\", \"user_id\": " + b + "}"), "done");
  EXPECT_EQ(to("{\"type\": \"group\", \"group_id\": " + g + "}"), "done");
  EXPECT_EQ(to("{\"type\": \"extension\", \"exten\": \"1002\", \"context\": \"default\"}"), "done");
  auto e = host_->sql("INSERT INTO confd_endpoints_sip (username, secret, host) VALUES ('prov', 'x', '127.0.0.1:5999') RETURNING id");
  auto t = host_->sql("INSERT INTO confd_trunks (endpoint_sip_id) VALUES ($1::int) RETURNING id", {e});
  auto o = host_->sql("INSERT INTO confd_outcalls (name, patterns) VALUES ('out', '[{\"pattern\": \"0XXXXXXXXX\"}]') RETURNING id");
  host_->sql("INSERT INTO confd_outcall_trunks VALUES ($1::int, $2::int, 1)", {o, t});
  driver_->script("sip:0987654321@127.0.0.1:5999", Behaviour::answer);
  EXPECT_EQ(to("{\"type\": \"outcall\", \"outcall_id\": " + o + ", \"exten\": \"0987654321\"}"), "done");
  EXPECT_EQ(rung(), "bob,cid,bob,sip:0987654321@127.0.0.1:5999");
}

TEST_F(Destinations, HangupCarriesItsCause) {
  EXPECT_EQ(to("{\"type\": \"hangup\"}"), "603");
  EXPECT_EQ(to("{\"type\": \"hangup\", \"cause\": \"normal\"}"), "603");
  EXPECT_EQ(to("{\"type\": \"hangup\", \"cause\": \"busy\"}"), "486");
  EXPECT_EQ(to("{\"type\": \"hangup\", \"cause\": \"congestion\"}"), "503");
  EXPECT_EQ(to("{\"type\": \"none\"}"), "603");
}

TEST_F(Destinations, MissingUserOrGroupIsOneLogLineAnd404) {
  EXPECT_EQ(to(R"({"type": "user", "user_id": 999999})"), "404");
  EXPECT_TRUE(host_->logger().contains("sends to user 999999, which does not exist or is disabled"));
  EXPECT_EQ(to(R"({"type": "group", "group_id": 999998})"), "404");
  EXPECT_TRUE(host_->logger().contains("sends to group 999998, which does not exist or is disabled"));
  EXPECT_TRUE(driver_->legs().empty()) << "nothing rang";
}

TEST_F(Destinations, ApplicationsNotBuiltYetGiveALogLineAnd480) {
  struct Row {
    const char* destination;
    const char* log;
  } rows[] = {
      {R"({"type": "voicemail", "voicemail_id": 1})", "sends to voicemail 1, which needs the app.voicemail plugin"},
      {R"({"type": "queue", "queue_id": 4})", "sends to queue 4, which needs call center queues"},
      {R"({"type": "application", "application": "directory"})", "sends to application directory, which needs the application it names"},
      {R"j({"type": "custom", "command": "Playback(x)"})j", "sends to custom Playback(x), which needs a Lua handler"},
  };
  for (auto& r : rows) {
    EXPECT_EQ(to(r.destination), "480") << r.destination;
    EXPECT_TRUE(host_->logger().contains(r.log)) << r.log;
  }
  EXPECT_TRUE(driver_->legs().empty()) << "nothing rang";
}

// Conference rooms and sounds are served by lib/conferences.lua, with the
// media engine: without it (this host has none) 480 and a log line naming
// what to load; a room (or a confd IVR menu) that does not exist is a 404.
TEST_F(Destinations, ConferenceAndSoundWithoutTheMediaEngineGive480) {
  auto room = host_->sql("INSERT INTO confd_conferences (name) VALUES ('r') RETURNING id");
  EXPECT_EQ(to("{\"type\": \"conference\", \"conference_id\": " + room + "}"), "480");
  EXPECT_TRUE(host_->logger().contains("conference room " + room + " needs the media engine"));
  EXPECT_EQ(to(R"({"type": "conference", "conference_id": 999})"), "404");
  EXPECT_TRUE(host_->logger().contains("destination conference 999 does not exist"));
  EXPECT_EQ(to(R"({"type": "ivr", "ivr_id": 999})"), "404");
  EXPECT_TRUE(host_->logger().contains("destination ivr 999 does not exist"));
  EXPECT_EQ(to(R"({"type": "sound", "filename": "closed"})"), "480");
  EXPECT_TRUE(host_->logger().contains("sound destination closed needs the media engine"));
  EXPECT_TRUE(driver_->legs().empty()) << "nothing rang";
}

// The user service "incoming call filtering" is call screening in XiVO: not
// available without media, it is named in the log and the user still rings.
TEST_F(Routing, IncomingCallFilteringIsLoggedAndTheUserStillRings) {
  auto b = user("bob", "1102");
  host_->sql("UPDATE confd_users SET service_incallfilter_enabled = true WHERE id = $1::int", {b});
  driver_->script("bob", Behaviour::answer);
  EXPECT_EQ(call("1102"), "done");
  EXPECT_TRUE(host_->logger().contains("user " + b + " has incoming call filtering on, which needs call screening"));
  // *27 turns it off, and on again.
  auto star27 = [&] {
    auto r = run("*27", {{"XIVO_USERID", b}}, "bob");
    return outcome(r) + " " + *r->front().as_table()->fields.at("reason").as_string();
  };
  EXPECT_EQ(star27(), "480 Call screening disabled");
  EXPECT_EQ(host_->sql("SELECT service_incallfilter_enabled::text FROM confd_users WHERE id = $1::int", {b}), "false");
  EXPECT_EQ(star27(), "480 Call screening enabled");
  EXPECT_EQ(host_->sql("SELECT service_incallfilter_enabled::text FROM confd_users WHERE id = $1::int", {b}), "true");
}

// ---- boss-secretary filter (seed 5.2) ---------------------------------------

class BossSecretary : public Routing {
 protected:
  void SetUp() override {
    Routing::SetUp();
    boss_ = user("boss", "1201");
    linda_ = user("linda", "1202");
    rebecca_ = user("rebecca", "1203");
    caller_ = user("alice", "1204");
    filter_ = host_->sql("INSERT INTO confd_callfilters (name, surrogates_timeout, caller_id_mode, caller_id_name) "
                         "VALUES ('fernando', 1, 'prepend', 'Boss: ') RETURNING id");
    boss_member_ = member(boss_, "boss", 1);
    linda_member_ = member(linda_, "secretary", 1);
    rebecca_member_ = member(rebecca_, "secretary", 2);
    host_->sql("UPDATE confd_callfilter_members SET timeout = 1 WHERE id = $1::int", {boss_member_});
  }
  std::string member(const std::string& uid, const std::string& role, int position) {
    return host_->sql("INSERT INTO confd_callfilter_members (callfilter_id, user_id, role, position) "
                      "VALUES ($1::int, $2::int, $3, $4::int) RETURNING id",
                      {filter_, uid, role, std::to_string(position)});
  }
  void strategy(const std::string& s) {
    host_->sql("UPDATE confd_callfilters SET strategy = $2 WHERE id = $1::int", {filter_, s});
  }
  void activate(const std::string& member_id) {
    host_->sql("UPDATE confd_callfilter_members SET active = true WHERE id = $1::int", {member_id});
  }
  // A call from user `from` (id) to `exten`.
  std::string from(const std::string& from, const std::string& exten) {
    return outcome(run(exten, {{"XIVO_USERID", from}}, from == linda_ ? "linda" : from == boss_ ? "boss" : "alice"));
  }
  std::string boss_, linda_, rebecca_, caller_, filter_, boss_member_, linda_member_, rebecca_member_;
};

TEST_F(BossSecretary, InactiveFilterLetsCallsReachTheBoss) {
  driver_->script("boss", Behaviour::answer);
  EXPECT_EQ(from(caller_, "1201"), "done");
  EXPECT_EQ(rung(), "boss");
}

TEST_F(BossSecretary, BossFirstThenSecretariesOneByOneFromTheLastOfTheList) {
  activate(linda_member_);
  activate(rebecca_member_);
  driver_->script("linda", Behaviour::answer);
  auto r = run("1201", {{"XIVO_USERID", caller_}}, "alice");
  EXPECT_EQ(outcome(r), "done");
  EXPECT_EQ(rung(), "boss,rebecca,linda") << "the boss rings its 1 s, then the secretaries serially, last of the list first";
  // The secretaries see which boss was called (caller_id_mode prepend).
  auto legs = driver_->legs();
  ASSERT_EQ(legs.size(), 3u);
  EXPECT_EQ(legs[0].caller_name, "alice") << "the boss sees the caller as is";
  EXPECT_EQ(legs[1].caller_name, "Boss: alice");
  EXPECT_EQ(legs[2].caller_name, "Boss: alice");
}

TEST_F(BossSecretary, EveryStrategyRingsInItsOrder) {
  activate(linda_member_);
  activate(rebecca_member_);
  // Nobody answers: every step rings its 1 s and the order shows.
  struct Row {
    const char* strategy;
    const char* order;
  } rows[] = {{"all-recipients-then-all-surrogates", "boss,linda,rebecca"},
              {"linear-surrogates-then-all-recipients", "rebecca,linda,boss"},
              {"all-surrogates-then-all-recipients", "linda,rebecca,boss"},
              {"all", "linda,rebecca,boss"}};
  for (auto& r : rows) {
    strategy(r.strategy);
    auto before = driver_->legs().size();
    EXPECT_EQ(from(caller_, "1201"), "480") << r.strategy;
    auto legs = driver_->legs();
    std::string order;
    for (auto i = before; i < legs.size(); ++i) order += (order.empty() ? "" : ",") + legs[i].target;
    EXPECT_EQ(order, r.order) << r.strategy;
  }
}

// The seed's "Unlimited" ring time (surrogates_timeout null, XiVO's
// ringseconds 0): the secretaries ring with no limit of their own until one
// answers; the boss after them is never rung.
TEST_F(BossSecretary, UnlimitedRingTimeRingsTheSecretariesUntilOneAnswers) {
  host_->sql("UPDATE confd_callfilters SET surrogates_timeout = NULL WHERE id = $1::int", {filter_});
  strategy("all-surrogates-then-all-recipients");
  activate(linda_member_);
  activate(rebecca_member_);
  auto decision = std::async(std::launch::async, [&] { return from(caller_, "1201"); });
  auto ringing = [&] {
    return dialtone::testing::eventually([&] { return driver_->legs().size() >= 2; }) && driver_->legs().size() == 2;
  };
  ASSERT_TRUE(ringing()) << rung();
  for (auto& leg : driver_->legs())
    EXPECT_EQ(leg.timeout_seconds, sdk::kUnlimitedRingSeconds) << leg.target << " rings with no limit of its own";
  ASSERT_TRUE(driver_->answer_leg("rebecca"));
  EXPECT_EQ(decision.get(), "done");
  EXPECT_EQ(rung(), "linda,rebecca") << "the boss after them never rang";
  // A boss without its own timeout rings unlimited too, and a finite
  // surrogates_timeout still limits the secretaries.
  host_->sql("UPDATE confd_callfilters SET surrogates_timeout = 1 WHERE id = $1::int", {filter_});
  host_->sql("UPDATE confd_callfilter_members SET timeout = NULL WHERE id = $1::int", {boss_member_});
  auto second = std::async(std::launch::async, [&] { return from(caller_, "1201"); });
  auto boss_rings = [&] {
    return dialtone::testing::eventually([&] { return driver_->rung("boss") > 0; }) && driver_->rung("boss") == 1;
  };
  ASSERT_TRUE(boss_rings()) << rung();
  auto legs = driver_->legs();
  EXPECT_EQ(legs[2].timeout_seconds, 1) << legs[2].target;
  EXPECT_EQ(legs.back().timeout_seconds, sdk::kUnlimitedRingSeconds) << "the boss";
  ASSERT_TRUE(driver_->answer_leg("boss"));
  EXPECT_EQ(second.get(), "done");
}

TEST_F(BossSecretary, OnlyActiveSecretariesRingAndSecretariesReachTheBossDirectly) {
  activate(rebecca_member_);
  strategy("all-surrogates-then-all-recipients");
  driver_->script("rebecca", Behaviour::answer);
  EXPECT_EQ(from(caller_, "1201"), "done");
  EXPECT_EQ(rung(), "rebecca") << "linda has not turned the filter on";
  driver_->script("boss", Behaviour::answer);
  EXPECT_EQ(from(linda_, "1201"), "done");
  EXPECT_EQ(rung(), "rebecca,boss") << "a secretary of the boss calls the boss directly";
}

TEST_F(BossSecretary, SourceLimitsTheFilterToInternalOrExternalCalls) {
  activate(linda_member_);
  strategy("all-surrogates-then-all-recipients");
  host_->sql("UPDATE confd_callfilters SET source = 'external' WHERE id = $1::int", {filter_});
  driver_->script("boss", Behaviour::answer);
  driver_->script("linda", Behaviour::answer);
  EXPECT_EQ(from(caller_, "1201"), "done");
  EXPECT_EQ(rung(), "boss") << "an internal call is not filtered";
  auto i = host_->sql("INSERT INTO confd_incalls (destination) VALUES (jsonb_build_object('type', 'user', 'user_id', $1::int)) "
                      "RETURNING id", {boss_});
  auto x = host_->sql("INSERT INTO confd_extensions (exten, context) VALUES ('5201', 'from-extern') RETURNING id");
  host_->sql("INSERT INTO confd_incall_extensions VALUES ($1::int, $2::int)", {i, x});
  EXPECT_EQ(outcome(run("5201", {}, "0600000000", "extern", "from-extern")), "done");
  EXPECT_EQ(rung(), "boss,linda") << "an external call is";
}

TEST_F(BossSecretary, UnansweredFilteredCallGoesToTheFiltersFallback) {
  activate(linda_member_);
  auto dan = user("dan", "1205");
  host_->sql("UPDATE confd_callfilters SET fallbacks = jsonb_build_object('noanswer_destination', "
             "jsonb_build_object('type', 'user', 'user_id', $2::int)) WHERE id = $1::int", {filter_, dan});
  driver_->script("dan", Behaviour::answer);
  EXPECT_EQ(from(caller_, "1201"), "done");
  EXPECT_EQ(rung(), "boss,linda,dan");
}

TEST_F(BossSecretary, Star37TogglesTheFilterFromTheBossOrTheSecretaryOnly) {
  auto active = [&](const std::string& m) {
    return host_->sql("SELECT active::text FROM confd_callfilter_members WHERE id = $1::int", {m});
  };
  auto decision = [&](const std::string& user_id, const std::string& number) {
    auto r = run(number, {{"XIVO_USERID", user_id}});
    auto& f = r->front().as_table()->fields;
    return outcome(r) + " " + *f.at("reason").as_string();
  };
  EXPECT_EQ(decision(linda_, "*37" + linda_member_), "480 Call filter enabled");
  host_->refresh_config();
  EXPECT_EQ(active(linda_member_), "true");
  EXPECT_EQ(decision(boss_, "*37" + linda_member_), "480 Call filter disabled") << "the boss turns it off";
  host_->refresh_config();
  EXPECT_EQ(active(linda_member_), "false");
  EXPECT_EQ(decision(caller_, "*37" + linda_member_), "403 Not in this call filter");
  EXPECT_EQ(active(linda_member_), "false");
  EXPECT_EQ(decision(boss_, "*379999"), "404 No such call filter member");
  // Turned on by *37, the filter applies to the next call.
  EXPECT_EQ(decision(boss_, "*37" + rebecca_member_), "480 Call filter enabled");
  host_->refresh_config();
  driver_->script("rebecca", Behaviour::answer);
  EXPECT_EQ(from(caller_, "1201"), "done");
  EXPECT_EQ(rung(), "boss,rebecca");
}

}  // namespace
