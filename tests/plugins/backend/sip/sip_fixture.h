// The set-up every backend.sip test file shares, as a fixture: one
// SipTestHost per suite with the suite's lines, the plugin started per test on
// 127.0.0.1 (port 0), and SIPp phones that register and call it.
//
// @code
//   class HoldTest : public dialtone::testing::SipPluginTest {
//    protected:
//     static void SetUpTestSuite() { make_host({{"alice", "1001"}, {"bob", "1002"}}); }
//     void SetUp() override { start_plugin({{"rtp.bind", "127.0.0.2"}}); }
//   };
//   TEST_F(HoldTest, CallGoesThrough) {
//     Phone bob;
//     ASSERT_NO_FATAL_FAILURE(callee(bob, "bob", "uas_answer.xml"));
//     Phone alice;
//     caller(alice, "alice", "1002", "uac_call_hangup.xml");
//     EXPECT_EQ(alice.finish(), 0) << alice.out;
//     EXPECT_EQ(bob.finish(), 0) << bob.out;
//     expect_idle();
//   }
// @endcode
#pragma once

#include <future>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "plugins/backend/sip/sip_plugin.h"
#include "tests/plugins/backend/sip/sip_host.h"

namespace dialtone::testing {

class SipPluginTest : public ::testing::Test {
 protected:
  // A SIPp phone running in the background. `out` is declared first so it
  // outlives `rc`, whose destructor waits for SIPp to write it.
  struct Phone {
    std::string out;
    std::future<int> rc;
    int finish() { return rc.get(); }
  };

  // The suite's host on a fresh database, with one line per (username,
  // extension), password username + "pw"; `script` as for SipTestHost.
  static void make_host(const std::vector<std::pair<std::string, std::string>>& lines,
                        std::filesystem::path script = {}) {
    host_ = new SipTestHost(std::move(script));
    user_ids_.clear();
    for (auto& [user, exten] : lines) user_ids_[user] = host_->add_line(user, user + "pw", exten);
  }
  // A peer trunk `username` to `host` (host[:port]) whose incoming calls
  // land in `context`, with `secret` and endpoint `options` (a JSON list of
  // [key, value] pairs); its confd_trunks id. Read when the plugin starts.
  static std::string add_peer_trunk(const std::string& username, const std::string& host,
                                    const std::string& context, const std::string& options = "[]",
                                    const std::string& secret = "") {
    auto e = host_->sql(
        "INSERT INTO confd_endpoints_sip (username, secret, type, host, options) "
        "VALUES ($1, $2, 'peer', $3, $4::json) RETURNING id",
        {username, secret, host, options});
    return host_->sql("INSERT INTO confd_trunks (context, endpoint_sip_id) VALUES ($1, $2::int) RETURNING id",
                      {context, e});
  }
  // A SIPp peer (a provider, another PBX) on 127.0.0.1:`port` running `file`
  // once in the background, `extra` appended, its log in `out`. With a
  // `remote` (host:port) it sends there first, as a calling peer does;
  // without, it waits for requests and is bound before this returns.
  static std::future<int> peer(const std::string& file, int port, std::string* out,
                               const std::vector<std::string>& extra = {}, const std::string& remote = "") {
    std::vector<std::string> args{"-sf", scenario(file), "-i", "127.0.0.1", "-p", std::to_string(port), "-mp",
                                  std::to_string(free_media_port()), "-m", "1", "-timeout", "25s", "-timeout_error",
                                  "-trace_logs"};
    if (!remote.empty()) args.insert(args.begin(), remote);
    args.insert(args.end(), extra.begin(), extra.end());
    auto f = std::async(std::launch::async, [args, out] { return run_sipp(args, out); });
    if (remote.empty()) wait_udp_bound(port);
    return f;
  }
  static void TearDownTestSuite() {
    delete host_;
    host_ = nullptr;
  }
  void TearDown() override {
    if (plugin_) plugin_->stop();
    plugin_.reset();
  }

  // (Re)starts the plugin on 127.0.0.1, port 0, with `options` over
  // sip.listen and sip.node.
  void start_plugin(const std::map<std::string, std::string>& options = {}) {
    if (plugin_) plugin_->stop();
    std::map<std::string, std::string> values{{"sip.listen", "127.0.0.1:0"}, {"sip.node", "test-node"}};
    for (auto& [k, v] : options) values[k] = v;
    plugin_ = std::make_unique<plugins::backend::sip::SipPlugin>(*host_);
    auto c = plugin_->configure(sdk::Options(values));
    ASSERT_TRUE(c) << c.error().message;
    auto s = plugin_->start();
    ASSERT_TRUE(s) << s.error().message;
    target_ = "127.0.0.1:" + std::to_string(plugin_->port());
    free_pairs_ = plugin_->media_free_pairs();
  }

  // SIPp arguments for `file` on free signalling and media ports, `calls`
  // calls, failing on any unexpected message or after `timeout`.
  static std::vector<std::string> sipp_args(const std::string& file, int calls = 1,
                                            const std::string& timeout = "30s") {
    return {"-sf", scenario(file), "-i", "127.0.0.1", "-mi", "127.0.0.1", "-p",
            std::to_string(free_port()), "-mp", std::to_string(free_media_port()), "-m",
            std::to_string(calls), "-timeout", timeout, "-timeout_error", "-trace_logs"};
  }

  // A BLF key of `user` on `target` (a dialog subscription, its NOTIFYs
  // checked by `file`: keywords user, target, event, accept, expires) run by
  // SIPp in the background for at most `timeout`.
  void blf_key(Phone& key, const std::string& user, const std::string& target, const std::string& file,
               const std::string& timeout = "60s") {
    auto args = sipp_args(file, 1, timeout);
    args.insert(args.begin(), target_);
    args.insert(args.end(), {"-au", user, "-ap", user + "pw", "-key", "user", user, "-key", "target", target,
                             "-key", "event", "dialog", "-key", "accept", "application/dialog-info+xml", "-key",
                             "expires", "600"});
    key.rc = std::async(std::launch::async, [args, &key] { return run_sipp(args, &key.out); });
  }

  // SIPp as a client of the plugin running `file` for `calls` calls, `extra`
  // appended; its exit status.
  int client(const std::string& file, const std::vector<std::string>& extra, std::string* out, int calls = 1) {
    auto args = sipp_args(file, calls, "25s");
    args.insert(args.begin(), target_);
    args.insert(args.end(), extra.begin(), extra.end());
    return run_sipp(args, out);
  }

  // Registers `user` (password user + "pw") with its contact on `contact_port`
  // (`extra`: more SIPp arguments, e.g. the -key of `file`'s own keywords).
  int register_contact(const std::string& user, int contact_port, std::string* out,
                       const std::string& file = "register.xml", const std::string& expires = "3600",
                       const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args{"-au", user, "-ap", user + "pw", "-key", "user", user, "-key", "contact_port",
                                  std::to_string(contact_port), "-key", "expires", expires};
    args.insert(args.end(), extra.begin(), extra.end());
    return client(file, args, out);
  }

  // `user` answers on a SIPp phone running `file` for `calls` calls (with
  // `extra` arguments), bound and registered before this returns.
  // `user_agent`: the REGISTER's User-Agent (none when empty).
  void callee(Phone& p, const std::string& user, const std::string& file, int calls = 1,
              const std::vector<std::string>& extra = {}, const std::string& user_agent = {}) {
    auto args = sipp_args(file, calls);
    int port = std::stoi(args[7]);
    args.insert(args.end(), extra.begin(), extra.end());
    p.rc = std::async(std::launch::async, [args, &p] { return run_sipp(args, &p.out); });
    // An INVITE to a phone not yet listening would fail the call.
    ASSERT_TRUE(wait_udp_bound(port)) << "SIPp for " << user << " did not bind 127.0.0.1:" << port;
    std::string out;
    if (user_agent.empty()) ASSERT_EQ(register_contact(user, port, &out), 0) << out;
    else ASSERT_EQ(register_contact(user, port, &out, "register_ua.xml", "3600", {"-key", "ua", user_agent}), 0) << out;
  }

  // `user` calls `exten` from a SIPp phone running `file` in the background
  // (`calls` calls, `extra` arguments).
  void caller(Phone& p, const std::string& user, const std::string& exten, const std::string& file,
              int calls = 1, const std::vector<std::string>& extra = {}) {
    auto args = sipp_args(file, calls);
    args.insert(args.begin(), target_);
    std::vector<std::string> who{"-s", exten, "-au", user, "-ap", user + "pw", "-key", "user", user};
    args.insert(args.end(), who.begin(), who.end());
    args.insert(args.end(), extra.begin(), extra.end());
    p.rc = std::async(std::launch::async, [args, &p] { return run_sipp(args, &p.out); });
  }

  // Nothing left over: no call in the plugin or the call core, every relay
  // port back in the pool.
  void expect_idle() {
    EXPECT_TRUE(eventually([&] { return host_->calls().channels().empty(); }))
        << host_->calls().channels().size() << " channels left in the call core";
    EXPECT_TRUE(eventually([&] { return plugin_->active_calls() == 0; }))
        << plugin_->active_calls() << " calls left";
    EXPECT_TRUE(eventually([&] { return plugin_->media_free_pairs() == free_pairs_; }))
        << "relay ports not released";
  }

  static inline SipTestHost* host_ = nullptr;
  static inline std::map<std::string, std::string> user_ids_;  // username -> user id
  std::unique_ptr<plugins::backend::sip::SipPlugin> plugin_;
  std::string target_;
  std::size_t free_pairs_ = 0;
};

// alice (1001) calls bob (1002): the shape of most call, media and session
// tests. bob_ is the answering phone.
class TwoPartyCallTest : public SipPluginTest {
 protected:
  static void SetUpTestSuite() { make_host({{"alice", "1001"}, {"bob", "1002"}}); }

  // bob answers on a SIPp phone running `file` (with `extra` arguments).
  void callee(const std::string& file, const std::vector<std::string>& extra = {}) {
    SipPluginTest::callee(bob_, "bob", file, 1, extra);
  }
  // alice calls 1002 from a SIPp phone running `file` (with `extra`
  // arguments) and waits for it; its exit status, its log in `out`.
  int caller(const std::string& file, std::string* out, const std::vector<std::string>& extra = {}) {
    Phone alice;
    SipPluginTest::caller(alice, "alice", "1002", file, 1, extra);
    int rc = alice.finish();
    if (out) *out = std::move(alice.out);
    return rc;
  }

  Phone bob_;
};

}  // namespace dialtone::testing
