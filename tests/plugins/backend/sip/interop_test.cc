// The SIP interop corpus: call flows as three real implementations send
// them (scenarios/interop/), against the plugin, each flow both ways:
//
//   Asterisk 18 chan_pjsip  P-Asserted-Identity, 100rel supported, timers
//   FreeSWITCH 1.10         Remote-Party-ID, 183 early media, Q.850 Reason
//   a provider's SBC        Require: 100rel (PRACK), Privacy: id, Diversion,
//                           History-Info, UPDATE before the answer
//
// and the caller ID each side gets (seeds 5.19.7-5.19.8): an incoming call
// shows its asserted identity only from a trunk with trustrpid = yes, and is
// hidden from the phone under Privacy: id; an outgoing call presents the
// route's caller ID, a user's custom one over it, Anonymous with the number
// in P-Asserted-Identity, and the identity header the trunk's sendrpid asks.
#include <future>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/plugins/backend/sip/sip_fixture.h"

using dialtone::testing::free_port;
using dialtone::testing::SipPluginTest;

namespace {

// The value a scenario logged as "<key>=<value>" (to the end of the line).
std::string logged(const std::string& out, const std::string& key) {
  std::smatch m;
  if (std::regex_search(out, m, std::regex(key + "=([^\\r\\n]*)"))) return m[1];
  return {};
}

bool has(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

class InteropTest : public SipPluginTest {
 protected:
  static void SetUpTestSuite() {
    make_host({{"alice", "1001"}, {"bob", "1002"}});
    host_->sql("INSERT INTO confd_contexts (name, type) VALUES ('from-extern', 'incall') ON CONFLICT DO NOTHING");
    auto incall = host_->sql(
        "INSERT INTO confd_incalls (destination) VALUES (json_build_object('type', 'user', 'user_id', $1::int)) "
        "RETURNING id",
        {user_ids_["bob"]});
    for (auto* did : {"5012", "0155555012"}) {
      auto x = host_->sql("INSERT INTO confd_extensions (exten, context) VALUES ($1, 'from-extern') RETURNING id", {did});
      host_->sql("INSERT INTO confd_incall_extensions VALUES ($1::int, $2::int)", {incall, x});
    }
    // Seed 5.19.8: the route presents "XIVO" <5555> unless the user says otherwise.
    route_ = host_->sql(
        "INSERT INTO confd_outcalls (name, priority, patterns) VALUES ('interop', 1, "
        "'[{\"pattern\":\"0XXXXXXXXX\",\"caller_id\":\"\\\"XIVO\\\" <5555>\"}]') RETURNING id");
  }
  void TearDown() override {
    SipPluginTest::TearDown();
    host_->sql("DELETE FROM confd_outcall_trunks");
    host_->sql("DELETE FROM confd_trunks");
    host_->sql("DELETE FROM confd_endpoints_sip WHERE type = 'peer'");
    host_->sql("UPDATE confd_users SET outgoing_caller_id = NULL");
  }

  // A trunk on a free port with endpoint `options`, the route's only trunk;
  // the plugin started with it (trunks are read at start), not probing it.
  int trunk(const std::string& name, const std::string& options) {
    int port = free_port();
    auto id = add_peer_trunk(name, "127.0.0.1:" + std::to_string(port), "from-extern", options);
    host_->sql("INSERT INTO confd_outcall_trunks VALUES ($1::int, $2::int, 1)", {route_, id});
    start_plugin({{"qualify.interval", "0"}});
    return port;
  }

  // The peer on `port` calls DID `did` running `file`; bob's phone answers
  // (phone_answer.xml, messages traced). Both must pass.
  void call_in(const std::string& file, int port, const std::string& did) {
    Phone bob;
    ASSERT_NO_FATAL_FAILURE(callee(bob, "bob", "interop/phone_answer.xml", 1, {"-trace_msg"}));
    std::string out;
    auto peer_rc = peer(file, port, &out, {"-s", did}, target_);
    EXPECT_EQ(peer_rc.get(), 0) << out;
    EXPECT_EQ(bob.finish(), 0) << bob.out;
    bob_out_ = bob.out;
    expect_idle();
  }

  // alice dials 0123456789 running `caller_file`; the trunk's peer on
  // `port` answers running `file`. Both must pass.
  void call_out(const std::string& file, int port, const std::string& caller_file) {
    auto peer_rc = peer(file, port, &peer_out_);
    EXPECT_EQ(client(caller_file, {"-s", "0123456789", "-au", "alice", "-ap", "alicepw", "-key", "user", "alice"},
                     &caller_out_),
              0)
        << caller_out_;
    EXPECT_EQ(peer_rc.get(), 0) << peer_out_;
    expect_idle();
  }

  static inline std::string route_;
  std::string bob_out_, peer_out_, caller_out_;
};

// ---- incoming: the peer calls a DID of the trunk's context ----------------

TEST_F(InteropTest, AsteriskCallerIsShownByItsAssertedIdentityFromATrustedTrunk) {
  int port = trunk("asterisk", R"([["trustrpid", "yes"]])");
  ASSERT_NO_FATAL_FAILURE(call_in("interop/asterisk_call_in.xml", port, "5012"));
  auto from = logged(bob_out_, "FROM");
  EXPECT_TRUE(has(from, "\"Carla Asterisk\"") && has(from, "<sip:0612345678@")) << bob_out_;
}

TEST_F(InteropTest, AnUntrustedTrunksAssertedIdentityIsIgnoredForItsFrom) {
  // trustrpid defaults to no, as in XiVO: the From names the caller.
  int port = trunk("asterisk", "[]");
  ASSERT_NO_FATAL_FAILURE(call_in("interop/asterisk_call_in.xml", port, "5012"));
  auto from = logged(bob_out_, "FROM");
  EXPECT_TRUE(has(from, "<sip:astrunk@")) << bob_out_;
  EXPECT_FALSE(has(from, "0612345678")) << bob_out_;
}

TEST_F(InteropTest, FreeSwitchCallerIsShownByItsRemotePartyIdFromATrustedTrunk) {
  int port = trunk("freeswitch", R"([["trustrpid", "yes"]])");
  ASSERT_NO_FATAL_FAILURE(call_in("interop/freeswitch_call_in.xml", port, "5012"));
  auto from = logged(bob_out_, "FROM");
  EXPECT_TRUE(has(from, "\"Fred Switch\"") && has(from, "<sip:0698765432@")) << bob_out_;
}

TEST_F(InteropTest, SbcsAnonymousForwardedCallIsPrackedAndHiddenFromThePhone) {
  int port = trunk("sbc", R"([["trustrpid", "yes"]])");
  ASSERT_NO_FATAL_FAILURE(call_in("interop/sbc_call_in.xml", port, "0155555012"));
  auto from = logged(bob_out_, "FROM");
  EXPECT_TRUE(has(from, "Anonymous") && has(from, "anonymous.invalid")) << bob_out_;
  // Privacy: id: the asserted number reaches no phone, in no header.
  EXPECT_FALSE(has(bob_out_, "612345678")) << bob_out_;
  EXPECT_EQ(logged(bob_out_, "ASSERTED"), "") << bob_out_;
}

// ---- outgoing: alice calls through the route to the peer ------------------

TEST_F(InteropTest, AsteriskGetsTheRoutesCallerIdAssertedWithSendrpidPai) {
  int port = trunk("asterisk", R"([["sendrpid", "pai"]])");
  ASSERT_NO_FATAL_FAILURE(call_out("interop/asterisk_answer.xml", port, "uac_call_hangup.xml"));
  EXPECT_TRUE(has(logged(peer_out_, "FROM"), "\"XIVO\" <sip:5555@")) << peer_out_;
  EXPECT_TRUE(has(logged(peer_out_, "ASSERTED"), "P-Asserted-Identity: \"XIVO\" <sip:5555@")) << peer_out_;
  EXPECT_EQ(logged(peer_out_, "PRIVACY"), "") << peer_out_;
}

TEST_F(InteropTest, FreeSwitchEarlyMediaReachesTheCallerAndTheUsersCallerIdWins) {
  host_->sql("UPDATE confd_users SET outgoing_caller_id = '\"Alice Pro\" <0177777777>' WHERE firstname = 'alice'");
  int port = trunk("freeswitch", R"([["sendrpid", "rpid"]])");
  ASSERT_NO_FATAL_FAILURE(call_out("interop/freeswitch_answer.xml", port, "interop/caller_early_media.xml"));
  EXPECT_TRUE(has(logged(caller_out_, "EARLY"), "m=audio")) << caller_out_;
  auto from = logged(peer_out_, "FROM");
  EXPECT_TRUE(has(from, "\"Alice Pro\"") && has(from, "<sip:0177777777@")) << peer_out_;
  auto rpid = logged(peer_out_, "ASSERTED");
  EXPECT_TRUE(has(rpid, "Remote-Party-ID: \"Alice Pro\" <sip:0177777777@") && has(rpid, "party=calling") &&
              has(rpid, "privacy=off"))
      << peer_out_;
}

TEST_F(InteropTest, SbcsReliable183AndUpdateBeforeTheAnswerCarryAnAnonymousCall) {
  host_->sql("UPDATE confd_users SET outgoing_caller_id = 'anonymous' WHERE firstname = 'alice'");
  int port = trunk("sbc", R"([["sendrpid", "pai"]])");
  ASSERT_NO_FATAL_FAILURE(call_out("interop/sbc_answer.xml", port, "interop/caller_early_media.xml"));
  EXPECT_TRUE(has(logged(caller_out_, "EARLY"), "m=audio")) << caller_out_;
  EXPECT_TRUE(has(logged(peer_out_, "UPDATE_ANSWER"), "m=audio")) << peer_out_;
  // Seed 5.19.8: anonymous, the route's number asserted with Privacy: id.
  EXPECT_TRUE(has(logged(peer_out_, "FROM"), "anonymous.invalid")) << peer_out_;
  EXPECT_TRUE(has(logged(peer_out_, "ASSERTED"), "<sip:5555@")) << peer_out_;
  EXPECT_TRUE(has(logged(peer_out_, "PRIVACY"), "id")) << peer_out_;
}

TEST_F(InteropTest, BadTrustAndSendOptionsAreReportedOnce) {
  auto before = host_->logger().lines().size();
  trunk("typo", R"([["trustrpid", "maybe"], ["sendrpid", "pia"]])");
  // The options are read with the trunks when a call comes in: two calls
  // to a number without a route, one report.
  std::string out;
  for (int i = 0; i < 2; ++i)
    EXPECT_EQ(client("uac_call_404.xml", {"-s", "999", "-au", "alice", "-ap", "alicepw", "-key", "user", "alice"}, &out),
              0)
        << out;
  auto lines = host_->logger().lines();
  std::size_t trust = 0, send = 0;
  for (auto i = before; i < lines.size(); ++i) {
    trust += has(lines[i], "trunk typo: trustrpid \"maybe\" is neither yes nor no");
    send += has(lines[i], "trunk typo: sendrpid \"pia\" is not one of no, pai, yes, rpid");
  }
  EXPECT_EQ(trust, 1u);
  EXPECT_EQ(send, 1u);
}

}  // namespace
