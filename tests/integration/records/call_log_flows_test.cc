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
#include "tests/support/udp_ports.h"

namespace {

namespace fs = std::filesystem;
namespace records = dialtone::testing::records;
using dialtone::testing::Dialtoned;
using dialtone::testing::free_tcp_udp_port;
using dialtone::testing::json_int;
using dialtone::testing::json_string;
using dialtone::testing::wait_udp_bound;

class CallLogFlows : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dt-int-records-flows-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    auto script = records::dialplan_copy(dir_ / "lua");
    sip_port_ = free_tcp_udp_port();
    std::string sip_conf = "[plugin]\nname = backend.sip\n\n[sip]\nlisten = 127.0.0.1:" + std::to_string(sip_port_) +
                           "\ntransports = udp\nnode = flows\n\n[qualify]\ninterval = 0s\n\n[auth]\nban_failures = 0\n";
    d_ = std::make_unique<Dialtoned>(dialtone::testing::DialtonedOptions{
        .plugin_files = {{"40-sip.conf", sip_conf},
                         {"45-media.conf", "[plugin]\nname = media.engine\n\n[media]\nrealtime = false\nthreads = 1\n"},
                         {"46-voicemail.conf", "[plugin]\nname = app.voicemail\n\n[voicemail]\nspool_dir = " +
                                                   (dir_ / "spool").string() + "\n"},
                         {"50-confd.conf", "[plugin]\nname = api.confd\n"},
                         {"70-records-cel.conf", "[plugin]\nname = records.cel\n\n[cel]\nbatch_interval = 100ms\n"},
                         {"71-records-call-logs.conf", "[plugin]\nname = records.call_logs\n"}},
        .lua_script = script});
    ASSERT_TRUE(d_->ready()) << d_->error();
    dialtone::testing::Headers h{{"X-Auth-Token", d_->token()}};
    auto ctx = d_->http("POST", "confd", "/1.1/contexts",
                        R"({"name":"default","type":"internal","user_ranges":[{"start":"1000","end":"1999"}]})", h);
    ASSERT_EQ(ctx.status, 201) << ctx.body;
    ASSERT_EQ(records::create_user_line(*d_, "1000",
                                        R"({"firstname":"Vera","lastname":"Caller","userfield":"CP1234"})", "u1000",
                                        "pw1000", &caller_),
              "");
    ASSERT_EQ(records::create_user_line(*d_, "1005", R"({"firstname":"Max","lastname":"Box"})", "u1005", "pw1005",
                                        &callee_),
              "");
    // 1005 rings 5 s, then its voicemail takes the call (XiVO's "Enable voicemail").
    auto put = d_->http("PUT", "confd", "/1.1/users/" + callee_.id, R"({"ring_seconds":5})", h);
    ASSERT_EQ(put.status, 204) << put.body;
    auto vm = d_->http("POST", "confd", "/1.1/voicemails", R"({"number":"1005","context":"default","name":"Max"})", h);
    ASSERT_EQ(vm.status, 201) << vm.body;
    auto link = d_->http("PUT", "confd", "/1.1/users/" + callee_.id + "/voicemails/" + json_string(vm.body, "/id"),
                         "", h);
    ASSERT_EQ(link.status, 204) << link.body;
    // The provider's trunk and a route to it from `default` (seed 5.23).
    provider_port_ = free_tcp_udp_port();
    auto out_ctx = d_->http("POST", "confd", "/1.1/contexts", R"({"name":"to-extern","type":"outcall"})", h);
    ASSERT_EQ(out_ctx.status, 201) << out_ctx.body;
    auto incl = d_->http("PUT", "confd", "/1.1/contexts/" + json_string(ctx.body, "/id") + "/contexts",
                         R"({"contexts":[{"id":)" + json_string(out_ctx.body, "/id") + "}]}", h);
    ASSERT_EQ(incl.status, 204) << incl.body;
    auto trunk = d_->http("POST", "confd", "/1.1/trunks", R"({"context":"to-extern"})", h);
    auto peer = d_->http("POST", "confd", "/1.1/endpoints/sip",
                         R"({"username":"provider","secret":"unused","type":"peer","host":"127.0.0.1:)" +
                             std::to_string(provider_port_) + R"("})",
                         h);
    ASSERT_TRUE(trunk.status == 201 && peer.status == 201) << trunk.body << peer.body;
    auto tid = json_string(trunk.body, "/id");
    auto tp = d_->http("PUT", "confd", "/1.1/trunks/" + tid + "/endpoints/sip/" + json_string(peer.body, "/id"), "", h);
    ASSERT_EQ(tp.status, 204) << tp.body;
    auto route = d_->http("POST", "confd", "/1.1/outcalls", R"({"name":"national","patterns":[{"pattern":"0XXXXXXXXX"}]})", h);
    ASSERT_EQ(route.status, 201) << route.body;
    auto rid = json_string(route.body, "/id");
    auto rt = d_->http("PUT", "confd", "/1.1/outcalls/" + rid + "/trunks", R"({"trunks":[{"id":)" + tid + "}]}", h);
    ASSERT_EQ(rt.status, 204) << rt.body;
    auto rc = d_->http("PUT", "confd", "/1.1/outcalls/" + rid + "/contexts",
                       R"({"contexts":[{"id":)" + json_string(out_ctx.body, "/id") + "}]}", h);
    ASSERT_EQ(rc.status, 204) << rc.body;
  }
  void TearDown() override {
    d_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  dialtone::testing::SippPhones phones() const { return {dir_ / "lua", sip_port_, INTEGRATION_SCENARIOS}; }

  fs::path dir_;
  int sip_port_ = 0, provider_port_ = 0;
  std::unique_ptr<Dialtoned> d_;
  records::UserLine caller_, callee_;
};

TEST_F(CallLogFlows, ACallEndingInVoicemailIsAMissedCallAsInXivo) {
  auto p = phones();
  int port = free_tcp_udp_port();
  std::string out;
  ASSERT_EQ(p.register_line("u1005", "pw1005", port, &out), 0) << out;
  auto ringing = std::async(std::launch::async, [&p, port] {
    std::string o;
    int rc = p.run("-sf " + p.scenario("uas_ring_cancel.xml") + " -p " + std::to_string(port), &o);
    return std::make_pair(rc, o);
  });
  ASSERT_TRUE(wait_udp_bound(port)) << "1005's phone did not bind";
  // The voicemail answers the caller, who hangs up 2 s into the greeting.
  EXPECT_EQ(p.client("-sf " + p.scenario("uac_call_bye_after_pause.xml") +
                         " -s 1005 -au u1000 -ap pw1000 -key user u1000 -d 2000",
                     &out),
            0)
      << out << d_->output();
  auto [rc, phone_out] = ringing.get();
  EXPECT_EQ(rc, 0) << phone_out;

  auto body = records::wait_call_logs(*d_, 1);
  ASSERT_EQ(json_int(body, "/total"), 1) << body << d_->output();
  EXPECT_EQ(json_string(body, "/items/0/source_exten"), "1000") << body;
  EXPECT_EQ(json_string(body, "/items/0/source_user_uuid"), caller_.uuid) << body;
  EXPECT_EQ(json_string(body, "/items/0/destination_exten"), "1005") << body;
  EXPECT_EQ(json_string(body, "/items/0/destination_user_uuid"), callee_.uuid) << body;
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
  EXPECT_EQ(records::csv(*d_), "Call Date,Caller,Called,Period,user Field\r\n" +
                                   records::xivo_csv_line(json_string(body, "/items/0/date"), "Vera Caller", "1000",
                                                          "1005", 0));
  // The callee's history shows it, as a missed call.
  auto mine = records::call_logs(*d_, "/1.1/users/" + callee_.uuid + "/call_logs?call_direction=internal");
  EXPECT_EQ(json_int(mine, "/total"), 1) << mine;
  // The voicemail is in the CEL, on the caller's channel, with its box.
  EXPECT_EQ(records::sql_rows(*d_, "SELECT appname || ' ' || appdata || ' ' || (uniqueid = linkedid)::text FROM cel "
                                   "WHERE eventtype = 'APP_START'"),
            "VoiceMail 1005@default true\n");
}

TEST_F(CallLogFlows, AnOutgoingCallIsOutboundWithTheCallersUserField) {
  auto p = phones();
  auto provider = std::async(std::launch::async, [&p, this] {
    std::string o;
    int rc = p.run("-sf " + p.scenario("uas_answer.xml") + " -p " + std::to_string(provider_port_), &o);
    return std::make_pair(rc, o);
  });
  ASSERT_TRUE(wait_udp_bound(provider_port_)) << "the provider did not bind";
  std::string out;
  EXPECT_EQ(p.client("-sf " + p.scenario("uac_call_bye_after_pause.xml") +
                         " -s 0123456789 -au u1000 -ap pw1000 -key user u1000 -d 1200",
                     &out),
            0)
      << out << d_->output();
  auto [rc, provider_out] = provider.get();
  EXPECT_EQ(rc, 0) << provider_out;

  auto body = records::wait_call_logs(*d_, 1);
  ASSERT_EQ(json_int(body, "/total"), 1) << body << d_->output();
  EXPECT_EQ(json_string(body, "/items/0/direction"), "outbound") << body;
  EXPECT_EQ(json_string(body, "/items/0/source_exten"), "1000") << body;
  EXPECT_EQ(json_string(body, "/items/0/source_user_uuid"), caller_.uuid) << body;
  EXPECT_EQ(json_string(body, "/items/0/destination_exten"), "0123456789") << body;
  EXPECT_EQ(json_string(body, "/items/0/status"), "answered") << body;
  EXPECT_EQ(json_string(body, "/items/0/answered_by"), "sip/provider") << body;
  EXPECT_EQ(json_string(body, "/items/0/user_field"), "CP1234") << body;
  EXPECT_GE(records::number(body, "/items/0/duration"), 1.2) << body;
  EXPECT_EQ(json_int(records::call_logs(*d_, "/1.1/call_logs?call_direction=outbound"), "/total"), 1);
  EXPECT_EQ(json_int(records::call_logs(*d_, "/1.1/call_logs?call_direction=internal"), "/total"), 0);
  // XiVO's CSV line: the number dialed, the period talked, the user field last.
  EXPECT_EQ(records::csv(*d_), "Call Date,Caller,Called,Period,user Field\r\n" +
                                   records::xivo_csv_line(json_string(body, "/items/0/date"), "Vera Caller", "1000",
                                                          "0123456789",
                                                          std::lround(records::number(body, "/items/0/duration")),
                                                          "CP1234"));
  EXPECT_EQ(records::sql_rows(*d_, "SELECT DISTINCT userfield FROM cel WHERE uniqueid = linkedid AND "
                                   "eventtype IN ('ANSWER', 'HANGUP')"),
            "CP1234\n");
}

}  // namespace
