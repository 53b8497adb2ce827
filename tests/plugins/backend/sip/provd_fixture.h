// backend.sip tests with the real provd beside the plugin: the vendors a
// suite provides are there for each test, provd starts on demand with no
// device left from an earlier test, and everything is withdrawn after.
//
// @code
//   class AutoprovTest : public dialtone::testing::ProvdSipTest {
//    protected:
//     void SetUp() override {
//       provide_vendors({{"yealink", plugins::provisioning::yealink_description()}});
//       start_plugin();
//     }
//   };
//   TEST_F(AutoprovTest, X) {
//     ASSERT_NO_FATAL_FAILURE(start_provd());
//     auto dev = add_device("00:15:65:12:34:56", "Yealink", "T46S", "provisioning.yealink");
//   }
// @endcode
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <dialtone/provisioning.h>
#include <dialtone/provisioning/described_vendor.h>
#include <dialtone/services.h>

#include "plugins/provisioning/provd/provd.h"
#include "tests/plugins/backend/sip/sip_fixture.h"

namespace dialtone::testing {

class ProvdSipTest : public SipPluginTest {
 protected:
  // Each (name, description) as its vendor plugin provides it.
  void provide_vendors(
      std::initializer_list<std::pair<std::string, const plugins::provisioning::VendorDescription&>> vendors) {
    for (auto& [name, description] : vendors) {
      vendors_.push_back(name);
      ASSERT_TRUE(host_->services().provide<sdk::ProvisioningVendor>(
          name, std::make_shared<plugins::provisioning::DescribedVendor>(description)))
          << name;
    }
  }
  void TearDown() override {
    SipPluginTest::TearDown();
    if (provd_) {
      host_->services().withdraw<sdk::ProvisioningService>("provd");
      provd_->stop();
    }
    provd_.reset();
    for (auto& n : vendors_) host_->services().withdraw<sdk::ProvisioningVendor>(n);
  }

  // provd on the suite's store (no TFTP), with no device; `provide`: also
  // as the ProvisioningService the SIP plugin asks (autoprov, check-sync).
  void start_provd(bool provide = false) {
    plugins::provisioning::ProvdSettings s;
    s.tftp_enabled = false;
    s.template_check = std::chrono::milliseconds(0);
    provd_ = std::make_shared<plugins::provisioning::Provd>(*host_, *host_->store(), nullptr, s);
    auto st = provd_->start();
    ASSERT_TRUE(st) << st.error().message;
    if (provide) {
      ASSERT_TRUE(host_->services().provide<sdk::ProvisioningService>("provd", provd_));
    }
    for (auto& d : provd_->devices()) (void)provd_->remove_device(d.id);
  }
  // A device at 127.0.0.1 in autoprov; its id.
  std::string add_device(const std::string& mac, const std::string& vendor, const std::string& model,
                         const std::string& plugin) {
    plugins::provisioning::Device d;
    d.mac = mac;
    d.ip = "127.0.0.1";
    d.vendor = vendor;
    d.model = model;
    d.plugin = plugin;
    d.config = "autoprov";
    auto id = provd_->add_device(d);
    EXPECT_TRUE(id);
    return id ? *id : std::string();
  }

  std::shared_ptr<plugins::provisioning::Provd> provd_;

 private:
  std::vector<std::string> vendors_;
};

}  // namespace dialtone::testing
