// Feature codes through SIP: SIPp lines dial *21<number>, *21 and *25 against
// backend.sip running the shipped lua-dialplan/extensions.lua, and the next
// calls to that user follow the saved forward / DND.
#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "plugins/backend/sip/sip_plugin.h"
#include "tests/plugins/backend/sip/sip_host.h"

namespace sip = dialtone::plugins::backend::sip;
using dialtone::testing::free_port;
using dialtone::testing::run_sipp;
using dialtone::testing::SipTestHost;
using dialtone::testing::scenario;

namespace {

class FeatureCodes : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    host_ = new SipTestHost(std::filesystem::path(SIP_LUA_LIB_DIR).parent_path() / "extensions.lua");
    host_->add_line("alice", "alicepw", "1001");
    host_->add_line("bob", "bobpw", "1002");
    carol_ = host_->add_line("carol", "carolpw", "1003");
  }
  static void TearDownTestSuite() {
    delete host_;
    host_ = nullptr;
  }

  void SetUp() override {
    plugin_ = std::make_unique<sip::SipPlugin>(*host_);
    ASSERT_TRUE(plugin_->configure(dialtone::sdk::Options(
        {{"sip.listen", "127.0.0.1:0"}, {"auth.ban_failures", "1000"}, {"sip.node", "features-test"}})));
    auto s = plugin_->start();
    ASSERT_TRUE(s) << s.error().message;
    target_ = "127.0.0.1:" + std::to_string(plugin_->port());
  }
  void TearDown() override {
    if (plugin_) plugin_->stop();
    plugin_.reset();
  }

  int client(const std::string& file, std::vector<std::string> extra, std::string* out) {
    std::vector<std::string> args{target_, "-sf", scenario(file), "-i", "127.0.0.1", "-p",
                                  std::to_string(free_port()), "-m", "1", "-timeout", "25s",
                                  "-timeout_error"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_sipp(args, out);
  }
  // `user` (password <user>pw) dials `number` and expects the scenario's outcome.
  int dial(const std::string& user, const std::string& file, const std::string& number, std::string* out) {
    return client(file, {"-s", number, "-au", user, "-ap", user + "pw", "-key", "user", user}, out);
  }
  int register_line(const std::string& user, int contact_port, std::string* out) {
    return client("register.xml", {"-au", user, "-ap", user + "pw", "-key", "user", user, "-key",
                                   "contact_port", std::to_string(contact_port), "-key", "expires", "3600"},
                  out);
  }
  static std::future<int> uas(const std::string& file, int port, std::string* out) {
    return std::async(std::launch::async, [file, port, out] {
      return run_sipp({"-sf", scenario(file), "-i", "127.0.0.1", "-p", std::to_string(port), "-m", "1",
                       "-timeout", "25s", "-timeout_error"},
                      out);
    });
  }
  static std::string carol(const std::string& column) {
    return host_->sql("SELECT coalesce(" + column + "::text, '<null>') FROM confd_users WHERE id = $1::int",
                      {carol_});
  }

  static SipTestHost* host_;
  static std::string carol_;
  std::unique_ptr<sip::SipPlugin> plugin_;
  std::string target_;
};

SipTestHost* FeatureCodes::host_ = nullptr;
std::string FeatureCodes::carol_;

TEST_F(FeatureCodes, Star21NumberForwardsTheNextCallAndStar21AloneStopsIt) {
  std::string out, bob_out;
  // Carol (1003, not registered) forwards her calls to Bob (1002): the code
  // call ends with 480 "Forward enabled".
  ASSERT_EQ(dial("carol", "uac_call_480.xml", "*211002", &out), 0) << out;
  EXPECT_EQ(carol("forward_unconditional_enabled"), "true");
  EXPECT_EQ(carol("forward_unconditional_destination"), "1002");
  auto ev = host_->test_bus().wait_for("config.user.edited");
  ASSERT_TRUE(ev);
  EXPECT_NE(ev->body.find("\"id\":" + carol_ + ","), std::string::npos) << ev->body;

  // Alice calls Carol: Bob answers.
  int bob_port = free_port();
  auto bob = uas("uas_answer.xml", bob_port, &bob_out);
  ASSERT_EQ(register_line("bob", bob_port, &out), 0) << out;
  EXPECT_EQ(dial("alice", "uac_call_hangup.xml", "1003", &out), 0) << out;
  EXPECT_EQ(bob.get(), 0) << bob_out;

  // *21 alone turns the forward off: Carol's unregistered line gives 480.
  ASSERT_EQ(dial("carol", "uac_call_480.xml", "*21", &out), 0) << out;
  EXPECT_EQ(carol("forward_unconditional_enabled"), "false");
  EXPECT_EQ(dial("alice", "uac_call_480.xml", "1003", &out), 0) << out;
}

TEST_F(FeatureCodes, Star25MakesTheUserBusyUntilDialedAgain) {
  std::string out;
  ASSERT_EQ(dial("carol", "uac_call_480.xml", "*25", &out), 0) << out;
  EXPECT_EQ(carol("service_dnd_enabled"), "true");
  EXPECT_EQ(dial("alice", "uac_call_486.xml", "1003", &out), 0) << out;
  ASSERT_EQ(dial("carol", "uac_call_480.xml", "*25", &out), 0) << out;
  EXPECT_EQ(carol("service_dnd_enabled"), "false");
  EXPECT_EQ(dial("alice", "uac_call_480.xml", "1003", &out), 0) << out;
}

}  // namespace
