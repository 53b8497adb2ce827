// Users imported over REST register and call each other through backend.sip
// and the lua-dialplan, all in the real dialtoned (SIPp plays the phones).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/support/dialtoned_fixture.h"
#include "tests/integration/support/sip_suite.h"
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

constexpr int kImported = 1000;

class SipE2E : public dialtone::testing::SipSuite {
 protected:
  static void SetUpTestSuite() {
    start_dialtoned("integration");
    if (!d_->ready()) return;
    auto h = headers();
    auto ctx = d_->http("POST", "confd", "/1.1/contexts",
                        R"({"name":"default","type":"internal","user_ranges":[{"start":"1000","end":"2999"}]})", h);
    if (ctx.status != 201) {
      setup_error_ = "context: " + ctx.body;
      return;
    }
    std::string csv = "firstname,lastname,exten,context,line_protocol,sip_username,sip_secret,ring_seconds\n";
    for (int i = 0; i < kImported; ++i)
      csv += "User" + std::to_string(i) + ",Imported," + std::to_string(1000 + i) + ",default,sip,u" +
             std::to_string(1000 + i) + ",pw" + std::to_string(1000 + i) + ",30\n";
    h["Content-Type"] = "text/csv; charset=utf-8";
    auto imp = d_->http("POST", "confd", "/1.1/users/import", csv, h);
    import_status_ = imp.status;
    import_created_ = json_size(imp.body, "/created");
    import_body_ = imp.body.substr(0, 2000);
    if (imp.status == 201) return;
    // The import is checked by its own test; the SIP tests still run on the
    // lines they use, created one resource at a time.
    for (int n : used_lines())
      if (auto e = create_user_line(n); !e.empty()) setup_error_ = e;
  }
  static std::vector<int> used_lines() {
    std::vector<int> v{1200, 1500, 1501, 1600, 1601, 1700, 1701, 1800, 1801, 1900};
    for (int i = 0; i < 10; ++i) v.push_back(1100 + i * 37);
    return v;
  }
  static std::string create_user_line(int n) {
    auto num = std::to_string(n);
    return dialtone::testing::create_user_line(
        *d_, num, R"({"firstname":"User)" + std::to_string(n - 1000) + R"(","lastname":"Imported"})", "u" + num,
        "pw" + num);
  }

  static inline int import_status_ = 0;
  static inline std::size_t import_created_ = 0;
  static inline std::string import_body_;
};

TEST_F(SipE2E, ImportCreatesAThousandUsersWithLines) {
  EXPECT_EQ(import_status_, 201) << import_body_;
  EXPECT_EQ(import_created_, static_cast<std::size_t>(kImported));
  auto r = d_->http("GET", "confd", "/1.1/extensions?context=default&limit=1", "", headers());
  EXPECT_EQ(dialtone::testing::json_int(r.body, "/total"), kImported) << r.body;
}

TEST_F(SipE2E, TenImportedLinesRegisterWithTheirCredentials) {
  std::vector<std::future<std::pair<int, std::string>>> runs;
  for (int i = 0; i < 10; ++i) {
    int n = 1100 + i * 37;
    runs.push_back(std::async(std::launch::async, [n] {
      std::string out;
      int rc = register_line("u" + std::to_string(n), "pw" + std::to_string(n), 20000 + n, &out);
      return std::make_pair(rc, out);
    }));
  }
  for (auto& f : runs) {
    auto [rc, out] = f.get();
    EXPECT_EQ(rc, 0) << out;
  }
  std::string out;
  EXPECT_NE(register_line("u1200", "wrong-password", 21200, &out), 0) << "a wrong secret must not register";
}

TEST_F(SipE2E, OneImportedUserCallsAnotherWhoAnswers) {
  int callee_port = free_tcp_udp_port();
  std::string out;
  ASSERT_EQ(register_line("u1501", "pw1501", callee_port, &out), 0) << out;
  auto uas = std::async(std::launch::async, [callee_port] {
    std::string o;
    int rc = sipp("-sf " + scenario("uas_answer.xml") + " -p " + std::to_string(callee_port), &o);
    return std::make_pair(rc, o);
  });
  ASSERT_TRUE(wait_udp_bound(callee_port)) << "the UAS did not bind";
  int rc = client("-sf " + scenario("uac_call_hangup.xml") + " -s 1501 -au u1500 -ap pw1500 -key user u1500", &out);
  EXPECT_EQ(rc, 0) << out << d_->output();
  auto [uas_rc, uas_out] = uas.get();
  EXPECT_EQ(uas_rc, 0) << uas_out;
}

TEST_F(SipE2E, AUserCreatedOverRestRegistersAtOnce) {
  auto h = headers();
  auto user = d_->http("POST", "confd", "/1.1/users", R"({"firstname":"Fresh","lastname":"Rest"})", h);
  auto line = d_->http("POST", "confd", "/1.1/lines", R"({"context":"default"})", h);
  auto sip = d_->http("POST", "confd", "/1.1/endpoints/sip", R"({"username":"fresh","secret":"freshpw"})", h);
  auto ext = d_->http("POST", "confd", "/1.1/extensions", R"({"exten":"2500","context":"default"})", h);
  ASSERT_EQ(user.status, 201);
  ASSERT_EQ(line.status, 201);
  ASSERT_EQ(sip.status, 201);
  ASSERT_EQ(ext.status, 201);
  auto lid = json_string(line.body, "/id");
  ASSERT_EQ(d_->http("PUT", "confd", "/1.1/users/" + json_string(user.body, "/id") + "/lines/" + lid, "", h).status,
            204);
  ASSERT_EQ(d_->http("PUT", "confd", "/1.1/lines/" + lid + "/extensions/" + json_string(ext.body, "/id"), "", h)
                .status,
            204);
  auto last = d_->http("PUT", "confd", "/1.1/lines/" + lid + "/endpoints/sip/" + json_string(sip.body, "/id"), "", h);
  ASSERT_EQ(last.status, 204);
  std::string out;
  // The first attempt succeeds, with no reload or retry in between: SIPp sends
  // one REGISTER pair and fails on anything but 200.
  ASSERT_EQ(register_line("fresh", "freshpw", 22500, &out), 0) << out;
}

// The dialplan reads the callee's ring_seconds on each call (lua-dialplan
// lib/users.lua, XIVO_RINGSECONDS): a change over REST applies to the next call.
TEST_F(SipE2E, AChangedRingSecondsAppliesToTheNextCall) {
  auto h = headers();
  auto found = d_->http("GET", "confd", "/1.1/users?firstname=User601", "", h);
  auto uid = json_string(found.body, "/items/0/id");
  ASSERT_FALSE(uid.empty()) << found.body;
  int callee_port = free_tcp_udp_port();
  std::string out;
  ASSERT_EQ(register_line("u1601", "pw1601", callee_port, &out), 0) << out;
  auto ring_for = [&](int seconds) {
    auto put = d_->http("PUT", "confd", "/1.1/users/" + uid, R"({"ring_seconds":)" + std::to_string(seconds) + "}", h);
    EXPECT_EQ(put.status, 204) << put.body;
    auto uas = std::async(std::launch::async, [callee_port] {
      std::string o;
      int rc = sipp("-sf " + scenario("uas_ring_cancel.xml") + " -p " + std::to_string(callee_port), &o);
      return std::make_pair(rc, o);
    });
    EXPECT_TRUE(wait_udp_bound(callee_port)) << "the UAS did not bind";
    auto t0 = std::chrono::steady_clock::now();
    std::string o;
    int rc = client("-sf " + scenario("uac_call_480.xml") + " -s 1601 -au u1600 -ap pw1600 -key user u1600", &o);
    double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(rc, 0) << o;
    auto [uas_rc, uas_out] = uas.get();
    EXPECT_EQ(uas_rc, 0) << uas_out;
    return took;
  };
  // No upper bound on a duration (a loaded machine only makes calls longer):
  // each ring lasts at least what was set, and the shorter setting rings
  // clearly shorter than the longer one, which fails if either change (or
  // both, leaving the imported 30 s) were ignored.
  double short_ring = ring_for(5);
  EXPECT_GE(short_ring, 4.0);
  double longer_ring = ring_for(10);
  EXPECT_GE(longer_ring, 9.0);
  EXPECT_LT(short_ring, longer_ring - 2.0);
}

// The kernel's call core follows what backend.sip carries: GET /1.0/calls on
// the calld listener lists both legs of an answered call, and DELETE hangs
// it up (both phones get a BYE).
TEST_F(SipE2E, CallsApiListsAnAnsweredCallAndHangsItUp) {
  int callee_port = free_tcp_udp_port();
  std::string out;
  ASSERT_EQ(register_line("u1701", "pw1701", callee_port, &out), 0) << out;
  auto uas = std::async(std::launch::async, [callee_port] {
    std::string o;
    int rc = sipp("-sf " + scenario("uas_answer.xml") + " -p " + std::to_string(callee_port), &o);
    return std::make_pair(rc, o);
  });
  ASSERT_TRUE(wait_udp_bound(callee_port)) << "the UAS did not bind";
  auto uac = std::async(std::launch::async, [] {
    std::string o;
    int rc = client("-sf " + scenario("uac_call_remote_hangup.xml") + " -s 1701 -au u1700 -ap pw1700 -key user u1700",
                    &o);
    return std::make_pair(rc, o);
  });
  auto both_up = [](const std::string& body) {
    std::size_t up = 0;
    for (auto at = body.find("\"status\":\"Up\""); at != std::string::npos; at = body.find("\"status\":\"Up\"", at + 1))
      ++up;
    return json_size(body, "/items") == 2 && up == 2;
  };
  dialtone::testing::HttpAnswer list;
  dialtone::testing::eventually([&] {
    list = d_->http("GET", "calld", "/1.0/calls", "", headers());
    return both_up(list.body);
  });
  ASSERT_TRUE(both_up(list.body)) << list.status << " " << list.body;
  EXPECT_NE(list.body.find("\"line\":\"u1700\""), std::string::npos) << list.body;
  EXPECT_NE(list.body.find("\"line\":\"u1701\""), std::string::npos) << list.body;
  auto call_id = json_string(list.body, "/items/0/call_id");
  EXPECT_EQ(d_->http("GET", "calld", "/1.0/calls", "").status, 401);
  auto del = d_->http("DELETE", "calld", "/1.0/calls/" + call_id, "", headers());
  EXPECT_EQ(del.status, 204) << del.body;
  auto [uac_rc, uac_out] = uac.get();
  EXPECT_EQ(uac_rc, 0) << uac_out;
  auto [uas_rc, uas_out] = uas.get();
  EXPECT_EQ(uas_rc, 0) << uas_out;
  dialtone::testing::eventually([&] {
    list = d_->http("GET", "calld", "/1.0/calls", "", headers());
    return json_size(list.body, "/items") == 0;
  });
  EXPECT_EQ(json_size(list.body, "/items"), 0u) << list.body;
  EXPECT_EQ(d_->http("DELETE", "calld", "/1.0/calls/" + call_id, "", headers()).status, 404);
}

// What confd stores applies to the next call with no reload: a call
// permission on a group the caller belongs to refuses the number (403), a
// schedule on the callee with no open hours sends the call to its closed
// destination (hangup busy: 486); both detached, the call reaches the
// callee's unregistered line (480). Everything is set over REST.
TEST_F(SipE2E, GroupPermissionAndScheduleSetOverRestApplyToTheNextCall) {
  auto h = headers();
  auto caller = json_string(d_->http("GET", "confd", "/1.1/users?firstname=User800", "", h).body, "/items/0/id");
  auto callee = json_string(d_->http("GET", "confd", "/1.1/users?firstname=User801", "", h).body, "/items/0/id");
  ASSERT_FALSE(caller.empty());
  ASSERT_FALSE(callee.empty());
  auto cp = d_->http("POST", "confd", "/1.1/callpermissions", R"({"name":"e2e-no-1801","extensions":["1801"]})", h);
  auto group = d_->http("POST", "confd", "/1.1/groups", R"({"name":"e2e-staff"})", h);
  auto schedule = d_->http("POST", "confd", "/1.1/schedules",
                           R"({"name":"e2e-never-open","closed_destination":{"type":"hangup","cause":"busy"}})", h);
  ASSERT_EQ(cp.status, 201) << cp.body;
  ASSERT_EQ(group.status, 201) << group.body;
  ASSERT_EQ(schedule.status, 201) << schedule.body;
  auto g = json_string(group.body, "/id"), c = json_string(cp.body, "/id"), s = json_string(schedule.body, "/id");
  ASSERT_EQ(d_->http("PUT", "confd", "/1.1/groups/" + g + "/members/users", R"({"users":[{"id":)" + caller + "}]}", h).status, 204);
  ASSERT_EQ(d_->http("PUT", "confd", "/1.1/groups/" + g + "/callpermissions/" + c, "", h).status, 204);
  auto dial = [&](const std::string& file) {
    std::string out;
    int rc = client("-sf " + scenario(file) + " -s 1801 -au u1800 -ap pw1800 -key user u1800", &out);
    EXPECT_EQ(rc, 0) << file << ": " << out << d_->output();
  };
  dial("uac_call_forbidden.xml");
  ASSERT_EQ(d_->http("DELETE", "confd", "/1.1/groups/" + g + "/callpermissions/" + c, "", h).status, 204);
  ASSERT_EQ(d_->http("PUT", "confd", "/1.1/users/" + callee + "/schedules/" + s, "", h).status, 204);
  dial("uac_call_486.xml");
  ASSERT_EQ(d_->http("DELETE", "confd", "/1.1/users/" + callee + "/schedules/" + s, "", h).status, 204);
  dial("uac_call_480.xml");
}

// Feature codes are confd's (/1.1/extensions/features, XiVO's feature
// extensions): DND moved from *25 to *125 applies to the next call, *25 is
// then an ordinary (unknown) number, and a code turned off is not answered.
TEST_F(SipE2E, AFeatureCodeChangedThroughConfdAppliesToTheNextCall) {
  auto h = headers();
  auto uid = json_string(d_->http("GET", "confd", "/1.1/users?firstname=User900", "", h).body, "/items/0/id");
  ASSERT_FALSE(uid.empty());
  auto list = d_->http("GET", "confd", "/1.1/extensions/features?search=enablednd", "", h);
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(json_string(list.body, "/items/0/feature"), "enablednd") << list.body;
  EXPECT_EQ(json_string(list.body, "/items/0/exten"), "*25") << list.body;
  EXPECT_EQ(json_string(list.body, "/items/0/context"), "xivo-features") << list.body;
  auto id = std::to_string(json_int(list.body, "/items/0/id"));
  auto all = d_->http("GET", "confd", "/1.1/extensions/features?limit=100", "", h);
  EXPECT_EQ(json_int(all.body, "/total"), 36) << all.body;
  auto dnd = [&] { return d_->http("GET", "confd", "/1.1/users/" + uid + "/services/dnd", "", h).body; };
  auto dial = [&](const std::string& number, const std::string& file) {
    std::string out;
    int rc = client("-sf " + scenario(file) + " -s " + number + " -au u1900 -ap pw1900 -key user u1900", &out);
    EXPECT_EQ(rc, 0) << number << " " << file << ": " << out << d_->output();
  };

  auto bad = d_->http("PUT", "confd", "/1.1/extensions/features/" + id, R"({"exten":"*2a"})", h);
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_NE(bad.body.find("field 'exten'"), std::string::npos) << bad.body;
  auto taken = d_->http("PUT", "confd", "/1.1/extensions/features/" + id, R"({"exten":"*98"})", h);
  EXPECT_EQ(taken.status, 400) << taken.body;
  EXPECT_EQ(d_->http("POST", "confd", "/1.1/extensions/features", R"({"exten":"*77"})", h).status, 405);

  ASSERT_EQ(d_->http("PUT", "confd", "/1.1/extensions/features/" + id, R"({"exten":"*125"})", h).status, 204);
  EXPECT_EQ(json_string(d_->http("GET", "confd", "/1.1/extensions/features/" + id, "", h).body, "/exten"), "*125");
  dial("*125", "uac_call_480.xml");
  EXPECT_NE(dnd().find("\"enabled\":true"), std::string::npos) << dnd();
  dial("*25", "uac_call_404.xml");
  EXPECT_NE(dnd().find("\"enabled\":true"), std::string::npos) << "*25 is no code any more: " << dnd();

  ASSERT_EQ(d_->http("PUT", "confd", "/1.1/extensions/features/" + id, R"({"enabled":false})", h).status, 204);
  dial("*125", "uac_call_404.xml");
  EXPECT_NE(dnd().find("\"enabled\":true"), std::string::npos) << "a code turned off: " << dnd();

  ASSERT_EQ(d_->http("PUT", "confd", "/1.1/extensions/features/" + id, R"({"exten":"*25","enabled":true})", h).status,
            204);
  dial("*25", "uac_call_480.xml");
  EXPECT_NE(dnd().find("\"enabled\":false"), std::string::npos) << dnd();
}

}  // namespace
