// backend.sip under abuse: overload answered with 503 and Retry-After while
// calls in progress go on, junk answered without keeping anything, ACK
// transactions ended, a late retransmission not taken for a replay, and
// REGISTER answered without a sofia transaction, its retransmissions from a
// compact table (answered_requests.h).
// SIPp phones and raw UDP against the plugin on the test host.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "plugins/backend/sip/answered_requests.h"
#include "plugins/backend/sip/digest.h"
#include "plugins/backend/sip/receive_delay.h"
#include "plugins/backend/sip/sip_plugin.h"
#include "tests/plugins/backend/sip/sip_fixture.h"
#include "tests/support/loopback_udp.h"

namespace sip = dialtone::plugins::backend::sip;
namespace sdk = dialtone::sdk;
using dialtone::testing::eventually;
using dialtone::testing::run_sipp;
using dialtone::testing::scenario;

namespace {

std::string header_value(const std::string& msg, const std::string& name) {
  auto at = msg.find("\r\n" + name + ":");
  if (at == std::string::npos) return {};
  at += name.size() + 3;
  auto end = msg.find("\r\n", at);
  auto v = msg.substr(at, end - at);
  return v.substr(v.find_first_not_of(' '));
}

std::string quoted_param(const std::string& value, const std::string& name) {
  auto at = value.find(name + "=\"");
  if (at == std::string::npos) return {};
  at += name.size() + 2;
  return value.substr(at, value.find('"', at) - at);
}

std::string tag_of(const std::string& to) {
  auto at = to.find(";tag=");
  if (at == std::string::npos) return {};
  at += 5;
  return to.substr(at, to.find_first_of(";> ", at) - at);
}

struct Request {
  std::string method = "INVITE";
  std::string exten = "1999";
  std::string call_id = "robust-1";
  int cseq = 1;
  std::string branch = "z9hG4bK-robust-1";
  std::string from_tag = "ft1";
  std::string to_tag;
  std::string authorization;  // full header line, or empty
  std::string sdp;            // body, or empty
};

std::string request_text(const Request& r, int local_port, int server_port) {
  std::string uri = r.method == "REGISTER" ? "sip:127.0.0.1:" + std::to_string(server_port)
                                           : "sip:" + r.exten + "@127.0.0.1:" + std::to_string(server_port);
  std::string lp = std::to_string(local_port);
  std::string m = r.method + " " + uri + " SIP/2.0\r\n"
                  "Via: SIP/2.0/UDP 127.0.0.1:" + lp + ";branch=" + r.branch + "\r\n"
                  "From: <sip:alice@127.0.0.1>;tag=" + r.from_tag + "\r\n"
                  "To: <sip:" + (r.method == "REGISTER" ? "alice" : r.exten) + "@127.0.0.1>" +
                  (r.to_tag.empty() ? "" : ";tag=" + r.to_tag) + "\r\n"
                  "Call-ID: " + r.call_id + "\r\n"
                  "CSeq: " + std::to_string(r.cseq) + " " + r.method + "\r\n"
                  "Contact: <sip:alice@127.0.0.1:" + lp + ">\r\n"
                  "Max-Forwards: 70\r\n";
  if (!r.authorization.empty()) m += r.authorization + "\r\n";
  if (!r.sdp.empty()) m += "Content-Type: application/sdp\r\n";
  m += "Content-Length: " + std::to_string(r.sdp.size()) + "\r\n\r\n" + r.sdp;
  return m;
}

// A UDP socket on 127.0.0.1 talking to the plugin.
class Udp : public dialtone::testing::LoopbackUdp {
 public:
  explicit Udp(int server_port) : server_port_(server_port) {}
  void send(const std::string& m) { send_to(server_port_, m); }
  void send(const Request& r) { send(request_text(r, port(), server_port_)); }
  // ACKs `invite`'s final response `answer` (a 407 or a refusal).
  void ack(Request invite, const std::string& answer) {
    invite.method = "ACK";
    invite.to_tag = tag_of(header_value(answer, "To"));
    send(invite);
  }
  // Sends an INVITE without credentials and ACKs its answer: the 407 (or
  // what came instead, for the caller to check).
  std::string challenged(const Request& invite) {
    send(invite);
    auto answer = final_response();
    if (!answer.empty()) ack(invite, answer);
    return answer;
  }
  // The next final response (status >= 200), skipping provisionals.
  std::string final_response(int ms = 5000) {
    for (int i = 0; i < 10; ++i) {
      auto r = receive(ms);
      if (r.empty() || r.rfind("SIP/2.0 1", 0) != 0) return r;
    }
    return {};
  }

 private:
  int server_port_ = 0;
};

// Sends `r` twice, as a phone retransmitting before the answer reached it:
// both answers are the challenge `status` ("SIP/2.0 401"), with the same
// `header` (so the same nonce) and the same To tag.
void expect_the_same_challenge_twice(Udp& udp, const Request& r, const std::string& status,
                                     const std::string& header, std::string& first, std::string& again) {
  udp.send(r);
  first = udp.final_response();
  ASSERT_EQ(first.rfind(status, 0), 0u) << first;
  udp.send(r);
  again = udp.final_response();
  ASSERT_EQ(again.rfind(status, 0), 0u) << again;
  EXPECT_EQ(header_value(again, header), header_value(first, header));
  EXPECT_FALSE(tag_of(header_value(first, "To")).empty()) << first;
  EXPECT_EQ(tag_of(header_value(again, "To")), tag_of(header_value(first, "To")));
}

// Proxy-Authorization (INVITE) or Authorization (REGISTER) answering
// `challenge` for alice (qop=auth, nc 1).
std::string alice_authorization(const std::string& challenge, const std::string& uri,
                                const std::string& method = "INVITE") {
  sip::DigestCredentials c;
  c.username = "alice";
  c.realm = quoted_param(challenge, "realm");
  c.nonce = quoted_param(challenge, "nonce");
  c.uri = uri;
  c.cnonce = "c0ffee";
  c.nc = "00000001";
  c.qop = "auth";
  auto response = sip::digest_response(sip::DigestAlgorithm::md5, c, "alicepw", method);
  return std::string(method == "REGISTER" ? "Authorization" : "Proxy-Authorization") +
         ": Digest username=\"alice\", realm=\"" + c.realm + "\", nonce=\"" +
         c.nonce + "\", uri=\"" + uri + "\", response=\"" + response +
         "\", algorithm=MD5, cnonce=\"c0ffee\", nc=00000001, qop=auth";
}

// Lua `test.hold()`: the calling coroutine waits until release().
class Holds {
 public:
  void export_to(sdk::LuaHost& lua) {
    auto s = lua.export_module("test", {{"hold", "", "", "waits until the test releases it",
                                [this](const sdk::LuaValues&) {
                                  return sdk::LuaReply::async([this](sdk::LuaResume resume) {
                                    std::lock_guard<std::mutex> lock(mutex_);
                                    waiting_.push_back(std::move(resume));
                                  });
                                }}});
    EXPECT_TRUE(s) << s.error().message;
  }
  std::size_t waiting() {
    std::lock_guard<std::mutex> lock(mutex_);
    return waiting_.size();
  }
  void release() {
    std::vector<sdk::LuaResume> all;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      all.swap(waiting_);
    }
    for (auto& r : all) r(sdk::LuaValues{});
  }

 private:
  std::mutex mutex_;
  std::vector<sdk::LuaResume> waiting_;
};

class SipRobustnessTest : public dialtone::testing::SipPluginTest {
 protected:
  static void SetUpTestSuite() {
    make_host({{"alice", "1001"}, {"bob", "1002"}}, std::filesystem::path(SIP_TEST_DIR) / "overload_dialplan.lua");
    holds_ = new Holds();
    holds_->export_to(*host_->lua());
  }
  static void TearDownTestSuite() {
    holds_->release();
    SipPluginTest::TearDownTestSuite();
    delete holds_;
    holds_ = nullptr;
  }
  void TearDown() override {
    holds_->release();
    SipPluginTest::TearDown();
  }

  void start(std::map<std::string, std::string> extra) {
    extra.emplace("auth.ban_failures", "1000");
    extra.emplace("qualify.interval", "0");
    start_plugin(extra);
  }

  int register_line(const std::string& user, int contact_port, std::string* out) {
    return register_contact(user, contact_port, out);
  }
  std::future<int> alice_calls(const std::string& file, const std::string& exten, std::string* out,
                               std::vector<std::string> extra = {}) {
    auto args = sipp_args(file);
    args.insert(args.begin(), target_);
    for (auto a : {"-au", "alice", "-ap", "alicepw", "-key", "user", "alice", "-s"}) args.push_back(a);
    args.push_back(exten);
    args.insert(args.end(), extra.begin(), extra.end());
    return std::async(std::launch::async, [args, out] { return run_sipp(args, out); });
  }
  // bob's phone on `port` (already registered there by the test).
  std::future<int> bob_answers(const std::string& file, int port, std::string* out) {
    std::vector<std::string> args{"-sf", scenario(file), "-i", "127.0.0.1", "-p", std::to_string(port), "-m", "1",
                                  "-timeout", "30s", "-timeout_error"};
    auto f = std::async(std::launch::async, [args, out] { return run_sipp(args, out); });
    dialtone::testing::wait_udp_bound(port);
    return f;
  }

  std::size_t server_transactions() const { return plugin_->transactions().server; }
  // Waits for sofia's server transactions to reach zero in a sample taken
  // after this call (they are sampled every second).
  bool server_transactions_end() {
    auto from = plugin_->transactions().samples;
    return eventually([&] {
      auto t = plugin_->transactions();
      return t.samples > from + 1 && t.server == 0;
    });
  }

  static inline Holds* holds_ = nullptr;
};

TEST_F(SipRobustnessTest, OverloadGets503WithRetryAfterWhileCallsInProgressGoOn) {
  ASSERT_NO_FATAL_FAILURE(start({{"sip.max_pending", "2"}, {"sip.retry_after", "7000"}}));
  std::string out, alice_out, bob_out, held_out;
  int bob_port = dialtone::testing::free_port();
  auto bob = bob_answers("uas_answer.xml", bob_port, &bob_out);
  ASSERT_EQ(register_line("bob", bob_port, &out), 0) << out;
  // Alice's call is up before the overload and hangs up during it.
  auto alice = alice_calls("uac_call_bye_after_pause.xml", "1002", &alice_out, {"-d", "10000"});
  ASSERT_TRUE(eventually([&] {
    auto legs = host_->calls().channels();
    return legs.size() == 2 && legs[0].state == sdk::ChannelState::up &&
           legs[1].state == sdk::ChannelState::up;
  }));

  // Two calls wait in the dialplan: the bound is reached.
  auto held = alice_calls("uac_call_480.xml", "1999", &held_out, {"-m", "2", "-l", "2"});
  ASSERT_TRUE(eventually([&] { return holds_->waiting() == 2; }));
  ASSERT_NE(alice.wait_for(std::chrono::seconds(0)), std::future_status::ready)
      << "alice hung up before the overload began: " << alice_out;

  Udp udp(plugin_->port());
  Request invite;
  invite.exten = "1002";
  udp.send(invite);
  auto refused = udp.final_response();
  EXPECT_EQ(refused.rfind("SIP/2.0 503", 0), 0u) << refused;
  EXPECT_EQ(header_value(refused, "Retry-After"), "7") << refused;
  Request reg;
  reg.method = "REGISTER";
  reg.exten = "127.0.0.1";
  reg.call_id = "robust-reg";
  reg.branch = "z9hG4bK-robust-reg";
  udp.send(reg);
  refused = udp.final_response();
  EXPECT_EQ(refused.rfind("SIP/2.0 503", 0), 0u) << refused;
  EXPECT_EQ(header_value(refused, "Retry-After"), "7") << refused;
  // OPTIONS and in-dialog requests are not refused: alice's BYE gets its 200.
  EXPECT_EQ(alice.get(), 0) << alice_out;
  EXPECT_EQ(bob.get(), 0) << bob_out;
  EXPECT_EQ(holds_->waiting(), 2u) << "the overload lasted through alice's BYE";

  // Once the dialplan lets the calls go, new requests are served again.
  holds_->release();
  EXPECT_EQ(held.get(), 0) << held_out;
  udp.send(invite);
  auto served = udp.final_response();
  EXPECT_EQ(served.rfind("SIP/2.0 407", 0), 0u) << served;
}

// Turns receive timestamps on for `reader`. The kernel enables them for
// every socket from a work queue: until then a datagram gets none and its
// delay reads as 0. True once one read 20 ms after it was sent shows it.
bool timestamps_on(const dialtone::testing::LoopbackUdp& reader, const dialtone::testing::LoopbackUdp& writer) {
  sip::ReceiveDelay::last_of(reader.fd());
  return eventually([&] {
    writer.send_to(reader.port(), "probe");
    auto at = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - at < std::chrono::milliseconds(20))
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    reader.receive();
    auto w = sip::ReceiveDelay::last_of(reader.fd());
    return w && *w >= std::chrono::milliseconds(20);
  });
}

// Stops the plugin's SIP thread (named "sip") in a signal handler until
// destroyed, so that what is sent meanwhile waits in its socket's queue as
// it does behind a backlog under overload.
class SipThreadStall {
 public:
  SipThreadStall() {
    released_ = false;
    stalled_ = false;
    struct sigaction sa {};
    sa.sa_handler = [](int) {
      stalled_ = true;
      timespec ms{0, 1000000};
      while (!released_) nanosleep(&ms, nullptr);
    };
    sigaction(SIGUSR2, &sa, &old_);
    for (auto& t : std::filesystem::directory_iterator("/proc/self/task")) {
      std::ifstream comm(t.path() / "comm");
      std::string name;
      std::getline(comm, name);
      if (name == "sip") tid_ = std::stoi(t.path().filename().string());
    }
    if (tid_ > 0) syscall(SYS_tgkill, getpid(), tid_, SIGUSR2);
  }
  ~SipThreadStall() {
    released_ = true;
    // The handler may still be running: leave it in place.
  }
  bool stalled() const { return tid_ > 0 && eventually([] { return stalled_.load(); }); }

 private:
  static inline std::atomic<bool> released_{false};
  static inline std::atomic<bool> stalled_{false};
  struct sigaction old_ {};
  int tid_ = 0;
};

TEST_F(SipRobustnessTest, RequestsReadLaterThanMaxQueueDelayGet503WhileFreshOnesAreServed) {
  ASSERT_NO_FATAL_FAILURE(start({{"sip.max_queue_delay", "1000"}, {"sip.retry_after", "7000"}}));
  int port = plugin_->port();
  Udp udp(port);
  Request fresh;
  fresh.call_id = "robust-fresh-1";
  fresh.branch = "z9hG4bK-robust-fresh-1";
  // Until the trunk list is loaded an INVITE without credentials is taken
  // statefully; once it is, the front door challenges it.
  auto challenge = udp.challenged(fresh);
  ASSERT_EQ(challenge.rfind("SIP/2.0 407", 0), 0u) << challenge;

  Request late_invite;
  late_invite.call_id = "robust-late-invite";
  late_invite.branch = "z9hG4bK-robust-late-invite";
  Request late_register;
  late_register.method = "REGISTER";
  late_register.exten = "127.0.0.1";
  late_register.call_id = "robust-late-register";
  late_register.branch = "z9hG4bK-robust-late-register";
  late_register.authorization = alice_authorization(header_value(challenge, "Proxy-Authenticate"),
                                                    "sip:127.0.0.1:" + std::to_string(port), "REGISTER");
  {
    // Timestamps are on for the plugin's socket as soon as the kernel has
    // turned them on at all.
    dialtone::testing::LoopbackUdp reader, writer;
    ASSERT_TRUE(timestamps_on(reader, writer));
    SipThreadStall stall;
    ASSERT_TRUE(stall.stalled()) << "the SIP thread was not found or not stopped";
    udp.send(late_invite);
    udp.send(late_register);
    // Both wait in the queue past the bound (1 s; half of it for the INVITE
    // that carries no credentials).
    auto sent = std::chrono::steady_clock::now();
    ASSERT_TRUE(eventually([&] { return std::chrono::steady_clock::now() - sent > std::chrono::milliseconds(1200); }));
  }
  for (const char* call_id : {"robust-late-invite", "robust-late-register"}) {
    auto refused = udp.final_response();
    EXPECT_EQ(refused.rfind("SIP/2.0 503", 0), 0u) << refused;
    EXPECT_EQ(header_value(refused, "Retry-After"), "7") << refused;
    EXPECT_EQ(header_value(refused, "Call-ID"), call_id) << refused;
  }
  // Read on time, the next ones are served.
  Request next = fresh;
  next.call_id = "robust-fresh-2";
  next.branch = "z9hG4bK-robust-fresh-2";
  udp.send(next);
  auto served = udp.final_response();
  EXPECT_EQ(served.rfind("SIP/2.0 407", 0), 0u) << served;
  EXPECT_TRUE(eventually([&] {
    for (auto& l : host_->logger().lines())
      if (l.find("sip: overloaded:") != std::string::npos &&
          l.find("2 read later than sip.max_queue_delay") != std::string::npos)
        return true;
    return false;
  })) << "no warning for the refusals";
}

TEST_F(SipRobustnessTest, AckTransactionsEndWithTheirCall) {
  ASSERT_NO_FATAL_FAILURE(start({{"sip.transaction_timeout", "1000"}}));
  std::string out, alice_out, bob_out;
  int bob_port = dialtone::testing::free_port();
  auto bob = bob_answers("uas_answer.xml", bob_port, &bob_out);
  ASSERT_EQ(register_line("bob", bob_port, &out), 0) << out;
  // The second ACK reaches the dialog after the INVITE's transaction ended.
  auto alice = alice_calls("uac_call_double_ack.xml", "1002", &alice_out);
  EXPECT_EQ(alice.get(), 0) << alice_out;
  EXPECT_EQ(bob.get(), 0) << bob_out;
  EXPECT_TRUE(server_transactions_end())
      << server_transactions() << " server transactions left after the call";
}

// What a scanner or a broken phone sends: the malformed corpus and requests
// nobody will complete (no credentials, no dialog, unknown methods).
std::vector<std::string> junk(int server_port) {
  std::vector<std::string> out;
  for (auto& f : std::filesystem::directory_iterator(std::string(SIP_TEST_DIR) + "/malformed")) {
    if (f.path().extension() != ".sip") continue;
    std::ifstream in(f.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    out.push_back(ss.str());
  }
  int n = 0;
  for (std::string method : {"INVITE", "REGISTER", "OPTIONS", "SUBSCRIBE", "BYE", "INFO", "CANCEL", "ACK"}) {
    for (bool tagged : {false, true}) {
      Request r;
      r.method = method;
      r.exten = method == "REGISTER" ? "127.0.0.1" : "1002";
      r.call_id = "junk-" + std::to_string(++n);
      r.branch = "z9hG4bK-junk-" + std::to_string(n);
      if (tagged) r.to_tag = "gone";
      if (method == "INVITE" && tagged) r.authorization =
          "Proxy-Authorization: Digest username=\"alice\", realm=\"dialtone\", nonce=\"forged\", "
          "uri=\"sip:1002@127.0.0.1\", response=\"00000000000000000000000000000000\"";
      out.push_back(request_text(r, 5999, server_port));
    }
  }
  return out;
}

TEST_F(SipRobustnessTest, JunkIsAnsweredWithoutKeepingTransactions) {
  // Finished transactions would stay 5 minutes: any kept for junk shows.
  ASSERT_NO_FATAL_FAILURE(start({{"sip.transaction_timeout", "300000"}}));
  int port = plugin_->port();
  auto messages = junk(port);
  ASSERT_GE(messages.size(), 60u);
  Udp udp(port);
  // Until the trunk list is loaded an INVITE without credentials might come
  // from a trunk and is taken statefully: its 407 comes after the loading.
  Request warm_up;
  auto challenge = udp.challenged(warm_up);
  ASSERT_EQ(challenge.rfind("SIP/2.0 407", 0), 0u) << challenge;
  std::size_t sent = 0;
  for (int round = 0; sent < 3000; ++round)
    for (auto& m : messages) {
      // Distinct Call-IDs and branches, as a fuzzer's mutations would have.
      std::string text = m;
      for (auto key : {"junk-", "z9hG4bK-junk-"}) {
        auto at = text.find(key);
        if (at != std::string::npos) text.insert(at + std::strlen(key), std::to_string(round) + "r");
      }
      udp.send(text);
      ++sent;
      if (sent % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  Udp probe(port);
  Request options;
  options.method = "OPTIONS";
  options.call_id = "after-junk";
  options.branch = "z9hG4bK-after-junk";
  probe.send(options);
  auto answer = probe.final_response();
  EXPECT_EQ(answer.rfind("SIP/2.0 200", 0), 0u) << answer;
  EXPECT_TRUE(server_transactions_end())
      << server_transactions() << " server transactions kept for junk";
}

TEST_F(SipRobustnessTest, LateRetransmissionOfAnInviteIsNotAReplay) {
  ASSERT_NO_FATAL_FAILURE(start({{"sip.transaction_timeout", "1000"}}));
  int port = plugin_->port();
  Udp udp(port);
  Request first;
  first.exten = "1999";
  auto challenge = udp.challenged(first);
  ASSERT_EQ(challenge.rfind("SIP/2.0 407", 0), 0u) << challenge;

  // The authenticated INVITE to a number nobody has: 404, ACKed.
  Request invite = first;
  invite.exten = "1777";
  invite.cseq = 2;
  invite.branch = "z9hG4bK-robust-2";
  invite.authorization = alice_authorization(header_value(challenge, "Proxy-Authenticate"),
                                             "sip:1777@127.0.0.1:" + std::to_string(port));
  udp.send(invite);
  auto refused = udp.final_response();
  ASSERT_EQ(refused.rfind("SIP/2.0 404", 0), 0u) << refused;
  udp.ack(invite, refused);
  ASSERT_TRUE(server_transactions_end());

  // The same INVITE again, its transaction gone: dropped, not a replay.
  udp.send(invite);
  // The same credentials on another request: a replay.
  Request replay = invite;
  replay.call_id = "robust-replay";
  replay.branch = "z9hG4bK-robust-replay";
  udp.send(replay);
  auto stale = udp.final_response();
  EXPECT_EQ(stale.rfind("SIP/2.0 407", 0), 0u) << stale;
  EXPECT_NE(header_value(stale, "Proxy-Authenticate").find("stale=true"), std::string::npos) << stale;
  EXPECT_EQ(header_value(stale, "Call-ID"), "robust-replay") << "the retransmission got an answer: " << stale;
  std::size_t replays = 0;
  for (auto& l : host_->logger().lines())
    if (l.find("replayed digest") != std::string::npos) ++replays;
  EXPECT_EQ(replays, 1u) << "only the replay is logged as one";
}

TEST_F(SipRobustnessTest, RegisterKeepsNoTransactionAndARetransmissionGetsTheSameAnswer) {
  // A transaction kept for a REGISTER would stay 5 minutes and show.
  ASSERT_NO_FATAL_FAILURE(start({{"sip.transaction_timeout", "300000"}}));
  std::size_t logged = host_->logger().lines().size();  // the suite shares its log
  int port = plugin_->port();
  Udp udp(port);
  Request first;
  first.method = "REGISTER";
  first.exten = "127.0.0.1";
  first.call_id = "robust-register";
  first.branch = "z9hG4bK-robust-register-1";
  // Its retransmission (sent before the 401 reached the phone) gets the
  // same 401, nonce and To tag, not a new challenge.
  std::string challenge, challenge_again;
  ASSERT_NO_FATAL_FAILURE(
      expect_the_same_challenge_twice(udp, first, "SIP/2.0 401", "WWW-Authenticate", challenge, challenge_again));
  // The same for an INVITE's 407.
  Request invite;
  invite.call_id = "robust-register-invite";
  invite.branch = "z9hG4bK-robust-register-invite";
  std::string proxy_challenge, proxy_again;
  ASSERT_NO_FATAL_FAILURE(expect_the_same_challenge_twice(udp, invite, "SIP/2.0 407", "Proxy-Authenticate",
                                                          proxy_challenge, proxy_again));
  udp.ack(invite, proxy_again);

  Request reg = first;
  reg.cseq = 2;
  reg.branch = "z9hG4bK-robust-register-2";
  reg.authorization = alice_authorization(header_value(challenge, "WWW-Authenticate"),
                                          "sip:127.0.0.1:" + std::to_string(port), "REGISTER");
  udp.send(reg);
  auto ok = udp.final_response();
  ASSERT_EQ(ok.rfind("SIP/2.0 200", 0), 0u) << ok;
  std::string contact = "<sip:alice@127.0.0.1:" + std::to_string(udp.port()) + ">";
  EXPECT_EQ(header_value(ok, "Contact").rfind(contact, 0), 0u) << ok;
  std::string tag = tag_of(header_value(ok, "To"));
  EXPECT_FALSE(tag.empty()) << ok;
  EXPECT_TRUE(server_transactions_end())
      << server_transactions() << " server transactions kept for a REGISTER";

  // The phone missed the 200 and sends the request again: the same answer,
  // not a replay, not a second registration.
  udp.send(reg);
  auto again = udp.final_response();
  ASSERT_EQ(again.rfind("SIP/2.0 200", 0), 0u) << again;
  EXPECT_EQ(tag_of(header_value(again, "To")), tag) << again;
  EXPECT_EQ(header_value(again, "Contact").rfind(contact, 0), 0u) << again;
  EXPECT_EQ(header_value(again, "CSeq"), "2 REGISTER") << again;
  auto lines = host_->logger().lines();
  for (std::size_t i = logged; i < lines.size(); ++i)
    EXPECT_EQ(lines[i].find("replayed digest"), std::string::npos) << lines[i];

  // The same credentials on another request (new branch, higher CSeq): a
  // replay, answered with a fresh challenge.
  Request replay = reg;
  replay.cseq = 3;
  replay.branch = "z9hG4bK-robust-register-3";
  udp.send(replay);
  auto stale = udp.final_response();
  EXPECT_EQ(stale.rfind("SIP/2.0 401", 0), 0u) << stale;
  EXPECT_NE(header_value(stale, "WWW-Authenticate").find("stale=true"), std::string::npos) << stale;
  EXPECT_TRUE(server_transactions_end());
}

TEST(AnsweredRequests, KeepsAnswersForTheirLifetimeOldestFirst) {
  sip::AnsweredRequests t(32000, 3);
  EXPECT_TRUE(t.begin("a", 0));
  EXPECT_FALSE(t.begin("a", 10)) << "a retransmission is not a new request";
  ASSERT_NE(t.find("a"), nullptr);
  EXPECT_EQ(t.find("a")->status, 0) << "still being answered";
  t.answer("a", {200, "", "Contact: <sip:x@h>"});
  EXPECT_EQ(t.find("a")->status, 200);
  EXPECT_EQ(t.find("a")->headers, "Contact: <sip:x@h>");
  EXPECT_TRUE(t.begin("b", 1000));
  EXPECT_TRUE(t.begin("c", 2000));
  // Full: the oldest goes first.
  EXPECT_TRUE(t.begin("d", 3000));
  EXPECT_EQ(t.find("a"), nullptr);
  EXPECT_EQ(t.size(), 3u);
  t.expire(32999);
  EXPECT_EQ(t.size(), 3u);
  t.expire(33000);
  EXPECT_EQ(t.find("b"), nullptr);
  EXPECT_NE(t.find("c"), nullptr);
  t.expire(40000);
  EXPECT_EQ(t.size(), 0u);
  t.answer("c", {200, "", ""});  // forgotten: ignored
  EXPECT_EQ(t.find("c"), nullptr);
}

// Many keys: the index grows, and keys dropped oldest first (by age and past
// the bound) leave every other key reachable.
TEST(AnsweredRequests, ThousandsOfKeysStayReachableAsTheOldestGo) {
  sip::AnsweredRequests t(1000, 5000);
  auto key = [](int i) { return "z9hG4bK" + std::to_string(i * 7919) + "\n127.0.0.1\n5060\n" + std::to_string(i) + "\n1REGISTER\n"; };
  for (int i = 0; i < 8000; ++i) ASSERT_TRUE(t.begin(key(i), i / 10)) << i;
  EXPECT_EQ(t.size(), 5000u);
  for (int i = 0; i < 3000; ++i) EXPECT_EQ(t.find(key(i)), nullptr) << "dropped past the bound: " << i;
  for (int i = 3000; i < 8000; ++i) {
    ASSERT_NE(t.find(key(i)), nullptr) << i;
    EXPECT_FALSE(t.begin(key(i), 800)) << "a retransmission: " << i;
  }
  t.answer(key(7999), {200, "", "Contact: <sip:u@h>"});
  EXPECT_EQ(t.find(key(7999))->status, 200);
  t.expire(1000 + 599);  // entered at 0..599 ms are gone: keys 0..5999
  EXPECT_EQ(t.size(), 2000u);
  for (int i = 6000; i < 8000; ++i) ASSERT_NE(t.find(key(i)), nullptr) << i;
  EXPECT_EQ(t.find(key(5999)), nullptr);
  t.expire(10000);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.find(key(7999)), nullptr);
  EXPECT_TRUE(t.begin(key(1), 10000)) << "usable again once emptied";
}

// Within the bound the wait is bounded without asking the kernel; past it,
// it is measured: a datagram read long after the last measure is measured.
TEST(ReceiveDelay, AskedWithinABoundMeasuresOnlyWhenTheWaitCouldBePastIt) {
  dialtone::testing::LoopbackUdp reader, writer;
  ASSERT_TRUE(timestamps_on(reader, writer));
  sip::ReceiveDelay delay;
  ASSERT_TRUE(delay.find_sockets(reader.port()));
  writer.send_to(reader.port(), "first");
  ASSERT_EQ(reader.receive(), "first");
  ASSERT_TRUE(delay.last_within(AF_INET, std::chrono::milliseconds(200)).has_value());
  writer.send_to(reader.port(), "second");
  auto sent = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually([&] { return std::chrono::steady_clock::now() - sent > std::chrono::milliseconds(300); }));
  ASSERT_EQ(reader.receive(), "second");
  auto second = delay.last_within(AF_INET, std::chrono::milliseconds(200));
  ASSERT_TRUE(second.has_value());
  EXPECT_GE(*second, std::chrono::milliseconds(300)) << "measured: past the bound";
  EXPECT_FALSE(delay.last_within(AF_INET6, std::chrono::milliseconds(200)).has_value());
}

TEST(ReceiveDelay, MeasuresHowLongTheLastDatagramReadWaited) {
  dialtone::testing::LoopbackUdp reader, writer;
  ASSERT_TRUE(timestamps_on(reader, writer));
  writer.send_to(reader.port(), "first");
  auto sent = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually([&] { return std::chrono::steady_clock::now() - sent > std::chrono::milliseconds(300); }));
  ASSERT_EQ(reader.receive(), "first");
  auto waited = sip::ReceiveDelay::last_of(reader.fd());
  ASSERT_TRUE(waited.has_value());
  EXPECT_GE(*waited, std::chrono::milliseconds(300));

  sip::ReceiveDelay delay;
  EXPECT_TRUE(delay.find_sockets(reader.port()));
  EXPECT_GE(*delay.last(AF_INET), std::chrono::milliseconds(300));
  EXPECT_FALSE(delay.last(AF_INET6).has_value()) << "no IPv6 socket on that port";
}

TEST(ReceiveDelay, LateRequestsAreRefusedThoseWithoutCredentialsSooner) {
  using std::chrono::microseconds;
  using std::chrono::milliseconds;
  EXPECT_FALSE(sip::too_late(std::nullopt, milliseconds(400), true)) << "no timestamp: served";
  EXPECT_FALSE(sip::too_late(microseconds(10'000'000), milliseconds(0), true)) << "0: no bound";
  EXPECT_FALSE(sip::too_late(microseconds(400'000), milliseconds(400), true));
  EXPECT_TRUE(sip::too_late(microseconds(400'001), milliseconds(400), true));
  EXPECT_FALSE(sip::too_late(microseconds(200'000), milliseconds(400), false));
  EXPECT_TRUE(sip::too_late(microseconds(200'001), milliseconds(400), false))
      << "a request that would only be challenged goes first";
}

TEST_F(SipRobustnessTest, NoFreeRelayPortsGets503WithRetryAfterAtOnce) {
  // The relay's whole range is held by another program.
  std::vector<std::unique_ptr<dialtone::testing::LoopbackUdp>> held;
  for (int p = 31000; p <= 31003; ++p) {
    held.push_back(std::make_unique<dialtone::testing::LoopbackUdp>(p));
    ASSERT_TRUE(held.back()->bound()) << "port " << p << " in use";
  }
  ASSERT_NO_FATAL_FAILURE(start({{"rtp.port_min", "31000"}, {"rtp.port_max", "31003"},
                                 {"sip.retry_after", "9000"}}));
  int port = plugin_->port();
  Udp udp(port);
  Request first;
  first.exten = "1002";
  first.call_id = "robust-ports";
  auto challenge = udp.challenged(first);
  ASSERT_EQ(challenge.rfind("SIP/2.0 407", 0), 0u) << challenge;

  Request invite = first;
  invite.cseq = 2;
  invite.branch = "z9hG4bK-robust-ports-2";
  invite.authorization = alice_authorization(header_value(challenge, "Proxy-Authenticate"),
                                             "sip:1002@127.0.0.1:" + std::to_string(port));
  invite.sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
               "m=audio 4000 RTP/AVP 0\r\n";
  udp.send(invite);
  auto refused = udp.final_response();
  EXPECT_EQ(refused.rfind("SIP/2.0 503", 0), 0u) << refused;
  EXPECT_EQ(header_value(refused, "Retry-After"), "9") << refused;
  held.clear();
}

}  // namespace
