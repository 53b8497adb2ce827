// The set-up the directory plugins' tests share: a fresh PostgreSQL
// database per test behind the SDK's fake host, the plugin under test in a
// harness with its option table, and REST calls made with a user's token.
//
//   class PhonebookTest : public DirectoryPluginTest<PhonebookPlugin> {
//    protected:
//     PhonebookTest() : DirectoryPluginTest("directory.phonebook", kPhonebookOptions) {}
//   };
//   TEST_F(PhonebookTest, Lists) {
//     ASSERT_TRUE(harness_->run({...}));
//     EXPECT_EQ(call("GET", "/0.1/tenants/default/phonebooks").status, 200);
//   }
#pragma once

#include <dialtone/testing/fake_host.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kernel/store/pg_store.h"
#include "tests/support/pg_fixture.h"

namespace dialtone::testing {

template <class Plugin>
class DirectoryPluginTest : public ::testing::Test {
 protected:
  DirectoryPluginTest(const char* plugin_id, const sdk::OptionSpec* options) : host_(plugin_id), options_(options) {}

  void SetUp() override {
    auto s = kernel::PgStore::open({.dsn = test_dsn()}, host_.bus(), host_.log());
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
    host_.set_store(store_.get());
    harness_ = std::make_unique<PluginHarness<Plugin>>(host_, options_);
  }
  void TearDown() override {
    harness_.reset();
    store_.reset();
  }

  // Later calls are made by `user` holding `acls`.
  void as(const std::string& user, std::vector<std::string> acls) {
    sdk::TokenInfo t;
    t.token = "tok-" + user;
    t.auth_id = user;
    t.acls = std::move(acls);
    host_.http()->set_token(t);
  }
  sdk::HttpResponse call(std::string_view method, std::string_view path, std::string body = {}) {
    return host_.http()->call(method, path, std::move(body));
  }
  static rapidjson::Document json(const std::string& body) {
    rapidjson::Document d;
    d.Parse(body.c_str());
    return d;
  }
  // A lookup of `term` by `user`.
  static sdk::DirectoryQuery q(std::string term, std::string user = {}) {
    sdk::DirectoryQuery d;
    d.term = std::move(term);
    d.user_uuid = std::move(user);
    return d;
  }

  FakeHost host_;
  const sdk::OptionSpec* options_;
  std::unique_ptr<kernel::PgStore> store_;
  std::unique_ptr<PluginHarness<Plugin>> harness_;
};

}  // namespace dialtone::testing
