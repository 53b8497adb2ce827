// Anchored calls end to end: SIPp caller and callee through backend.sip with
// the RTP relay on 127.0.0.2, SIPp playing G.711 and echoing it back.
#include <chrono>
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
using dialtone::testing::eventually;

namespace {

class RtpCallTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    host_ = new SipTestHost();
    host_->add_line("alice", "alicepw", "1001");
    host_->add_line("bob", "bobpw", "1002");
  }
  static void TearDownTestSuite() {
    delete host_;
    host_ = nullptr;
  }

  void SetUp() override {
    plugin_ = std::make_unique<sip::SipPlugin>(*host_);
    ASSERT_TRUE(plugin_->configure(dialtone::sdk::Options({{"sip.listen", "127.0.0.1:0"},
                                                           {"sip.node", "rtp-test"},
                                                           {"rtp.bind", "127.0.0.2"},
                                                           {"rtp.port_min", "26000"},
                                                           {"rtp.port_max", "26999"}})));
    auto s = plugin_->start();
    ASSERT_TRUE(s) << s.error().message;
    target_ = "127.0.0.1:" + std::to_string(plugin_->port());
    free_pairs_ = plugin_->media_free_pairs();
  }
  void TearDown() override {
    if (plugin_) plugin_->stop();
  }

  std::vector<std::string> base(const std::string& file) {
    return {"-sf", scenario(file), "-i", "127.0.0.1", "-mi", "127.0.0.1", "-p",
            std::to_string(free_port()), "-mp", std::to_string(free_port()), "-m", "1",
            "-timeout", "25s", "-timeout_error"};
  }

  // Registers bob on a SIPp callee running `file` with `extra` arguments.
  void callee(const std::string& file, std::vector<std::string> extra) {
    auto args = base(file);
    int port = std::stoi(args[7]);
    args.insert(args.end(), extra.begin(), extra.end());
    callee_ = std::async(std::launch::async, [this, args] { return run_sipp(args, &callee_out_); });
    std::string out;
    std::vector<std::string> reg{target_, "-sf", scenario("register.xml"), "-i", "127.0.0.1", "-p",
                                 std::to_string(free_port()), "-m", "1", "-au", "bob", "-ap", "bobpw",
                                 "-key", "user", "bob", "-key", "contact_port", std::to_string(port),
                                 "-key", "expires", "3600", "-timeout", "25s", "-timeout_error"};
    ASSERT_EQ(run_sipp(reg, &out), 0) << out;
  }

  int caller(const std::string& file, std::string* out) {
    auto args = base(file);
    args.insert(args.begin(), target_);
    std::vector<std::string> extra{"-s", "1002", "-au", "alice", "-ap", "alicepw", "-key", "user", "alice"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_sipp(args, out);
  }

  static SipTestHost* host_;
  std::unique_ptr<sip::SipPlugin> plugin_;
  std::string target_;
  std::size_t free_pairs_ = 0;
  std::future<int> callee_;
  std::string callee_out_;
};

SipTestHost* RtpCallTest::host_ = nullptr;

TEST_F(RtpCallTest, AnchoredCallCarriesRtpBothWaysThroughTheRelay) {
  // uas_answer_rtp.xml checks the callee's offer names 127.0.0.2 and no G.729;
  // uac_call_rtp.xml checks the answer does, then plays G.711 that the callee echoes.
  ASSERT_NO_FATAL_FAILURE(callee("uas_answer_rtp.xml", {"-rtp_echo"}));
  std::string out;
  EXPECT_EQ(caller("uac_call_rtp.xml", &out), 0) << out;
  EXPECT_EQ(callee_.get(), 0) << callee_out_;
  auto t = plugin_->media_totals();
  EXPECT_GT(t.a.packets_in, 10u) << "the caller's RTP did not reach the relay";
  EXPECT_GT(t.b.packets_out, 10u) << "the caller's RTP was not sent to the callee";
  EXPECT_GT(t.b.packets_in, 10u) << "the callee's echo did not reach the relay";
  EXPECT_GT(t.a.packets_out, 10u) << "the echo was not sent back to the caller";
  EXPECT_TRUE(eventually([&] { return plugin_->active_calls() == 0; }));
  EXPECT_EQ(plugin_->media_free_pairs(), free_pairs_);
}

TEST_F(RtpCallTest, LateOfferIsAnchoredFromThe200AndTheAck) {
  ASSERT_NO_FATAL_FAILURE(callee("uas_late_offer.xml", {}));
  std::string out;
  EXPECT_EQ(caller("uac_call_late_offer.xml", &out), 0) << out;
  EXPECT_EQ(callee_.get(), 0) << callee_out_;
  EXPECT_TRUE(eventually([&] { return plugin_->active_calls() == 0; }));
  EXPECT_EQ(plugin_->media_free_pairs(), free_pairs_);
}

TEST_F(RtpCallTest, NoCommonCodecGets488) {
  std::string out;
  std::vector<std::string> args{target_, "-sf", scenario("uac_call_488.xml"), "-i", "127.0.0.1",
                                "-p", std::to_string(free_port()), "-m", "1", "-s", "1002",
                                "-au", "alice", "-ap", "alicepw", "-key", "user", "alice",
                                "-timeout", "25s", "-timeout_error"};
  EXPECT_EQ(run_sipp(args, &out), 0) << out;
  EXPECT_EQ(plugin_->media_free_pairs(), free_pairs_);
}

}  // namespace
