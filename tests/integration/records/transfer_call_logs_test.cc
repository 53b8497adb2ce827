// Call logs of transferred calls through the real dialtoned: SIPp phones
// alice (1001), bob (1002) and carol (1003) transfer calls with REFER
// through backend.sip; records.cel writes the CEL, records.call_logs builds
// the call logs, read back over confd's REST API.
//
// xivo-call-logd makes one call log per linked id (one per call as the PBX
// numbers them), so a transfer gives the rows XiVO gives:
//   blind: the transferee's call goes on to the target under its own linked
//     id: one call log, caller -> the number dialed, answered by the
//     transferor, until the last party hangs up;
//   attended: the consultation is a call of its own: two call logs, each
//     lasting until its remaining party hangs up.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "tests/integration/records/records_fixture.h"
#include "tests/integration/support/dialtoned_fixture.h"
#include "tests/support/udp_ports.h"

namespace {

using dialtone::testing::Dialtoned;
using dialtone::testing::free_tcp_udp_port;
using dialtone::testing::json_int;
using dialtone::testing::json_string;
using dialtone::testing::wait_udp_bound;
namespace records = dialtone::testing::records;

struct Phone {
  std::future<std::pair<int, std::string>> run;
  std::pair<int, std::string> result;
  void finish() { result = run.get(); }
};

class TransferCallLogs : public ::testing::Test {
 protected:
  void SetUp() override {
    sip_port_ = free_tcp_udp_port();
    // The relay on 127.0.0.2: the transfer scenarios check the re-INVITE
    // carries the relay's address, not the phones'.
    std::string sip_conf = dialtone::testing::sip_plugin_conf(sip_port_, "transfers", "\n[rtp]\nbind = 127.0.0.2\n");
    d_ = std::make_unique<Dialtoned>(dialtone::testing::DialtonedOptions{
        .plugin_files = {{"40-sip.conf", sip_conf},
                         {"50-confd.conf", "[plugin]\nname = api.confd\n"},
                         {"70-records-cel.conf", "[plugin]\nname = records.cel\n\n[cel]\nbatch_interval = 100ms\n"},
                         {"71-records-call-logs.conf", "[plugin]\nname = records.call_logs\n"}}});
    ASSERT_TRUE(d_->ready()) << d_->error();
    auto ctx = d_->http("POST", "confd", "/1.1/contexts",
                        R"({"name":"default","type":"internal","user_ranges":[{"start":"1000","end":"1999"}]})", h());
    ASSERT_EQ(ctx.status, 201) << ctx.body;
    for (auto [n, who] : {std::pair{1001, "alice"}, {1002, "bob"}, {1003, "carol"}})
      ASSERT_NO_FATAL_FAILURE(user_line(n, who));
  }
  void TearDown() override { d_.reset(); }

  dialtone::testing::Headers h() { return {{"X-Auth-Token", d_->token()}}; }

  // `who` (alice, bob, carol) at `n`, SIP username `who`, secret who + "pw".
  void user_line(int n, const std::string& who) {
    std::string first(1, static_cast<char>(who[0] - 'a' + 'A')), user;
    auto e = dialtone::testing::create_user_line(
        *d_, std::to_string(n), R"({"firstname":")" + first + who.substr(1) + R"(","lastname":"Transfer"})", who,
        who + "pw", &user);
    ASSERT_EQ(e, "");
    uuid_[who] = json_string(user, "/uuid");
  }

  dialtone::testing::SippPhones phones() const { return {d_->dir(), sip_port_, INTEGRATION_SCENARIOS}; }
  // A registered phone answering with `file` (`calls` calls).
  void callee(Phone& p, const std::string& who, const std::string& file, int calls = 1) {
    int port = free_tcp_udp_port();
    std::string out;
    ASSERT_EQ(phones().register_line(who, who + "pw", port, &out), 0) << out;
    p.run = std::async(std::launch::async, [phones = phones(), port, file, calls] {
      std::string o;
      int rc = phones.run("-sf " + phones.scenario(file) + " -m " + std::to_string(calls) + " -p " +
                              std::to_string(port),
                          &o);
      return std::make_pair(rc, o);
    });
    ASSERT_TRUE(wait_udp_bound(port)) << who << "'s phone did not bind";
  }
  void caller(Phone& p, const std::string& who, const std::string& exten, const std::string& file) {
    p.run = std::async(std::launch::async, [phones = phones(), who, exten, file] {
      std::string o;
      int rc = phones.client("-sf " + phones.scenario(file) + " -s " + exten + " -au " + who + " -ap " + who +
                                 "pw -key user " + who,
                             &o);
      return std::make_pair(rc, o);
    });
  }
  // Waits for every phone; each scenario must have ended well.
  static void finish(std::initializer_list<Phone*> phones) {
    for (auto* p : phones) p->finish();
    for (auto* p : phones) ASSERT_EQ(p->result.first, 0) << p->result.second;
  }
  // bob answers alice and refers her to 1003; carol answers; alice hangs up.
  void blind_transfer() {
    Phone alice, bob, carol;
    ASSERT_NO_FATAL_FAILURE(callee(carol, "carol", "xfer_target.xml"));
    ASSERT_NO_FATAL_FAILURE(callee(bob, "bob", "xfer_blind_by_callee.xml"));
    caller(alice, "alice", "1002", "xfer_caller.xml");
    finish({&alice, &bob, &carol});
  }

  std::string logs(const std::string& query = "") { return records::call_logs(*d_, "/1.1/call_logs?order=date" + query); }
  std::string logs_once(long n) { return records::wait_call_logs(*d_, n); }
  std::string query(const std::string& statement) { return dialtone::testing::sql_lines(d_->dsn(), statement); }
  // How many `eventtype` rows come before the CHAN_END of their own channel.
  std::string rows_before_their_channel_end(const std::string& eventtype) {
    return query("SELECT count(*) FROM cel t JOIN cel e ON e.uniqueid = t.uniqueid AND e.eventtype = 'CHAN_END' "
                 "WHERE t.eventtype = '" + eventtype + "' AND t.id < e.id");
  }
  double seconds(const std::string& json, const std::string& pointer) { return records::number(json, pointer); }

  std::unique_ptr<Dialtoned> d_;
  int sip_port_ = 0;
  std::map<std::string, std::string> uuid_;
};

TEST_F(TransferCallLogs, BlindTransferKeepsOneCallLogAnsweredByTheTransferor) {
  ASSERT_NO_FATAL_FAILURE(blind_transfer());

  auto body = logs_once(1);
  ASSERT_EQ(json_int(body, "/total"), 1) << body << d_->output();
  EXPECT_EQ(json_string(body, "/items/0/source_exten"), "1001") << body;
  EXPECT_EQ(json_string(body, "/items/0/source_user_uuid"), uuid_["alice"]) << body;
  EXPECT_EQ(json_string(body, "/items/0/destination_exten"), "1002") << body;
  EXPECT_EQ(json_string(body, "/items/0/destination_user_uuid"), uuid_["bob"]) << body;
  EXPECT_EQ(json_string(body, "/items/0/answered_by"), "sip/bob") << body;
  EXPECT_EQ(json_string(body, "/items/0/status"), "answered") << body;
  EXPECT_EQ(json_string(body, "/items/0/direction"), "internal") << body;
  EXPECT_NE(body.find("\"transferred\":true"), std::string::npos) << body;
  // The transfer row names where bob sent alice; carol's leg is a channel of
  // alice's call, and the call ends when its last channel does.
  auto rows = query("SELECT eventtype || ' ' || channame || ' ' || coalesce(extra::jsonb->>'exten', '') FROM cel "
                    "WHERE eventtype IN ('BLINDTRANSFER', 'ATTENDEDTRANSFER') ORDER BY id");
  EXPECT_EQ(rows.substr(0, 18), "BLINDTRANSFER SIP/") << rows;
  EXPECT_NE(rows.find("bob-"), std::string::npos) << rows;
  EXPECT_NE(rows.find(" 1003\n"), std::string::npos) << rows;
  // The call core records it on bob's leg while that leg is still open.
  EXPECT_EQ(rows_before_their_channel_end("BLINDTRANSFER"), "1\n");
  EXPECT_EQ(query("SELECT count(DISTINCT linkedid) FROM cel"), "1\n");
  EXPECT_EQ(query("SELECT count(*) FROM cel WHERE eventtype = 'CHAN_START' AND channame LIKE 'SIP/carol-%'"), "1\n");
  // The duration runs to alice's hang-up, after she talked to carol: the end
  // is the last CHAN_END, the talk time counts from bob's answer.
  EXPECT_EQ(query("SELECT (c.date_end = (SELECT max(eventtime) FROM cel WHERE eventtype = 'CHAN_END'))::text "
                  "FROM call_log c"),
            "true\n");
  EXPECT_GT(seconds(body, "/items/0/duration"), 0.3) << body;
  // XiVO's CSV: one line, alice calling the number she dialed.
  EXPECT_EQ(records::csv(*d_), "Call Date,Caller,Called,Period,user Field\r\n" +
                                   records::expected_csv_line(body, "/items/0", "Alice Transfer", "1001", "1002"));
}

TEST_F(TransferCallLogs, AttendedTransferGivesOneCallLogPerCall) {
  Phone alice, bob, carol;
  // bob answers two calls: carol's (the consultation), then alice's, on
  // which it refers alice to carol with Replaces. alice hangs up on carol.
  ASSERT_NO_FATAL_FAILURE(callee(bob, "bob", "xfer_attended_callee.xml", 2));
  caller(carol, "carol", "1002", "xfer_consulted_caller.xml");
  ASSERT_TRUE(dialtone::testing::eventually([&] {
    return d_->http("GET", "calld", "/1.0/calls", "", h()).body.find("\"status\":\"Up\"") != std::string::npos;
  })) << "the consultation call was not answered";
  caller(alice, "alice", "1002", "xfer_caller.xml");
  ASSERT_NO_FATAL_FAILURE(finish({&alice, &carol, &bob}));

  auto body = logs_once(2);
  ASSERT_EQ(json_int(body, "/total"), 2) << body << d_->output();
  // By date: the consultation (carol -> 1002) first, then alice's call.
  EXPECT_EQ(json_string(body, "/items/0/source_exten"), "1003") << body;
  EXPECT_EQ(json_string(body, "/items/1/source_exten"), "1001") << body;
  for (auto* i : {"/items/0", "/items/1"}) {
    std::string at(i);
    EXPECT_EQ(json_string(body, at + "/destination_exten"), "1002") << body;
    EXPECT_EQ(json_string(body, at + "/destination_user_uuid"), uuid_["bob"]) << body;
    EXPECT_EQ(json_string(body, at + "/answered_by"), "sip/bob") << body;
    EXPECT_EQ(json_string(body, at + "/status"), "answered") << body;
  }
  // The transfer is the call on which bob sent REFER (alice's), as the
  // ATTENDEDTRANSFER row names it; both calls end when alice hangs up on carol.
  EXPECT_EQ(query("SELECT transferred::text FROM call_log ORDER BY date"), "false\ntrue\n");
  auto rows = query("SELECT eventtype || ' ' || channame FROM cel WHERE eventtype LIKE '%TRANSFER' ORDER BY id");
  EXPECT_EQ(rows.substr(0, 21), "ATTENDEDTRANSFER SIP/") << rows;
  // The call core records it on bob's leg while that leg is still open.
  EXPECT_EQ(rows_before_their_channel_end("ATTENDEDTRANSFER"), "1\n");
  EXPECT_EQ(query("SELECT count(DISTINCT linkedid) FROM cel"), "2\n");
  // A user's history has both calls for bob, each party's one for them.
  auto of = [&](const std::string& who) {
    return json_int(d_->http("GET", "confd", "/1.1/users/" + uuid_[who] + "/call_logs", "",
                             {{"X-Auth-Token", d_->token()}, {"Accept", "application/json"}})
                        .body,
                    "/total");
  };
  EXPECT_EQ(of("bob"), 2);
  EXPECT_EQ(of("alice"), 1);
  EXPECT_EQ(of("carol"), 1);
  // XiVO's CSV: a line per call, the consultation first.
  EXPECT_EQ(records::csv(*d_), "Call Date,Caller,Called,Period,user Field\r\n" +
                                   records::expected_csv_line(body, "/items/0", "Carol Transfer", "1003", "1002") +
                                   records::expected_csv_line(body, "/items/1", "Alice Transfer", "1001", "1002"));
}

// Dates are UTC and a filter may carry any zone: the same instant written
// with +02:00 selects the same rows.
TEST_F(TransferCallLogs, DateFiltersTakeAZoneAndRowsAreUtc) {
  ASSERT_NO_FATAL_FAILURE(blind_transfer());
  auto body = logs_once(1);
  ASSERT_EQ(json_int(body, "/total"), 1) << body;
  auto date = json_string(body, "/items/0/date");  // 2026-12-07T02:10:00.123+00:00
  ASSERT_EQ(date.size(), 29u) << date;
  EXPECT_EQ(date.substr(23), "+00:00") << date;
  // One second before the call, in UTC and at +02:00 (two hours later on the clock).
  auto utc = query("SELECT to_char(date AT TIME ZONE 'UTC' - interval '1 second', 'YYYY-MM-DD\"T\"HH24:MI:SS') "
                   "FROM call_log");
  auto plus2 = query("SELECT to_char(date AT TIME ZONE 'UTC' + interval '2 hours' - interval '1 second', "
                     "'YYYY-MM-DD\"T\"HH24:MI:SS') FROM call_log");
  utc.pop_back();
  plus2.pop_back();
  EXPECT_EQ(json_int(logs("&start_date=" + utc), "/total"), 1);
  EXPECT_EQ(json_int(logs("&start_date=" + plus2 + "%2B02:00"), "/total"), 1);
  EXPECT_EQ(json_int(logs("&end_date=" + plus2 + "%2B02:00"), "/total"), 0);
  // XiVO's CSV: the date in UTC to the second, no zone.
  auto csv = d_->http("GET", "confd", "/1.1/call_logs", "", h()).body;
  EXPECT_NE(csv.find("\r\n" + date.substr(0, 19) + ","), std::string::npos) << csv;
}

}  // namespace
