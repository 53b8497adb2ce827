// Trunk hosts given by name, resolved through a real DNS server: a dnsmasq
// started by the test on 127.0.0.1 (its own port, named to the plugin by
// sip.resolv_conf). Outgoing calls follow NAPTR and SRV records in priority
// order, the next target when the first refuses; incoming calls from a named
// trunk are recognized by its resolved address, and follow the record when
// it moves.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/plugins/backend/sip/sip_fixture.h"

extern char** environ;

using dialtone::testing::eventually;
using dialtone::testing::free_port;
using dialtone::testing::run_sipp;
using dialtone::testing::scenario;
using dialtone::testing::SipPluginTest;
using dialtone::testing::wait_udp_bound;

namespace {

// dnsmasq on 127.0.0.1:<port> answering from its command line (SRV, NAPTR,
// host records) and from a hosts file the test rewrites (SIGHUP re-reads
// it), every answer with a TTL of 1 s. No upstream servers.
class Dnsmasq {
 public:
  explicit Dnsmasq(const std::vector<std::string>& records) : port_(free_port()) {
    dir_ = std::filesystem::temp_directory_path() / ("dt-dns-" + std::to_string(::getpid()) + "-" + std::to_string(port_));
    std::filesystem::create_directories(dir_);
    write_hosts("");
    std::ofstream(resolv_conf()) << "nameserver 127.0.0.1\nport " << port_ << "\n";
    std::vector<std::string> args{"dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null",
                                  "--no-resolv", "--no-hosts", "--bind-interfaces",
                                  "--listen-address=127.0.0.1", "--port=" + std::to_string(port_),
                                  "--addn-hosts=" + hosts().string(), "--local-ttl=1",
                                  "--user=root", "--pid-file="};
    args.insert(args.end(), records.begin(), records.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, "/usr/sbin/dnsmasq", nullptr, nullptr, argv.data(), environ) != 0) pid_ = 0;
    ready_ = pid_ > 0 && wait_udp_bound(port_);
  }
  ~Dnsmasq() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  bool ready() const { return ready_; }
  std::string resolv_conf() const { return (dir_ / "resolv.conf").string(); }

  // The hosts file becomes `text` ("127.0.0.5 peer.test\n"); dnsmasq drops
  // its cache and reads it again.
  void move(const std::string& text) {
    write_hosts(text);
    ::kill(pid_, SIGHUP);
  }

 private:
  std::filesystem::path hosts() const { return dir_ / "hosts"; }
  void write_hosts(const std::string& text) {
    std::ofstream(hosts().string() + ".new") << text;
    std::filesystem::rename(hosts().string() + ".new", hosts());
  }
  int port_;
  std::filesystem::path dir_;
  pid_t pid_ = 0;
  bool ready_ = false;
};

class DnsTest : public SipPluginTest {
 protected:
  static void SetUpTestSuite() { make_host({{"alice", "1001"}}); }
  void TearDown() override {
    SipPluginTest::TearDown();
    host_->sql("DELETE FROM confd_outcalls");
    host_->sql("DELETE FROM confd_incalls");
    host_->sql("DELETE FROM confd_trunks");
    host_->sql("DELETE FROM confd_endpoints_sip WHERE type = 'peer'");
  }
  static std::string add_trunk(const std::string& name, const std::string& host, const std::string& context) {
    return add_peer_trunk(name, host, context);
  }
  // The trunk "provider" at host provider.test, the only trunk of an outgoing
  // route for 0 and nine digits.
  static void route_through_provider() {
    auto trunk = add_trunk("provider", "provider.test", "default");
    auto route = host_->sql(
        "INSERT INTO confd_outcalls (name, priority, patterns) VALUES ('by-name', 1, "
        "'[{\"pattern\":\"0XXXXXXXXX\"}]') RETURNING id");
    host_->sql("INSERT INTO confd_outcall_trunks VALUES ($1::int, $2::int, 1)", {route, trunk});
  }
  void start(const Dnsmasq& dns) {
    ASSERT_NO_FATAL_FAILURE(
        start_plugin({{"sip.resolv_conf", dns.resolv_conf()}, {"qualify.interval", "0"}}));
  }
  // A call from the trunk on `ip` to DID 1001 (trunk_call.xml, no digest).
  int trunk_call(const std::string& ip, std::string* out, const std::string& timeout = "25s") {
    return run_sipp({target_, "-sf", scenario("trunk_call.xml"), "-s", "1001", "-i", ip, "-mi", ip,
                     "-p", std::to_string(free_port()), "-m", "1", "-timeout", timeout, "-timeout_error"},
                    out);
  }
};

TEST_F(DnsTest, OutgoingCallFollowsNaptrAndSrvToTheNextTargetWhenTheFirstRefuses) {
  int dead = free_port();  // priority 10: nothing listens, the ICMP refusal moves on
  int live = free_port();  // priority 20
  Dnsmasq dns({"--naptr-record=provider.test,10,50,S,SIP+D2U,,_sip._udp.provider.test",
               "--srv-host=_sip._udp.provider.test,sip1.provider.test," + std::to_string(dead) + ",10,0",
               "--srv-host=_sip._udp.provider.test,sip2.provider.test," + std::to_string(live) + ",20,0",
               // Not 127.0.0.1: calls from there (alice's) would be taken as the trunk's.
               "--host-record=sip1.provider.test,127.0.0.7", "--host-record=sip2.provider.test,127.0.0.7"});
  ASSERT_TRUE(dns.ready()) << "dnsmasq did not start";
  route_through_provider();
  ASSERT_NO_FATAL_FAILURE(start(dns));
  std::string live_out, out;
  auto provider = std::async(std::launch::async, [&] {
    return run_sipp({"-sf", scenario("uas_answer.xml"), "-i", "127.0.0.7", "-mi", "127.0.0.7", "-p", std::to_string(live),
                     "-m", "1", "-timeout", "25s", "-timeout_error"},
                    &live_out);
  });
  ASSERT_TRUE(wait_udp_bound(live));
  EXPECT_EQ(client("uac_call_hangup.xml",
                   {"-s", "0123456789", "-au", "alice", "-ap", "alicepw", "-key", "user", "alice"}, &out),
            0)
      << out;
  EXPECT_EQ(provider.get(), 0) << live_out;
  expect_idle();
}

TEST_F(DnsTest, OutgoingCallGoesToTheSrvTargetOfLowestPriorityFirst) {
  int first = free_port();   // priority 10, answers
  int second = free_port();  // priority 20 on 127.0.0.8: must get nothing
  Dnsmasq dns({"--srv-host=_sip._udp.provider.test,sip2.provider.test," + std::to_string(second) + ",20,0",
               "--srv-host=_sip._udp.provider.test,sip1.provider.test," + std::to_string(first) + ",10,0",
               "--host-record=sip1.provider.test,127.0.0.7", "--host-record=sip2.provider.test,127.0.0.8"});
  ASSERT_TRUE(dns.ready()) << "dnsmasq did not start";
  int sink = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(second));
  ::inet_pton(AF_INET, "127.0.0.8", &a.sin_addr);
  ASSERT_EQ(::bind(sink, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  route_through_provider();
  ASSERT_NO_FATAL_FAILURE(start(dns));
  std::string first_out, out;
  auto provider = std::async(std::launch::async, [&] {
    return run_sipp({"-sf", scenario("uas_answer.xml"), "-i", "127.0.0.7", "-mi", "127.0.0.7", "-p",
                     std::to_string(first), "-m", "1", "-timeout", "25s", "-timeout_error"},
                    &first_out);
  });
  ASSERT_TRUE(wait_udp_bound(first));
  EXPECT_EQ(client("uac_call_hangup.xml",
                   {"-s", "0123456789", "-au", "alice", "-ap", "alicepw", "-key", "user", "alice"}, &out),
            0)
      << out;
  EXPECT_EQ(provider.get(), 0) << first_out;
  pollfd p{sink, POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0) << "the priority 20 target got a request";
  ::close(sink);
  expect_idle();
}

TEST_F(DnsTest, IncomingCallsFromANamedTrunkFollowItsAddressWhenItMoves) {
  Dnsmasq dns({});
  ASSERT_TRUE(dns.ready()) << "dnsmasq did not start";
  dns.move("127.0.0.5 peer.test\n");
  host_->sql("INSERT INTO confd_contexts (name, type) VALUES ('from-peer', 'incall') ON CONFLICT DO NOTHING");
  add_trunk("peer", "peer.test", "from-peer");
  auto alice = user_ids_["alice"];
  auto incall = host_->sql(
      "INSERT INTO confd_incalls (destination) VALUES (json_build_object('type', 'user', 'user_id', $1::int)) "
      "RETURNING id", {alice});
  auto x = host_->sql("INSERT INTO confd_extensions (exten, context) VALUES ('1001', 'from-peer') RETURNING id");
  host_->sql("INSERT INTO confd_incall_extensions VALUES ($1::int, $2::int)", {incall, x});
  auto log_from = host_->logger().lines().size();
  ASSERT_NO_FATAL_FAILURE(start(dns));
  using Addresses = std::map<std::string, std::vector<std::string>>;
  ASSERT_TRUE(eventually([&] { return plugin_->trunk_addresses() == Addresses{{"peer.test", {"127.0.0.5"}}}; }))
      << "peer.test never resolved to 127.0.0.5";

  std::string out;
  Phone first;
  ASSERT_NO_FATAL_FAILURE(callee(first, "alice", "uas_answer.xml"));
  EXPECT_EQ(trunk_call("127.0.0.5", &out), 0) << out;  // no digest: known by its resolved address
  EXPECT_EQ(first.finish(), 0) << first.out;

  // The provider moves: the next lookup, when the 1 s TTL runs out, finds it.
  dns.move("127.0.0.6 peer.test\n");
  ASSERT_TRUE(eventually([&] { return plugin_->trunk_addresses() == Addresses{{"peer.test", {"127.0.0.6"}}}; }))
      << "the move to 127.0.0.6 was not followed";
  Phone second;
  ASSERT_NO_FATAL_FAILURE(callee(second, "alice", "uas_answer.xml"));
  EXPECT_EQ(trunk_call("127.0.0.6", &out), 0) << out;
  EXPECT_EQ(second.finish(), 0) << second.out;
  // The old address is a stranger now: challenged, so the digest-less call fails.
  EXPECT_NE(trunk_call("127.0.0.5", &out, "5s"), 0) << out;

  bool logged = false;
  auto lines = host_->logger().lines();
  for (auto i = log_from; i < lines.size(); ++i)
    logged = logged || lines[i].find("trunk host peer.test resolves to 127.0.0.6 (was 127.0.0.5)") != std::string::npos;
  EXPECT_TRUE(logged);
  expect_idle();
}

}  // namespace
