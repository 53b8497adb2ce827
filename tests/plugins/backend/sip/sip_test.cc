// backend.sip against SIPp: registrar with digest auth, bans, and calls
// through the Lua dialplan, on a host made of the real kernel pieces.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "tests/plugins/backend/sip/sip_fixture.h"
#include "tests/support/loopback_udp.h"

namespace sip = dialtone::plugins::backend::sip;
using dialtone::testing::eventually;
using dialtone::testing::run_sipp;
using dialtone::testing::SipPluginTest;
using dialtone::testing::SipTestHost;
using dialtone::testing::scenario;
using dialtone::testing::wait_udp_bound;

namespace {

class SipTest : public SipPluginTest {
 protected:
  static void SetUpTestSuite() {
    make_host({{"alice", "1001"}, {"bob", "1002"}, {"carol", "1003"}, {"nora", "1014"}, {"erin", "1015"},
               {"frank", "1016"}});
    // nora: 5 s ring time, forwards to erin on no answer; frank forwards to
    // erin when busy.
    host_->sql("UPDATE confd_users SET ring_seconds = 5, forward_noanswer_enabled = true, "
               "forward_noanswer_destination = '1015' WHERE id = $1::int", {user_ids_["nora"]});
    host_->sql("UPDATE confd_users SET forward_busy_enabled = true, "
               "forward_busy_destination = '1015' WHERE id = $1::int", {user_ids_["frank"]});
  }

  void SetUp() override { start({}); }
  void start(const std::map<std::string, std::string>& extra) {
    std::map<std::string, std::string> values{{"auth.ban_failures", "1000"}};
    for (auto& [k, v] : extra) values[k] = v;
    start_plugin(values);
  }

  int register_line(const std::string& user, const std::string& password, int contact_port,
                    std::string* out, const std::string& file = "register.xml",
                    const std::string& expires = "3600") {
    return client(file,
                  {"-au", user, "-ap", password, "-key", "user", user, "-key", "contact_port",
                   std::to_string(contact_port), "-key", "expires", expires},
                  out);
  }

  // Starts a SIPp UAS running `file` on a free port; returns the port.
  int callee(const std::string& file) {
    int port = dialtone::testing::free_port();
    callee_ = std::async(std::launch::async, [this, file, port] {
      return run_sipp({"-sf", scenario(file), "-i", "127.0.0.1", "-p", std::to_string(port), "-m",
                       "1", "-timeout", "25s", "-timeout_error"},
                      &callee_out_);
    });
    wait_udp_bound(port);  // ringing a callee not yet listening would fail the call
    return port;
  }

  // Another SIPp UAS running `file` on `port`.
  static std::future<int> uas(const std::string& file, int port, std::string* out) {
    auto f = std::async(std::launch::async, [file, port, out] {
      return run_sipp({"-sf", scenario(file), "-i", "127.0.0.1", "-p", std::to_string(port), "-m",
                       "1", "-timeout", "25s", "-timeout_error"},
                      out);
    });
    wait_udp_bound(port);
    return f;
  }

  // Two registered SIPp phones (password <user>pw): `first` on the suite's
  // callee (callee_, callee_out_) running `first_file`, `second` running
  // `second_file`; *second_phone ends with the second's scenario.
  void two_phones(const std::string& first, const std::string& first_file, const std::string& second,
                  const std::string& second_file, std::future<int>* second_phone, std::string* second_out) {
    std::string out;
    int first_port = callee(first_file);
    int second_port = dialtone::testing::free_port();
    *second_phone = uas(second_file, second_port, second_out);
    ASSERT_EQ(register_line(first, first + "pw", first_port, &out), 0) << out;
    ASSERT_EQ(register_line(second, second + "pw", second_port, &out), 0) << out;
  }

  // A peer trunk (no registration, recognized by address) in `context`.
  static std::string add_trunk(const std::string& name, int port, const std::string& context) {
    return add_peer_trunk(name, "127.0.0.1:" + std::to_string(port), context);
  }

  int call(const std::string& file, const std::string& exten, std::string* out,
           const std::string& password = "alicepw") {
    return client(file, {"-s", exten, "-au", "alice", "-ap", password, "-key", "user", "alice"}, out);
  }

  // bob answers on a SIPp phone running `uas`, alice calls 1002 running
  // `uac`: both scenarios must end as written.
  void alice_calls_bob(const std::string& uas, const std::string& uac) {
    std::string out;
    int port = callee(uas);
    ASSERT_EQ(register_line("bob", "bobpw", port, &out), 0) << out;
    EXPECT_EQ(call(uac, "1002", &out), 0) << out;
    EXPECT_EQ(callee_.get(), 0) << callee_out_;
  }

  std::size_t stored_contacts(const std::string& aor) {
    auto r = host_->pg().exec("SELECT count(*) FROM sip_locations WHERE aor = $1", {aor});
    return r ? std::stoul(r->get(0, "count", "0")) : 0;
  }

  std::future<int> callee_;
  std::string callee_out_;
};

TEST_F(SipTest, RegistersWithDigestAuthAndStoresTheLocation) {
  std::string out;
  ASSERT_EQ(register_line("alice", "alicepw", 5999, &out), 0) << out;
  EXPECT_EQ(plugin_->contact_count("alice"), 1u);
  auto ev = host_->test_bus().wait_for("sip.registration.alice");
  ASSERT_TRUE(ev);
  EXPECT_NE(ev->body.find("127.0.0.1:5999"), std::string::npos) << ev->body;
  EXPECT_TRUE(eventually([&] { return stored_contacts("alice") == 1; }));
}

TEST_F(SipTest, WrongPasswordGets401Then403AndAFail2banLine) {
  std::string out;
  ASSERT_EQ(register_line("alice", "not-the-password", 5999, &out, "register_wrong.xml"), 0) << out;
  EXPECT_EQ(plugin_->contact_count("alice"), 0u);
  EXPECT_TRUE(host_->logger().contains("sip: auth failed for \"alice\" from 127.0.0.1"));
}

TEST_F(SipTest, RepeatedFailuresBanTheSourceAddress) {
  start({{"auth.ban_failures", "2"}});
  std::string out;
  ASSERT_EQ(register_line("alice", "bad", 5999, &out, "register_wrong.xml"), 0) << out;
  ASSERT_EQ(register_line("alice", "bad", 5999, &out, "register_wrong.xml"), 0) << out;
  EXPECT_TRUE(host_->logger().contains("sip: banned 127.0.0.1"));
  // Even the right password is refused while banned.
  EXPECT_EQ(register_line("alice", "alicepw", 5999, &out, "register_banned.xml"), 0) << out;
  EXPECT_EQ(plugin_->contact_count("alice"), 0u);
}

TEST_F(SipTest, TooShortExpiresGets423) {
  std::string out;
  ASSERT_EQ(register_line("alice", "alicepw", 5999, &out, "register_brief.xml", "10"), 0) << out;
  EXPECT_EQ(plugin_->contact_count("alice"), 0u);
}

TEST_F(SipTest, SeveralContactsPerAorAndUnregisterWithStar) {
  std::string out;
  ASSERT_EQ(register_line("alice", "alicepw", 5998, &out), 0) << out;
  ASSERT_EQ(register_line("alice", "alicepw", 5999, &out), 0) << out;
  EXPECT_EQ(plugin_->contact_count("alice"), 2u);
  ASSERT_EQ(register_line("alice", "alicepw", 5999, &out, "unregister_all.xml"), 0) << out;
  EXPECT_EQ(plugin_->contact_count("alice"), 0u);
  EXPECT_TRUE(eventually([&] { return stored_contacts("alice") == 0; }));
}

TEST_F(SipTest, LineCreatedInTheStoreRegistersRightAway) {
  std::string out;
  ASSERT_EQ(register_line("dave", "davepw", 5999, &out, "register_wrong.xml"), 0) << out;
  host_->add_line("dave", "davepw", "1004");
  ASSERT_TRUE(host_->pg().exec("SELECT pg_notify('dialtone_config', 'line.created:4')"));
  // The cache is cleared by the NOTIFY, or after one second at most.
  bool ok = false;
  for (int i = 0; i < 5 && !ok; ++i) ok = register_line("dave", "davepw", 5999, &out) == 0;
  EXPECT_TRUE(ok) << out;
  EXPECT_EQ(plugin_->contact_count("dave"), 1u);
}

TEST_F(SipTest, CallAnsweredThenCallerHangsUp) {
  ASSERT_NO_FATAL_FAILURE(alice_calls_bob("uas_answer.xml", "uac_call_hangup.xml"));
  EXPECT_TRUE(host_->test_bus().wait_for("sip.call.answered"));
  EXPECT_TRUE(eventually([&] { return plugin_->active_calls() == 0; }));
}

TEST_F(SipTest, CallAnsweredThenCalleeHangsUp) {
  ASSERT_NO_FATAL_FAILURE(alice_calls_bob("uas_answer_hangup.xml", "uac_call_remote_hangup.xml"));
  EXPECT_TRUE(eventually([&] { return plugin_->active_calls() == 0; }));
}

TEST_F(SipTest, CallerCancelsBeforeAnswer) {
  ASSERT_NO_FATAL_FAILURE(alice_calls_bob("uas_ring_cancel.xml", "uac_call_cancel.xml"));
  EXPECT_TRUE(eventually([&] { return plugin_->active_calls() == 0; }));
}

TEST_F(SipTest, BusyCalleeGives486) {
  ASSERT_NO_FATAL_FAILURE(alice_calls_bob("uas_busy.xml", "uac_call_486.xml"));
}

TEST_F(SipTest, NoAnswerTimesOutWith480AndCancelsTheCallee) {
  ASSERT_NO_FATAL_FAILURE(alice_calls_bob("uas_ring_cancel.xml", "uac_call_480.xml"));
}

TEST_F(SipTest, UnknownExtensionGives404) {
  std::string out;
  EXPECT_EQ(call("uac_call_404.xml", "1999", &out), 0) << out;
}

TEST_F(SipTest, UnregisteredCalleeGives480) {
  std::string out;
  EXPECT_EQ(call("uac_call_480.xml", "1003", &out), 0) << out;
}

TEST_F(SipTest, UnauthenticatedInviteIsChallengedThenRefused) {
  std::string out;
  EXPECT_EQ(call("uac_call_forbidden.xml", "1002", &out, "wrong"), 0) << out;
  EXPECT_TRUE(host_->logger().contains("sip: auth failed for \"alice\" from 127.0.0.1"));
}

// ---- malformed messages ----------------------------------------------------

std::vector<std::string> corpus() {
  std::vector<std::string> out;
  std::vector<std::filesystem::path> files;
  for (auto& f : std::filesystem::directory_iterator(std::string(SIP_TEST_DIR) + "/malformed"))
    if (f.path().extension() == ".sip") files.push_back(f.path());
  std::sort(files.begin(), files.end());
  for (auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    out.push_back(ss.str());
  }
  return out;
}

std::string options_request(int port, const std::string& transport) {
  return "OPTIONS sip:127.0.0.1:" + std::to_string(port) + " SIP/2.0\r\n"
         "Via: SIP/2.0/" + transport + " 127.0.0.1:VIAPORT;rport;branch=z9hG4bK-probe-" +
         std::to_string(::getpid()) + transport + "\r\n"
         "From: <sip:probe@127.0.0.1>;tag=probe\r\n"
         "To: <sip:127.0.0.1>\r\n"
         "Call-ID: probe-" + transport + "@127.0.0.1\r\n"
         "CSeq: 1 OPTIONS\r\n"
         "Max-Forwards: 70\r\n"
         "Content-Length: 0\r\n\r\n";
}

// Sends `msg` over UDP and returns the first reply within 3 s ("" if none).
// Puts the sender's own port in the probe's Via (replies go there).
std::string with_via_port(std::string m, int port) {
  auto at = m.find("VIAPORT");
  if (at != std::string::npos) m.replace(at, 7, std::to_string(port));
  return m;
}

std::string udp_exchange(int port, const std::string& text, int wait_ms) {
  dialtone::testing::LoopbackUdp s;
  s.send_to(port, with_via_port(text, s.port()));
  return s.receive(wait_ms);
}

std::string tcp_exchange(int port, const std::string& text, int wait_ms) {
  std::string msg = with_via_port(text, 5999);
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  std::string reply;
  if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    ::send(s, msg.data(), msg.size(), MSG_NOSIGNAL);
    pollfd p{s, POLLIN, 0};
    if (::poll(&p, 1, wait_ms) > 0) {
      char buf[65536];
      auto n = ::recv(s, buf, sizeof buf, 0);
      if (n > 0) reply.assign(buf, n);
    }
  }
  ::close(s);
  return reply;
}

TEST_F(SipTest, SurvivesTheMalformedCorpusOverUdpAndTcp) {
  auto messages = corpus();
  ASSERT_GE(messages.size(), 50u);
  int port = plugin_->port();
  auto before = udp_exchange(port, options_request(port, "UDP"), 3000);
  ASSERT_EQ(before.rfind("SIP/2.0 200", 0), 0u) << before;
  for (auto& m : messages) {
    udp_exchange(port, m, 20);
    tcp_exchange(port, m, 20);
  }
  auto udp = udp_exchange(port, options_request(port, "UDP"), 3000);
  EXPECT_EQ(udp.rfind("SIP/2.0 200", 0), 0u) << udp;
  auto tcp = tcp_exchange(port, options_request(port, "TCP"), 3000);
  EXPECT_EQ(tcp.rfind("SIP/2.0 200", 0), 0u) << tcp;
}

}  // namespace

namespace {

// ---- dialplan features -------------------------------------------------------

TEST_F(SipTest, DidFromAPeerTrunkReachesTheIncallUserWithANormalizedCaller) {
  host_->sql("INSERT INTO confd_contexts (name, type) VALUES ('from-extern', 'incall') "
             "ON CONFLICT DO NOTHING");
  int trunk_port = dialtone::testing::free_port();
  add_trunk("did-provider-" + std::to_string(trunk_port), trunk_port, "from-extern");
  start({});  // trunks are read at start (confd's changes notify a running plugin)
  auto bob = host_->sql("SELECT id FROM confd_users WHERE firstname = 'bob'");
  auto incall = host_->sql(
      "INSERT INTO confd_incalls (destination) VALUES (json_build_object('type', 'user', 'user_id', $1::int)) "
      "RETURNING id", {bob});
  auto x = host_->sql("INSERT INTO confd_extensions (exten, context) VALUES ('50XX', 'from-extern') RETURNING id");
  host_->sql("INSERT INTO confd_incall_extensions VALUES ($1::int, $2::int)", {incall, x});

  std::string out;
  int port = callee("uas_answer_did.xml");
  ASSERT_EQ(register_line("bob", "bobpw", port, &out), 0) << out;
  // No credentials: the trunk is known by its address.
  int rc = run_sipp({target_, "-sf", scenario("trunk_call.xml"), "-s", "5012", "-i", "127.0.0.1", "-p",
                     std::to_string(trunk_port), "-m", "1", "-timeout", "25s", "-timeout_error"},
                    &out);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(callee_.get(), 0) << callee_out_;
  // The same INVITE from an unknown address is challenged, not routed.
  EXPECT_NE(run_sipp({target_, "-sf", scenario("trunk_call.xml"), "-s", "5012", "-i", "127.0.0.1", "-p",
                      std::to_string(dialtone::testing::free_port()), "-m", "1", "-timeout", "5s",
                      "-timeout_error"}),
            0);
}

TEST_F(SipTest, OutgoingCallIsRewrittenAndFailsOverToTheNextTrunkOn503) {
  int first = dialtone::testing::free_port();
  int second = dialtone::testing::free_port();
  auto t1 = add_trunk("out-a-" + std::to_string(first), first, "default");
  auto t2 = add_trunk("out-b-" + std::to_string(second), second, "default");
  auto route = host_->sql(
      "INSERT INTO confd_outcalls (name, priority, patterns) VALUES ('national-' || $1, 1, "
      "'[{\"pattern\":\"0XXXXXXXXX\",\"regexp\":\"0(.*)\",\"target\":\"0033\\\\1\","
      "\"caller_id\":\"\\\"Main\\\" <5555>\"}]') RETURNING id", {std::to_string(first)});
  host_->sql("INSERT INTO confd_outcall_trunks VALUES ($1::int, $2::int, 1), ($1::int, $3::int, 2)",
             {route, t1, t2});

  std::string out, out1, out2;
  auto down = uas("uas_503.xml", first, &out1);
  auto up = uas("uas_answer_trunk.xml", second, &out2);
  ASSERT_TRUE(wait_udp_bound(first) && wait_udp_bound(second)) << "the trunks did not bind";
  EXPECT_EQ(call("uac_call_hangup.xml", "0123456789", &out), 0) << out;
  EXPECT_EQ(down.get(), 0) << out1;
  EXPECT_EQ(up.get(), 0) << out2;
  host_->sql("DELETE FROM confd_outcalls WHERE id = $1::int", {route});
}

TEST_F(SipTest, NoAnswerAfterTheUsersRingTimeForwardsToTheDestination) {
  std::string out, erin_out;
  std::future<int> erin;
  ASSERT_NO_FATAL_FAILURE(
      two_phones("nora", "uas_ring_cancel.xml", "erin", "uas_answer.xml", &erin, &erin_out));
  EXPECT_EQ(call("uac_call_hangup.xml", "1014", &out), 0) << out;
  EXPECT_EQ(callee_.get(), 0) << callee_out_;  // nora rang, then was cancelled
  EXPECT_EQ(erin.get(), 0) << erin_out;        // erin answered
}

TEST_F(SipTest, BusyUserForwardsToTheBusyDestination) {
  std::string out, erin_out;
  std::future<int> erin;
  ASSERT_NO_FATAL_FAILURE(two_phones("frank", "uas_busy.xml", "erin", "uas_answer.xml", &erin, &erin_out));
  EXPECT_EQ(call("uac_call_hangup.xml", "1016", &out), 0) << out;
  EXPECT_EQ(callee_.get(), 0) << callee_out_;
  EXPECT_EQ(erin.get(), 0) << erin_out;
}

TEST_F(SipTest, CallPermissionDenyingTheExtensionGives403) {
  auto owen = host_->add_line("owen", "owenpw", "1071");
  host_->add_line("pam", "pampw", "1072");
  auto rule = host_->sql("INSERT INTO confd_callpermissions (name, extensions) "
                         "VALUES ('not-pam', '[\"1072\"]') RETURNING id");
  host_->sql("INSERT INTO confd_user_callpermissions VALUES ($1::int, $2::int)", {owen, rule});
  std::string out;
  EXPECT_EQ(client("uac_call_forbidden.xml", {"-s", "1072", "-au", "owen", "-ap", "owenpw", "-key", "user", "owen"},
                   &out),
            0)
      << out;
  EXPECT_TRUE(host_->logger().contains("call permission 'not-pam'"));
}

// ---- groups (seed 5.16) -------------------------------------------------------

TEST_F(SipTest, DidToAGroupRingsEveryMemberAndTheFirstAnswerWins) {
  host_->sql("INSERT INTO confd_contexts (name, type) VALUES ('from-extern', 'incall') "
             "ON CONFLICT DO NOTHING");
  auto gina = host_->add_line("gina", "ginapw", "1041");
  auto hank = host_->add_line("hank", "hankpw", "1042");
  // hank comes first and answers: gina rings only because "all" rings everyone.
  auto group = host_->add_group("sales", "all", {hank, gina}, "");
  int trunk_port = dialtone::testing::free_port();
  add_trunk("group-provider-" + std::to_string(trunk_port), trunk_port, "from-extern");
  start({});
  auto incall = host_->sql(
      "INSERT INTO confd_incalls (destination) VALUES (json_build_object('type', 'group', 'group_id', $1::int)) "
      "RETURNING id", {group});
  auto x = host_->sql("INSERT INTO confd_extensions (exten, context) VALUES ('6001', 'from-extern') RETURNING id");
  host_->sql("INSERT INTO confd_incall_extensions VALUES ($1::int, $2::int)", {incall, x});

  std::string out, hank_out;
  std::future<int> answering;
  // gina rings, then is cancelled; hank answers.
  ASSERT_NO_FATAL_FAILURE(
      two_phones("gina", "uas_ring_cancel.xml", "hank", "uas_answer.xml", &answering, &hank_out));
  EXPECT_EQ(run_sipp({target_, "-sf", scenario("trunk_call.xml"), "-s", "6001", "-i", "127.0.0.1", "-p",
                      std::to_string(trunk_port), "-m", "1", "-timeout", "25s", "-timeout_error"},
                     &out),
            0)
      << out;
  EXPECT_EQ(answering.get(), 0) << hank_out;
  EXPECT_EQ(callee_.get(), 0) << callee_out_;
}

// A SIP phone dials a `local` target: the call core runs the dialplan again
// for the group's extension as a local leg, which rings both members' SIP
// phones; one answers and the other gets CANCEL. The channels show the
// caller, the local leg and the answering phone, all of one call.
TEST_F(SipTest, LocalTargetRingsTwoPhonesOneAnswersTheOtherIsCancelled) {
  auto olga = host_->add_line("olga", "olgapw", "1051");
  auto pete = host_->add_line("pete", "petepw", "1052");
  host_->add_group("desk", "all", {olga, pete}, "2310");
  start({});
  std::string out, pete_out;
  std::future<int> answering;
  ASSERT_NO_FATAL_FAILURE(
      two_phones("olga", "uas_ring_cancel.xml", "pete", "uas_answer.xml", &answering, &pete_out));
  const auto before = host_->test_bus().events().size();
  EXPECT_EQ(call("uac_call_hangup.xml", "72310", &out), 0) << out;  // dialplan.lua: local/2310@default
  EXPECT_EQ(answering.get(), 0) << pete_out;
  EXPECT_EQ(callee_.get(), 0) << callee_out_ << " (olga is cancelled)";
  EXPECT_TRUE(eventually([&] { return plugin_->active_calls() == 0; }));
  EXPECT_TRUE(eventually([&] { return host_->calls().channels().empty(); }))
      << host_->calls().channels().size() << " channel(s) left";
  // Every leg was a channel of the caller's call: the local one included.
  std::map<std::string, std::string> ended;  // endpoint -> call_id
  auto events = host_->test_bus().events();
  for (auto i = before; i < events.size(); ++i)
    if (auto& e = events[i]; e.topic == "calls.channel.ended") {
      auto endpoint = e.body.substr(e.body.find("\"endpoint\":\"") + 12);
      endpoint = endpoint.substr(0, endpoint.find('"'));
      auto call_id = e.body.substr(e.body.find("\"call_id\":\"") + 11);
      ended[endpoint] = call_id.substr(0, call_id.find('"'));
    }
  ASSERT_TRUE(ended.count("2310@default")) << "a local leg was dialed";
  ASSERT_TRUE(ended.count("olga") && ended.count("pete") && ended.count("alice"));
  EXPECT_EQ(ended["2310@default"], ended["alice"]);
  EXPECT_EQ(ended["olga"], ended["alice"]);
  EXPECT_EQ(ended["pete"], ended["alice"]);
}

// Two local legs dial at once from one SIP caller still being routed (a
// ring-all group whose members ring through their own dialplan): both
// phones ring, one answers, the other gets CANCEL.
TEST_F(SipTest, TwoLocalLegsRingTheirPhonesAtOnceFromOneCaller) {
  host_->add_line("sara", "sarapw", "1053");
  host_->add_line("theo", "theopw", "1054");
  start({});
  std::string out, theo_out;
  std::future<int> answering;
  ASSERT_NO_FATAL_FAILURE(
      two_phones("sara", "uas_ring_cancel.xml", "theo", "uas_answer.xml", &answering, &theo_out));
  EXPECT_EQ(call("uac_call_hangup.xml", "810531054", &out), 0) << out;  // dialplan.lua: local/1053, local/1054
  EXPECT_EQ(answering.get(), 0) << theo_out;
  EXPECT_EQ(callee_.get(), 0) << callee_out_ << " (sara is cancelled)";
  EXPECT_TRUE(eventually([&] { return plugin_->active_calls() == 0; }));
  EXPECT_TRUE(eventually([&] { return host_->calls().channels().empty(); }))
      << host_->calls().channels().size() << " channel(s) left";
}

TEST_F(SipTest, LinearGroupRingsMembersOneAfterTheOther) {
  auto ivan = host_->add_line("ivan", "ivanpw", "1043");
  auto judy = host_->add_line("judy", "judypw", "1044");
  host_->add_group("support", "linear", {ivan, judy}, "2302");

  std::string out, judy_out;
  std::future<int> answering;
  // ivan first: rings its 2 s, then is cancelled; judy answers.
  ASSERT_NO_FATAL_FAILURE(
      two_phones("ivan", "uas_ring_cancel.xml", "judy", "uas_answer.xml", &answering, &judy_out));
  EXPECT_EQ(call("uac_call_hangup.xml", "2302", &out), 0) << out;
  EXPECT_EQ(callee_.get(), 0) << callee_out_;
  EXPECT_EQ(answering.get(), 0) << judy_out;
}

// Everything that reached a bare UDP socket bound on 127.0.0.1:`port`
// (a phone that never answers), read without waiting.
class UdpSink {
 public:
  explicit UdpSink(int port) : fd_(::socket(AF_INET, SOCK_DGRAM, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  ~UdpSink() { ::close(fd_); }
  std::string drain() {
    std::string all;
    char buf[4096];
    for (;;) {
      from_len_ = sizeof from_;
      auto n = ::recvfrom(fd_, buf, sizeof buf, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from_), &from_len_);
      if (n <= 0) return all;
      all.append(buf, static_cast<std::size_t>(n));
    }
  }
  // Sends `datagram` to whoever sent the last one drained.
  void reply(const std::string& datagram) {
    ::sendto(fd_, datagram.data(), datagram.size(), 0, reinterpret_cast<sockaddr*>(&from_), from_len_);
  }

 private:
  int fd_;
  sockaddr_in from_{};
  socklen_t from_len_ = sizeof from_;
};

TEST_F(SipTest, LinearGroupStopsAtTheFirstMemberThatAnswers) {
  auto lena = host_->add_line("lena", "lenapw", "1046");
  auto mike = host_->add_line("mike", "mikepw", "1047");
  host_->add_group("billing", "linear", {lena, mike}, "2304");
  std::string out;
  int lena_port = callee("uas_answer.xml");
  int mike_port = dialtone::testing::free_port();
  UdpSink mike_phone(mike_port);
  ASSERT_TRUE(wait_udp_bound(lena_port));
  ASSERT_EQ(register_line("lena", "lenapw", lena_port, &out), 0) << out;
  ASSERT_EQ(register_line("mike", "mikepw", mike_port, &out), 0) << out;
  EXPECT_EQ(call("uac_call_hangup.xml", "2304", &out), 0) << out;
  EXPECT_EQ(callee_.get(), 0) << callee_out_;
  // With ring-all mike would have got an INVITE then a CANCEL.
  EXPECT_EQ(mike_phone.drain().find("INVITE sip:"), std::string::npos);
}

// A trunk on UDP 127.0.0.1:`port` that answers OPTIONS 200 and every
// INVITE `invite_status`, on its own thread until destroyed.
class TrunkResponder {
 public:
  TrunkResponder(int port, int invite_status) : sink_(port), status_(invite_status) {
    thread_ = std::thread([this] { run(); });
  }
  ~TrunkResponder() {
    stop_ = true;
    thread_.join();
  }

 private:
  void run() {
    while (!stop_) {
      std::string got = sink_.drain();
      if (got.empty()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      bool invite = got.rfind("INVITE ", 0) == 0;
      if (!invite && got.rfind("OPTIONS ", 0) != 0) continue;  // ACK and others
      std::string reply = invite ? "SIP/2.0 " + std::to_string(status_) + " Busy Here\r\n"
                                 : std::string("SIP/2.0 200 OK\r\n");
      std::istringstream lines(got);
      for (std::string line; std::getline(lines, line) && line != "\r";) {
        for (const char* h : {"Via:", "From:", "To:", "Call-ID:", "CSeq:"})
          if (line.rfind(h, 0) == 0) {
            if (line.back() == '\r') line.pop_back();
            if (invite && std::string(h) == "To:") line += ";tag=trunk";
            reply += line + "\r\n";
          }
      }
      reply += "Content-Length: 0\r\n\r\n";
      sink_.reply(reply);
    }
  }
  UdpSink sink_;
  int status_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST_F(SipTest, UnreachableTrunkIsSkippedAndTheRouteGoesOnAtOnce) {
  int dead = dialtone::testing::free_port();
  int live = dialtone::testing::free_port();
  std::string dead_name = "dead-" + std::to_string(dead);
  auto t1 = add_trunk(dead_name, dead, "default");
  auto t2 = add_trunk("live-" + std::to_string(live), live, "default");
  auto route = host_->sql(
      "INSERT INTO confd_outcalls (name, priority, patterns) VALUES ('qualify-' || $1, 1, "
      "'[{\"pattern\":\"0XXXXXXXXX\"}]') RETURNING id", {std::to_string(dead)});
  host_->sql("INSERT INTO confd_outcall_trunks VALUES ($1::int, $2::int, 1), ($1::int, $3::int, 2)",
             {route, t1, t2});
  UdpSink dead_trunk(dead);  // takes the probes and never answers
  TrunkResponder live_trunk(live, 486);
  start({{"qualify.interval", "1s"}, {"qualify.timeout", "300ms"}});
  ASSERT_TRUE(host_->test_bus().wait_for("sip.trunk." + dead_name + ".unreachable", std::chrono::seconds(15)));
  EXPECT_TRUE(host_->logger().contains("trunk " + dead_name));

  // The busy answer can only come from the second trunk: the first one is
  // not rung (rung, it would hold the call until its ring time).
  std::string out;
  EXPECT_EQ(call("uac_call_486.xml", "0123456789", &out), 0) << out;
  auto seen = dead_trunk.drain();
  EXPECT_NE(seen.find("OPTIONS sip:"), std::string::npos);
  EXPECT_EQ(seen.find("INVITE sip:"), std::string::npos);
  host_->sql("DELETE FROM confd_outcalls WHERE id = $1::int", {route});
}

TEST_F(SipTest, GroupWithNoRegisteredMemberGives480) {
  auto kate = host_->add_line("kate", "katepw", "1045");
  host_->add_group("night", "all", {kate}, "2303");
  std::string out;
  EXPECT_EQ(call("uac_call_480.xml", "2303", &out), 0) << out;
}

// ---- what confd stores, applied to SIP calls (docs/admin/groups.md,
// schedules.md, call-permissions.md) ------------------------------------------

// Nobody answers the group in its ring time: the call goes to the group's
// no-answer fallback, a user whose phone answers.
TEST_F(SipTest, GroupNoAnswerGoesToItsNoAnswerFallback) {
  auto quinn = host_->add_line("quinn", "quinnpw", "1061");
  auto rita = host_->add_line("rita", "ritapw", "1062");
  auto g = host_->add_group("fallback", "all", {quinn}, "2320");
  host_->sql("UPDATE confd_groups SET timeout = 2, user_timeout = 0, fallbacks = jsonb_build_object("
             "'noanswer_destination', jsonb_build_object('type', 'user', 'user_id', $2::int)) WHERE id = $1::int",
             {g, rita});
  std::string out, rita_out;
  std::future<int> answering;
  // quinn rings its 2 s, then is cancelled.
  ASSERT_NO_FATAL_FAILURE(
      two_phones("quinn", "uas_ring_cancel.xml", "rita", "uas_answer.xml", &answering, &rita_out));
  EXPECT_EQ(call("uac_call_hangup.xml", "2320", &out), 0) << out;
  EXPECT_EQ(callee_.get(), 0) << callee_out_;
  EXPECT_EQ(answering.get(), 0) << rita_out;
  EXPECT_TRUE(host_->logger().contains("group fallback's noanswer fallback sends it to user " + rita));
}

// A DID whose incall is closed (a Sunday, the schedule opens on weekdays)
// reaches the schedule's closed destination; the incall's own user is not
// rung.
TEST_F(SipTest, ClosedIncallScheduleSendsTheCallToTheClosedDestination) {
  host_->sql("INSERT INTO confd_contexts (name, type) VALUES ('from-extern', 'incall') ON CONFLICT DO NOTHING");
  auto sam = host_->add_line("sam", "sampw", "1063");
  auto tess = host_->add_line("tess", "tesspw", "1064");
  int trunk_port = dialtone::testing::free_port();
  add_trunk("sched-provider-" + std::to_string(trunk_port), trunk_port, "from-extern");
  start({});
  auto incall = host_->sql("INSERT INTO confd_incalls (destination) VALUES (json_build_object('type', 'user', "
                           "'user_id', $1::int)) RETURNING id", {sam});
  auto x = host_->sql("INSERT INTO confd_extensions (exten, context) VALUES ('6101', 'from-extern') RETURNING id");
  host_->sql("INSERT INTO confd_incall_extensions VALUES ($1::int, $2::int)", {incall, x});
  auto s = host_->sql("INSERT INTO confd_schedules (name, timezone, open_periods, closed_destination) VALUES "
                      "('weekdays', 'Europe/Paris', '[{\"hours_start\": \"08:00\", \"hours_end\": \"19:00\", "
                      "\"week_days\": [1, 2, 3, 4, 5]}]', json_build_object('type', 'user', 'user_id', $1::int)) "
                      "RETURNING id", {tess});
  host_->sql("INSERT INTO confd_incall_schedules VALUES ($1::int, $2::int)", {incall, s});
  using namespace std::chrono;
  host_->set_time(sys_days{year{2026} / 7 / 19} + hours{10});  // Sunday noon in Paris

  std::string out;
  int sam_port = dialtone::testing::free_port();
  UdpSink sam_phone(sam_port);
  int tess_port = callee("uas_answer.xml");
  ASSERT_EQ(register_line("sam", "sampw", sam_port, &out), 0) << out;
  ASSERT_EQ(register_line("tess", "tesspw", tess_port, &out), 0) << out;
  EXPECT_EQ(run_sipp({target_, "-sf", scenario("trunk_call.xml"), "-s", "6101", "-i", "127.0.0.1", "-p",
                      std::to_string(trunk_port), "-m", "1", "-timeout", "25s", "-timeout_error"},
                     &out),
            0)
      << out;
  EXPECT_EQ(callee_.get(), 0) << callee_out_;
  EXPECT_EQ(sam_phone.drain().find("INVITE sip:"), std::string::npos) << "the incall's own user is not rung";
}

// A permission on a group the caller belongs to refuses the number (seed
// 5.5.2, "denying a user of a group").
TEST_F(SipTest, GroupCallPermissionRefusesItsMembersWith403) {
  auto uma = host_->add_line("uma", "umapw", "1065");
  host_->add_line("vic", "vicpw", "1066");
  auto g = host_->add_group("interns", "all", {uma}, "");
  auto rule = host_->sql("INSERT INTO confd_callpermissions (name, extensions) VALUES ('interns-not-vic', '[\"1066\"]') "
                         "RETURNING id");
  host_->sql("INSERT INTO confd_group_callpermissions VALUES ($1::int, $2::int)", {g, rule});
  std::string out;
  EXPECT_EQ(client("uac_call_forbidden.xml", {"-s", "1066", "-au", "uma", "-ap", "umapw", "-key", "user", "uma"}, &out), 0)
      << out;
  EXPECT_TRUE(host_->logger().contains("call permission 'interns-not-vic'"));
}

}  // namespace
