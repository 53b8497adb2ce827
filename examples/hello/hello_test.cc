#include "hello.h"

#include <dialtone/testing/fake_host.h>
#include <gtest/gtest.h>

namespace {

using dialtone::testing::FakeHost;
using dialtone::testing::PluginHarness;

TEST(Hello, ServesTheGreetingOnItsRoute) {
  FakeHost host("example.hello");
  PluginHarness<hello::Hello> plugin(host, dialtone_plugin_manifest_v1.options);
  ASSERT_TRUE(plugin.run({{"hello.greeting", "Bonjour"}}));

  auto r = host.http()->call("GET", "/0.1/hello?name=Alice");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"message":"Bonjour, Alice!"})");
  ASSERT_EQ(host.http()->routes().size(), 1u);
  EXPECT_EQ(host.http()->routes()[0].listener, "confd");
  EXPECT_EQ(host.http()->required_acl("GET", "/0.1/hello"), "hello.read");
}

TEST(Hello, LuaGreetUsesTheDefaultGreetingAndPublishes) {
  FakeHost host("example.hello");
  PluginHarness<hello::Hello> plugin(host, dialtone_plugin_manifest_v1.options);
  ASSERT_TRUE(plugin.run());

  auto r = host.lua()->call_function("hello", "greet", {"Bob"});
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(*(*r)[0].as_string(), "Hello, Bob!");
  auto events = host.bus().published("hello.#");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].body, R"({"message":"Hello, Bob!"})");

  auto bad = host.lua()->call_function("hello", "greet", {42});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "hello.greet: argument 1 (name) must be a string or nil, got an integer");
}

TEST(Hello, ReloadChangesTheGreetingWithoutRestart) {
  FakeHost host("example.hello");
  PluginHarness<hello::Hello> plugin(host, dialtone_plugin_manifest_v1.options);
  ASSERT_TRUE(plugin.run());
  ASSERT_TRUE(plugin.reload({{"hello.greeting", "Hi"}}));
  EXPECT_EQ(host.http()->call("GET", "/0.1/hello").body, R"({"message":"Hi, world!"})");
  EXPECT_FALSE(plugin.reload({{"hello.greeting", ""}}));
}

TEST(Hello, UnknownOptionIsRefused) {
  FakeHost host("example.hello");
  PluginHarness<hello::Hello> plugin(host, dialtone_plugin_manifest_v1.options);
  auto s = plugin.run({{"hello.greting", "typo"}});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("hello.greting"), std::string::npos);
}

}  // namespace
