// Call features of backend.sip with SIPp on 127.0.0.1: hold and resume by
// re-INVITE through the RTP relay, and trunks registering to a provider.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <regex>
#include <thread>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "tests/plugins/backend/sip/sip_fixture.h"

using dialtone::testing::free_port;
using dialtone::testing::run_sipp;
using dialtone::testing::TwoPartyCallTest;
using dialtone::testing::scenario;
using dialtone::testing::eventually;
using dialtone::testing::wait_udp_bound;

namespace {

// The value logged by a scenario as "<key>=<value>".
std::string logged(const std::string& out, const std::string& key) {
  std::smatch m;
  if (std::regex_search(out, m, std::regex(key + "=([0-9]+)"))) return m[1];
  return {};
}

class CallFeaturesTest : public TwoPartyCallTest {
 protected:
  void start_plugin() {
    TwoPartyCallTest::start_plugin({{"sip.node", "features-test"},
                                    {"rtp.bind", "127.0.0.2"},
                                    {"rtp.port_min", "27000"},
                                    {"rtp.port_max", "27999"}});
  }
};

TEST_F(CallFeaturesTest, HoldAndResumeReachTheCalleeOnTheSameRelayPort) {
  ASSERT_NO_FATAL_FAILURE(start_plugin());
  auto free_pairs = plugin_->media_free_pairs();
  // uas_hold.xml checks the re-INVITEs carry a=sendonly then a=sendrecv with
  // the relay's address; uac_call_hold.xml checks the answers (recvonly, sendrecv).
  ASSERT_NO_FATAL_FAILURE(callee("uas_hold.xml"));
  std::string out;
  const auto before = host_->test_bus().events().size();
  EXPECT_EQ(caller("uac_call_hold.xml", &out), 0) << out;
  // The call core saw the caller hold then resume, on the caller's channel.
  // (Published by the core's own thread: read once both are there.)
  std::vector<std::string> holds;
  dialtone::testing::eventually([&] {
    holds.clear();
    auto events = host_->test_bus().events();
    for (auto i = before; i < events.size(); ++i)
      if (events[i].topic == "calls.channel.held" || events[i].topic == "calls.channel.unheld")
        holds.push_back(events[i].topic.substr(14) + ":" +
                        (events[i].body.find("\"direction\":\"inbound\"") != std::string::npos ? "caller" : "callee"));
    return holds.size() >= 2;
  });
  EXPECT_EQ(holds, (std::vector<std::string>{"held:caller", "unheld:caller"}));
  EXPECT_EQ(bob_.finish(), 0) << bob_.out;
  auto p0 = logged(bob_.out, "PORT0");
  ASSERT_FALSE(p0.empty()) << bob_.out;
  EXPECT_EQ(logged(bob_.out, "PORT1"), p0) << "the hold re-INVITE moved the relay port";
  EXPECT_EQ(logged(bob_.out, "PORT2"), p0) << "the resume re-INVITE moved the relay port";
  EXPECT_TRUE(eventually([&] { return plugin_->active_calls() == 0; }));
  EXPECT_EQ(plugin_->media_free_pairs(), free_pairs);
}

TEST_F(CallFeaturesTest, TrunkRegistersWithDigestAndRefreshesBeforeExpiry) {
  // The provider: a SIPp registrar that challenges, checks the digest for
  // trunkuser/trunkpw and grants 10 s; its second REGISTER must come within 10 s.
  int registrar = free_port();
  std::string out;
  auto provider = std::async(std::launch::async, [&] {
    return run_sipp({"-sf", scenario("registrar_challenge.xml"), "-i", "127.0.0.1", "-p",
                     std::to_string(registrar), "-m", "1", "-timeout", "35s", "-timeout_error"},
                    &out);
  });
  wait_udp_bound(registrar);
  auto id = host_->sql(
      "INSERT INTO confd_endpoints_sip (username, secret, type, host, options) "
      "VALUES ('trunkuser', 'trunkpw', 'peer', $1, "
      "'[[\"outbound_register\", \"yes\"], [\"register_expires\", \"10\"]]') RETURNING id",
      {"127.0.0.1:" + std::to_string(registrar)});
  host_->sql("INSERT INTO confd_trunks (endpoint_sip_id) VALUES ($1::int)", {id});
  ASSERT_NO_FATAL_FAILURE(start_plugin());
  auto ev = host_->test_bus().wait_for("sip.trunk.trunkuser.registered", std::chrono::seconds(10));
  EXPECT_TRUE(ev.has_value()) << "no registered event";
  EXPECT_EQ(plugin_->trunk_registrations()["trunkuser"], "registered");
  EXPECT_EQ(provider.get(), 0) << out;
  host_->sql("DELETE FROM confd_trunks");
  host_->sql("DELETE FROM confd_endpoints_sip WHERE username = 'trunkuser'");
}

TEST_F(CallFeaturesTest, WrongTrunkCredentialsAreReportedOnTheBusAndInTheLog) {
  int registrar = free_port();
  std::string out;
  auto provider = std::async(std::launch::async, [&] {
    return run_sipp({"-sf", scenario("registrar_challenge.xml"), "-i", "127.0.0.1", "-p",
                     std::to_string(registrar), "-m", "1", "-timeout", "8s"},
                    &out);
  });
  wait_udp_bound(registrar);
  auto id = host_->sql(
      "INSERT INTO confd_endpoints_sip (username, secret, type, host, options) "
      "VALUES ('trunkuser', 'wrongpw', 'peer', $1, '[[\"outbound_register\", \"yes\"]]') RETURNING id",
      {"127.0.0.1:" + std::to_string(registrar)});
  host_->sql("INSERT INTO confd_trunks (endpoint_sip_id) VALUES ($1::int)", {id});
  ASSERT_NO_FATAL_FAILURE(start_plugin());
  // The registrar answers the wrong digest with 403.
  auto ev = host_->test_bus().wait_for("sip.trunk.trunkuser.failed", std::chrono::seconds(10));
  EXPECT_TRUE(ev.has_value()) << "no failed event";
  EXPECT_EQ(plugin_->trunk_registrations()["trunkuser"], "failed");
  EXPECT_NE(provider.get(), 0);
  EXPECT_TRUE(host_->logger().contains("check the trunk's username and secret"));
  host_->sql("DELETE FROM confd_trunks");
  host_->sql("DELETE FROM confd_endpoints_sip WHERE username = 'trunkuser'");
}

// A trunk's name and host come from confd as typed, the detail from the
// stack: a quote in any of them must leave the event valid JSON carrying them.
TEST_F(CallFeaturesTest, TrunkEventWithQuotesInNameHostAndDetailIsValidJson) {
  auto id = host_->sql(
      "INSERT INTO confd_endpoints_sip (username, secret, type, host, options) "
      "VALUES ('trunk\"q', 'pw', 'peer', 'bad\"host', '[[\"outbound_register\", \"yes\"]]') RETURNING id");
  host_->sql("INSERT INTO confd_trunks (endpoint_sip_id) VALUES ($1::int)", {id});
  ASSERT_NO_FATAL_FAILURE(start_plugin());
  auto ev = host_->test_bus().wait_for("sip.trunk.trunk\"q.failed", std::chrono::seconds(10));
  ASSERT_TRUE(ev.has_value()) << "no failed event";
  rapidjson::Document d;
  d.Parse(ev->body.c_str());
  ASSERT_FALSE(d.HasParseError()) << ev->body;
  EXPECT_STREQ(d["trunk"].GetString(), "trunk\"q");
  EXPECT_STREQ(d["host"].GetString(), "bad\"host");
  EXPECT_STREQ(d["detail"].GetString(), "registrar answered 503") << ev->body;
  EXPECT_EQ(d["status"].GetInt(), 503) << ev->body;
  // The stack's own details hold no quote; a registrar's could: the event the
  // plugin publishes for one carries it unchanged.
  dialtone::plugins::backend::sip::TrunkRegistration trunk;
  trunk.name = "trunk\"q";
  trunk.host = "bad\"host";
  auto seen = host_->test_bus().events().size();
  static_cast<dialtone::plugins::backend::sip::SipBackend&>(*plugin_).registration_changed(
      trunk, false, 403, "said \"no\" \\ twice");
  // The test bus records synchronously; the stack's own retries say 503.
  std::string body;
  auto events = host_->test_bus().events();
  for (auto i = seen; i < events.size(); ++i)
    if (events[i].topic == "sip.trunk.trunk\"q.failed" && events[i].body.find("403") != std::string::npos)
      body = events[i].body;
  d.Parse(body.c_str());
  ASSERT_FALSE(d.HasParseError()) << body;
  EXPECT_STREQ(d["detail"].GetString(), "said \"no\" \\ twice");
  EXPECT_EQ(d["status"].GetInt(), 403);
  host_->sql("DELETE FROM confd_trunks");
  host_->sql("DELETE FROM confd_endpoints_sip WHERE username = 'trunk\"q'");
}

}  // namespace
