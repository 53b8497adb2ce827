// Dialtone behind NAT: with sip.local_net 127.0.0.0/29 and external
// addresses 203.0.113.10:5099 (signalling) and 203.0.113.11 (media), a
// trunk on 127.0.0.9 (outside) is told the external addresses in Via,
// Contact and SDP, while a caller on 127.0.0.1 (inside) sees the real ones.
// The SIPp scenarios check the headers and SDP they receive.
#include <chrono>
#include <future>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "plugins/backend/sip/external_address.h"
#include "tests/plugins/backend/sip/sip_fixture.h"

namespace sip = dialtone::plugins::backend::sip;
using dialtone::testing::free_port;
using dialtone::testing::run_sipp;
using dialtone::testing::scenario;
using dialtone::testing::SipPluginTest;

namespace {

sip::ExternalAddress parsed(const std::string& signaling, const std::string& media,
                            const std::vector<std::string>& nets) {
  auto r = sip::parse_external_address(signaling, 0, media, nets);
  EXPECT_TRUE(r) << r.error().message;
  return r ? *r : sip::ExternalAddress{};
}

TEST(ExternalAddress, PeersInTheLocalNetworksAreInsideOthersAndNamesOutside) {
  auto e = parsed("203.0.113.10:5099", "", {"192.168.0.0/16", "10.1.2.3", "fd00::/8", "127.0.0.0/29"});
  EXPECT_EQ(e.signaling_host, "203.0.113.10");
  EXPECT_EQ(e.signaling_port, 5099);
  EXPECT_EQ(e.media(), "203.0.113.10");
  EXPECT_FALSE(e.outside("192.168.44.1"));
  EXPECT_FALSE(e.outside("10.1.2.3"));
  EXPECT_TRUE(e.outside("10.1.2.4"));
  EXPECT_FALSE(e.outside("[fd12::1]"));
  EXPECT_TRUE(e.outside("2001:db8::1"));
  EXPECT_FALSE(e.outside("127.0.0.7"));
  EXPECT_TRUE(e.outside("127.0.0.9"));
  EXPECT_TRUE(e.outside("sip.provider.example"));
  EXPECT_FALSE(e.outside(""));
}

TEST(ExternalAddress, BadValuesNameTheOptionAndTheFix) {
  auto bad_net = sip::parse_external_address("203.0.113.10", 0, "", {"192.168.0.0/33"});
  ASSERT_FALSE(bad_net);
  EXPECT_NE(bad_net.error().message.find("sip.local_net: '192.168.0.0/33'"), std::string::npos);
  auto no_net = sip::parse_external_address("203.0.113.10", 0, "", {});
  ASSERT_FALSE(no_net);
  EXPECT_NE(no_net.error().message.find("sip.local_net is empty"), std::string::npos);
  auto name_only = sip::parse_external_address("pbx.example.com", 0, "", {"10.0.0.0/8"});
  ASSERT_FALSE(name_only);
  EXPECT_NE(name_only.error().message.find("sip.external_media_address"), std::string::npos);
  EXPECT_FALSE(sip::parse_external_address("203.0.113.10:x", 0, "", {"10.0.0.0/8"}));
  EXPECT_TRUE(sip::parse_external_address("pbx.example.com", 0, "203.0.113.10", {"10.0.0.0/8"}));
  // Not behind NAT: nothing to check.
  auto none = sip::parse_external_address("", 0, "", {});
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->enabled());
}

TEST(ExternalAddress, OnlyTheRelayAddressIsReplacedInTheSdp) {
  std::string sdp =
      "v=0\r\no=- 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
      "m=audio 10000 RTP/AVP 0\r\nc=IN IP4 10.0.0.2\r\nm=video 0 RTP/AVP 96\r\nc=IN IP4 10.0.0.77\r\n";
  EXPECT_EQ(sip::sdp_toward_outside(sdp, "10.0.0.2", "203.0.113.11"),
            "v=0\r\no=- 1 1 IN IP4 203.0.113.11\r\ns=-\r\nc=IN IP4 203.0.113.11\r\nt=0 0\r\n"
            "m=audio 10000 RTP/AVP 0\r\nc=IN IP4 203.0.113.11\r\nm=video 0 RTP/AVP 96\r\n"
            "c=IN IP4 10.0.0.77\r\n");
  auto v6 = sip::sdp_toward_outside(sdp, "10.0.0.2", "2001:db8::5");
  EXPECT_NE(v6.find("o=- 1 1 IN IP6 2001:db8::5\r\ns=-\r\nc=IN IP6 2001:db8::5\r\n"), std::string::npos)
      << v6;
}

class ExternalAddressTest : public SipPluginTest {
 protected:
  static void SetUpTestSuite() { make_host({{"alice", "1001"}, {"bob", "1002"}}); }
  void start() {
    ASSERT_NO_FATAL_FAILURE(start_plugin({{"sip.external_signaling_address", "203.0.113.10:5099"},
                                          {"sip.external_media_address", "203.0.113.11"},
                                          {"sip.local_net", "127.0.0.0/29"}}));
  }
  // A peer trunk on 127.0.0.9:`port` with an outgoing route for 0XXXXXXXXX.
  static std::string add_outside_trunk(int port) {
    auto e = host_->sql("INSERT INTO confd_endpoints_sip (username, secret, type, host) "
                        "VALUES ($1, '', 'peer', $2) RETURNING id",
                        {"outside-" + std::to_string(port), "127.0.0.9:" + std::to_string(port)});
    auto trunk = host_->sql(
        "INSERT INTO confd_trunks (context, endpoint_sip_id) VALUES ('default', $1::int) RETURNING id", {e});
    auto route = host_->sql(
        "INSERT INTO confd_outcalls (name, priority, patterns) VALUES ('outside-' || $1, 1, "
        "'[{\"pattern\":\"0XXXXXXXXX\"}]') RETURNING id",
        {std::to_string(port)});
    host_->sql("INSERT INTO confd_outcall_trunks VALUES ($1::int, $2::int, 1)", {route, trunk});
    return route;
  }
};

TEST_F(ExternalAddressTest, OutsideTrunkSeesTheExternalAddressesAndTheInsideCallerTheRealOnes) {
  ASSERT_NO_FATAL_FAILURE(start());
  int trunk_port = free_port();
  auto route = add_outside_trunk(trunk_port);
  std::string trunk_out;
  auto trunk = std::async(std::launch::async, [&] {
    return run_sipp({"-sf", scenario("uas_answer_outside.xml"), "-i", "127.0.0.9", "-mi", "127.0.0.9",
                     "-p", std::to_string(trunk_port), "-m", "1", "-timeout", "25s", "-timeout_error"},
                    &trunk_out);
  });
  ASSERT_TRUE(dialtone::testing::wait_udp_bound(trunk_port));
  std::string out;
  EXPECT_EQ(client("uac_call_inside.xml", {"-s", "0123456789", "-au", "alice", "-ap", "alicepw", "-key",
                                           "user", "alice"},
                   &out),
            0)
      << out;
  EXPECT_EQ(trunk.get(), 0) << trunk_out;
  host_->sql("DELETE FROM confd_outcalls WHERE id = $1::int", {route});
}

TEST_F(ExternalAddressTest, ReInvitesRelayedToAnOutsideTrunkNameTheExternalAddresses) {
  ASSERT_NO_FATAL_FAILURE(start());
  int trunk_port = free_port();
  auto route = add_outside_trunk(trunk_port);
  std::string trunk_out;
  auto trunk = std::async(std::launch::async, [&] {
    return run_sipp({"-sf", scenario("uas_hold_outside.xml"), "-i", "127.0.0.9", "-mi", "127.0.0.9", "-p",
                     std::to_string(trunk_port), "-m", "1", "-timeout", "25s", "-timeout_error"},
                    &trunk_out);
  });
  ASSERT_TRUE(dialtone::testing::wait_udp_bound(trunk_port));
  std::string out;
  EXPECT_EQ(client("uac_call_hold.xml", {"-s", "0123456789", "-au", "alice", "-ap", "alicepw", "-key", "user",
                                         "alice"},
                   &out),
            0)
      << out;
  EXPECT_EQ(trunk.get(), 0) << trunk_out;
  host_->sql("DELETE FROM confd_outcalls WHERE id = $1::int", {route});
}

TEST_F(ExternalAddressTest, TrunkRegisteringToAnOutsideProviderGivesTheExternalContact) {
  int registrar = free_port();
  std::string out;
  auto provider = std::async(std::launch::async, [&] {
    return run_sipp({"-sf", scenario("registrar_outside.xml"), "-i", "127.0.0.9", "-p", std::to_string(registrar),
                     "-m", "1", "-timeout", "25s", "-timeout_error"},
                    &out);
  });
  ASSERT_TRUE(dialtone::testing::wait_udp_bound(registrar));
  auto id = host_->sql(
      "INSERT INTO confd_endpoints_sip (username, secret, type, host, options) "
      "VALUES ('trunkout', 'trunkpw', 'peer', $1, '[[\"outbound_register\", \"yes\"]]') RETURNING id",
      {"127.0.0.9:" + std::to_string(registrar)});
  host_->sql("INSERT INTO confd_trunks (endpoint_sip_id) VALUES ($1::int)", {id});
  ASSERT_NO_FATAL_FAILURE(start());
  EXPECT_EQ(provider.get(), 0) << out;
  EXPECT_TRUE(host_->test_bus().wait_for("sip.trunk.trunkout.registered", std::chrono::seconds(10)).has_value());
  host_->sql("DELETE FROM confd_trunks WHERE endpoint_sip_id = $1::int", {id});
  host_->sql("DELETE FROM confd_endpoints_sip WHERE id = $1::int", {id});
}

TEST_F(ExternalAddressTest, CallFromAnOutsideTrunkIsAnsweredWithTheExternalAddressesAndRingsTheInsidePhoneWithTheRealOnes) {
  host_->sql("INSERT INTO confd_contexts (name, type) VALUES ('from-extern', 'incall') ON CONFLICT DO NOTHING");
  int trunk_port = free_port();
  auto e = host_->sql("INSERT INTO confd_endpoints_sip (username, secret, type, host) "
                      "VALUES ($1, '', 'peer', $2) RETURNING id",
                      {"outside-in-" + std::to_string(trunk_port), "127.0.0.9:" + std::to_string(trunk_port)});
  host_->sql("INSERT INTO confd_trunks (context, endpoint_sip_id) VALUES ('from-extern', $1::int)", {e});
  auto incall = host_->sql(
      "INSERT INTO confd_incalls (destination) VALUES (json_build_object('type', 'user', 'user_id', $1::int)) "
      "RETURNING id", {user_ids_["bob"]});
  auto x = host_->sql("INSERT INTO confd_extensions (exten, context) VALUES ('70XX', 'from-extern') RETURNING id");
  host_->sql("INSERT INTO confd_incall_extensions VALUES ($1::int, $2::int)", {incall, x});
  ASSERT_NO_FATAL_FAILURE(start());  // trunks are read at start

  Phone bob;
  ASSERT_NO_FATAL_FAILURE(callee(bob, "bob", "uas_answer_inside.xml"));
  std::string out;
  EXPECT_EQ(run_sipp({target_, "-sf", scenario("trunk_call_outside.xml"), "-s", "7012", "-i", "127.0.0.9", "-mi",
                      "127.0.0.9", "-p", std::to_string(trunk_port), "-m", "1", "-timeout", "25s",
                      "-timeout_error"},
                     &out),
            0)
      << out;
  EXPECT_EQ(bob.finish(), 0) << bob.out;
}

}  // namespace
