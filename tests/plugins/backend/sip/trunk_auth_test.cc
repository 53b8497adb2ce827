// Outgoing calls through trunks whose provider challenges (SIPp providers on
// 127.0.0.1): the 401/407 answered with the trunk's credentials on INVITE and
// BYE, MD5 and SHA-256, the provider's realm; refused credentials reported
// once and failed over; the trunk's failover_codes deciding the route.
#include <future>
#include <map>
#include <regex>
#include <string>

#include <gtest/gtest.h>

#include "plugins/backend/sip/trunk_auth.h"
#include "tests/plugins/backend/sip/digest_client.h"
#include "tests/plugins/backend/sip/sip_fixture.h"

namespace sip = dialtone::plugins::backend::sip;
using dialtone::testing::digest_params;
using dialtone::testing::free_port;
using dialtone::testing::qop_auth_response;
using dialtone::testing::run_sipp;
using dialtone::testing::scenario;
using dialtone::testing::SipPluginTest;
using dialtone::testing::wait_udp_bound;

namespace {

// RFC 7616 qop=auth response, computed here independently of the plugin.
std::string expected_response(const std::map<std::string, std::string>& p, const std::string& method,
                              const std::string& password) {
  return qop_auth_response(p.count("algorithm") ? p.at("algorithm") : "MD5", p.at("username"), p.at("realm"),
                           password, method, p.at("uri"), p.at("nonce"), p.at("nc"), p.at("cnonce"));
}

// The value a scenario logged as "<key>=<value>" (to the end of the line).
std::string logged(const std::string& out, const std::string& key) {
  std::smatch m;
  if (std::regex_search(out, m, std::regex(key + "=([^\\r\\n]+)"))) return m[1];
  return {};
}

// What the provider scenario logged of the INVITE `which` ("INVITE1").
struct LoggedInvite {
  long cseq = -1;
  std::string call_id;
  std::string from_tag;
};
LoggedInvite logged_invite(const std::string& out, const std::string& which) {
  std::smatch m;
  if (!std::regex_search(out, m, std::regex(which + " CSEQ=([0-9]+) CALLID=([^ ]+) TAG=([^ \\r\\n]+)")))
    return {};
  return {std::stol(m[1]), m[2], m[3]};
}

class TrunkAuthTest : public SipPluginTest {
 protected:
  static void SetUpTestSuite() { make_host({{"alice", "1001"}}); }
  void TearDown() override {
    SipPluginTest::TearDown();
    host_->sql("DELETE FROM confd_outcalls");
    host_->sql("DELETE FROM confd_trunks");
    host_->sql("DELETE FROM confd_endpoints_sip WHERE type = 'peer'");
  }

  // A trunk to the provider on 127.0.0.1:`port` with these credentials and
  // endpoint options (a JSON list of pairs); its id.
  static std::string add_trunk(const std::string& username, const std::string& secret, int port,
                               const std::string& options = "[]") {
    return add_peer_trunk(username, "127.0.0.1:" + std::to_string(port), "default", options, secret);
  }

  // The route 0XXXXXXXXX of context default through `trunks`, in order.
  static void add_route(const std::vector<std::string>& trunks) {
    auto route = host_->sql(
        "INSERT INTO confd_outcalls (name, priority, patterns) VALUES ('provider', 1, "
        "'[{\"pattern\":\"0XXXXXXXXX\"}]') RETURNING id");
    for (std::size_t i = 0; i < trunks.size(); ++i)
      host_->sql("INSERT INTO confd_outcall_trunks VALUES ($1::int, $2::int, $3::int)",
                 {route, trunks[i], std::to_string(i + 1)});
  }

  // A SIPp provider running `file` on `port`, logging what the scenario logs.
  static std::future<int> provider(const std::string& file, int port, std::string* out) {
    return peer(file, port, out);
  }

  // Log lines containing `needle` since line `from`.
  static std::size_t logged_since(std::size_t from, const std::string& needle) {
    auto lines = host_->logger().lines();
    std::size_t n = 0;
    for (auto i = from; i < lines.size(); ++i) n += lines[i].find(needle) != std::string::npos;
    return n;
  }

  // Trunks are not probed: an OPTIONS would be a message the providers'
  // scenarios do not expect.
  void start() { ASSERT_NO_FATAL_FAILURE(start_plugin({{"qualify.interval", "0"}})); }

  // alice calls 0123456789 running `file`; its exit status.
  int call(const std::string& file, std::string* out) {
    return client(file, {"-s", "0123456789", "-au", "alice", "-ap", "alicepw", "-key", "user", "alice"},
                  out);
  }

  struct Trunk {
    std::string username, secret, options = "[]";
    std::string provider;  // the provider's scenario; empty: nothing listens there
  };
  // The route over `trunks`, in order, each to a provider on a free port;
  // alice calls through it running `call_file`. Every scenario must pass.
  void call_through(const std::vector<Trunk>& trunks, const std::string& call_file) {
    std::vector<int> ports;
    std::vector<std::string> ids;
    for (auto& t : trunks) {
      ports.push_back(free_port());
      ids.push_back(add_trunk(t.username, t.secret, ports.back(), t.options));
    }
    add_route(ids);
    ASSERT_NO_FATAL_FAILURE(start());
    std::vector<std::string> outs(trunks.size());
    std::vector<std::future<int>> providers;
    for (std::size_t i = 0; i < trunks.size(); ++i)
      providers.push_back(trunks[i].provider.empty() ? std::future<int>()
                                                     : provider(trunks[i].provider, ports[i], &outs[i]));
    std::string out;
    EXPECT_EQ(call(call_file, &out), 0) << out;
    for (std::size_t i = 0; i < trunks.size(); ++i) {
      if (providers[i].valid()) {
        EXPECT_EQ(providers[i].get(), 0) << trunks[i].username << ": " << outs[i];
      }
    }
  }
};

TEST_F(TrunkAuthTest, ChallengedInviteAndByeAreAnsweredWithTheTrunksCredentials) {
  int port = free_port();
  add_route({add_trunk("trunkuser", "trunkpw", port)});
  ASSERT_NO_FATAL_FAILURE(start());
  std::string prov_out, out;
  auto prov = provider("provider_challenge_invite_bye.xml", port, &prov_out);
  EXPECT_EQ(call("uac_call_hangup.xml", &out), 0) << out;
  // The provider verified the BYE's answer to its 401 itself.
  ASSERT_EQ(prov.get(), 0) << prov_out;

  // The INVITE answering the 407: same dialog, the next CSeq (RFC 3261 22.2).
  auto first = logged_invite(prov_out, "INVITE1");
  auto second = logged_invite(prov_out, "INVITE2");
  ASSERT_GE(first.cseq, 0) << prov_out;
  EXPECT_EQ(second.cseq, first.cseq + 1) << prov_out;
  EXPECT_EQ(second.call_id, first.call_id);
  EXPECT_EQ(second.from_tag, first.from_tag);
  auto auth = digest_params(logged(prov_out, "INVITE_AUTH"));
  ASSERT_TRUE(auth.count("response")) << prov_out;
  EXPECT_EQ(auth["username"], "trunkuser");
  EXPECT_EQ(auth["realm"], "provider.test");
  EXPECT_EQ(auth["qop"], "auth");
  EXPECT_EQ(auth["nc"], "00000001");
  EXPECT_EQ(auth["uri"], "sip:0123456789@127.0.0.1:" + std::to_string(port));
  EXPECT_EQ(auth["response"], expected_response(auth, "INVITE", "trunkpw")) << prov_out;
  expect_idle();
}

TEST_F(TrunkAuthTest, Sha256ChallengeInTheTrunksRealmIsTheOneAnswered) {
  int port = free_port();
  add_route({add_trunk("trunkuser", "trunkpw", port, R"([["auth_realm", "provider.test"]])")});
  ASSERT_NO_FATAL_FAILURE(start());
  std::string prov_out, out;
  auto prov = provider("provider_challenge_sha256.xml", port, &prov_out);
  EXPECT_EQ(call("uac_call_hangup.xml", &out), 0) << out;
  ASSERT_EQ(prov.get(), 0) << prov_out;
  auto auth = digest_params(logged(prov_out, "INVITE_AUTH"));
  ASSERT_TRUE(auth.count("response")) << prov_out;
  // The first challenge was in another realm: the second, SHA-256, is taken
  // over the MD5 one after it (the provider's preference, RFC 8760).
  EXPECT_EQ(auth["realm"], "provider.test");
  EXPECT_EQ(auth["algorithm"], "SHA-256");
  EXPECT_EQ(auth["opaque"], "op4que");
  EXPECT_EQ(auth["nonce"].rfind("sha", 0), 0u) << auth["nonce"];
  EXPECT_EQ(auth["response"], expected_response(auth, "INVITE", "trunkpw")) << prov_out;
  expect_idle();
}

TEST_F(TrunkAuthTest, RefusedCredentialsAreLoggedOnceAndTheRouteFailsOver) {
  auto log_from = host_->logger().lines().size();
  // The refusing provider's scenario ends after the answered challenge: a
  // third INVITE to it would fail it.
  ASSERT_NO_FATAL_FAILURE(call_through({{"trunkuser", "wrongpw", "[]", "provider_refuse.xml"},
                                        {"backup", "", "[]", "uas_answer.xml"}},
                                       "uac_call_hangup.xml"));
  EXPECT_EQ(logged_since(log_from, "refused the credentials of \"trunkuser\" for INVITE"), 1u);
  EXPECT_TRUE(host_->logger().contains("check the trunk's username and secret"));
  expect_idle();
}

TEST_F(TrunkAuthTest, RefusedCredentialsWithoutFailoverReachTheCallerAs403) {
  // The second trunk is never rung: 407 is not among the first's failover
  // codes. With a failover, its dead provider would have made it a 503.
  ASSERT_NO_FATAL_FAILURE(call_through({{"trunkuser", "wrongpw", R"([["failover_codes", "5xx, 408"]])", "provider_refuse.xml"},
                                        {"backup", "", "[]", ""}},
                                       "uac_call_forbidden.xml"));
  expect_idle();
}

TEST_F(TrunkAuthTest, ByDefaultA404FailsOverToTheNextTrunk) {
  ASSERT_NO_FATAL_FAILURE(call_through({{"first", "", "[]", "provider_404.xml"}, {"second", "", "[]", "uas_answer.xml"}},
                                       "uac_call_hangup.xml"));
  expect_idle();
}

TEST_F(TrunkAuthTest, FailoverCodesWithout404EndTheRouteOnIt) {
  // Nothing listens at the second trunk: a failover would end in 503.
  ASSERT_NO_FATAL_FAILURE(call_through({{"first", "", R"([["failover_codes", "5xx"]])", "provider_404.xml"},
                                        {"second", "", "[]", ""}},
                                       "uac_call_404.xml"));
  expect_idle();
}

TEST_F(TrunkAuthTest, BadFailoverCodesAreReportedOnceAndTheDefaultApplies) {
  auto log_from = host_->logger().lines().size();
  ASSERT_NO_FATAL_FAILURE(call_through({{"first", "", R"([["failover_codes", "404,busy"]])", "provider_404.xml"},
                                        {"second", "", "[]", "uas_answer.xml"}},
                                       "uac_call_hangup.xml"));
  EXPECT_EQ(logged_since(log_from, "failover_codes \"404,busy\" is not a list of SIP statuses"), 1u);
  expect_idle();
}

TEST(FailoverCodes, StatusesAndClasses) {
  auto c = sip::parse_failover_codes("404, 480,5xx");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->matches(404));
  EXPECT_TRUE(c->matches(480));
  EXPECT_TRUE(c->matches(503));
  EXPECT_FALSE(c->matches(486));
  EXPECT_FALSE(c->matches(603));
  EXPECT_FALSE(sip::parse_failover_codes(""));
  EXPECT_FALSE(sip::parse_failover_codes("404,busy"));
  EXPECT_FALSE(sip::parse_failover_codes("200"));
  EXPECT_FALSE(sip::parse_failover_codes("4044"));
  auto& d = sip::default_failover_codes();
  for (int code : {401, 403, 404, 407, 408, 480, 500, 503, 504}) EXPECT_TRUE(d.matches(code)) << code;
  for (int code : {486, 600, 603, 484}) EXPECT_FALSE(d.matches(code)) << code;
}

TEST(TrunkChallenge, FirstAnswerableInTheRealm) {
  std::vector<std::string> offered{
      R"(Digest realm="a", nonce="n1", algorithm=SHA-512-256)",
      R"(Digest realm="b", nonce="n2", algorithm=SHA-256)",
      R"(Digest realm="a", nonce="n3", algorithm=MD5, qop="auth")"};
  auto any = sip::pick_challenge(offered, "");
  ASSERT_TRUE(any);
  EXPECT_EQ(any->nonce, "n2");
  auto in_a = sip::pick_challenge(offered, "a");
  ASSERT_TRUE(in_a);
  EXPECT_EQ(in_a->nonce, "n3");
  EXPECT_FALSE(sip::pick_challenge(offered, "c"));
  EXPECT_TRUE(sip::answered_realm(
      {R"(Digest username="u", realm="a", nonce="n", uri="sip:x", response="00")"}, "a"));
  EXPECT_FALSE(sip::answered_realm(
      {R"(Digest username="u", realm="a", nonce="n", uri="sip:x", response="00")"}, "b"));
}

}  // namespace
