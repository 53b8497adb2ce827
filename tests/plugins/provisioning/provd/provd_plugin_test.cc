// The provisioning.provd plugin through its DIALTONE_PLUGIN entry points
// (PluginHarness), with a real PostgreSQL: configure, start, stop, restart.
#include <gtest/gtest.h>

#include <sys/socket.h>

#include <algorithm>

#include <dialtone/testing/fake_host.h>

#include "kernel/store/pg_store.h"
#include "plugins/provisioning/provd/provd_plugin.h"
#include "plugins/provisioning/yealink/yealink_description.h"
#include "tests/plugins/provisioning/provd/provd_fixture.h"
#include "tests/support/pg_fixture.h"
#include "tests/support/udp_ports.h"

namespace dialtone::plugins::provisioning {
namespace {

std::size_t routes_on(testing::FakeHost& host, const std::string& listener) {
  auto all = host.http()->routes();
  return static_cast<std::size_t>(
      std::count_if(all.begin(), all.end(), [&](auto& m) { return m.listener == listener; }));
}

constexpr const char* kUa = "Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:01";

class ProvdPluginTest : public ProvdStoreTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ProvdStoreTest::SetUp());
    host_.http()->set_listeners({"provd", "provd_phones"});
    ASSERT_NO_FATAL_FAILURE(provide_vendor("yealink", yealink_description()));
  }
  void TearDown() override {
    plugin_.reset();
    ProvdStoreTest::TearDown();
  }

  const std::map<std::string, std::string> options_{{"phones.host", "10.0.0.1"},
                                                    {"tftp.listen", "127.0.0.1:0"},
                                                    {"templates.check_interval", "0s"}};
  std::unique_ptr<testing::PluginHarness<ProvdPlugin>> plugin_ =
      std::make_unique<testing::PluginHarness<ProvdPlugin>>(host_, kOptions);
};

TEST_F(ProvdPluginTest, StartMountsServesAndStopReleasesEverything) {
  ASSERT_TRUE(plugin_->create().ok());
  ASSERT_TRUE(plugin_->configure(options_).ok());
  auto started = plugin_->start();
  ASSERT_TRUE(started.ok()) << started.error().message;

  EXPECT_GE(routes_on(host_, "provd_phones"), 1u);
  EXPECT_GE(routes_on(host_, "provd"), 20u);
  EXPECT_TRUE(host_.services().find<sdk::ProvisioningService>("provd"));
  int tftp = plugin_->plugin()->provd()->tftp_port();
  ASSERT_GT(tftp, 0);
  EXPECT_FALSE(testing::port_free(SOCK_DGRAM, tftp));

  auto file = host_.http()->call("GET", "/001565aabb01.cfg", {}, {{"user-agent", kUa}});
  EXPECT_EQ(file.status, 200);
  EXPECT_NE(file.body.find("account.1.user_name = autoprov"), std::string::npos) << file.body;
  EXPECT_NE(file.body.find("account.1.sip_server.1.address = 10.0.0.1"), std::string::npos);
  auto list = host_.http()->call("GET", "/provd/dev_mgr/devices");
  EXPECT_EQ(list.status, 200);
  EXPECT_NE(list.body.find("00:15:65:aa:bb:01"), std::string::npos) << list.body;

  ASSERT_TRUE(plugin_->stop().ok());
  EXPECT_EQ(routes_on(host_, "provd_phones"), 0u);
  EXPECT_EQ(routes_on(host_, "provd"), 0u);
  EXPECT_FALSE(host_.services().find<sdk::ProvisioningService>("provd"));
  EXPECT_TRUE(testing::port_free(SOCK_DGRAM, tftp));
  EXPECT_EQ(plugin_->plugin()->provd(), nullptr);

  // Started again: the device was kept in PostgreSQL.
  ASSERT_TRUE(plugin_->start().ok());
  auto again = host_.http()->call("GET", "/provd/dev_mgr/devices");
  EXPECT_NE(again.body.find("00:15:65:aa:bb:01"), std::string::npos) << again.body;
}

TEST_F(ProvdPluginTest, WithoutDatabaseStartSaysHowToFixIt) {
  host_.set_store(nullptr);
  auto st = plugin_->run(options_);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("provisioning.provd needs the database"), std::string::npos);
  EXPECT_EQ(host_.http()->routes().size(), 0u);
}

TEST_F(ProvdPluginTest, BadOptionIsRefusedAtConfigure) {
  ASSERT_TRUE(plugin_->create().ok());
  auto st = plugin_->configure({{"tftp.max_transfers", "0"}});
  EXPECT_FALSE(st.ok());
}

}  // namespace
}  // namespace dialtone::plugins::provisioning
