// The event stream (events.websocketd) against a real dialtoned with confd,
// through a real WebSocket client (python3-websockets, ws_client.py): config
// events arrive in order, the token's ACLs filter them, a bad token is
// refused at the upgrade, and a client that stops reading is cut with 1008.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <chrono>
#include <thread>
#include <vector>

#include "tests/integration/support/dialtoned_fixture.h"

namespace {

using dialtone::testing::Dialtoned;
using dialtone::testing::json_string;

// A ws_client.py run whose output lines are read as they come.
struct Client : dialtone::testing::OutputLines {
  explicit Client(const std::string& args) : OutputLines(std::string(WS_PYTHON) + " " + WS_CLIENT + " " + args) {}
};

class EventStream : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    port_ = dialtone::testing::free_tcp_udp_port();
    d_ = new Dialtoned({.plugin_files = {{"50-confd.conf", "[plugin]\nname = api.confd\n"},
                                         {"60-events.conf", "[plugin]\nname = events.websocketd\n\n[websocketd]\n"
                                                            "listen = 127.0.0.1:" + std::to_string(port_) +
                                                            "\nqueue_size = 8\nsocket_buffer = 4096\n"
                                                            "token_check_interval = 1s\n"}}});
  }
  static void TearDownTestSuite() {
    delete d_;
    d_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(d_->ready()) << d_->error(); }
  static std::string url() { return "--url ws://127.0.0.1:" + std::to_string(port_) + "/"; }
  dialtone::testing::HttpAnswer confd(const std::string& method, const std::string& path,
                                      const std::string& body = "") {
    return d_->http(method, "confd", "/1.1" + path, body, {{"X-Auth-Token", d_->token()}});
  }
  static Dialtoned* d_;
  static int port_;
};
Dialtoned* EventStream::d_ = nullptr;
int EventStream::port_ = 0;

TEST_F(EventStream, EventsInOrderAndFilteredByAcl) {
  auto acct = d_->http("POST", "auth", "/0.1/users",
                       R"({"username":"watcher","password":"watch-pw","acls":["events.config.user.created"]})",
                       {{"X-Auth-Token", d_->token()}});
  ASSERT_TRUE(acct.status == 200 || acct.status == 201) << acct.body;
  auto limited = d_->token_for("watcher", "watch-pw");
  ASSERT_FALSE(limited.empty());

  Client admin(url() + " --header-token " + d_->token() + " --subscribe config.user.# --count 4");
  Client watcher(url() + " --query-token " + limited + " --subscribe config.# --count 2");
  ASSERT_EQ(admin.line(), "ready");
  ASSERT_EQ(watcher.line(), "ready");

  auto u1 = confd("POST", "/users", R"({"firstname":"Ev","lastname":"One"})");
  ASSERT_EQ(u1.status, 201) << u1.body;
  auto id = json_string(u1.body, "/id");
  ASSERT_EQ(confd("PUT", "/users/" + id, R"({"firstname":"Eve","lastname":"One"})").status, 204);
  ASSERT_EQ(confd("DELETE", "/users/" + id).status, 204);
  auto u2 = confd("POST", "/users", R"({"firstname":"Ev","lastname":"Two"})");
  ASSERT_EQ(u2.status, 201) << u2.body;
  auto one = "\"id\":" + id + ",";
  auto two = "\"id\":" + json_string(u2.body, "/id") + ",";

  auto a = admin.rest();
  ASSERT_EQ(a.size(), 4u);
  EXPECT_EQ(a[0].rfind("event config.user.created ", 0), 0u) << a[0];
  EXPECT_NE(a[0].find(one), std::string::npos) << a[0];
  EXPECT_NE(a[1].find(one), std::string::npos) << a[1];
  EXPECT_NE(a[2].find(one), std::string::npos) << a[2];
  EXPECT_EQ(a[1].rfind("event config.user.edited ", 0), 0u) << a[1];
  EXPECT_EQ(a[2].rfind("event config.user.deleted ", 0), 0u) << a[2];
  EXPECT_EQ(a[3].rfind("event config.user.created ", 0), 0u) << a[3];
  EXPECT_NE(a[3].find(two), std::string::npos) << a[3];

  // The watcher's ACL names only creations: edits and deletions never reach it.
  auto w = watcher.rest();
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].rfind("event config.user.created ", 0), 0u) << w[0];
  EXPECT_NE(w[0].find(one), std::string::npos) << w[0];
  EXPECT_EQ(w[1].rfind("event config.user.created ", 0), 0u) << w[1];
  EXPECT_NE(w[1].find(two), std::string::npos) << w[1];
}

TEST_F(EventStream, BadTokenIsRefusedAtUpgrade) {
  Client c(url() + " --header-token not-a-token --subscribe config.#");
  EXPECT_EQ(c.line(), "refused 401");
  Client q(url() + " --query-token not-a-token --subscribe config.#");
  EXPECT_EQ(q.line(), "refused 401");
}

// The slow client reads nothing until the flag file exists. Users are
// created until the server says the client overflowed (it says so when it
// happens), and only then does the client read: how long the creations take
// no longer decides anything (with a fixed count, a loaded machine kept the
// client silent past two ping intervals and it was dropped without its 1008).
TEST_F(EventStream, SlowClientIsCutWithCloseFrame) {
  const std::string overflowed = "read slower than events came";
  auto seen = [&] {
    std::size_t n = 0;
    auto out = d_->output();
    for (auto p = out.find(overflowed); p != std::string::npos; p = out.find(overflowed, p + 1)) ++n;
    return n;
  };
  const auto before = seen();
  auto flag = d_->dir() / "drain-now";
  Client slow(url() + " --header-token " + d_->token() + " --subscribe config.user.# --slow-until " + flag.string());
  ASSERT_EQ(slow.line(), "ready");
  const int bound = 3000;  // far more than queue_size (8) and the socket buffers hold
  int produced = 0;
  while (seen() == before) {
    ASSERT_LT(produced, bound) << "the slow client was never cut\n" << d_->output();
    for (int i = 0; i < 10; ++i, ++produced)
      ASSERT_EQ(confd("POST", "/users", R"({"firstname":"Slow","lastname":"Reader )" + std::to_string(produced) +
                                            R"(","description":"padding padding padding padding padding padding"})")
                    .status,
                201);
  }
  std::ofstream(flag.string()) << "go\n";
  auto lines = slow.rest();
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back().rfind("closed 1008 ", 0), 0u) << lines.back();
  EXPECT_LT(lines.size() - 1, static_cast<std::size_t>(produced));

  // The server keeps serving others.
  Client next(url() + " --header-token " + d_->token() + " --subscribe config.user.# --count 1");
  ASSERT_EQ(next.line(), "ready");
  auto after = confd("POST", "/users", R"({"firstname":"After","lastname":"Cut"})");
  ASSERT_EQ(after.status, 201) << after.body;
  auto n = next.rest();
  ASSERT_EQ(n.size(), 1u);
  EXPECT_NE(n[0].find("\"id\":" + json_string(after.body, "/id") + ","), std::string::npos) << n[0];
}

// Tokens that must expire during a test live 3 s, unless starting a client
// took longer than that (a loaded machine): the test then tries again with
// twice the lifetime, up to this.
constexpr int kLongestLifetime = 48;

// The stream lives as long as its token: an expired token closes it with
// 4001, and a revoked one at the next check (token_check_interval = 1s).
TEST_F(EventStream, ExpiredOrRevokedTokenEndsTheStream) {
  auto acct = d_->http("POST", "auth", "/0.1/users",
                       R"({"username":"brief","password":"brief-pw","acls":["events.#"]})",
                       {{"X-Auth-Token", d_->token()}});
  ASSERT_TRUE(acct.status == 200 || acct.status == 201) << acct.body;
  std::vector<std::string> lines;
  for (int lifetime = 3; lines.empty(); lifetime *= 2) {
    ASSERT_LE(lifetime, kLongestLifetime) << "no client subscribed before its token expired";
    auto short_lived = d_->token_for("brief", "brief-pw", lifetime);
    ASSERT_FALSE(short_lived.empty());
    Client expiring(url() + " --header-token " + short_lived + " --subscribe config.# --count 1000 --timeout 60");
    if (expiring.line() == "ready") lines = expiring.rest();
  }
  EXPECT_EQ(lines.back().rfind("closed 4001 token expired", 0), 0u) << lines.back();

  auto revoked = d_->token_for("brief", "brief-pw");
  Client cut(url() + " --header-token " + revoked + " --subscribe config.# --count 1000 --timeout 30");
  ASSERT_EQ(cut.line(), "ready");
  ASSERT_EQ(d_->http("DELETE", "auth", "/0.1/token/" + revoked, "", {{"X-Auth-Token", revoked}}).status, 204);
  lines = cut.rest();
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back().rfind("closed 4001 token revoked", 0), 0u) << lines.back();
  EXPECT_TRUE(d_->wait_output("closed: its token was revoked", 10)) << d_->output();
}

// A client renews its token before it expires and keeps the stream; the
// heartbeat op is answered at once. A second stream on the same first token,
// not renewed, shows when the server has acted on its expiry: once that one
// is closed (4001), the renewed one would have been closed in the same pass.
TEST_F(EventStream, RenewedTokenKeepsTheStreamAndHeartbeatIsAnswered) {
  auto acct = d_->http("POST", "auth", "/0.1/users",
                       R"({"username":"renewer","password":"renew-pw","acls":["events.config.#"]})",
                       {{"X-Auth-Token", d_->token()}});
  ASSERT_TRUE(acct.status == 200 || acct.status == 201) << acct.body;
  auto second = d_->token_for("renewer", "renew-pw", 3600);
  std::unique_ptr<Client> control, renewed;
  for (int lifetime = 3; !renewed; lifetime *= 2) {
    ASSERT_LE(lifetime, kLongestLifetime) << "the clients never subscribed and renewed before the token expired";
    auto first = d_->token_for("renewer", "renew-pw", lifetime);
    ASSERT_FALSE(first.empty());
    control = std::make_unique<Client>(url() + " --header-token " + first +
                                       " --subscribe config.user.created --count 1 --timeout 60");
    auto c = std::make_unique<Client>(url() + " --header-token " + first +
                                      " --subscribe config.user.created --heartbeat --renew-token " + second +
                                      " --count 1 --timeout 60");
    if (c->line() != "reply heartbeat 0" || c->line() != "ready" || c->line() != "reply token 0" ||
        control->line() != "ready")
      continue;
    renewed = std::move(c);
  }
  Client& c = *renewed;
  auto ended = control->rest();
  ASSERT_FALSE(ended.empty());
  ASSERT_EQ(ended.back().rfind("closed 4001 token expired", 0), 0u) << ended.back();
  // Past the first token's expiry the renewed stream still delivers.
  auto u = confd("POST", "/users", R"({"firstname":"Renewed","lastname":"Stream"})");
  ASSERT_EQ(u.status, 201) << u.body;
  auto rest = c.rest();
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].rfind("event config.user.created ", 0), 0u) << rest[0];
  EXPECT_NE(rest[0].find("\"id\":" + json_string(u.body, "/id") + ","), std::string::npos) << rest[0];

  // A bad token is refused and the current one stays.
  Client bad(url() + " --header-token " + second + " --subscribe config.user.created --renew-token nope --count 1 "
             "--timeout 2");
  EXPECT_EQ(bad.line(), "ready");
  EXPECT_EQ(bad.line(), "reply token 401");
  EXPECT_EQ(bad.line(), "timeout");
}

// A client that stops reading answers no ping either: after two ping
// intervals (5 s here, so 11 s) the server drops it, even while its writer
// thread is blocked sending to it (the overflow's close frame cannot get
// through; its send gives up then). With max_clients = 1, the next client
// is let in only once that session, writer thread included, has ended.
TEST(EventStreamSilence, ASilentClientIsDroppedAndItsBlockedWriterFreed) {
  const int port = dialtone::testing::free_tcp_udp_port();
  Dialtoned d({.plugin_files = {{"50-confd.conf", "[plugin]\nname = api.confd\n"},
                                {"60-events.conf", "[plugin]\nname = events.websocketd\n\n[websocketd]\n"
                                                   "listen = 127.0.0.1:" + std::to_string(port) +
                                                   "\nqueue_size = 8\nsocket_buffer = 4096\nping_interval = 5s\n"
                                                   "max_clients = 1\n"}}});
  ASSERT_TRUE(d.ready()) << d.error();
  const std::string args = "--url ws://127.0.0.1:" + std::to_string(port) + "/ --header-token " + d.token() +
                           " --subscribe config.user.# ";
  auto flag = d.dir() / "drain-now";
  Client mute(args + "--slow-until " + flag.string());
  ASSERT_EQ(mute.line(), "ready");
  // Events until its queue overflows: by then its socket is full and the
  // writer blocks in send.
  auto cut = [&] {
    auto out = d.output();
    return out.find("read slower than events came") != std::string::npos ||
           out.find("closed: it answered no ping") != std::string::npos ||
           out.find("closed: it read nothing") != std::string::npos;
  };
  for (int i = 0; !cut(); ++i) {
    ASSERT_LT(i, 3000) << d.output();
    ASSERT_EQ(d.http("POST", "confd", "/1.1/users", R"({"firstname":"Mute","lastname":")" + std::to_string(i) +
                                                         R"(","description":"padding padding padding padding"})",
                     {{"X-Auth-Token", d.token()}})
                  .status,
              201);
  }
  EXPECT_TRUE(d.wait_output("for two ping intervals", 60)) << d.output();
  // Refused (503) while the session lasts; the bound only keeps a broken
  // server from hanging the test.
  std::string got;
  dialtone::testing::eventually([&] {
    Client next(args + "--count 0");
    got = next.line();
    return got == "ready";
  });
  EXPECT_EQ(got, "ready") << d.output();
  std::ofstream(flag.string()) << "go\n";  // the mute client reads what is left and ends
  EXPECT_NE(mute.rest().size(), 0u);
}

}  // namespace
