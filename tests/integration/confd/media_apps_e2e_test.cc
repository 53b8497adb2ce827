// Media applications an admin sets up and drives over HTTP, through the real
// dialtoned with media.engine, phones calling in:
// - an IVR made with confd's /1.1/ivr behind an incall (seed 5.20): a
//   softphone (baresip) calling through a peer trunk hears the menu, presses
//   1 and reaches the user of that choice;
// - a conference room's participants listed, muted and kicked with calld's
//   /1.0/conferences routes (wazo-calld's), a real HTTP client against the
//   listener, the kicked SIPp phone getting its BYE.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <string>
#include <thread>

#include "tests/integration/support/confd_admin.h"
#include "tests/integration/support/dialtoned_fixture.h"
#include "tests/integration/support/sip_suite.h"
#include "tests/support/baresip_phone.h"
#include "tests/support/eventually.h"
#include "tests/support/udp_ports.h"

namespace {

using dialtone::testing::BaresipPhone;
using dialtone::testing::ConfdAdmin;
using dialtone::testing::eventually;
using dialtone::testing::free_tcp_udp_port;
using dialtone::testing::json_int;
using dialtone::testing::json_string;
using dialtone::testing::wait_udp_bound;

std::size_t loud_samples(const std::vector<std::int16_t>& s) {
  std::size_t n = 0;
  for (std::size_t i = 0; i + 160 <= s.size(); i += 160) {
    double e = 0;
    for (std::size_t k = i; k < i + 160; ++k) e += static_cast<double>(s[k]) * s[k];
    if (e / 160 > 300.0 * 300.0) n += 160;
  }
  return n;
}

class MediaAppsE2E : public dialtone::testing::SipSuite {
 protected:
  static void SetUpTestSuite() {
    trunk_port_ = BaresipPhone::free_listen_port();  // the trunk peer is a baresip
    start_dialtoned("media-apps",
                    {{"45-media.conf", "[plugin]\nname = media.engine\n\n[media]\nrealtime = false\nthreads = 1\n"}},
                    "\n[qualify]\ninterval = 0s\n");
    if (!d_->ready()) return;
    ConfdAdmin a(*d_);
    a.context(R"({"name":"default","type":"internal","user_ranges":[{"start":"1000","end":"1099"}],)"
              R"("conference_room_ranges":[{"start":"4000","end":"4999"}]})");
    a.context(R"({"name":"from-extern","type":"incall","incall_ranges":[{"start":"100","end":"199"}]})");
    target_id_ = a.user_line("1001", "Ivy", "Target", "u1001", "pw1001", "default");
    a.user_line("1002", "Carl", "Conf", "u1002", "pw1002", "default");
    a.trunk("provider", "127.0.0.1:" + std::to_string(trunk_port_), "from-extern");
    auto room = a.post("/1.1/conferences", R"({"name":"room-4010"})");
    auto exten = a.post("/1.1/extensions", R"({"exten":"4010","context":"default"})");
    room_id_ = json_string(room.body, "/id");
    a.put("/1.1/conferences/" + room_id_ + "/extensions/" + json_string(exten.body, "/id"), "");
    if (::testing::Test::HasFailure()) setup_error_ = "confd refused the setup:\n" + d_->output();
  }
  static dialtone::testing::HttpAnswer confd(const char* method, const std::string& path, const std::string& body = "") {
    return d_->http(method, "confd", path, body, headers());
  }
  static dialtone::testing::HttpAnswer calld(const char* method, const std::string& path) {
    return d_->http(method, "calld", path, "", headers());
  }
  static inline int trunk_port_ = 0;
  static inline std::string target_id_, room_id_;
};

// confd's /1.1/ivr in wazo-confd's shape: created, read back with the
// incall pointing at it, refused with a message naming the bad field.
TEST_F(MediaAppsE2E, AnIncallToAnIvrRoutesTheDigitPressedToItsChoice) {
  if (!BaresipPhone::available()) GTEST_SKIP() << "baresip not installed (Debian baresip-core)";
  auto bad = confd("POST", "/1.1/ivr",
                   R"({"name":"bad","menu_sound":"x","choices":[{"exten":"1x","destination":{"type":"none"}}]})");
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_NE(bad.body.find("choices"), std::string::npos) << bad.body;
  EXPECT_EQ(d_->http("GET", "confd", "/1.1/ivr").status, 401);
  auto ivr = confd("POST", "/1.1/ivr",
                   R"({"name":"main","menu_sound":"vm-intro","timeout":10,"max_tries":3,)"
                   R"("choices":[{"exten":"1","destination":{"type":"user","user_id":)" + target_id_ + R"(}}]})");
  ASSERT_EQ(ivr.status, 201) << ivr.body;
  auto ivr_id = json_string(ivr.body, "/id");
  EXPECT_EQ(json_int(ivr.body, "/timeout"), 10) << ivr.body;
  ConfdAdmin a(*d_);
  auto incall = a.incall("100", "from-extern", R"({"type":"ivr","ivr_id":)" + ivr_id + "}");
  auto got = confd("GET", "/1.1/ivr/" + ivr_id);
  EXPECT_EQ(json_string(got.body, "/choices/0/exten"), "1") << got.body;
  EXPECT_EQ(json_string(got.body, "/incalls/0/id"), incall) << got.body;
  auto list = confd("GET", "/1.1/ivr?search=main");
  EXPECT_EQ(json_int(list.body, "/total"), 1) << list.body;

  // 1001's phone answers whoever the IVR sends.
  int callee_port = free_tcp_udp_port();
  std::string out;
  ASSERT_EQ(phones().register_line("u1001", "pw1001", callee_port, &out), 0) << out;
  auto uas = std::async(std::launch::async, [callee_port] {
    std::string o;
    int rc = sipp("-sf " + scenario("uas_answer.xml") + " -p " + std::to_string(callee_port), &o);
    return std::make_pair(rc, o);
  });
  ASSERT_TRUE(wait_udp_bound(callee_port));
  // The provider's caller dials the DID; the snapshot with the incall may
  // come a moment after the write.
  BaresipPhone caller({.user = "provider", .server_port = sip_port_, .listen_port = trunk_port_,
                       .console_port = free_tcp_udp_port(), .mic_hz = 700, .exten = "100"});
  ASSERT_TRUE(caller.started());
  ASSERT_TRUE(eventually([&] { return loud_samples(caller.heard_so_far()) >= 4000; }, std::chrono::seconds(30)))
      << "the caller heard no menu\n" << caller.log() << d_->output();
  caller.command("/sndcode 1");
  EXPECT_TRUE(d_->wait_output("IVR " + ivr_id + " (main)", 10)) << d_->output();
  // The choice dials 1001's line (calld lists its leg); its phone answers
  // and gets the BYE when the caller hangs up.
  std::string calls;
  EXPECT_TRUE(eventually([&] {
    calls = calld("GET", "/1.0/calls").body;
    return calls.find("\"line\":\"u1001\"") != std::string::npos;
  })) << calls << d_->output();
  caller.stop();
  auto [rc, uas_out] = uas.get();
  EXPECT_EQ(rc, 0) << uas_out << caller.log() << d_->output();
}

// calld's conference routes (wazo-calld's) over HTTP: the participant in
// room 4010 is listed, muted, then kicked, and its phone gets a BYE.
TEST_F(MediaAppsE2E, AConferenceParticipantIsListedMutedAndKickedOverHttp) {
  const std::string base = "/1.0/conferences/" + room_id_ + "/participants";
  EXPECT_EQ(d_->http("GET", "calld", base).status, 401);
  EXPECT_EQ(calld("GET", "/1.0/conferences/999999/participants").status, 404);
  auto phone = std::async(std::launch::async, [] {
    std::string o;
    int rc = client("-sf " + std::string(MEDIA_SCENARIOS) + "/uac_media.xml -s 4010 -au u1002 -ap pw1002 -key user u1002 "
                    "-key rtp_port " + std::to_string(free_tcp_udp_port()), &o);
    return std::make_pair(rc, o);
  });
  std::string listed;
  ASSERT_TRUE(eventually([&] {
    listed = calld("GET", base).body;
    return json_int(listed, "/total") == 1;
  })) << listed << d_->output();
  auto participant = json_string(listed, "/items/0/id");
  ASSERT_FALSE(participant.empty()) << listed;
  EXPECT_EQ(json_string(listed, "/items/0/caller_id_num"), "1002") << listed;
  auto mute = d_->http("PUT", "calld", base + "/" + participant + "/mute", "", headers());
  EXPECT_EQ(mute.status, 204) << mute.body;
  EXPECT_NE(calld("GET", base).body.find("\"muted\":true"), std::string::npos);
  EXPECT_EQ(d_->http("PUT", "calld", base + "/nobody/mute", "", headers()).status, 404);
  auto kick = calld("DELETE", base + "/" + participant);
  EXPECT_EQ(kick.status, 204) << kick.body;
  auto [rc, out] = phone.get();
  EXPECT_EQ(rc, 0) << out << d_->output();
  EXPECT_TRUE(eventually([&] { return json_int(calld("GET", base).body, "/total") == 0; }));
}

}  // namespace
