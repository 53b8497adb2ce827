// Phones behind NAT: a phone on 127.0.0.3 writing a private address
// (192.168.1.50:5060) in its Via, without rport, and in its Contact, as a
// phone behind a home router does. It is answered at the port it sent from
// (force_rport), called there, its dialogs reach it there (rewrite_contact)
// and its pinhole gets OPTIONS keep-alives; a line with nat = no is called
// at its Contact.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "plugins/backend/sip/outbound_register.h"
#include "tests/plugins/backend/sip/sip_fixture.h"

namespace sip = dialtone::plugins::backend::sip;
using dialtone::testing::free_port;
using dialtone::testing::SipPluginTest;

namespace {

// The first value of header `name` in `msg` (empty when absent).
std::string header(const std::string& msg, const std::string& name) {
  auto at = msg.find("\r\n" + name + ":");
  if (at == std::string::npos) return {};
  at += name.size() + 3;
  while (at < msg.size() && msg[at] == ' ') ++at;
  return msg.substr(at, msg.find("\r\n", at) - at);
}

std::string method_of(const std::string& msg) { return msg.substr(0, msg.find(' ')); }

int status_of(const std::string& msg) {
  return msg.rfind("SIP/2.0 ", 0) == 0 ? std::atoi(msg.c_str() + 8) : 0;
}

// A phone behind NAT over UDP: bound to 127.0.0.3 (its "public" address,
// as the NAT maps it), it writes `private_address` in its Via and Contact.
class NatPhone {
 public:
  NatPhone(int server_port, std::string user, std::string private_address)
      : server_port_(server_port), user_(std::move(user)), private_(std::move(private_address)) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    ::inet_pton(AF_INET, "127.0.0.3", &a.sin_addr);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~NatPhone() { ::close(fd_); }

  int port() const { return port_; }
  int options_answered() const { return options_; }
  std::string contact() const { return "<sip:" + user_ + "@" + private_ + ">"; }

  void send(const std::string& msg) {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to.sin_port = htons(static_cast<std::uint16_t>(server_port_));
    ::sendto(fd_, msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  }

  // The next message other than an OPTIONS (answered 200 on the way, as a
  // phone does) and other than `skip` (retransmissions); empty after `wait`.
  std::string next(std::chrono::milliseconds wait = std::chrono::seconds(15),
                   const std::string& skip = {}) {
    auto until = std::chrono::steady_clock::now() + wait;
    while (std::chrono::steady_clock::now() < until) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[8192];
      auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) continue;
      std::string msg(buf, static_cast<std::size_t>(n));
      if (method_of(msg) == "OPTIONS") {
        ++options_;
        send(reply(msg, 200, "OK"));
        continue;
      }
      if (!skip.empty() && msg == skip) continue;
      return msg;
    }
    return {};
  }

  // Messages already waiting, without blocking.
  std::vector<std::string> pending() {
    std::vector<std::string> out;
    for (std::string m; !(m = next(std::chrono::milliseconds(0))).empty();) out.push_back(m);
    return out;
  }

  // A response to `request` (Via, From, To with our tag, Call-ID, CSeq).
  std::string reply(const std::string& request, int status, const std::string& phrase,
                    const std::string& extra = {}, const std::string& body = {}) {
    std::string out = "SIP/2.0 " + std::to_string(status) + " " + phrase + "\r\n";
    std::size_t at = 0;
    while ((at = request.find("\r\nVia:", at)) != std::string::npos) {
      at += 2;
      out += request.substr(at, request.find("\r\n", at) - at) + "\r\n";
    }
    std::string to = header(request, "To");
    if (to.find("tag=") == std::string::npos) to += ";tag=natphone";
    out += "From: " + header(request, "From") + "\r\nTo: " + to + "\r\nCall-ID: " +
           header(request, "Call-ID") + "\r\nCSeq: " + header(request, "CSeq") + "\r\n" + extra;
    return out + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  }

  // A request from the phone: Via and Contact name the private address, and
  // the Via asks for no rport (the phone does not know it is behind NAT).
  std::string request(const std::string& method, const std::string& uri, const std::string& cseq,
                      const std::string& to, const std::string& extra,
                      const std::string& body = {}) {
    std::string branch = "z9hG4bKnat" + std::to_string(++branches_);
    return method + " " + uri + " SIP/2.0\r\nVia: SIP/2.0/UDP " + private_ + ";branch=" + branch +
           "\r\nMax-Forwards: 70\r\nFrom: <sip:" + user_ + "@127.0.0.1>;tag=nat" + user_ +
           "\r\nTo: " + to + "\r\nCall-ID: " + call_id_ + "\r\nCSeq: " + cseq +
           "\r\nContact: " + contact() + "\r\n" + extra + "Content-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  }

  // REGISTER, digest answered with `password`: the final status (0: none came).
  int register_line(const std::string& password) {
    call_id_ = "nat-reg-" + std::to_string(port_);
    std::string aor = "<sip:" + user_ + "@127.0.0.1>";
    std::string uri = "sip:127.0.0.1:" + std::to_string(server_port_);
    send(request("REGISTER", uri, "1 REGISTER", aor, "Expires: 3600\r\n"));
    std::string r = next();
    if (status_of(r) != 401) return status_of(r);
    auto ch = sip::parse_challenge(header(r, "WWW-Authenticate"));
    if (!ch) return 0;
    auto auth = sip::digest_authorization(*ch, user_, password, "REGISTER", uri, 1, "c0ffee");
    send(request("REGISTER", uri, "2 REGISTER", aor,
                 "Expires: 3600\r\nAuthorization: " + *auth + "\r\n"));
    return status_of(next());
  }

  static std::string sdp() {
    return "v=0\r\no=nat 1 1 IN IP4 192.168.1.50\r\ns=-\r\nc=IN IP4 192.168.1.50\r\nt=0 0\r\n"
           "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
  }

  int server_port_;
  std::string user_;
  std::string private_;
  std::string call_id_;
  int fd_ = -1;
  int port_ = 0;
  int options_ = 0;
  int branches_ = 0;
};

class NatTest : public SipPluginTest {
 protected:
  static void SetUpTestSuite() { make_host({{"alice", "1001"}, {"bob", "1002"}}); }
  void TearDown() override {
    SipPluginTest::TearDown();
    host_->sql("UPDATE confd_endpoints_sip SET options = '[]' WHERE username = 'bob'");
  }
  void start(const std::map<std::string, std::string>& extra = {}) {
    std::map<std::string, std::string> values{{"sip.node", "nat-test"}};
    for (auto& [k, v] : extra) values[k] = v;
    ASSERT_NO_FATAL_FAILURE(start_plugin(values));
  }
  int call_bob(const std::string& file, std::string* out) {
    return client(file, {"-s", "1002", "-au", "alice", "-ap", "alicepw", "-key", "user", "alice"}, out);
  }
};

TEST_F(NatTest, PhoneBehindNatIsAnsweredCalledAndHungUpWhereItSendsFrom) {
  ASSERT_NO_FATAL_FAILURE(start());
  NatPhone bob(plugin_->port(), "bob", "192.168.1.50:5060");
  // Its Via has no rport: the answers reach it only because they go to the
  // port the REGISTER came from.
  ASSERT_EQ(bob.register_line("bobpw"), 200);

  std::string out;
  auto alice = std::async(std::launch::async, [&] { return call_bob("uac_call_hangup.xml", &out); });
  std::string invite = bob.next();
  ASSERT_EQ(method_of(invite), "INVITE") << invite;
  // Sent to 127.0.0.3:<port>, the registration's source; the Request-URI
  // stays the Contact the phone registered.
  EXPECT_EQ(invite.rfind("INVITE sip:bob@192.168.1.50:5060 SIP/2.0", 0), 0u) << invite;
  bob.send(bob.reply(invite, 200, "OK", "Contact: " + bob.contact() + "\r\nContent-Type: application/sdp\r\n",
                     NatPhone::sdp()));
  std::string ack = bob.next(std::chrono::seconds(15), invite);
  EXPECT_EQ(method_of(ack), "ACK") << ack;
  // alice hangs up: the BYE to bob goes where bob sends from, to the
  // Contact rewritten with that address (bob's own Contact is private).
  std::string bye = bob.next(std::chrono::seconds(15), invite);
  while (method_of(bye) == "ACK") bye = bob.next(std::chrono::seconds(15), invite);
  ASSERT_EQ(method_of(bye), "BYE") << bye;
  EXPECT_EQ(bye.rfind("BYE sip:bob@127.0.0.3:" + std::to_string(bob.port()), 0), 0u) << bye;
  bob.send(bob.reply(bye, 200, "OK"));
  EXPECT_EQ(alice.get(), 0) << out;
  expect_idle();
}

TEST_F(NatTest, CallFromAPhoneBehindNatIsHungUpWhereItSendsFrom) {
  ASSERT_NO_FATAL_FAILURE(start());
  Phone alice;
  ASSERT_NO_FATAL_FAILURE(callee(alice, "alice", "uas_answer_hangup.xml"));
  NatPhone bob(plugin_->port(), "bob", "192.168.1.50:5060");
  bob.call_id_ = "nat-call-" + std::to_string(bob.port());
  std::string uri = "sip:1001@127.0.0.1:" + std::to_string(plugin_->port());
  std::string to = "<sip:1001@127.0.0.1>";
  std::string type = "Content-Type: application/sdp\r\n";
  bob.send(bob.request("INVITE", uri, "1 INVITE", to, type, NatPhone::sdp()));
  std::string r = bob.next();
  while (status_of(r) == 100) r = bob.next();
  ASSERT_EQ(status_of(r), 407) << r;
  std::string first_branch = header(r, "Via");
  bob.send("ACK " + uri + " SIP/2.0\r\nVia: " + first_branch + "\r\nMax-Forwards: 70\r\nFrom: " +
           header(r, "From") + "\r\nTo: " + header(r, "To") + "\r\nCall-ID: " + bob.call_id_ +
           "\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n");
  auto ch = sip::parse_challenge(header(r, "Proxy-Authenticate"));
  ASSERT_TRUE(ch) << r;
  auto auth = sip::digest_authorization(*ch, "bob", "bobpw", "INVITE", uri, 1, "c0ffee");
  bob.send(bob.request("INVITE", uri, "2 INVITE", to, type + "Proxy-Authorization: " + *auth + "\r\n",
                       NatPhone::sdp()));
  do r = bob.next(); while (status_of(r) > 0 && status_of(r) < 200);
  ASSERT_EQ(status_of(r), 200) << r;
  bob.send("ACK " + uri + " SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.1.50:5060;branch=z9hG4bKnatack\r\n"
           "Max-Forwards: 70\r\nFrom: " + header(r, "From") + "\r\nTo: " + header(r, "To") +
           "\r\nCall-ID: " + bob.call_id_ + "\r\nCSeq: 2 ACK\r\nContent-Length: 0\r\n\r\n");
  // alice hangs up: the BYE reaches bob where his INVITE came from.
  std::string bye = bob.next(std::chrono::seconds(15), r);
  ASSERT_EQ(method_of(bye), "BYE") << bye;
  EXPECT_EQ(bye.rfind("BYE sip:bob@127.0.0.3:" + std::to_string(bob.port()), 0), 0u) << bye;
  bob.send(bob.reply(bye, 200, "OK"));
  EXPECT_EQ(alice.finish(), 0) << alice.out;
  expect_idle();
}

TEST_F(NatTest, KeepAliveOptionsReachThePhoneWhereItSendsFrom) {
  ASSERT_NO_FATAL_FAILURE(start({{"qualify.interval", "1s"}}));
  NatPhone bob(plugin_->port(), "bob", "192.168.1.50:5060");
  ASSERT_EQ(bob.register_line("bobpw"), 200);
  // next() answers the OPTIONS; nothing else comes.
  EXPECT_TRUE(dialtone::testing::eventually([&] {
    bob.next(std::chrono::milliseconds(100));
    return bob.options_answered() >= 2;
  })) << "no OPTIONS keep-alive reached the phone's source address";
  auto reach = plugin_->reachability("bob");
  ASSERT_EQ(reach.size(), 1u);
  EXPECT_EQ(reach[0].state, sip::Reachability::reachable);
  EXPECT_EQ(reach[0].received, "udp:127.0.0.3:" + std::to_string(bob.port()));
}

TEST_F(NatTest, LineWithNatNoIsCalledAtItsContact) {
  host_->sql("UPDATE confd_endpoints_sip SET options = '[[\"nat\", \"no\"]]' WHERE username = 'bob'");
  ASSERT_NO_FATAL_FAILURE(start());
  // The Contact names a second phone socket on 127.0.0.4: with nat = no
  // the INVITE goes there, not to 127.0.0.3 where the REGISTER came from.
  int contact_port = free_port();
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(contact_port));
  ::inet_pton(AF_INET, "127.0.0.4", &a.sin_addr);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  NatPhone bob(plugin_->port(), "bob", "127.0.0.4:" + std::to_string(contact_port));
  ASSERT_EQ(bob.register_line("bobpw"), 200);
  std::string out;
  // Nobody answers at the contact: the test dialplan's 2 s ring time ends it.
  EXPECT_EQ(call_bob("uac_call_480.xml", &out), 0) << out;
  pollfd p{fd, POLLIN, 0};
  ASSERT_GT(::poll(&p, 1, 0), 0) << "no INVITE at the Contact";
  char buf[8192];
  auto n = ::recv(fd, buf, sizeof buf, 0);
  EXPECT_EQ(std::string(buf, static_cast<std::size_t>(std::max<ssize_t>(n, 0))).rfind("INVITE ", 0), 0u);
  ::close(fd);
  for (auto& m : bob.pending()) EXPECT_NE(method_of(m), "INVITE") << m;
  expect_idle();
}

}  // namespace
