// CEL and call logs through the real dialtoned: SIPp phones make four calls
// through backend.sip and the lua-dialplan (answered, busy, not answered,
// cancelled); records.cel writes their CEL, records.call_logs builds their
// call logs, read back over confd's REST API as XiVO's CSV and as JSON, per
// user with ACLs, and rebuilt by `dialtoned --generate-call-logs N`. A real
// WebSocket client (events.websocketd) follows a call live.
#include <libpq-fe.h>

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/pointer.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <future>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/records/records_fixture.h"
#include "tests/integration/support/dialtoned_fixture.h"
#include "tests/integration/support/sip_suite.h"
#include "tests/support/openapi_fields.h"
#include "tests/support/udp_ports.h"

namespace {

namespace fs = std::filesystem;
using dialtone::testing::Dialtoned;
using dialtone::testing::free_tcp_udp_port;
using dialtone::testing::json_int;
using dialtone::testing::json_size;
using dialtone::testing::json_string;
using dialtone::testing::run_command;
using dialtone::testing::wait_udp_bound;
namespace records = dialtone::testing::records;

struct Call {
  std::string callee, uas, uac, extra;
  int uac_rc = -1, uas_rc = -1;
  std::string out;
};

class CallLogsE2E : public dialtone::testing::SipSuite {
 protected:
  static void SetUpTestSuite() {
    ws_port_ = free_tcp_udp_port();
    start_dialtoned("records",
                    {{"70-records-cel.conf", "[plugin]\nname = records.cel\n\n[cel]\nbatch_interval = 100ms\n"},
                     {"71-records-call-logs.conf", "[plugin]\nname = records.call_logs\n"},
                     {"80-events.conf", "[plugin]\nname = events.websocketd\n\n[websocketd]\n"
                                        "listen = 127.0.0.1:" + std::to_string(ws_port_) + "\n"}});
    if (!d_->ready()) return;
    auto h = headers();
    auto ctx = d_->http("POST", "confd", "/1.1/contexts",
                        R"({"name":"default","type":"internal","user_ranges":[{"start":"1000","end":"1899"}],)"
                        R"("group_ranges":[{"start":"1900","end":"1999"}]})", h);
    if (ctx.status != 201) return fail("context: " + ctx.body);
    for (int n = 1000; n <= 1004; ++n)
      if (auto e = create_user_line(n); !e.empty()) return fail(e);
    // 1003 does not answer: the dialplan gives up after 5 s of ringing.
    auto put = d_->http("PUT", "confd", "/1.1/users/" + user_id_[3], R"({"ring_seconds":5})", h);
    if (put.status != 204) return fail("ring_seconds: " + put.body);

    calls_ = {{"1001", "uas_answer.xml", "uac_call_bye_after_pause.xml", "-d 1600", -1, -1, ""},
              {"1002", "uas_busy.xml", "uac_call_486.xml", "", -1, -1, ""},
              {"1003", "uas_ring_cancel.xml", "uac_call_480.xml", "", -1, -1, ""},
              {"1004", "uas_ring_cancel.xml", "uac_call_cancel.xml", "", -1, -1, ""}};
    for (auto& c : calls_) {
      int port = free_tcp_udp_port();
      std::string out;
      if (register_line("u" + c.callee, "pw" + c.callee, port, &out) != 0) return fail("register: " + out);
      auto uas = std::async(std::launch::async, [port, &c] {
        std::string o;
        int rc = sipp("-sf " + scenario(c.uas) + " -p " + std::to_string(port), &o);
        return std::make_pair(rc, o);
      });
      if (!wait_udp_bound(port)) return fail("the UAS for " + c.callee + " did not bind");
      c.uac_rc = client("-sf " + scenario(c.uac) + " -s " + c.callee + " -au u1000 -ap pw1000 -key user u1000 " +
                            c.extra,
                        &c.out);
      auto [rc, o] = uas.get();
      c.uas_rc = rc;
      c.out += o;
    }
    // The four call logs are built once the CEL of each call is written.
    records::wait_call_logs(*d_, 4);
  }
  static void fail(const std::string& e) { setup_error_ = e; }
  static std::string create_user_line(int n) {
    auto num = std::to_string(n);
    std::string user;
    auto e = dialtone::testing::create_user_line(
        *d_, num,
        n == 1000 ? std::string(R"({"firstname":"Zoë","lastname":"Records, Jr."})")
                  : R"({"firstname":"User)" + num + R"(","lastname":"Records"})",
        "u" + num, "pw" + num, &user);
    if (!e.empty()) return e;
    user_id_.push_back(json_string(user, "/id"));
    user_uuid_.push_back(json_string(user, "/uuid"));
    return "";
  }
  static std::string json_logs(const std::string& path, const std::string& token = "") {
    return records::call_logs(*d_, path, token);
  }
  static double num(const std::string& json, const std::string& pointer) { return records::number(json, pointer); }
  // Rows of one text column, each followed by a line break.
  static std::string query(const std::string& statement) { return dialtone::testing::sql_lines(d_->dsn(), statement); }
  static void sql(const std::string& statement) {
    PGconn* c = PQconnectdb(d_->dsn().c_str());
    ASSERT_EQ(PQstatus(c), CONNECTION_OK) << PQerrorMessage(c);
    PGresult* r = PQexec(c, statement.c_str());
    EXPECT_TRUE(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK)
        << statement << ": " << PQerrorMessage(c);
    PQclear(r);
    PQfinish(c);
  }

  static inline int ws_port_ = 0;
  static inline std::vector<std::string> user_id_, user_uuid_;
  static inline std::vector<Call> calls_;
};

TEST_F(CallLogsE2E, PhonesPlayedTheirScenarios) {
  for (auto& c : calls_) {
    EXPECT_EQ(c.uac_rc, 0) << c.callee << ": " << c.out;
    EXPECT_EQ(c.uas_rc, 0) << c.callee << ": " << c.out;
  }
}

TEST_F(CallLogsE2E, JsonRowsFollowXivoRules) {
  auto body = json_logs("/1.1/call_logs?order=date");
  ASSERT_EQ(json_int(body, "/total"), 4) << body << d_->output();
  struct Want {
    const char* exten;
    bool answered;
    const char* status;
    int callee;  // index of the callee's user
  } want[] = {{"1001", true, "answered", 1}, {"1002", false, "busy", 2}, {"1003", false, "noanswer", 3},
              {"1004", false, "cancel", 4}};
  for (int i = 0; i < 4; ++i) {
    auto at = "/items/" + std::to_string(i);
    // The dialplan presents the user's caller id, not the phone's.
    EXPECT_EQ(json_string(body, at + "/source_exten"), "1000") << body;
    EXPECT_EQ(json_string(body, at + "/source_name"), "Zoë Records, Jr.") << body;
    EXPECT_EQ(json_string(body, at + "/destination_exten"), want[i].exten) << body;
    EXPECT_EQ(json_string(body, at + "/destination_name"), "User" + std::string(want[i].exten) + " Records") << body;
    EXPECT_EQ(json_string(body, at + "/status"), want[i].status) << body;
    EXPECT_EQ(json_string(body, at + "/direction"), "internal") << body;
    EXPECT_EQ(json_string(body, at + "/source_user_uuid"), user_uuid_[0]) << body;
    EXPECT_EQ(json_string(body, at + "/destination_user_uuid"), user_uuid_[want[i].callee]) << body;
    EXPECT_EQ(json_string(body, at + "/source_line_identity"), "sip/u1000") << body;
    EXPECT_EQ(json_string(body, at + "/destination_line_identity"), "sip/u" + std::string(want[i].exten)) << body;
  }
  EXPECT_NE(body.find("\"answered\":true"), std::string::npos);
  EXPECT_EQ(json_string(body, "/items/0/answered_by"), "sip/u1001") << body;
  EXPECT_EQ(json_string(body, "/items/1/answered_by"), "") << body;
  EXPECT_EQ(json_size(json_logs("/1.1/call_logs?answered=true"), "/items"), 1u);
  EXPECT_EQ(json_size(json_logs("/1.1/call_logs?answered=false"), "/items"), 3u);
  EXPECT_EQ(json_size(json_logs("/1.1/call_logs?number=1002"), "/items"), 1u);
  EXPECT_EQ(json_size(json_logs("/1.1/call_logs?call_direction=inbound"), "/items"), 0u);
  EXPECT_EQ(json_size(json_logs("/1.1/call_logs?call_direction=internal&limit=2&offset=1"), "/items"), 2u);
  auto page = json_logs("/1.1/call_logs?order=date&direction=desc&limit=1");
  EXPECT_EQ(json_int(page, "/total"), 4) << page;
  EXPECT_EQ(json_string(page, "/items/0/destination_exten"), "1004") << page;
  EXPECT_EQ(json_size(json_logs("/1.1/call_logs?start_date=2999-01-01"), "/items"), 0u);
  auto bad = d_->http("GET", "confd", "/1.1/call_logs?start_date=yesterday", "", headers());
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_NE(bad.body.find("start_date"), std::string::npos) << bad.body;
}

// Statistics basis: the answered call talked at least the 1.6 s the caller
// paused, its callee rang before answering; the unanswered callee rang at
// least its 5 s of ring_seconds. Lower bounds only: the pauses guarantee them.
TEST_F(CallLogsE2E, StatisticsBasisInRowsAndView) {
  auto body = json_logs("/1.1/call_logs?order=date");
  ASSERT_EQ(json_int(body, "/total"), 4) << body;
  EXPECT_GE(num(body, "/items/0/talk_time"), 1.6) << body;
  EXPECT_EQ(num(body, "/items/0/talk_time"), num(body, "/items/0/duration")) << body;
  EXPECT_GT(num(body, "/items/0/wait_time"), 0.0) << body;
  EXPECT_GE(num(body, "/items/0/wait_time"), num(body, "/items/0/ring_time")) << body;
  EXPECT_GE(num(body, "/items/2/ring_time"), 5.0) << body;
  EXPECT_GE(num(body, "/items/2/wait_time"), 5.0) << body;
  for (int i = 1; i < 4; ++i) {
    EXPECT_EQ(num(body, "/items/" + std::to_string(i) + "/talk_time"), 0.0) << body;
    EXPECT_EQ(num(body, "/items/" + std::to_string(i) + "/duration"), 0.0) << body;
  }
  // The reporting view gives the same facts in seconds.
  auto view = query("SELECT status || ':' || answered_by || ':' || (talk_seconds >= 1.6) || ':' || "
                    "(ring_seconds >= 0) FROM call_log_stats ORDER BY start_time");
  EXPECT_EQ(view, "answered:sip/u1001:true:true\nbusy::false:true\nnoanswer::false:true\ncancel::false:true\n");
}

TEST_F(CallLogsE2E, CsvIsXivoFormat) {
  auto json = json_logs("/1.1/call_logs?order=date");
  auto r = d_->http("GET", "confd", "/1.1/call_logs", "", headers());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"], "text/csv; charset=utf-8");
  std::string expected = "Call Date,Caller,Called,Period,user Field\r\n";
  const char* called[] = {"1001", "1002", "1003", "1004"};
  for (int i = 0; i < 4; ++i)
    expected += records::expected_csv_line(json, "/items/" + std::to_string(i), "Zoë Records, Jr.", "1000", called[i]);
  // The quoting is the seed's: the caller's comma puts it in double quotes.
  EXPECT_NE(expected.find(",\"Zoë Records, Jr. (1000)\",1001,"), std::string::npos) << expected;
  EXPECT_EQ(r.body, expected);
  EXPECT_GE(num(json, "/items/0/duration"), 1.6) << "the answered call has a period";
  // A period that starts after the first call leaves it out.
  auto second = json_string(json, "/items/1/date").substr(0, 19);
  auto from = d_->http("GET", "confd", "/1.1/call_logs?start_date=" + second, "", headers());
  EXPECT_EQ(std::count(from.body.begin(), from.body.end(), '\n'), 4) << from.body;
  EXPECT_EQ(d_->http("GET", "confd", "/1.1/call_logs", "").status, 401);
}

TEST_F(CallLogsE2E, UsersSeeTheirOwnHistoryOnly) {
  auto h = headers();
  auto acct = d_->http("POST", "auth", "/0.1/users",
                       R"({"username":"callee1001","password":"pw-1001","uuid":")" + user_uuid_[1] +
                           R"(","acls":["confd.users.me.call_logs.read"]})",
                       h);
  ASSERT_TRUE(acct.status == 200 || acct.status == 201) << acct.body;
  auto token = d_->token_for("callee1001", "pw-1001");
  ASSERT_FALSE(token.empty());
  auto mine = json_logs("/1.1/users/me/call_logs", token);
  EXPECT_EQ(json_int(mine, "/total"), 1) << mine;
  EXPECT_EQ(json_string(mine, "/items/0/destination_exten"), "1001") << mine;
  EXPECT_EQ(json_int(json_logs("/1.1/users/" + user_uuid_[1] + "/call_logs", token), "/total"), 1);
  auto others = d_->http("GET", "confd", "/1.1/users/" + user_uuid_[0] + "/call_logs", "", {{"X-Auth-Token", token}});
  EXPECT_EQ(others.status, 403) << others.body;
  EXPECT_EQ(d_->http("GET", "confd", "/1.1/call_logs", "", {{"X-Auth-Token", token}}).status, 403);
  // The caller's history holds all four; searched by number and direction.
  auto caller = json_logs("/1.1/users/" + user_uuid_[0] + "/call_logs?number=1003&call_direction=internal");
  EXPECT_EQ(json_int(caller, "/total"), 1) << caller;
  EXPECT_EQ(json_int(json_logs("/1.1/users/" + user_uuid_[0] + "/call_logs"), "/total"), 4);
}

// The field contract of plugins/records/call_logs/api.yml (as served): every
// field declared for a JSON call log is in the rows of the calls above,
// answered or not, in the list and in a user's history.
TEST_F(CallLogsE2E, EveryDeclaredFieldIsReturned) {
  auto served = d_->http("GET", "confd", "/1.1/api/call_logs.yml", "");
  ASSERT_EQ(served.status, 200) << served.body;
  auto spec = YAML::Load(served.body);
  auto all = json_logs("/1.1/call_logs?order=date");
  ASSERT_EQ(json_int(all, "/total"), 4) << all;
  EXPECT_EQ(dialtone::testing::missing_fields(spec, "GET", "/1.1/call_logs", all), "") << all;
  auto user = json_logs("/1.1/users/" + user_uuid_[0] + "/call_logs");
  EXPECT_EQ(dialtone::testing::missing_fields(spec, "GET", "/1.1/users/{user_uuid}/call_logs", user), "") << user;
}

TEST_F(CallLogsE2E, GenerateCallLogsCommandRebuildsFromCel) {
  auto before = json_logs("/1.1/call_logs?order=date");
  sql("DELETE FROM call_log; UPDATE cel SET call_log_id = NULL");
  ASSERT_EQ(json_int(json_logs("/1.1/call_logs"), "/total"), 0);
  std::string out;
  int rc = run_command(dialtone::testing::dialtoned_binary().string() + " --config-dir " +
                           (d_->dir() / "conf.d").string() + " --generate-call-logs 100000",
                       &out);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("4 call log(s) generated"), std::string::npos) << out;
  auto after = json_logs("/1.1/call_logs?order=date");
  ASSERT_EQ(json_int(after, "/total"), 4) << after;
  for (int i = 0; i < 4; ++i)
    for (auto* k : {"date", "destination_exten", "status", "duration", "ring_time"}) {
      auto at = "/items/" + std::to_string(i) + "/" + k;
      EXPECT_EQ(json_string(after, at), json_string(before, at)) << at;
      EXPECT_EQ(num(after, at), num(before, at)) << at;
    }
  // Nothing left to build.
  rc = run_command(dialtone::testing::dialtoned_binary().string() + " --config-dir " +
                       (d_->dir() / "conf.d").string() + " --generate-call-logs 100000",
                   &out);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("0 call log(s) generated"), std::string::npos) << out;
  // Every CEL row is marked with its call log again (XiVO's processed
  // marker), and a call log's rows are read by linkedid (docs/admin/cel.md).
  EXPECT_EQ(query("SELECT count(*) FROM cel WHERE call_log_id IS NULL"), "0\n");
  EXPECT_EQ(query("SELECT count(*) FROM cel JOIN call_log USING (linkedid) WHERE cel.call_log_id <> call_log.id"),
            "0\n");
  EXPECT_EQ(query("SELECT count(DISTINCT call_log_id) FROM cel"), "4\n");
}

// XiVO's rule for forwards: the call log keeps the number dialed, and says
// who answered. 1002 forwards everything to 1004, who answers.
TEST_F(CallLogsE2E, ForwardedCallKeepsTheNumberDialedAndWhoAnswered) {
  // The suite's four calls, and those of the tests run before in this process.
  const long before = json_int(json_logs("/1.1/call_logs"), "/total");
  auto fwd = d_->http("PUT", "confd", "/1.1/users/" + user_id_[2] + "/forwards/unconditional",
                      R"({"enabled":true,"destination":"1004"})", headers());
  ASSERT_EQ(fwd.status, 204) << fwd.body;
  std::string out;
  ASSERT_EQ(client("-sf " + scenario("unregister_all.xml") +
                       " -au u1004 -ap pw1004 -key user u1004 -key contact_port 1 -key expires 0",
                   &out),
            0)
      << out;
  int port = free_tcp_udp_port();
  ASSERT_EQ(register_line("u1004", "pw1004", port, &out), 0) << out;
  auto uas = std::async(std::launch::async, [port] {
    std::string o;
    int rc = sipp("-sf " + scenario("uas_answer.xml") + " -p " + std::to_string(port), &o);
    return std::make_pair(rc, o);
  });
  ASSERT_TRUE(wait_udp_bound(port)) << "the UAS did not bind";
  EXPECT_EQ(client("-sf " + scenario("uac_call_hangup.xml") + " -s 1002 -au u1000 -ap pw1000 -key user u1000", &out),
            0)
      << out;
  auto [rc, uas_out] = uas.get();
  EXPECT_EQ(rc, 0) << uas_out;
  auto body = records::wait_call_logs(*d_, before + 1, "/1.1/call_logs?order=date&direction=desc&limit=1");
  ASSERT_EQ(json_int(body, "/total"), before + 1) << body;
  EXPECT_EQ(json_string(body, "/items/0/destination_exten"), "1002") << body;
  EXPECT_EQ(json_string(body, "/items/0/status"), "answered") << body;
  EXPECT_EQ(json_string(body, "/items/0/answered_by"), "sip/u1004") << body;
  EXPECT_EQ(json_string(body, "/items/0/destination_user_uuid"), user_uuid_[4]) << body;
  // XiVO's CSV line: the number dialed is the one called.
  auto csv = records::csv(*d_);
  EXPECT_NE(csv.find(records::expected_csv_line(body, "/items/0", "Zoë Records, Jr.", "1000", "1002")),
            std::string::npos)
      << csv;
}

// A group rings two members at once: the call log names the group's number
// and the member who answered; the other member's phone rang and was
// cancelled (its channel is in the CEL, not in the call log's answer).
TEST_F(CallLogsE2E, GroupCallNamesTheMemberWhoAnswered) {
  // The suite's four calls, and those of the tests run before in this process.
  const long before = json_int(json_logs("/1.1/call_logs"), "/total");
  auto h = headers();
  auto group = d_->http("POST", "confd", "/1.1/groups", R"({"name":"sales","label":"Sales","ring_strategy":"all"})", h);
  ASSERT_EQ(group.status, 201) << group.body;
  auto gid = json_string(group.body, "/id");
  auto ext = d_->http("POST", "confd", "/1.1/extensions", R"({"exten":"1900","context":"default"})", h);
  ASSERT_EQ(ext.status, 201) << ext.body;
  auto assoc = d_->http("PUT", "confd", "/1.1/groups/" + gid + "/extensions/" + json_string(ext.body, "/id"), "", h);
  ASSERT_EQ(assoc.status, 204) << assoc.body;
  auto members = d_->http("PUT", "confd", "/1.1/groups/" + gid + "/members/users",
                          R"({"users":[{"uuid":")" + user_uuid_[1] + R"("},{"uuid":")" + user_uuid_[3] + R"("}]})", h);
  ASSERT_EQ(members.status, 204) << members.body;
  std::string out;
  for (auto* line : {"1001", "1003"})
    ASSERT_EQ(client("-sf " + scenario("unregister_all.xml") + " -au u" + line + " -ap pw" + line + " -key user u" +
                         line + " -key contact_port 1 -key expires 0",
                     &out),
              0)
        << out;
  int answers = free_tcp_udp_port(), rings = free_tcp_udp_port();
  ASSERT_EQ(register_line("u1001", "pw1001", answers, &out), 0) << out;
  ASSERT_EQ(register_line("u1003", "pw1003", rings, &out), 0) << out;
  auto a = std::async(std::launch::async, [answers] {
    std::string o;
    int rc = sipp("-sf " + scenario("uas_answer.xml") + " -p " + std::to_string(answers), &o);
    return std::make_pair(rc, o);
  });
  auto r = std::async(std::launch::async, [rings] {
    std::string o;
    int rc = sipp("-sf " + scenario("uas_ring_cancel.xml") + " -p " + std::to_string(rings), &o);
    return std::make_pair(rc, o);
  });
  ASSERT_TRUE(wait_udp_bound(answers) && wait_udp_bound(rings)) << "the UAS did not bind";
  EXPECT_EQ(client("-sf " + scenario("uac_call_hangup.xml") + " -s 1900 -au u1000 -ap pw1000 -key user u1000", &out),
            0)
      << out << d_->output();
  auto [arc, aout] = a.get();
  EXPECT_EQ(arc, 0) << aout;
  auto [rrc, rout] = r.get();
  EXPECT_EQ(rrc, 0) << rout;
  auto body = records::wait_call_logs(*d_, before + 1, "/1.1/call_logs?order=date&direction=desc&limit=1");
  ASSERT_EQ(json_int(body, "/total"), before + 1) << body;
  EXPECT_EQ(json_string(body, "/items/0/destination_exten"), "1900") << body;
  EXPECT_EQ(json_string(body, "/items/0/status"), "answered") << body;
  EXPECT_EQ(json_string(body, "/items/0/answered_by"), "sip/u1001") << body;
  EXPECT_EQ(json_string(body, "/items/0/destination_user_uuid"), user_uuid_[1]) << body;
  auto csv = records::csv(*d_);
  EXPECT_NE(csv.find(records::expected_csv_line(body, "/items/0", "Zoë Records, Jr.", "1000", "1900")),
            std::string::npos)
      << csv;
  auto legs = query("SELECT count(DISTINCT uniqueid) FROM cel WHERE linkedid = (SELECT linkedid FROM call_log "
                    "ORDER BY date DESC LIMIT 1)");
  EXPECT_EQ(legs, "3\n") << "the caller and both members' phones";
}

// A ws_client.py run (tests/integration/events) whose lines are read as they come.
struct WsClient : dialtone::testing::OutputLines {
  explicit WsClient(const std::string& args) : OutputLines(std::string(WS_PYTHON) + " " + WS_CLIENT + " " + args) {}
};

// Dashboards follow calls live: the callee's registration and then each
// channel's created -> state -> ended events arrive in order; a token whose
// ACLs grant only creations and ends never receives state changes, though it
// subscribed to everything.
TEST_F(CallLogsE2E, WebSocketFollowsACallLiveWithinItsAcl) {
  auto acct = d_->http("POST", "auth", "/0.1/users",
                       R"({"username":"board","password":"board-pw",)"
                       R"("acls":["events.calls.channel.created","events.calls.channel.ended"]})",
                       headers());
  ASSERT_TRUE(acct.status == 200 || acct.status == 201) << acct.body;
  auto limited = d_->token_for("board", "board-pw");
  ASSERT_FALSE(limited.empty());
  // u1001 keeps one contact, so that the call forks to one phone.
  std::string out;
  ASSERT_EQ(client("-sf " + scenario("unregister_all.xml") +
                       " -au u1001 -ap pw1001 -key user u1001 -key contact_port 1 -key expires 0",
                   &out),
            0)
      << out;
  std::string url = "--url ws://127.0.0.1:" + std::to_string(ws_port_) + "/";
  WsClient all(url + " --header-token " + d_->token() +
               " --subscribe calls.channel.# --subscribe sip.registration.# --count 1000 --timeout 5");
  WsClient board(url + " --query-token " + limited + " --subscribe '#' --count 4 --timeout 30");
  ASSERT_EQ(all.line(), "ready");
  ASSERT_EQ(board.line(), "ready");

  int port = free_tcp_udp_port();
  ASSERT_EQ(register_line("u1001", "pw1001", port, &out), 0) << out;
  auto uas = std::async(std::launch::async, [port] {
    std::string o;
    return sipp("-sf " + scenario("uas_answer.xml") + " -p " + std::to_string(port), &o);
  });
  ASSERT_TRUE(wait_udp_bound(port)) << "the UAS did not bind";
  EXPECT_EQ(client("-sf " + scenario("uac_call_hangup.xml") + " -s 1001 -au u1000 -ap pw1000 -key user u1000", &out),
            0)
      << out;
  EXPECT_EQ(uas.get(), 0);

  auto seen = all.rest();
  ASSERT_GE(seen.size(), 6u);
  EXPECT_EQ(seen.front().rfind("event sip.registration.", 0), 0u) << seen.front();
  EXPECT_EQ(seen.back(), "timeout");
  // Per channel: created first, ended last, an `up` state in between.
  std::map<std::string, std::vector<std::string>> per_channel;
  for (auto& l : seen) {
    if (l.rfind("event calls.channel.", 0) != 0) continue;
    auto kind = l.substr(20, l.find(' ', 20) - 20);
    auto body = l.substr(l.find(' ', 20) + 1);
    auto state = json_string(body, "/state");
    per_channel[json_string(body, "/id")].push_back(kind == "state" ? "state:" + state : kind);
  }
  std::string all_lines;
  for (auto& l : seen) all_lines += l + "\n";
  ASSERT_EQ(per_channel.size(), 2u) << "the caller's and the callee's channels:\n" << all_lines;
  for (auto& [id, kinds] : per_channel) {
    EXPECT_EQ(kinds.front(), "created") << id;
    EXPECT_EQ(kinds.back(), "ended") << id;
    EXPECT_NE(std::find(kinds.begin(), kinds.end(), "state:up"), kinds.end()) << id;
  }

  auto limited_seen = board.rest();
  ASSERT_EQ(limited_seen.size(), 4u);
  EXPECT_EQ(limited_seen[0].rfind("event calls.channel.created ", 0), 0u) << limited_seen[0];
  EXPECT_EQ(limited_seen[1].rfind("event calls.channel.created ", 0), 0u) << limited_seen[1];
  EXPECT_EQ(limited_seen[2].rfind("event calls.channel.ended ", 0), 0u) << limited_seen[2];
  EXPECT_EQ(limited_seen[3].rfind("event calls.channel.ended ", 0), 0u) << limited_seen[3];
}

}  // namespace
