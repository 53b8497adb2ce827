// The event loop of events.websocketd over Unix socket pairs: what each
// client reads, frame by frame, when clients share a filter, when the ACL
// narrows it, when it changes, when frames only get through a small socket
// in pieces, and when a client stops reading. The client side is written
// here by hand (masked frames in, unmasked frames out, RFC 6455 5.2).
#include <gtest/gtest.h>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <dialtone/testing/fake_host.h>

#include "plugins/events/websocketd/fanout_loop.h"
#include "plugins/events/websocketd/ws_frames.h"

namespace dialtone::plugins::events {
namespace {

class FakeAuth final : public sdk::Auth {
 public:
  std::map<std::string, sdk::TokenInfo> tokens;
  sdk::Result<sdk::TokenInfo> check(std::string_view token, std::string_view) override {
    auto it = tokens.find(std::string(token));
    if (it == tokens.end()) return sdk::Error{sdk::ErrorCode::unauthorized, "invalid token"};
    return it->second;
  }
  bool acl_allows(const sdk::TokenInfo& t, std::string_view required) const override {
    for (auto& a : t.acls)
      if (testing::topic_matches(a, required)) return true;
    return false;
  }
};

class Closer {
 public:
  explicit Closer(int fd) : fd_(fd) {}
  Closer(const Closer&) = delete;
  Closer& operator=(const Closer&) = delete;
  ~Closer() { ::close(fd_); }

 private:
  int fd_;
};

// The client's end of one stream.
class Peer {
 public:
  Peer(FanoutLoop& loop, std::atomic<int>& clients, sdk::TokenInfo token) {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fd_ = sv[0];
    ++clients;
    loop.adopt(sv[1], std::make_shared<Closer>(sv[1]), std::move(token));
  }
  ~Peer() { ::close(fd_); }
  void send(int opcode, const std::string& payload) {
    std::string f;
    f.push_back(static_cast<char>(0x80 | opcode));
    f.push_back(static_cast<char>(0x80 | payload.size()));  // tests send < 126 bytes
    const char mask[4] = {0x12, 0x34, 0x56, 0x78};
    f.append(mask, 4);
    for (std::size_t i = 0; i < payload.size(); ++i) f.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
    ASSERT_EQ(::write(fd_, f.data(), f.size()), static_cast<ssize_t>(f.size()));
  }
  void op(const std::string& op, const std::string& event = "") {
    send(kText, event.empty() ? R"({"op":")" + op + R"("})"
                              : R"({"op":")" + op + R"(","data":{"event_name":")" + event + R"("}})");
  }
  // Subscribes and reads the reply: true when it is code 0.
  bool subscribed(const std::string& pattern) {
    op("subscribe", pattern);
    return next() == R"(text {"op":"subscribe","code":0})";
  }
  // The next frame: "text <payload>", "close <code>", "ping", "pong <payload>";
  // "eof" or "silence" (nothing for 20 s: the bound only keeps a broken loop
  // from hanging the test).
  std::string next() {
    std::string head;
    if (!read_exact(2, head)) return last_;
    int op = head[0] & 0x0f;
    std::uint64_t n = static_cast<unsigned char>(head[1]) & 0x7f;
    std::string ext;
    if (n == 126) {
      if (!read_exact(2, ext)) return last_;
      n = (static_cast<unsigned char>(ext[0]) << 8) | static_cast<unsigned char>(ext[1]);
    } else if (n == 127) {
      if (!read_exact(8, ext)) return last_;
      n = 0;
      for (char c : ext) n = (n << 8) | static_cast<unsigned char>(c);
    }
    std::string payload;
    if (!read_exact(static_cast<std::size_t>(n), payload)) return last_;
    if (op == kText) return "text " + payload;
    if (op == kClose)
      return "close " + std::to_string((static_cast<unsigned char>(payload[0]) << 8) |
                                       static_cast<unsigned char>(payload[1]));
    if (op == kPing) return "ping";
    if (op == kPong) return "pong " + payload;
    return "op " + std::to_string(op);
  }

 private:
  bool read_exact(std::size_t n, std::string& out) {
    out.clear();
    while (out.size() < n) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20000) <= 0) {
        last_ = "silence";
        return false;
      }
      char buf[65536];
      ssize_t r = ::read(fd_, buf, std::min(sizeof buf, n - out.size()));
      if (r <= 0) {
        last_ = "eof";
        return false;
      }
      out.append(buf, static_cast<std::size_t>(r));
    }
    return true;
  }
  int fd_ = -1;
  std::string last_;
};

class FanoutLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auth_ = std::make_shared<FakeAuth>();
    auth_->tokens["admin"] = sdk::TokenInfo{"admin", "a-uuid", "admin", "dialtone_user", {"#"}, 0, 0};
    auth_->tokens["created-only"] =
        sdk::TokenInfo{"created-only", "w-uuid", "watcher", "dialtone_user", {"events.calls.channel.created"}, 0, 0};
  }
  void start(StreamConfig cfg = {}) {
    loop_ = std::make_unique<FanoutLoop>(cfg, log_, auth_, executor_, clients_);
    ASSERT_TRUE(loop_->start());
  }
  void TearDown() override {
    if (loop_) loop_->stop();
  }
  void publish(const std::string& topic, const std::string& body) {
    loop_->publish(std::make_shared<const EventFrame>(EventFrame{topic, event_frame(topic, body)}));
  }
  static std::string event(const std::string& topic, const std::string& body) {
    return "text {\"name\":\"" + topic + "\",\"data\":" + body + "}";
  }
  testing::FakeLogger log_;
  testing::FakeExecutor executor_;
  std::shared_ptr<FakeAuth> auth_;
  std::atomic<int> clients_{0};
  std::unique_ptr<FanoutLoop> loop_;
};

TEST_F(FanoutLoopTest, ClientsWithOneFilterEachGetEveryFrameInOrder) {
  start();
  Peer a(*loop_, clients_, auth_->tokens["admin"]), b(*loop_, clients_, auth_->tokens["admin"]);
  ASSERT_TRUE(a.subscribed("calls.#"));
  ASSERT_TRUE(b.subscribed("calls.#"));
  for (int i = 0; i < 300; ++i) {
    publish("calls.channel.state", "{\"n\":" + std::to_string(i) + "}");
    publish("config.user.created", "{\"n\":" + std::to_string(i) + "}");
  }
  publish("calls.channel.ended", "{}");
  for (auto* p : {&a, &b}) {
    for (int i = 0; i < 300; ++i) ASSERT_EQ(p->next(), event("calls.channel.state", "{\"n\":" + std::to_string(i) + "}"));
    EXPECT_EQ(p->next(), event("calls.channel.ended", "{}"));
  }
}

// Events published while the loop writes to many clients join the pass
// under way (fanout_loop.cc, kInboxEvery): still every client of each filter
// gets each of its events once, in order.
TEST_F(FanoutLoopTest, EventsDuringAPassOverManyClientsReachEachClientOnceInOrder) {
  start();
  std::vector<std::unique_ptr<Peer>> peers;
  for (int i = 0; i < 200; ++i) {
    peers.push_back(std::make_unique<Peer>(*loop_, clients_, auth_->tokens[i % 2 ? "created-only" : "admin"]));
    ASSERT_TRUE(peers.back()->subscribed("calls.#"));
  }
  std::thread publisher([this] {
    for (int i = 0; i < 200; ++i) {
      publish("calls.channel.created", "{\"n\":" + std::to_string(i) + "}");
      publish("calls.channel.state", "{\"n\":" + std::to_string(i) + "}");
    }
    publish("calls.channel.created", "{\"last\":1}");
  });
  publisher.join();
  for (std::size_t k = 0; k < peers.size(); ++k) {
    bool all = k % 2 == 0;  // the admin's clients: both topics; the others only created
    for (int i = 0; i < 200; ++i) {
      ASSERT_EQ(peers[k]->next(), event("calls.channel.created", "{\"n\":" + std::to_string(i) + "}")) << "client " << k;
      if (all) {
        ASSERT_EQ(peers[k]->next(), event("calls.channel.state", "{\"n\":" + std::to_string(i) + "}")) << k;
      }
    }
    EXPECT_EQ(peers[k]->next(), event("calls.channel.created", "{\"last\":1}")) << "client " << k;
  }
}

// websocketd.batch_delay: the events wait for those that follow them, then
// every client gets each of its events once, in order, replies included.
TEST_F(FanoutLoopTest, WithABatchDelayEveryEventStillArrivesInOrder) {
  StreamConfig cfg;
  cfg.batch_delay = std::chrono::milliseconds(20);
  start(cfg);
  Peer a(*loop_, clients_, auth_->tokens["admin"]), w(*loop_, clients_, auth_->tokens["created-only"]);
  ASSERT_TRUE(a.subscribed("calls.#"));
  ASSERT_TRUE(w.subscribed("calls.#"));
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 50; ++i) {
      publish("calls.channel.created", "{\"n\":" + std::to_string(i) + "}");
      publish("calls.channel.state", "{\"n\":" + std::to_string(i) + "}");
    }
    for (int i = 0; i < 50; ++i) {
      ASSERT_EQ(a.next(), event("calls.channel.created", "{\"n\":" + std::to_string(i) + "}"));
      ASSERT_EQ(a.next(), event("calls.channel.state", "{\"n\":" + std::to_string(i) + "}"));
      ASSERT_EQ(w.next(), event("calls.channel.created", "{\"n\":" + std::to_string(i) + "}"));
    }
    a.op("heartbeat");
    EXPECT_EQ(a.next(), R"(text {"op":"heartbeat","code":0})");
  }
}

TEST_F(FanoutLoopTest, TheAclNarrowsASubscriptionAndUnsubscribeEndsIt) {
  start();
  Peer w(*loop_, clients_, auth_->tokens["created-only"]);
  ASSERT_TRUE(w.subscribed("#"));
  publish("calls.channel.created", R"({"id":"c1"})");
  publish("calls.channel.ended", R"({"id":"c1"})");
  publish("config.user.created", R"({"id":1})");
  publish("calls.channel.created", R"({"id":"c2"})");
  EXPECT_EQ(w.next(), event("calls.channel.created", R"({"id":"c1"})"));
  EXPECT_EQ(w.next(), event("calls.channel.created", R"({"id":"c2"})"));

  Peer a(*loop_, clients_, auth_->tokens["admin"]);
  a.op("subscribe", "calls.#");
  a.op("subscribe", "config.#");
  a.op("unsubscribe", "calls.#");
  EXPECT_EQ(a.next(), R"(text {"op":"subscribe","code":0})");
  EXPECT_EQ(a.next(), R"(text {"op":"subscribe","code":0})");
  EXPECT_EQ(a.next(), R"(text {"op":"unsubscribe","code":0})");
  publish("calls.channel.created", R"({"id":"c3"})");
  publish("config.user.edited", R"({"id":1})");
  EXPECT_EQ(a.next(), event("config.user.edited", R"({"id":1})"));
}

TEST_F(FanoutLoopTest, FramesCutBySmallSocketsArriveWholeAndInOrder) {
  StreamConfig cfg;
  cfg.socket_buffer = 4096;
  start(cfg);
  Peer a(*loop_, clients_, auth_->tokens["admin"]);
  ASSERT_TRUE(a.subscribed("calls.#"));
  const std::string pad(3000, 'x');
  for (int i = 0; i < 200; ++i) publish("calls.channel.state", "{\"n\":" + std::to_string(i) + ",\"pad\":\"" + pad + "\"}");
  a.send(kPing, "are you there");  // answered among the events, in one piece
  bool pong = false;
  for (int i = 0; i < 200;) {
    auto f = a.next();
    if (f == "pong are you there" && !pong) {
      pong = true;
      continue;
    }
    ASSERT_EQ(f, event("calls.channel.state", "{\"n\":" + std::to_string(i) + ",\"pad\":\"" + pad + "\"}"));
    ++i;
  }
  if (!pong) {
    EXPECT_EQ(a.next(), "pong are you there");
  }
}

// Frames the former filter let through and the socket did not take yet are
// still owed after a subscription change, before its reply and what follows.
TEST_F(FanoutLoopTest, ASubscriptionChangeKeepsWhatWasOwed) {
  StreamConfig cfg;
  cfg.socket_buffer = 4096;
  start(cfg);
  Peer a(*loop_, clients_, auth_->tokens["admin"]), b(*loop_, clients_, auth_->tokens["admin"]);
  ASSERT_TRUE(a.subscribed("calls.#"));
  ASSERT_TRUE(b.subscribed("calls.#"));
  const std::string pad(3000, 'z');
  auto state = [&](int i) { return "{\"n\":" + std::to_string(i) + ",\"pad\":\"" + pad + "\"}"; };
  for (int i = 0; i < 100; ++i) publish("calls.channel.state", state(i));
  // b read them all: the loop has queued them for a too, which has read nothing.
  for (int i = 0; i < 100; ++i) ASSERT_EQ(b.next(), event("calls.channel.state", state(i)));
  a.op("subscribe", "config.#");
  a.op("unsubscribe", "calls.#");
  for (int i = 0; i < 100; ++i) ASSERT_EQ(a.next(), event("calls.channel.state", state(i)));
  EXPECT_EQ(a.next(), R"(text {"op":"subscribe","code":0})");
  EXPECT_EQ(a.next(), R"(text {"op":"unsubscribe","code":0})");
  publish("calls.channel.state", state(100));
  publish("config.user.created", R"({"id":7})");
  EXPECT_EQ(a.next(), event("config.user.created", R"({"id":7})"));
}

TEST_F(FanoutLoopTest, AClientThatStopsReadingIsClosedWith1008AndOthersGoOn) {
  StreamConfig cfg;
  cfg.queue_size = 8;
  cfg.socket_buffer = 4096;
  start(cfg);
  Peer slow(*loop_, clients_, auth_->tokens["admin"]), fast(*loop_, clients_, auth_->tokens["admin"]);
  ASSERT_TRUE(slow.subscribed("calls.#"));
  ASSERT_TRUE(fast.subscribed("calls.#"));
  const std::string pad(2000, 'y');
  int n = 0;
  for (; n < 5000 && !log_.contains("read slower than events came"); ++n) {
    publish("calls.channel.state", "{\"n\":" + std::to_string(n) + ",\"pad\":\"" + pad + "\"}");
    ASSERT_EQ(fast.next(), event("calls.channel.state", "{\"n\":" + std::to_string(n) + ",\"pad\":\"" + pad + "\"}"));
  }
  ASSERT_LT(n, 5000) << "the slow client was never cut";
  std::string f;
  int got = 0;
  while ((f = slow.next()).rfind("text ", 0) == 0) ++got;
  EXPECT_EQ(f, "close 1008");
  EXPECT_LT(got, n);
  EXPECT_EQ(slow.next(), "eof");  // and its socket is closed once the close frame got through
  publish("calls.channel.ended", "{}");
  EXPECT_EQ(fast.next(), event("calls.channel.ended", "{}"));
}

TEST_F(FanoutLoopTest, AnUnmaskedFrameIsAProtocolError) {
  start();
  Peer a(*loop_, clients_, auth_->tokens["admin"]);
  a.op("heartbeat");
  EXPECT_EQ(a.next(), R"(text {"op":"heartbeat","code":0})");
  a.op("subscribe");
  EXPECT_EQ(a.next().rfind(R"(text {"op":"subscribe","code":400,"msg":)", 0), 0u);
  Peer b(*loop_, clients_, auth_->tokens["admin"]);
  // A frame a client did not mask: 0x81, length 2, no mask bit.
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  ++clients_;
  loop_->adopt(sv[1], std::make_shared<Closer>(sv[1]), auth_->tokens["admin"]);
  ASSERT_EQ(::write(sv[0], "\x81\x02{}", 4), 4);
  char buf[16];
  ssize_t r = 0;
  pollfd p{sv[0], POLLIN, 0};
  ASSERT_GT(::poll(&p, 1, 20000), 0);
  r = ::read(sv[0], buf, sizeof buf);
  ASSERT_GE(r, 4);
  EXPECT_EQ(static_cast<unsigned char>(buf[0]), 0x88);
  EXPECT_EQ((static_cast<unsigned char>(buf[2]) << 8) | static_cast<unsigned char>(buf[3]), 1002);
  ::close(sv[0]);
}

TEST(ClientFrameReader, JoinsFragmentsAcrossReadsAndRefusesWhatIsTooBig) {
  auto masked = [](int first, const std::string& payload) {
    std::string f;
    f.push_back(static_cast<char>(first));
    f.push_back(static_cast<char>(0x80 | payload.size()));
    f.append("\x01\x02\x03\x04", 4);
    for (std::size_t i = 0; i < payload.size(); ++i) f.push_back(static_cast<char>(payload[i] ^ (1 + i % 4)));
    return f;
  };
  // "hel" (text, not FIN), a ping between, "lo" (continuation, FIN): fed a byte at a time.
  std::string bytes = masked(0x01, "hel") + masked(0x89, "p") + masked(0x80, "lo");
  ClientFrameReader r(64);
  std::vector<ClientMessage> out;
  for (char c : bytes) ASSERT_EQ(r.feed(&c, 1, out), ClientFrameReader::Status::ok);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].opcode, kPing);
  EXPECT_EQ(out[0].payload, "p");
  EXPECT_EQ(out[1].opcode, kText);
  EXPECT_EQ(out[1].payload, "hello");

  ClientFrameReader small(4);
  auto big = masked(0x81, "too long");
  EXPECT_EQ(small.feed(big.data(), big.size(), out), ClientFrameReader::Status::too_big);
  ClientFrameReader strict(64);
  auto orphan = masked(0x80, "x");  // a continuation with nothing to continue
  EXPECT_EQ(strict.feed(orphan.data(), orphan.size(), out), ClientFrameReader::Status::protocol_error);
}

}  // namespace
}  // namespace dialtone::plugins::events
