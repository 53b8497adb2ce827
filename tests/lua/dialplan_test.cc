// The dialplan modules of lua-dialplan/lib in the real Lua host: the
// dialed-number transformation table of outgoing routes (RegExp/Target),
// the default caller-number normalization, extension patterns, caller-ID
// precedence, and route/DID/user selection read from a real store.
#include <future>
#include <set>
#include <string>
#include <thread>
#include <tuple>

#include <gtest/gtest.h>

#include "plugins/backend/sip/sip_plugin.h"
#include "tests/plugins/backend/sip/sip_host.h"

namespace sdk = dialtone::sdk;
using dialtone::testing::SipTestHost;

namespace {

class Dialplan : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    host_ = new SipTestHost(std::filesystem::path(LUA_TEST_DIR) / "dialplan_test.lua");
    plugin_ = new dialtone::plugins::backend::sip::SipPlugin(*host_);
    auto c = plugin_->configure(sdk::Options({{"sip.listen", "127.0.0.1:0"}, {"sip.node", "lua-test"}}));
    ASSERT_TRUE(c) << c.error().message;
    auto s = plugin_->start();
    ASSERT_TRUE(s) << s.error().message;
  }
  static void TearDownTestSuite() {
    delete plugin_;
    delete host_;
  }

  static sdk::LuaValues call(const std::string& fn, sdk::LuaValues args) {
    std::promise<sdk::Result<sdk::LuaValues>> p;
    host_->lua()->call(fn, std::move(args), [&](sdk::Result<sdk::LuaValues> r) { p.set_value(std::move(r)); });
    auto r = p.get_future().get();
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : sdk::LuaValues{};
  }
  static std::string str(const sdk::LuaValues& v, std::size_t i = 0) {
    return i < v.size() && v[i].as_string() ? *v[i].as_string() : "<nil>";
  }

  static SipTestHost* host_;
  static dialtone::plugins::backend::sip::SipPlugin* plugin_;
};

SipTestHost* Dialplan::host_ = nullptr;
dialtone::plugins::backend::sip::SipPlugin* Dialplan::plugin_ = nullptr;

// Every row of the RegExp/Target examples of the outgoing calls
// documentation (dialed number transformation).
struct RewriteRow {
  const char* regexp;
  const char* target;
  const char* dialed;
  const char* sent;
};

class RewriteTable : public Dialplan, public ::testing::WithParamInterface<RewriteRow> {};

TEST_P(RewriteTable, TransformsTheDialedNumberAsDocumented) {
  auto row = GetParam();
  auto r = call("rewrite", {row.regexp, row.target, row.dialed});
  EXPECT_EQ(str(r), row.sent) << row.regexp << " / " << row.target << " on " << row.dialed;
}

INSTANTIATE_TEST_SUITE_P(
    Seed5232, RewriteTable,
    ::testing::Values(RewriteRow{"0(.*)", "\\1", "00123456789", "0123456789"},
                      RewriteRow{"14(.*)..", "\\1", "1455660", "556"},
                      RewriteRow{".{1}(.*)", "\\1", "03601", "3601"},
                      RewriteRow{"+33(.*)", "0\\1", "+33123456789", "0123456789"},
                      RewriteRow{"0(.*)", "+33\\1", "0123456789", "+33123456789"},
                      RewriteRow{"14(.*)..", "33\\18", "1455660", "335568"},
                      RewriteRow{"(.*)", "\\1", "0123456789", "0123456789"},
                      RewriteRow{"(.*)", "445", "0123456789", "445"}));

TEST_F(Dialplan, RewriteLeavesANumberThatDoesNotMatch) {
  auto r = call("rewrite", {"14(.*)..", "\\1", "0123"});
  ASSERT_FALSE(r.empty());
  EXPECT_TRUE(r[0].is_nil());
}

// The default caller-number normalization rules, one example each, plus
// numbers no rule touches.
TEST_F(Dialplan, NormalizesIncomingCallerNumbersWithTheDefaultRules) {
  EXPECT_EQ(str(call("normalize", {"123456789"})), "0123456789");       // national, 0 missing
  EXPECT_EQ(str(call("normalize", {"+33123456789"})), "0123456789");    // French E.164
  EXPECT_EQ(str(call("normalize", {"+4412345678"})), "004412345678");   // international E.164
  EXPECT_EQ(str(call("normalize", {"33123456789"})), "0033123456789");  // international, 00 missing
  EXPECT_EQ(str(call("normalize", {"0123456789"})), "0123456789");
  EXPECT_EQ(str(call("normalize", {"1001"})), "1001");
  EXPECT_EQ(str(call("normalize", {"+331"})), "+331");                   // fewer than 4 digits
}

TEST_F(Dialplan, MatchesExtensionPatternsLikeAsterisk) {
  auto is = [](const char* p, const char* n) {
    auto r = call("matches", {p, n});
    return !r.empty() && std::get_if<bool>(&r[0].v) && *std::get_if<bool>(&r[0].v);
  };
  EXPECT_TRUE(is("0XXXXXXXXX", "0123456789"));
  EXPECT_FALSE(is("0XXXXXXXXX", "012345678"));
  EXPECT_TRUE(is("_0XXXXXXXXX", "0123456789"));
  EXPECT_TRUE(is("55.", "5512"));
  EXPECT_FALSE(is("55.", "55"));  // "." needs one character or more
  EXPECT_TRUE(is("55!", "55"));
  EXPECT_TRUE(is("NXX", "200"));
  EXPECT_FALSE(is("NXX", "100"));
  EXPECT_TRUE(is("[1-3]0", "20"));
  EXPECT_FALSE(is("[1-3]0", "40"));
  EXPECT_FALSE(is("X.", "+33123"));  // X is a digit
  EXPECT_TRUE(is("+X.", "+33123"));
}

TEST_F(Dialplan, OutgoingCallerIdFollowsXivoPrecedence) {
  auto cid = [](const char* user, bool internal, const char* pattern) {
    auto r = call("outgoing_cid", {"Alice", "1001", user, internal, pattern});
    bool anonymous = r.size() > 2 && std::get_if<bool>(&r[2].v) && *std::get_if<bool>(&r[2].v);
    return std::make_tuple(str(r, 0), str(r, 1), anonymous);
  };
  // Nothing set: the internal caller ID.
  EXPECT_EQ(cid("default", false, ""), std::make_tuple("Alice", "1001", false));
  // The route pattern's caller ID.
  EXPECT_EQ(cid("default", false, "'XIVO' <5555>"), std::make_tuple("'XIVO'", "5555", false));
  EXPECT_EQ(cid("default", false, "\"XIVO\" <5555>"), std::make_tuple("XIVO", "5555", false));
  // The user's own outgoing caller ID beats the route's.
  EXPECT_EQ(cid("\"Direct\" <0299999999>", false, "\"XIVO\" <5555>"),
            std::make_tuple("Direct", "0299999999", false));
  // Anonymous: hidden, the route's number kept for P-Asserted-Identity.
  EXPECT_EQ(cid("anonymous", false, "\"XIVO\" <5555>"), std::make_tuple("Anonymous", "5555", true));
  EXPECT_EQ(cid("anonymous", false, ""), std::make_tuple("Anonymous", "1001", true));
  // Route "Internal": the internal caller ID goes out whatever else is set.
  EXPECT_EQ(cid("\"Direct\" <0299999999>", true, "\"XIVO\" <5555>"),
            std::make_tuple("Alice", "1001", false));
}

TEST_F(Dialplan, PicksTheOutgoingRouteByPriorityAndPatternFromTheStore) {
  host_->sql("DELETE FROM confd_outcalls");
  host_->sql("DELETE FROM confd_trunks");
  auto e1 = host_->sql("INSERT INTO confd_endpoints_sip (username, secret, host) VALUES ('prov-a', 'x', '127.0.0.1:5091') RETURNING id");
  auto e2 = host_->sql("INSERT INTO confd_endpoints_sip (username, secret, host) VALUES ('prov-b', 'x', '127.0.0.1:5092') RETURNING id");
  auto t1 = host_->sql("INSERT INTO confd_trunks (endpoint_sip_id) VALUES ($1::int) RETURNING id", {e1});
  auto t2 = host_->sql("INSERT INTO confd_trunks (endpoint_sip_id) VALUES ($1::int) RETURNING id", {e2});
  auto national = host_->sql(
      "INSERT INTO confd_outcalls (name, priority, patterns) VALUES ('national', 2, "
      "'[{\"pattern\":\"0XXXXXXXXX\",\"strip_digits\":1,\"prefix\":\"0033\"}]') RETURNING id");
  auto intl = host_->sql(
      "INSERT INTO confd_outcalls (name, priority, patterns) VALUES ('international', 1, "
      "'[{\"pattern\":\"00.\",\"regexp\":\"00(.*)\",\"target\":\"+\\\\1\"}]') RETURNING id");
  auto any = host_->sql(
      "INSERT INTO confd_outcalls (name, priority, patterns) VALUES ('catchall', 9, "
      "'[{\"pattern\":\"X.\"}]') RETURNING id");
  host_->sql("INSERT INTO confd_outcall_trunks VALUES ($1::int, $2::int, 1), ($1::int, $3::int, 2)",
             {national, t2, t1});
  host_->sql("INSERT INTO confd_outcall_trunks VALUES ($1::int, $2::int, 1)", {intl, t1});
  host_->sql("INSERT INTO confd_outcall_trunks VALUES ($1::int, $2::int, 1)", {any, t1});

  auto r = call("route_out", {"0123456789"});
  EXPECT_EQ(str(r, 0), "national");
  EXPECT_EQ(str(r, 1), "0033123456789");
  EXPECT_EQ(str(r, 2), "127.0.0.1:5092,127.0.0.1:5091");  // trunks in their order
  r = call("route_out", {"00441234"});
  EXPECT_EQ(str(r, 0), "international");  // priority 1 wins over the catch-all
  EXPECT_EQ(str(r, 1), "+441234");
  r = call("route_out", {"42"});
  EXPECT_EQ(str(r, 0), "catchall");
  r = call("route_out", {"*10"});
  ASSERT_FALSE(r.empty());
  EXPECT_TRUE(r[0].is_nil());
}

TEST_F(Dialplan, FindsTheIncallForADidExactBeforePatterns) {
  host_->sql("INSERT INTO confd_contexts (name, type) VALUES ('from-extern', 'incall') ON CONFLICT DO NOTHING");
  auto add = [](const char* exten) {
    auto i = host_->sql("INSERT INTO confd_incalls (destination) VALUES ('{\"type\":\"none\"}') RETURNING id");
    auto x = host_->sql("INSERT INTO confd_extensions (exten, context) VALUES ($1, 'from-extern') RETURNING id", {exten});
    host_->sql("INSERT INTO confd_incall_extensions VALUES ($1::int, $2::int)", {i, x});
    return i;
  };
  auto wide = add("5.");
  auto four = add("5XXX");
  auto exact = add("5001");
  auto id = [](const char* did) {
    auto r = call("find_incall", {"from-extern", did});
    return r.empty() || !r[0].as_int() ? std::string("none") : std::to_string(*r[0].as_int());
  };
  EXPECT_EQ(id("5001"), exact);
  EXPECT_EQ(id("5002"), four);
  EXPECT_EQ(id("50021"), wide);
  EXPECT_EQ(id("6001"), "none");
}

TEST_F(Dialplan, ReadsAUserByExtensionWithLinesAndRingTime) {
  auto uid = host_->add_line("dora", "dorapw", "1404");
  host_->sql("UPDATE confd_users SET ring_seconds = 15, service_dnd_enabled = true WHERE id = $1::int", {uid});
  auto r = call("user_of", {"1404", "default"});
  EXPECT_EQ(str(r, 0), "dora");
  EXPECT_EQ(str(r, 1), "dora");
  ASSERT_GT(r.size(), 3u);
  EXPECT_EQ(r[2].as_int().value_or(0), 15);
  EXPECT_TRUE(std::get_if<bool>(&r[3].v) && *std::get_if<bool>(&r[3].v));
  auto none = call("user_of", {"1404", "other"});
  ASSERT_FALSE(none.empty());
  EXPECT_TRUE(none[0].is_nil());
}

// Groups (seed 5.16): members in order with their lines, disabled users
// left out, and the order each one-at-a-time ring strategy rings them in
// from what it remembers of earlier answers.
TEST_F(Dialplan, GroupStrategiesOrderMembersFromWhatTheyRemember) {
  auto a = host_->add_line("grp-a", "pw", "1501");
  auto b = host_->add_line("grp-b", "pw", "1502");
  auto c = host_->add_line("grp-c", "pw", "1503");
  auto off = host_->add_line("grp-off", "pw", "1504");
  host_->sql("UPDATE confd_users SET enabled = false WHERE id = $1::int", {off});
  auto g = host_->sql("INSERT INTO confd_groups (name, ring_strategy) VALUES ('helpdesk', 'linear') RETURNING id");
  int pos = 0;
  for (auto& u : {b, a, off, c})  // member order: b, a, (off), c
    host_->sql("INSERT INTO confd_group_members VALUES ($1::int, $2::int, $3::int)", {g, u, std::to_string(++pos)});
  auto x = host_->sql("INSERT INTO confd_extensions (exten, context) VALUES ('2501', 'default') RETURNING id");
  host_->sql("INSERT INTO confd_group_extensions VALUES ($1::int, $2::int)", {g, x});

  auto group = call("group_of", {"2501", "default"});
  EXPECT_EQ(str(group, 0), "helpdesk");
  EXPECT_EQ(str(group, 1), "linear");
  EXPECT_EQ(str(group, 2), b + ":grp-b," + a + ":grp-a," + c + ":grp-c");
  EXPECT_TRUE(call("group_of", {"2501", "other"})[0].is_nil());

  auto order = [](const char* strategy) { return str(call("group_order", {"2501", strategy})); };
  EXPECT_EQ(order("linear"), b + "," + a + "," + c);
  EXPECT_EQ(order("memorized_round_robin"), b + "," + a + "," + c);
  auto answer = [](const std::string& user) {
    call("group_answer", {"2501", user});
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // distinct answer times
  };
  answer(a);
  EXPECT_EQ(order("memorized_round_robin"), c + "," + b + "," + a);  // after the last one answering
  answer(c);
  answer(c);
  EXPECT_EQ(order("fewest_calls"), b + "," + a + "," + c);   // 0, 1, 2 answered
  EXPECT_EQ(order("least_recent"), b + "," + a + "," + c);   // never, then oldest answer
  answer(b);
  EXPECT_EQ(order("least_recent"), a + "," + c + "," + b);
  EXPECT_EQ(order("memorized_round_robin"), a + "," + c + "," + b);

  std::set<std::string> firsts;
  for (int i = 0; i < 60; ++i) {
    auto o = order("random");
    EXPECT_EQ(o.size(), (b + "," + a + "," + c).size());
    firsts.insert(o.substr(0, o.find(',')));
  }
  EXPECT_GT(firsts.size(), 1u);  // not always the same member first
}

// Call permissions (seed 5.5): a deny applies to the numbers it lists or
// matches, an allow that also applies wins ("deny all, allow some"),
// disabled permissions and other users' are ignored, and a forwarded call is
// checked against the forwarder.
TEST_F(Dialplan, CallPermissionsDenyListedNumbersUnlessAnAllowApplies) {
  auto user = host_->add_line("perm-user", "pw", "1601");
  auto other = host_->add_line("perm-other", "pw", "1602");
  auto rule = [&](const char* name, const char* mode, const char* extensions, bool enabled,
                  const std::string& who) {
    auto id = host_->sql("INSERT INTO confd_callpermissions (name, mode, extensions, enabled) "
                         "VALUES ($1, $2, $3::jsonb, $4::boolean) RETURNING id",
                         {name, mode, extensions, enabled ? "true" : "false"});
    host_->sql("INSERT INTO confd_user_callpermissions VALUES ($1::int, $2::int)", {who, id});
  };
  rule("no-international", "deny", R"(["00."])", true, user);
  rule("no-boss", "deny", R"(["1999"])", true, user);
  rule("but-belgium", "allow", R"(["0032."])", true, user);
  rule("disabled", "deny", R"(["1602"])", false, user);
  rule("other-user", "deny", R"(["1603"])", true, other);

  auto may = [](const std::string& who, const char* number) {
    auto r = call("may_call", {who, number});
    bool ok = !r.empty() && std::get_if<bool>(&r[0].v) && *std::get_if<bool>(&r[0].v);
    return ok ? std::string("allowed") : "denied by " + str(r, 1);
  };
  EXPECT_EQ(may(user, "0044123456"), "denied by no-international");
  EXPECT_EQ(may(user, "0032123456"), "allowed");
  EXPECT_EQ(may(user, "1999"), "denied by no-boss");
  EXPECT_EQ(may(user, "19990"), "allowed");
  EXPECT_EQ(may(user, "1602"), "allowed");
  EXPECT_EQ(may(user, "1603"), "allowed");
  EXPECT_EQ(may(other, "1603"), "denied by other-user");

  auto subject = [](const char* origin, const std::string& uid, const char* referer) {
    auto r = call("permission_subject", {origin, uid, referer});
    return r.empty() || !r[0].as_int() ? std::string("none") : std::to_string(*r[0].as_int());
  };
  EXPECT_EQ(subject("intern", user, ""), user);
  EXPECT_EQ(subject("intern", user, ("user:" + other).c_str()), other);
  EXPECT_EQ(subject("extern", "", ""), "none");
  EXPECT_EQ(subject("extern", "", ("user:" + other).c_str()), other);
}

// Incoming caller names from the directories (seed 5.11 "Reverse lookup"):
// only when the name is the number or "unknown", through dird.reverse, which
// suspends the call's coroutine while the directories answer.
TEST_F(Dialplan, ReverseLookupNamesUnknownCallersOnly) {
  // Before directory.dird is loaded the name is left alone.
  EXPECT_EQ(str(call("reverse_name", {"0123456789", "0123456789"})), "0123456789");

  auto s = host_->lua()->export_module(
      "dird", {{"reverse", "profile: string, number: string", "name: string|nil",
                "Directory name for a number (test directory: one entry).",
                [](const sdk::LuaValues& args) {
                  std::string number = args.size() > 1 && args[1].as_string() ? *args[1].as_string() : "";
                  return sdk::LuaReply::async([number](sdk::LuaResume resume) {
                    std::thread([number, resume] {
                      std::this_thread::sleep_for(std::chrono::milliseconds(20));
                      resume(sdk::LuaValues{number == "0123456789" ? sdk::LuaValue("Alice Liddell")
                                                                    : sdk::LuaValue()});
                    }).detach();
                  });
                }}});
  ASSERT_TRUE(s) << s.error().message;

  EXPECT_EQ(str(call("reverse_name", {"0123456789", "0123456789"})), "Alice Liddell");
  EXPECT_EQ(str(call("reverse_name", {"unknown", "0123456789"})), "Alice Liddell");
  EXPECT_EQ(str(call("reverse_name", {"", "0123456789"})), "Alice Liddell");
  EXPECT_EQ(str(call("reverse_name", {"Bob at Acme", "0123456789"})), "Bob at Acme");
  EXPECT_EQ(str(call("reverse_name", {"0987654321", "0987654321"})), "0987654321");
}

// Feature codes (lib/features.lua, seed raw_config exten_fwd_* / exten_dnd):
// each one changes confd_users through config.set_forward/toggle_dnd and is
// announced like an api.confd user edit (NOTIFY and bus event).
class FeatureCodes : public Dialplan {
 protected:
  static std::pair<int, std::string> dial(const std::string& uid, const std::string& number,
                                          const char* origin = "intern") {
    auto r = call("feature", {uid, number, origin});
    if (r.empty() || r[0].is_nil()) return {0, "<routed>"};
    return {static_cast<int>(r[0].as_int().value_or(-1)), str(r, 1)};
  }
  static std::string column(const std::string& uid, const std::string& col) {
    return host_->sql("SELECT coalesce(" + col + "::text, '<null>') FROM confd_users WHERE id = $1::int", {uid});
  }
  static std::size_t edits_of(const std::string& uid) {
    std::size_t n = 0;
    for (auto& e : host_->test_bus().events())
      if (e.topic == "config.user.edited" && e.body.find("\"id\":" + uid + ",") != std::string::npos) ++n;
    return n;
  }
};

TEST_F(FeatureCodes, Star21SetsTheUnconditionalForwardAndStar21AloneTogglesIt) {
  auto uid = host_->add_line("gina", "ginapw", "1410");
  std::promise<std::string> notified;
  auto listener = host_->pg().listen("dialtone_config", [&notified, uid](const std::string& payload) {
    if (payload == "user.edited:" + uid) try { notified.set_value(payload); } catch (...) {}
  });
  auto before = edits_of(uid);

  EXPECT_EQ(dial(uid, "*211002"), std::make_pair(480, std::string("Forward enabled")));
  EXPECT_EQ(column(uid, "forward_unconditional_enabled"), "true");
  EXPECT_EQ(column(uid, "forward_unconditional_destination"), "1002");
  EXPECT_EQ(edits_of(uid), before + 1);
  auto f = notified.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(20)), std::future_status::ready);
  EXPECT_EQ(f.get(), "user.edited:" + uid);

  // The dialplan now forwards calls to her extension.
  auto u = call("user_forward", {"1410", "default"});
  EXPECT_EQ(str(u, 0), "1002");

  // *21 alone: off (destination kept), then on again to the same number.
  EXPECT_EQ(dial(uid, "*21"), std::make_pair(480, std::string("Forward disabled")));
  EXPECT_EQ(column(uid, "forward_unconditional_enabled"), "false");
  EXPECT_EQ(column(uid, "forward_unconditional_destination"), "1002");
  EXPECT_EQ(dial(uid, "*21"), std::make_pair(480, std::string("Forward enabled")));
  EXPECT_EQ(column(uid, "forward_unconditional_enabled"), "true");
  EXPECT_EQ(edits_of(uid), before + 3);
}

TEST_F(FeatureCodes, NoAnswerAndBusyCodesAndStar20TurnEveryForwardOff) {
  auto uid = host_->add_line("hugo", "hugopw", "1411");
  // Nothing saved yet: *22 alone has no destination to go back to.
  EXPECT_EQ(dial(uid, "*22"), std::make_pair(484, std::string("Forward destination needed")));
  EXPECT_EQ(column(uid, "forward_noanswer_enabled"), "false");
  EXPECT_EQ(dial(uid, "*220612345678"), std::make_pair(480, std::string("Forward enabled")));
  EXPECT_EQ(dial(uid, "*23*10"), std::make_pair(480, std::string("Forward enabled")));
  EXPECT_EQ(column(uid, "forward_noanswer_destination"), "0612345678");
  EXPECT_EQ(column(uid, "forward_busy_destination"), "*10");
  EXPECT_EQ(column(uid, "forward_busy_enabled"), "true");
  EXPECT_EQ(dial(uid, "*20"), std::make_pair(480, std::string("Forwards disabled")));
  EXPECT_EQ(column(uid, "forward_noanswer_enabled"), "false");
  EXPECT_EQ(column(uid, "forward_busy_enabled"), "false");
  EXPECT_EQ(column(uid, "forward_unconditional_enabled"), "false");
}

TEST_F(FeatureCodes, Star25TogglesDoNotDisturb) {
  auto uid = host_->add_line("ines", "inespw", "1412");
  auto before = edits_of(uid);
  EXPECT_EQ(dial(uid, "*25"), std::make_pair(480, std::string("DND enabled")));
  EXPECT_EQ(column(uid, "service_dnd_enabled"), "true");
  auto r = call("user_of", {"1412", "default"});
  ASSERT_GT(r.size(), 3u);
  EXPECT_TRUE(std::get_if<bool>(&r[3].v) && *std::get_if<bool>(&r[3].v));
  EXPECT_EQ(dial(uid, "*25"), std::make_pair(480, std::string("DND disabled")));
  EXPECT_EQ(column(uid, "service_dnd_enabled"), "false");
  EXPECT_EQ(edits_of(uid), before + 2);
}

TEST_F(FeatureCodes, OnlyLinesWithAUserDialThemAndOtherNumbersAreRouted) {
  auto uid = host_->add_line("jack", "jackpw", "1413");
  // From a trunk, or not a feature code: the normal dialplan routes it.
  EXPECT_EQ(dial(uid, "*211002", "extern").second, "<routed>");
  EXPECT_EQ(dial(uid, "*21abc").second, "<routed>");
  EXPECT_EQ(dial(uid, "*250").second, "<routed>");
  EXPECT_EQ(dial(uid, "1002").second, "<routed>");
  // A line without a user, or a user that does not exist.
  EXPECT_EQ(dial("", "*25"), std::make_pair(403, std::string("Feature codes need a user")));
  EXPECT_EQ(dial("999999", "*25"), std::make_pair(500, std::string("Feature not saved")));
  EXPECT_EQ(column(uid, "forward_unconditional_enabled"), "false");
}

}  // namespace
