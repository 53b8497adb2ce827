// Call logs of the flows that need more than phones, through the real
// dialtoned configured through confd: a call that ends in a voicemail
// (app.voicemail on the media engine) and a call that leaves through a
// trunk (SIPp as the provider).
//
// Voicemail: 1000 calls 1005, whose phone (SIPp) rings until the user's
// ring time runs out; the dialplan sends the caller to 1005's voicemail,
// which answers and plays the greeting; the caller hangs up. xivo-call-logd
// counts a call as answered when its caller is bridged, and a voicemail
// never is: XiVO's call log is a missed call to 1005 with a period of 0,
// and the CSV line says so. The CEL has the voicemail as APP_START.
//
// Outgoing: 1000, whose user field is "CP1234", dials 0123456789; the route
// sends it to the provider, who answers. XiVO's call log is outbound, to the
// number dialed, with the user field in the CSV's last column.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <thread>
#include <future>
#include <string>

#include "tests/integration/records/records_fixture.h"
#include "tests/integration/support/dialtoned_fixture.h"
#include "tests/integration/support/sip_suite.h"
#include "tests/support/udp_ports.h"

namespace {

namespace fs = std::filesystem;
namespace records = dialtone::testing::records;
using dialtone::testing::free_tcp_udp_port;
using dialtone::testing::json_int;
using dialtone::testing::json_string;
using dialtone::testing::wait_udp_bound;

class CallLogFlows : public dialtone::testing::SipSuite {
 protected:
  static void SetUpTestSuite() {
    spool_ = fs::temp_directory_path() / ("dt-int-records-flows-" + std::to_string(::getpid()));
    fs::remove_all(spool_);
    start_dialtoned(
        "flows",
        {{"45-media.conf", "[plugin]\nname = media.engine\n\n[media]\nrealtime = false\nthreads = 1\n"},
         {"46-voicemail.conf", "[plugin]\nname = app.voicemail\n\n[voicemail]\nspool_dir = " + spool_.string() + "\n"},
         {"70-records-cel.conf", "[plugin]\nname = records.cel\n\n[cel]\nbatch_interval = 100ms\n"},
         {"71-records-call-logs.conf", "[plugin]\nname = records.call_logs\n"}},
        "\n[qualify]\ninterval = 0s\n");
    if (!d_->ready()) return;
    setup_error_ = configure();
  }
  static void TearDownTestSuite() {
    SipSuite::TearDownTestSuite();
    std::error_code ec;
    fs::remove_all(spool_, ec);
  }
  // Users 1000 (user field CP1234) and 1005 (voicemail after 5 s of ringing),
  // a provider's trunk and a route to it; "" or what failed.
  static std::string configure() {
    auto h = headers();
    auto call = [&](const char* method, const std::string& path, const std::string& body, int want,
                    std::string* answer = nullptr) {
      auto r = d_->http(method, "confd", path, body, h);
      if (answer) *answer = r.body;
      return r.status == want ? std::string() : std::string(method) + " " + path + ": " + r.body + "\n";
    };
    std::string ctx, out_ctx, caller, callee, vm, trunk, peer, route, e;
    e += call("POST", "/1.1/contexts", R"({"name":"default","type":"internal","user_ranges":[{"start":"1000","end":"1999"}],)"
              R"("conference_room_ranges":[{"start":"4000","end":"4999"}]})",
              201, &ctx);
    e += dialtone::testing::create_user_line(*d_, "1000", R"({"firstname":"Vera","lastname":"Caller","userfield":"CP1234"})",
                                            "u1000", "pw1000", &caller);
    e += dialtone::testing::create_user_line(*d_, "1005", R"({"firstname":"Max","lastname":"Box"})", "u1005", "pw1005",
                                            &callee);
    // Parking and pickup: 1001 takes the calls, 1002's phone rings.
    std::string taker, ringer;
    e += dialtone::testing::create_user_line(*d_, "1001", R"({"firstname":"Tom","lastname":"Taker"})", "u1001",
                                            "pw1001", &taker);
    e += dialtone::testing::create_user_line(*d_, "1002", R"({"firstname":"Rita","lastname":"Ringer"})", "u1002",
                                            "pw1002", &ringer);
    if (!e.empty()) return e;
    taker_uuid_ = json_string(taker, "/uuid");
    ringer_uuid_ = json_string(ringer, "/uuid");
    // Group pickup (*8): 1001 intercepts the calls of 1002 (seed 5.17).
    std::string group;
    e += call("POST", "/1.1/callpickups", R"({"name":"reception"})", 201, &group);
    if (!e.empty()) return e;
    const std::string pickups = "/1.1/callpickups/" + json_string(group, "/id");
    e += call("PUT", pickups + "/interceptors/users", R"({"users":[{"uuid":")" + taker_uuid_ + R"("}]})", 204);
    e += call("PUT", pickups + "/targets/users", R"({"users":[{"uuid":")" + ringer_uuid_ + R"("}]})", 204);
    if (!e.empty()) return e;
    // Conference room 4010 (seed 5.7.1).
    std::string room, room_exten;
    e += call("POST", "/1.1/conferences", R"({"name":"room-4010"})", 201, &room);
    e += call("POST", "/1.1/extensions", R"({"exten":"4010","context":"default"})", 201, &room_exten);
    if (!e.empty()) return e;
    room_id_ = json_string(room, "/id");
    e += call("PUT", "/1.1/conferences/" + room_id_ + "/extensions/" + json_string(room_exten, "/id"), "", 204);
    if (!e.empty()) return e;
    caller_uuid_ = json_string(caller, "/uuid");
    callee_uuid_ = json_string(callee, "/uuid");
    auto callee_id = json_string(callee, "/id");
    // 1005 rings 5 s, then its voicemail takes the call (XiVO's "Enable voicemail").
    e += call("PUT", "/1.1/users/" + callee_id, R"({"ring_seconds":5})", 204);
    e += call("POST", "/1.1/voicemails", R"({"number":"1005","context":"default","name":"Max"})", 201, &vm);
    e += call("PUT", "/1.1/users/" + callee_id + "/voicemails/" + json_string(vm, "/id"), "", 204);
    // The provider's trunk and a route to it from `default` (seed 5.23).
    provider_port_ = free_tcp_udp_port();
    e += call("POST", "/1.1/contexts", R"({"name":"to-extern","type":"outcall"})", 201, &out_ctx);
    e += call("PUT", "/1.1/contexts/" + json_string(ctx, "/id") + "/contexts",
              R"({"contexts":[{"id":)" + json_string(out_ctx, "/id") + "}]}", 204);
    e += call("POST", "/1.1/trunks", R"({"context":"to-extern"})", 201, &trunk);
    e += call("POST", "/1.1/endpoints/sip",
              R"({"username":"provider","secret":"unused","type":"peer","host":"127.0.0.1:)" +
                  std::to_string(provider_port_) + R"("})",
              201, &peer);
    if (!e.empty()) return e;
    auto tid = json_string(trunk, "/id");
    e += call("PUT", "/1.1/trunks/" + tid + "/endpoints/sip/" + json_string(peer, "/id"), "", 204);
    e += call("POST", "/1.1/outcalls", R"({"name":"national","patterns":[{"pattern":"0XXXXXXXXX"}]})", 201, &route);
    if (!e.empty()) return e;
    auto rid = json_string(route, "/id");
    e += call("PUT", "/1.1/outcalls/" + rid + "/trunks", R"({"trunks":[{"id":)" + tid + "}]}", 204);
    e += call("PUT", "/1.1/outcalls/" + rid + "/contexts", R"({"contexts":[{"id":)" + json_string(out_ctx, "/id") + "}]}",
              204);
    return e;
  }
  // The newest call log once the call made after `before` logs is built.
  static std::string newest_log(long before) {
    return records::wait_call_logs(*d_, before + 1, "/1.1/call_logs?order=date&direction=desc&limit=1");
  }
  static long logs_so_far() { return json_int(records::call_logs(*d_, "/1.1/call_logs"), "/total"); }

  // The CEL lines `query` gives once there are `n` of them: CEL is written
  // in batches (cel.batch_interval 100 ms).
  static std::string wait_cel(const std::string& query, std::size_t n) {
    std::string lines;
    dialtone::testing::eventually(
        [&] {
          lines = dialtone::testing::sql_lines(d_->dsn(), query);
          return static_cast<std::size_t>(std::count(lines.begin(), lines.end(), '\n')) >= n;
        },
        std::chrono::seconds(30));
    return lines;
  }
  // A SIPp phone of the media tests (answered by the engine, the PBX hangs up).
  static std::string media_scenario(const std::string& name) { return std::string(MEDIA_SCENARIOS) + "/" + name; }

  static inline fs::path spool_;
  static inline int provider_port_ = 0;
  static inline std::string caller_uuid_, callee_uuid_, taker_uuid_, ringer_uuid_, room_id_;
  static inline long ringer_calls_ = 0;  // calls to 1002 so far (each test of the suite adds its own)
  void picked_up_call(const std::string& code);
};

// The media applications are in the CEL as Asterisk writes an
// application's rows: APP_START and APP_END on the caller's channel, with
// the application's name and argument. The caller hangs up inside
// conference room 4010: the APP_END still comes, before the HANGUP.
TEST_F(CallLogFlows, MediaApplicationsHaveAppStartAndAppEnd) {
  const std::string apps =
      "SELECT concat_ws('|', eventtype, appname, appdata, uniqueid = linkedid) FROM cel WHERE eventtype IN "
      "('APP_START', 'APP_END', 'HANGUP') AND uniqueid IN (SELECT uniqueid FROM cel WHERE eventtype = 'APP_START' "
      "AND appname = 'ConfBridge') ORDER BY id";
  std::string out;
  EXPECT_EQ(client("-sf " + scenario("uac_call_bye_after_pause.xml") + " -s 4010 -au u1001 -ap pw1001 -key user u1001 "
                       "-d 1500",
                   &out),
            0)
      << out << d_->output();
  auto rows = wait_cel(apps, 3);
  EXPECT_EQ(rows, "APP_START|ConfBridge|" + room_id_ + "|t\nAPP_END|ConfBridge|" + room_id_ + "|t\nHANGUP|||t\n")
      << rows << dialtone::testing::sql_lines(d_->dsn(), "SELECT concat_ws('|', id, eventtype, appname, channame, "
                                                           "uniqueid, linkedid, exten) FROM cel ORDER BY id")
      << d_->output();
}

// Parking (seed 5.25): 1000 dials 700 and waits in slot 701 (the default
// lot), 1001 dials 701, the two talk, 1001 hangs up and the parked call ends
// with it. The CEL has Asterisk's PARK_START / PARK_END (ParkedCallUnparked,
// the retriever's channel) on 1000's channel; the call logs have the two
// calls as XiVO's rules give them: 1000 to 700 and 1001 to 701, both
// answered (by the parking), no user on the other side.
TEST_F(CallLogFlows, ParkedAndRetrievedCallsAreInTheCelAndTheCallLogs) {
  const long before = logs_so_far();
  const std::string parked_cel = "SELECT channame || '|' || (extra::jsonb->>'parking_space') FROM cel WHERE eventtype = 'PARK_START'";
  const std::size_t parks = wait_cel(parked_cel, 0).size();
  auto parked = std::async(std::launch::async, [] {
    std::string o;
    int rc = client("-sf " + media_scenario("uac_media.xml") + " -s 700 -au u1000 -ap pw1000 -key user u1000 " +
                        "-key rtp_port " + std::to_string(free_tcp_udp_port()),
                    &o);
    return std::make_pair(rc, o);
  });
  // Parked once its PARK_START is written.
  std::string start;
  dialtone::testing::eventually(
      [&] {
        start = dialtone::testing::sql_lines(d_->dsn(), parked_cel);
        return start.size() != parks;
      },
      std::chrono::seconds(30));
  ASSERT_GT(start.size(), parks) << d_->output();
  EXPECT_NE(start.find("|701\n"), std::string::npos) << start;
  std::string out;
  EXPECT_EQ(client("-sf " + scenario("uac_call_bye_after_pause.xml") + " -s 701 -au u1001 -ap pw1001 -key user u1001 "
                       "-d 1000",
                   &out),
            0)
      << out << d_->output();
  auto [rc, parked_out] = parked.get();
  EXPECT_EQ(rc, 0) << parked_out << d_->output();

  // The parked channel's rows, in order, and the PARK_END's reason and retriever.
  auto linkedid = dialtone::testing::sql_lines(
      d_->dsn(), "SELECT linkedid FROM cel WHERE eventtype = 'PARK_START' ORDER BY id DESC LIMIT 1");
  ASSERT_FALSE(linkedid.empty());
  linkedid.pop_back();
  auto rows = wait_cel("SELECT eventtype FROM cel WHERE uniqueid = '" + linkedid +
                           "' AND eventtype IN ('CHAN_START','ANSWER','PARK_START','PARK_END','BRIDGE_ENTER',"
                           "'HANGUP','CHAN_END') ORDER BY id",
                       7);
  EXPECT_EQ(rows, "CHAN_START\nANSWER\nPARK_START\nPARK_END\nBRIDGE_ENTER\nHANGUP\nCHAN_END\n") << rows;
  auto end = dialtone::testing::sql_lines(
      d_->dsn(), "SELECT concat_ws('|', e.extra::jsonb->>'reason', e.extra::jsonb->>'parking_space', "
                 "(e.extra::jsonb->>'retriever') = r.channame, r.channame LIKE 'SIP/u1001-%') FROM cel e "
                 "JOIN cel r ON r.eventtype = 'CHAN_START' AND r.linkedid <> e.linkedid AND r.exten = '701' "
                 "WHERE e.eventtype = 'PARK_END' AND e.uniqueid = '" + linkedid + "'");
  EXPECT_EQ(end, "ParkedCallUnparked|701|t|t\n") << end;

  auto body = records::wait_call_logs(*d_, before + 2, "/1.1/call_logs?order=date&direction=desc&limit=2");
  ASSERT_EQ(json_int(body, "/total"), before + 2) << body << d_->output();
  // Newest first: the retrieval, then the parked call.
  EXPECT_EQ(json_string(body, "/items/0/source_exten"), "1001") << body;
  EXPECT_EQ(json_string(body, "/items/0/source_user_uuid"), taker_uuid_) << body;
  EXPECT_EQ(json_string(body, "/items/0/destination_exten"), "701") << body;
  EXPECT_EQ(json_string(body, "/items/1/source_exten"), "1000") << body;
  EXPECT_EQ(json_string(body, "/items/1/source_user_uuid"), caller_uuid_) << body;
  EXPECT_EQ(json_string(body, "/items/1/destination_exten"), "700") << body;
  for (const char* at : {"/items/0", "/items/1"}) {
    EXPECT_EQ(json_string(body, std::string(at) + "/direction"), "internal") << body;
    EXPECT_EQ(json_string(body, std::string(at) + "/destination_user_uuid"), "") << body;
    EXPECT_GT(records::number(body, std::string(at) + "/duration"), 0.0) << body;
  }
  // The parker's and the retriever's histories have their own call.
  auto mine = records::call_logs(*d_, "/1.1/users/" + taker_uuid_ + "/call_logs");
  EXPECT_EQ(json_int(mine, "/total"), 1) << mine;
  EXPECT_EQ(json_string(mine, "/items/0/destination_exten"), "701") << mine;
  auto csv = records::csv(*d_);
  EXPECT_NE(csv.find(records::expected_csv_line(body, "/items/1", "Vera Caller", "1000", "700")), std::string::npos)
      << csv;
  EXPECT_NE(csv.find(records::expected_csv_line(body, "/items/0", "Tom Taker", "1001", "701")), std::string::npos)
      << csv;
}

// 1000 calls 1002, whose phone rings; 1001 dials `code` (*81002, directed
// pickup, seed 5.12; *8, group pickup, 5.17) and takes the call; 1002's
// phone is cancelled. The CEL has PICKUP on 1000's channel naming 1001's
// channel and the leg that rang; the call log is XiVO's: 1000 to 1002
// (1002's line), answered, the answered_by statistic 1001's line; 1001's
// own call to `code` is not answered and lasts 0 s.
void CallLogFlows::picked_up_call(const std::string& code) {
  const long before = logs_so_far();
  int port = free_tcp_udp_port();
  std::string out;
  ASSERT_EQ(register_line("u1002", "pw1002", port, &out), 0) << out;
  auto ringing = std::async(std::launch::async, [port] {
    std::string o;
    int rc = sipp("-sf " + scenario("uas_ring_cancel.xml") + " -p " + std::to_string(port), &o);
    return std::make_pair(rc, o);
  });
  ASSERT_TRUE(wait_udp_bound(port)) << "1002's phone did not bind";
  const std::string rang = "SELECT count(*) FROM cel WHERE eventtype = 'CHAN_START' AND channame LIKE 'SIP/u1002-%'";
  const auto rang_before = dialtone::testing::sql_lines(d_->dsn(), rang);
  auto caller = std::async(std::launch::async, [] {
    std::string o;
    int rc = client("-sf " + scenario("uac_call_remote_hangup.xml") + " -s 1002 -au u1000 -ap pw1000 -key user u1000",
                    &o);
    return std::make_pair(rc, o);
  });
  // 1002's leg exists (its CHAN_START written): its phone rings.
  std::string now = rang_before;
  dialtone::testing::eventually(
      [&] {
        now = dialtone::testing::sql_lines(d_->dsn(), rang);
        return now != rang_before;
      },
      std::chrono::seconds(30));
  ASSERT_NE(now, rang_before) << d_->output();
  EXPECT_EQ(client("-sf " + scenario("uac_call_bye_after_pause.xml") + " -s '" + code +
                       "' -au u1001 -ap pw1001 -key user u1001 -d 1000",
                   &out),
            0)
      << out << d_->output();
  auto [rc, caller_out] = caller.get();
  EXPECT_EQ(rc, 0) << caller_out << d_->output();
  auto [rrc, phone_out] = ringing.get();
  EXPECT_EQ(rrc, 0) << phone_out;

  auto pickup = wait_cel(
      "SELECT concat_ws('|', c.channame LIKE 'SIP/u1000-%', e.extra::jsonb->>'pickup_channel' LIKE 'SIP/u1001-%', "
      "e.extra::jsonb->>'ringing_channel' LIKE 'SIP/u1002-%' OR e.extra::jsonb->>'ringing_channel' = 'sip/u1002') "
      "FROM cel e JOIN cel c ON c.uniqueid = e.uniqueid AND c.eventtype = 'CHAN_START' "
      "WHERE e.eventtype = 'PICKUP' ORDER BY e.id DESC LIMIT 1",
      1);
  EXPECT_EQ(pickup, "t|t|t\n") << pickup;

  // Two calls: 1000's to 1002, answered by 1001's line, and 1001's own call
  // to the pickup code: as xivo-call-logd makes it from such CEL, not
  // answered (1001's bridge is the other call's), 0 s.
  auto body = records::wait_call_logs(*d_, before + 2, "/1.1/call_logs?order=date&direction=desc&limit=2");
  ASSERT_EQ(json_int(body, "/total"), before + 2) << body << d_->output();
  EXPECT_EQ(json_string(body, "/items/0/source_exten"), "1001") << body;
  EXPECT_EQ(json_string(body, "/items/0/destination_exten"), code) << body;
  EXPECT_EQ(json_string(body, "/items/0/status"), "pickup") << body;
  EXPECT_EQ(records::number(body, "/items/0/duration"), 0.0) << body;
  EXPECT_EQ(json_string(body, "/items/0/answered_by"), "") << body;
  EXPECT_EQ(json_string(body, "/items/0/destination_line_identity"), "") << body;
  // As Asterisk writes it, 1001's channel joins 1000's call when bridged to
  // it: its own call ends there (LINKEDID_END, no CHAN_END under its own
  // linked id), its BRIDGE_ENTER and CHAN_END are 1000's call's.
  auto joined = wait_cel(
      "SELECT concat_ws('|', bool_or(e.eventtype = 'LINKEDID_END' AND e.linkedid = e.uniqueid), "
      "bool_or(e.eventtype = 'CHAN_END' AND e.linkedid = e.uniqueid), "
      "bool_or(e.eventtype = 'BRIDGE_ENTER' AND e.linkedid = p.linkedid), "
      "bool_or(e.eventtype = 'CHAN_END' AND e.linkedid = p.linkedid)) "
      "FROM cel e JOIN cel s ON s.uniqueid = e.uniqueid AND s.eventtype = 'CHAN_START' "
      "JOIN cel p ON p.eventtype = 'PICKUP' AND p.extra::jsonb->>'pickup_channel' = s.channame "
      "WHERE s.channame LIKE 'SIP/u1001-%' AND p.id = (SELECT max(id) FROM cel WHERE eventtype = 'PICKUP')",
      1);
  EXPECT_EQ(joined, "t|f|t|t\n") << joined;
  EXPECT_EQ(json_string(body, "/items/1/source_exten"), "1000") << body;
  EXPECT_EQ(json_string(body, "/items/1/source_user_uuid"), caller_uuid_) << body;
  EXPECT_EQ(json_string(body, "/items/1/destination_exten"), "1002") << body;
  EXPECT_EQ(json_string(body, "/items/1/destination_user_uuid"), ringer_uuid_) << body;
  EXPECT_EQ(json_string(body, "/items/1/destination_line_identity"), "sip/u1002") << body;
  EXPECT_EQ(json_string(body, "/items/1/status"), "answered") << body;
  EXPECT_EQ(json_string(body, "/items/1/answered_by"), "sip/u1001") << body;
  EXPECT_GE(records::number(body, "/items/1/duration"), 1.0) << body;
  // 1002's history has the calls it did not take, as answered (by a colleague).
  auto ringer = records::call_logs(*d_, "/1.1/users/" + ringer_uuid_ + "/call_logs");
  EXPECT_EQ(json_int(ringer, "/total"), ++ringer_calls_) << ringer;
  auto csv = records::csv(*d_);
  EXPECT_NE(csv.find(records::expected_csv_line(body, "/items/1", "Vera Caller", "1000", "1002")), std::string::npos)
      << csv;
  EXPECT_NE(csv.find(records::expected_csv_line(body, "/items/0", "Tom Taker", "1001", code)), std::string::npos)
      << csv;
}

TEST_F(CallLogFlows, APickedUpCallIsInTheCelAndTheCallLogs) { picked_up_call("*81002"); }

TEST_F(CallLogFlows, AGroupPickupIsInTheCelAndTheCallLogsAsADirectedOne) { picked_up_call("*8"); }

TEST_F(CallLogFlows, ACallEndingInVoicemailIsAMissedCallAsInXivo) {
  const long before = logs_so_far();
  int port = free_tcp_udp_port();
  std::string out;
  ASSERT_EQ(register_line("u1005", "pw1005", port, &out), 0) << out;
  auto ringing = std::async(std::launch::async, [port] {
    std::string o;
    int rc = sipp("-sf " + scenario("uas_ring_cancel.xml") + " -p " + std::to_string(port), &o);
    return std::make_pair(rc, o);
  });
  ASSERT_TRUE(wait_udp_bound(port)) << "1005's phone did not bind";
  // The voicemail answers the caller, who hangs up 2 s into the greeting.
  EXPECT_EQ(client("-sf " + scenario("uac_call_bye_after_pause.xml") +
                       " -s 1005 -au u1000 -ap pw1000 -key user u1000 -d 2000",
                   &out),
            0)
      << out << d_->output();
  auto [rc, phone_out] = ringing.get();
  EXPECT_EQ(rc, 0) << phone_out;

  auto body = newest_log(before);
  ASSERT_EQ(json_int(body, "/total"), before + 1) << body << d_->output();
  EXPECT_EQ(json_string(body, "/items/0/source_exten"), "1000") << body;
  EXPECT_EQ(json_string(body, "/items/0/source_user_uuid"), caller_uuid_) << body;
  EXPECT_EQ(json_string(body, "/items/0/destination_exten"), "1005") << body;
  EXPECT_EQ(json_string(body, "/items/0/destination_user_uuid"), callee_uuid_) << body;
  EXPECT_EQ(json_string(body, "/items/0/destination_line_identity"), "sip/u1005") << body;
  EXPECT_NE(body.find("\"answered\":false"), std::string::npos) << body;
  EXPECT_EQ(json_string(body, "/items/0/status"), "voicemail") << body;
  EXPECT_EQ(json_string(body, "/items/0/answered_by"), "") << body;
  EXPECT_EQ(records::number(body, "/items/0/duration"), 0.0) << body;
  EXPECT_EQ(records::number(body, "/items/0/talk_time"), 0.0) << body;
  // The phone rang its 5 s; the caller waited that long, until the voicemail answered.
  EXPECT_GE(records::number(body, "/items/0/ring_time"), 5.0) << body;
  EXPECT_GE(records::number(body, "/items/0/wait_time"), records::number(body, "/items/0/ring_time")) << body;
  // XiVO's CSV line: 1005 called, a period of 0.
  auto csv = records::csv(*d_);
  EXPECT_NE(csv.find(records::xivo_csv_line(json_string(body, "/items/0/date"), "Vera Caller", "1000", "1005", 0)),
            std::string::npos)
      << csv;
  // The callee's history shows it, as a missed call.
  auto missed = records::call_logs(*d_, "/1.1/users/" + callee_uuid_ + "/call_logs?answered=false");
  EXPECT_EQ(json_int(missed, "/total"), 1) << missed;
  // The voicemail is in the CEL, on the caller's channel, with its box.
  EXPECT_EQ(dialtone::testing::sql_lines(d_->dsn(), "SELECT appname || ' ' || appdata || ' ' || "
                                                     "(uniqueid = linkedid)::text FROM cel WHERE eventtype = 'APP_START'"),
            "VoiceMail 1005@default true\n");
}

TEST_F(CallLogFlows, AnOutgoingCallIsOutboundWithTheCallersUserField) {
  const long before = logs_so_far();
  auto provider = std::async(std::launch::async, [] {
    std::string o;
    int rc = sipp("-sf " + scenario("uas_answer.xml") + " -p " + std::to_string(provider_port_), &o);
    return std::make_pair(rc, o);
  });
  ASSERT_TRUE(wait_udp_bound(provider_port_)) << "the provider did not bind";
  std::string out;
  EXPECT_EQ(client("-sf " + scenario("uac_call_bye_after_pause.xml") +
                       " -s 0123456789 -au u1000 -ap pw1000 -key user u1000 -d 1200",
                   &out),
            0)
      << out << d_->output();
  auto [rc, provider_out] = provider.get();
  EXPECT_EQ(rc, 0) << provider_out;

  auto body = newest_log(before);
  ASSERT_EQ(json_int(body, "/total"), before + 1) << body << d_->output();
  EXPECT_EQ(json_string(body, "/items/0/direction"), "outbound") << body;
  EXPECT_EQ(json_string(body, "/items/0/source_exten"), "1000") << body;
  EXPECT_EQ(json_string(body, "/items/0/source_user_uuid"), caller_uuid_) << body;
  EXPECT_EQ(json_string(body, "/items/0/destination_exten"), "0123456789") << body;
  EXPECT_EQ(json_string(body, "/items/0/status"), "answered") << body;
  EXPECT_EQ(json_string(body, "/items/0/answered_by"), "sip/provider") << body;
  EXPECT_EQ(json_string(body, "/items/0/user_field"), "CP1234") << body;
  EXPECT_GE(records::number(body, "/items/0/duration"), 1.2) << body;
  EXPECT_EQ(json_int(records::call_logs(*d_, "/1.1/call_logs?call_direction=outbound"), "/total"), 1);
  // XiVO's CSV line: the number dialed, the period talked, the user field last.
  auto csv = records::csv(*d_);
  EXPECT_NE(csv.find(records::xivo_csv_line(json_string(body, "/items/0/date"), "Vera Caller", "1000", "0123456789",
                                            std::lround(records::number(body, "/items/0/duration")), "CP1234")),
            std::string::npos)
      << csv;
  // As XiVO's CHANNEL(userfield): on the caller's rows once the call went out.
  EXPECT_EQ(dialtone::testing::sql_lines(d_->dsn(), "SELECT DISTINCT userfield FROM cel WHERE uniqueid = linkedid "
                                                     "AND eventtype IN ('ANSWER', 'HANGUP') AND linkedid = (SELECT "
                                                     "linkedid FROM call_log WHERE direction = 'outbound')"),
            "CP1234\n");
}

}  // namespace
