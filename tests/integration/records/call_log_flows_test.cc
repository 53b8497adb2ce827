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

#include <cmath>
#include <filesystem>
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
    e += call("POST", "/1.1/contexts", R"({"name":"default","type":"internal","user_ranges":[{"start":"1000","end":"1999"}]})",
              201, &ctx);
    e += dialtone::testing::create_user_line(*d_, "1000", R"({"firstname":"Vera","lastname":"Caller","userfield":"CP1234"})",
                                            "u1000", "pw1000", &caller);
    e += dialtone::testing::create_user_line(*d_, "1005", R"({"firstname":"Max","lastname":"Box"})", "u1005", "pw1005",
                                            &callee);
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

  static inline fs::path spool_;
  static inline int provider_port_ = 0;
  static inline std::string caller_uuid_, callee_uuid_;
};

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
