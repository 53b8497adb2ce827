// Registrar digest authentication seen from a phone: the SHA-256 challenge
// offered next to MD5 (RFC 8760), answered by a small UDP client that does
// its own hashing (SIPp 3.6.1 only does MD5), stale nonces, and nonce-count
// replay protection.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/plugins/backend/sip/digest_client.h"
#include "tests/plugins/backend/sip/sip_fixture.h"
#include "tests/support/loopback_udp.h"

namespace sip = dialtone::plugins::backend::sip;
using dialtone::testing::digest_params;
using dialtone::testing::qop_auth_response;
using dialtone::testing::run_sipp;
using dialtone::testing::SipPluginTest;

namespace {

// One WWW-Authenticate value, as much as the client needs.
struct Challenge {
  std::string algorithm;
  std::string nonce;
  std::string realm;
  bool stale = false;
};

struct Response {
  int status = 0;
  std::vector<Challenge> challenges;  // in header order
};

// A phone over UDP on 127.0.0.1 registering `user` to the plugin.
class UdpPhone {
 public:
  UdpPhone(int server_port, std::string user, std::string password)
      : port_(udp_.port()), server_port_(server_port), user_(std::move(user)), password_(std::move(password)) {
    call_id_ = "auth-test-" + std::to_string(port_);
  }

  // The Authorization value answering `ch` with nonce count `nc`.
  std::string authorization(const Challenge& ch, unsigned nc, const std::string& algorithm) const {
    char ncs[9];
    std::snprintf(ncs, sizeof ncs, "%08x", nc);
    std::string uri = "sip:127.0.0.1:" + std::to_string(server_port_);
    std::string cnonce = "c0ffee" + std::to_string(nc);
    std::string response =
        qop_auth_response(algorithm, user_, ch.realm, password_, "REGISTER", uri, ch.nonce, ncs, cnonce);
    return "Digest username=\"" + user_ + "\", realm=\"" + ch.realm + "\", nonce=\"" + ch.nonce +
           "\", uri=\"" + uri + "\", response=\"" + response + "\", algorithm=" + algorithm +
           ", cnonce=\"" + cnonce + "\", qop=auth, nc=" + ncs;
  }

  // Sends one REGISTER (a new transaction) and waits for its final answer;
  // retransmits like a phone if the loaded machine loses or delays it.
  std::optional<Response> send(const std::string& authorization = {}) {
    ++cseq_;
    std::string branch = "z9hG4bK" + std::to_string(port_) + "x" + std::to_string(cseq_);
    std::string msg = "REGISTER sip:127.0.0.1:" + std::to_string(server_port_) +
                      " SIP/2.0\r\n"
                      "Via: SIP/2.0/UDP 127.0.0.1:" + std::to_string(port_) +
                      ";branch=" + branch + ";rport\r\n"
                      "Max-Forwards: 70\r\n"
                      "From: <sip:" + user_ + "@127.0.0.1>;tag=" + std::to_string(port_) + "\r\n"
                      "To: <sip:" + user_ + "@127.0.0.1>\r\n"
                      "Call-ID: " + call_id_ + "\r\n"
                      "CSeq: " + std::to_string(cseq_) + " REGISTER\r\n"
                      "Contact: <sip:" + user_ + "@127.0.0.1:" + std::to_string(port_) + ">\r\n"
                      "Expires: 3600\r\n";
    if (!authorization.empty()) msg += "Authorization: " + authorization + "\r\n";
    msg += "Content-Length: 0\r\n\r\n";
    for (int attempt = 0; attempt < 20; ++attempt) {
      udp_.send_to(server_port_, msg);
      for (std::string text; !(text = udp_.receive(500)).empty();) {
        if (text.find(branch) == std::string::npos) continue;  // an older transaction's
        int status = std::atoi(text.c_str() + 8);
        if (status < 200) continue;
        Response r;
        r.status = status;
        std::size_t at = 0;
        while ((at = text.find("\r\nWWW-Authenticate:", at)) != std::string::npos) {
          at += 19;
          auto value = text.substr(at, text.find("\r\n", at) - at);
          Challenge ch;
          auto params = digest_params(value);
          ch.algorithm = params["algorithm"];
          ch.nonce = params["nonce"];
          ch.realm = params["realm"];
          ch.stale = params["stale"] == "true";
          r.challenges.push_back(ch);
        }
        return r;
      }
    }
    return std::nullopt;
  }

 private:
  dialtone::testing::LoopbackUdp udp_;
  int port_ = 0;
  int server_port_;
  std::string user_;
  std::string password_;
  std::string call_id_;
  unsigned cseq_ = 0;
};

class SipAuthTest : public SipPluginTest {
 protected:
  static void SetUpTestSuite() { make_host({{"alice", "1001"}}); }
  void start(const std::map<std::string, std::string>& extra) {
    std::map<std::string, std::string> values{{"auth.ban_failures", "1000"}, {"sip.node", "auth-test"}};
    for (auto& [k, v] : extra) values[k] = v;
    start_plugin(values);
  }

  // The registrar answers before it updates the count other threads read.
  bool registered(const std::string& aor) {
    return dialtone::testing::eventually([&] { return plugin_->contact_count(aor) == 1; });
  }

};


TEST_F(SipAuthTest, OffersSha256FirstAndRegistersAPhoneAnsweringIt) {
  start({{"auth.algorithms", "SHA-256, MD5"}});
  UdpPhone phone(plugin_->port(), "alice", "alicepw");
  auto r = phone.send();
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 401);
  ASSERT_EQ(r->challenges.size(), 2u);
  EXPECT_EQ(r->challenges[0].algorithm, "SHA-256");
  EXPECT_EQ(r->challenges[1].algorithm, "MD5");
  EXPECT_EQ(r->challenges[0].nonce, r->challenges[1].nonce);
  auto ok = phone.send(phone.authorization(r->challenges[0], 1, "SHA-256"));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_TRUE(registered("alice"));
}

TEST_F(SipAuthTest, Md5StillRegistersWhenBothAreOffered) {
  start({{"auth.algorithms", "SHA-256, MD5"}});
  UdpPhone phone(plugin_->port(), "alice", "alicepw");
  auto r = phone.send();
  ASSERT_TRUE(r);
  ASSERT_EQ(r->challenges.size(), 2u);
  auto ok = phone.send(phone.authorization(r->challenges[1], 1, "MD5"));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_TRUE(registered("alice"));
}

TEST_F(SipAuthTest, DefaultOffersMd5OnlyAndSipp361Registers) {
  start({});
  UdpPhone phone(plugin_->port(), "alice", "alicepw");
  auto r = phone.send();
  ASSERT_TRUE(r);
  ASSERT_EQ(r->challenges.size(), 1u);
  EXPECT_EQ(r->challenges[0].algorithm, "MD5");
  // An algorithm that was not offered is challenged again.
  auto again = phone.send(phone.authorization(r->challenges[0], 1, "SHA-256"));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 401);
  EXPECT_EQ(plugin_->contact_count("alice"), 0u);
  std::string out;
  int port = dialtone::testing::free_port();
  EXPECT_EQ(run_sipp({"127.0.0.1:" + std::to_string(plugin_->port()), "-sf",
                      std::string(SIP_TEST_DIR) + "/scenarios/register.xml", "-i", "127.0.0.1",
                      "-p", std::to_string(port), "-m", "1", "-timeout", "25s", "-timeout_error",
                      "-au", "alice", "-ap", "alicepw", "-key", "user", "alice", "-key",
                      "contact_port", std::to_string(port), "-key", "expires", "3600"},
                     &out),
            0)
      << out;
  EXPECT_TRUE(registered("alice"));
}

TEST_F(SipAuthTest, ReplayedAuthorizationIsChallengedAndAHigherNonceCountIsAccepted) {
  start({{"auth.algorithms", "SHA-256, MD5"}});
  UdpPhone phone(plugin_->port(), "alice", "alicepw");
  auto r = phone.send();
  ASSERT_TRUE(r);
  ASSERT_FALSE(r->challenges.empty());
  auto ch = r->challenges[0];
  auto first = phone.authorization(ch, 1, "SHA-256");
  auto ok = phone.send(first);
  ASSERT_TRUE(ok);
  ASSERT_EQ(ok->status, 200);
  // The same Authorization in a new request: refused with a fresh nonce
  // (stale, so a phone that only reused its count retries silently).
  auto replay = phone.send(first);
  ASSERT_TRUE(replay);
  EXPECT_EQ(replay->status, 401);
  ASSERT_FALSE(replay->challenges.empty());
  EXPECT_NE(replay->challenges[0].nonce, ch.nonce);
  EXPECT_TRUE(replay->challenges[0].stale);
  EXPECT_TRUE(host_->logger().contains("sip: replayed digest (nc 00000001) for \"alice\""));
  // The phone's next request counts on: accepted, as is the one after.
  auto next = phone.send(phone.authorization(ch, 2, "SHA-256"));
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200);
  auto third = phone.send(phone.authorization(ch, 5, "SHA-256"));
  ASSERT_TRUE(third);
  EXPECT_EQ(third->status, 200);
  // Going back to a lower count is a replay too.
  auto back = phone.send(phone.authorization(ch, 3, "SHA-256"));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->status, 401);
}

TEST_F(SipAuthTest, ExpiredSha256NonceGetsStaleChallengesAndTheRetryRegisters) {
  start({{"auth.algorithms", "SHA-256, MD5"}, {"auth.nonce_lifetime", "2000"}});
  UdpPhone phone(plugin_->port(), "alice", "alicepw");
  auto r = phone.send();
  ASSERT_TRUE(r);
  ASSERT_FALSE(r->challenges.empty());
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  auto stale = phone.send(phone.authorization(r->challenges[0], 1, "SHA-256"));
  ASSERT_TRUE(stale);
  EXPECT_EQ(stale->status, 401);
  ASSERT_EQ(stale->challenges.size(), 2u);
  EXPECT_TRUE(stale->challenges[0].stale);
  EXPECT_TRUE(stale->challenges[1].stale);
  // A phone retries with the new nonce without asking its user; on a
  // stalled machine the new nonce may go stale too, so a few rounds.
  auto last = stale;
  for (int i = 0; i < 3 && last && last->status == 401; ++i)
    last = phone.send(phone.authorization(last->challenges[0], 1, "SHA-256"));
  ASSERT_TRUE(last);
  EXPECT_EQ(last->status, 200);
  EXPECT_TRUE(registered("alice"));
}

TEST_F(SipAuthTest, UnknownAlgorithmIsRefusedAtConfigureTimeNamingTheOption) {
  auto plugin = std::make_unique<sip::SipPlugin>(*host_);
  std::map<std::string, std::string> values{{"auth.algorithms", "SHA-512-256, MD5"}};
  auto c = plugin->configure(dialtone::sdk::Options(values));
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("auth.algorithms"), std::string::npos) << c.error().message;
  EXPECT_NE(c.error().message.find("SHA-256, MD5"), std::string::npos) << c.error().message;
}

}  // namespace
