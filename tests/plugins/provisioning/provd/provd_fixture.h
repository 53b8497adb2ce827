// provd's tests: a FakeHost of provisioning.provd on a fresh PostgreSQL
// database, and the described vendors a suite provides.
//
// @code
//   class MyProvdTest : public ProvdStoreTest {
//    protected:
//     void SetUp() override {
//       ProvdStoreTest::SetUp();
//       ASSERT_NO_FATAL_FAILURE(provide_vendor("yealink", yealink_description()));
//     }
//   };
// @endcode
#pragma once

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include <dialtone/provisioning/described_vendor.h>
#include <dialtone/testing/fake_host.h>

#include "kernel/store/pg_store.h"
#include "tests/support/pg_fixture.h"

namespace dialtone::plugins::provisioning {

class ProvdStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto st = kernel::PgStore::open({.dsn = testing::test_dsn()}, host_.bus(), host_.log());
    ASSERT_TRUE(st.ok()) << st.error().message;
    store_ = std::move(*st);
    host_.set_store(store_.get());
  }
  void TearDown() override {
    if (store_) store_->close();
  }
  // The vendor as its plugin provides it.
  void provide_vendor(const std::string& name, const VendorDescription& description) {
    ASSERT_TRUE(
        host_.services().provide<sdk::ProvisioningVendor>(name, std::make_shared<DescribedVendor>(description)))
        << name;
  }

  testing::FakeHost host_{"provisioning.provd"};
  std::unique_ptr<kernel::PgStore> store_;
};

}  // namespace dialtone::plugins::provisioning
