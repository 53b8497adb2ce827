// Two Dialtone servers interconnected as seed 5.19.1 "Interconnect two XiVO
// directly" describes: two real dialtoned, each on its own database and SIP
// port, configured only through their confd REST APIs. On each side:
//
//   trunk "xivo-trunk" to the other server, its incoming calls in context
//     from-extern (type incall), where DID 10x leads to the local user;
//   outgoing route "to-other-xivo": pattern **99. RegExp .{4}(.*) Target \1
//     (the seed's own) through that trunk, attached to to-extern, which the
//     users' context default includes.
//
// Server A has Alice Aubert (1001, DID 101), server B Bruno Bernard (1002,
// DID 102). SIPp plays their phones: each registers on its own server and
// calls the other by **99 + DID; the rung phone must see the caller's name
// and number as its own server knows them.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <sstream>
#include <string>

#include "tests/integration/support/confd_admin.h"
#include "tests/integration/support/dialtoned_fixture.h"
#include "tests/support/udp_ports.h"

namespace {

namespace fs = std::filesystem;
using dialtone::testing::ConfdAdmin;
using dialtone::testing::Dialtoned;
using dialtone::testing::free_tcp_udp_port;
using dialtone::testing::SippPhones;
using dialtone::testing::wait_udp_bound;

// One of the two servers: its dialtoned, its admin, its phones.
struct Server {
  int sip_port = 0;
  std::unique_ptr<Dialtoned> d;
  std::unique_ptr<ConfdAdmin> admin;
  SippPhones phones;
};

class InterconnectE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    work_ = fs::temp_directory_path() / ("dt-int-interco-" + std::to_string(::getpid()));
    fs::create_directories(work_);
    a_.sip_port = free_tcp_udp_port();
    b_.sip_port = free_tcp_udp_port();
    ASSERT_NO_FATAL_FAILURE(start(a_, "xivo-a"));
    ASSERT_NO_FATAL_FAILURE(start(b_, "xivo-b"));
    ASSERT_NO_FATAL_FAILURE(configure(a_, b_.sip_port, "1001", "Alice", "Aubert", "alice", "101"));
    ASSERT_NO_FATAL_FAILURE(configure(b_, a_.sip_port, "1002", "Bruno", "Bernard", "bruno", "102"));
  }
  void TearDown() override {
    for (auto* s : {&a_, &b_}) {
      s->admin.reset();
      s->d.reset();
    }
    std::error_code ec;
    fs::remove_all(work_, ec);
  }

  void start(Server& s, const std::string& node) {
    auto sip_conf = dialtone::testing::sip_plugin_conf(s.sip_port, node);
    s.d = std::make_unique<Dialtoned>(dialtone::testing::DialtonedOptions{
        .plugin_files = {{"40-sip.conf", sip_conf}, {"50-confd.conf", "[plugin]\nname = api.confd\n"}}});
    ASSERT_TRUE(s.d->ready()) << s.d->error();
    s.admin = std::make_unique<ConfdAdmin>(*s.d);
    s.phones = SippPhones{work_, s.sip_port, INTEGRATION_SCENARIOS};
  }

  // The seed's configuration, the same on both sides but for the user.
  void configure(Server& s, int other_port, const std::string& exten, const std::string& first,
                 const std::string& last, const std::string& username, const std::string& did) {
    auto& a = *s.admin;
    a.context(R"({"name":"default","type":"internal","user_ranges":[{"start":"1000","end":"1099"}]})");
    a.context(R"({"name":"from-extern","type":"incall","incall_ranges":[{"start":"100","end":"199"}]})");
    a.context(R"({"name":"to-extern","type":"outcall"})");
    a.include("default", "to-extern");
    auto user = a.user_line(exten, first, last, username, username + "pw", "default");
    a.incall(did, "from-extern", R"({"type":"user","user_id":)" + user + "}");
    auto trunk = a.trunk("xivo-trunk", "127.0.0.1:" + std::to_string(other_port), "from-extern");
    a.outcall("to-other-xivo", 1, R"j([{"pattern":"**99.","regexp":".{4}(.*)","target":"\\1"}])j", trunk,
              "to-extern");
    ASSERT_FALSE(HasFailure());
  }

  // `callee` (on `to`) answers on a SIPp phone whose received messages go
  // to `trace`; `caller` (on `from`) dials `number` and hangs up. Both
  // scenarios must pass; the callee's messages are returned.
  std::string call(Server& from, const std::string& caller, Server& to, const std::string& callee,
                   const std::string& number, const std::string& trace) {
    int callee_port = free_tcp_udp_port();
    std::string out;
    EXPECT_EQ(to.phones.register_line(callee, callee + "pw", callee_port, &out), 0) << out;
    auto file = (work_ / trace).string();
    auto uas = std::async(std::launch::async, [&to, callee_port, file] {
      std::string o;
      int rc = to.phones.run("-sf " + to.phones.scenario("uas_answer.xml") + " -p " + std::to_string(callee_port) +
                                 " -trace_msg -message_file " + file,
                             &o);
      return std::make_pair(rc, o);
    });
    EXPECT_TRUE(wait_udp_bound(callee_port)) << "the callee's phone did not bind";
    int rc = from.phones.client("-sf " + from.phones.scenario("uac_call_hangup.xml") + " -s " + number + " -au " +
                                    caller + " -ap " + caller + "pw -key user " + caller,
                                &out);
    EXPECT_EQ(rc, 0) << out << from.d->output() << to.d->output();
    auto [uas_rc, uas_out] = uas.get();
    EXPECT_EQ(uas_rc, 0) << uas_out;
    std::stringstream ss;
    ss << std::ifstream(file).rdbuf();
    return ss.str();
  }

  // The From header of the first INVITE in a SIPp message trace.
  static std::string invite_from(const std::string& trace) {
    auto invite = trace.find("INVITE sip:");
    if (invite == std::string::npos) return {};
    auto at = trace.find("\nFrom:", invite);
    if (at == std::string::npos) return {};
    return trace.substr(at + 1, trace.find('\n', at + 1) - at - 1);
  }

  fs::path work_;
  Server a_, b_;
};

TEST_F(InterconnectE2E, AUserOfAReachesAUserOfBWithHerCallerId) {
  auto trace = call(a_, "alice", b_, "bruno", "**99102", "bruno.msg");
  auto from = invite_from(trace);
  EXPECT_NE(from.find("\"Alice Aubert\""), std::string::npos) << trace;
  EXPECT_NE(from.find("<sip:1001@"), std::string::npos) << trace;
}

TEST_F(InterconnectE2E, AUserOfBReachesAUserOfAWithHisCallerId) {
  auto trace = call(b_, "bruno", a_, "alice", "**99101", "alice.msg");
  auto from = invite_from(trace);
  EXPECT_NE(from.find("\"Bruno Bernard\""), std::string::npos) << trace;
  EXPECT_NE(from.find("<sip:1002@"), std::string::npos) << trace;
}

TEST_F(InterconnectE2E, ADidTheOtherSideDoesNotServeIsRefusedThroughTheTrunk) {
  // B has no incall on 109: A's caller hears the refusal, nobody rings.
  std::string out;
  int rc = a_.phones.client("-sf " + a_.phones.scenario("uac_call_404.xml") +
                                " -s **99109 -au alice -ap alicepw -key user alice",
                            &out);
  EXPECT_EQ(rc, 0) << out << b_.d->output();
}

}  // namespace
