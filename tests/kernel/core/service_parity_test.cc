// The fake host (sdk/testing) and dialtoned keep services in one registry
// (dialtone/service_registry.h): the same steps taken by a plugin through
// dialtoned's PluginServices view and through FakeHost::services() give the
// same answers and the same error lines.
#include <gtest/gtest.h>

#include <dialtone/testing/fake_host.h>

#include "kernel/core/service_registry.h"

namespace dialtone::kernel {
namespace {

struct Echo {
  static constexpr std::string_view kServiceName = "test.echo";
  static constexpr int kServiceVersion = 1;
  std::string said;
};
struct EchoV2 {  // the same service, built against a newer interface
  static constexpr std::string_view kServiceName = "test.echo";
  static constexpr int kServiceVersion = 2;
};

std::string outcome(const sdk::Status& s) {
  if (s) return "ok";
  return "error " + std::to_string(static_cast<int>(s.error().code)) + ": " + s.error().message;
}

// What a plugin sees when it provides, finds and withdraws through `mine`
// while another plugin ("other.plugin") provides through `others`.
std::vector<std::string> transcript(sdk::ServiceRegistry& mine, sdk::ServiceTable& table) {
  std::vector<std::string> t;
  t.push_back(outcome(table.provide_as("other.plugin", "test.echo", 1, "shared",
                                       std::make_shared<Echo>(Echo{"other"}))));
  t.push_back(outcome(mine.provide<Echo>("a", std::make_shared<Echo>(Echo{"first"}))));
  t.push_back(outcome(mine.provide<Echo>("b", std::make_shared<Echo>(Echo{"second"}))));
  t.push_back(outcome(mine.provide<Echo>("a", std::make_shared<Echo>(Echo{"again"}))));
  t.push_back(outcome(mine.provide<Echo>("shared", std::make_shared<Echo>(Echo{"mine"}))));
  t.push_back(outcome(mine.provide<Echo>("null", std::shared_ptr<Echo>())));
  auto any = mine.find<Echo>();
  t.push_back("find any: " + (any ? any->said : "none"));
  auto b = mine.find<Echo>("b");
  t.push_back("find b: " + (b ? b->said : "none"));
  t.push_back(std::string("find v2: ") + (mine.find<EchoV2>("a") ? "found" : "none"));
  std::string all = "all:";
  for (auto& [name, e] : mine.all<Echo>()) all += " " + name + "=" + e->said;
  t.push_back(all);
  t.push_back("all v2: " + std::to_string(mine.all<EchoV2>().size()));
  mine.withdraw<Echo>("a");
  t.push_back(std::string("find a after withdraw: ") + (mine.find<Echo>("a") ? "found" : "none"));
  t.push_back(outcome(mine.provide<Echo>("a", std::make_shared<Echo>(Echo{"back"}))));
  for (auto& line : table.describe()) t.push_back(line);
  return t;
}

TEST(ServiceParity, APluginsTestsSeeTheRegistryDialtonedRuns) {
  ServiceRegistryImpl registry;
  PluginServices view(registry, "demo.plugin", nullptr);
  auto kernel = transcript(view, registry);

  testing::FakeHost host("demo.plugin");
  auto fake = transcript(host.services(), host.services());

  EXPECT_EQ(kernel, fake);
  const std::vector<std::string> expected = {
      "ok",
      "ok",
      "ok",
      "error 2: service test.echo 'a' is already provided by demo.plugin",
      "error 2: service test.echo 'shared' is already provided by other.plugin",
      "error 0: service test.echo 'null' is null",
      "find any: other",
      "find b: second",
      "find v2: none",
      "all: shared=other a=first b=second",
      "all v2: 0",
      "find a after withdraw: none",
      "ok",
      "test.echo/shared v1 (other.plugin)",
      "test.echo/b v1 (demo.plugin)",
      "test.echo/a v1 (demo.plugin)",
  };
  EXPECT_EQ(fake, expected);
}

TEST(ServiceParity, StoppingAPluginWithdrawsOnlyWhatItProvided) {
  testing::FakeHost host("demo.plugin");
  ASSERT_TRUE(host.services().provide<Echo>("a", std::make_shared<Echo>(Echo{"x"})));
  ASSERT_TRUE(host.services().provide_as("other.plugin", "test.echo", 1, "b",
                                         std::make_shared<Echo>(Echo{"y"})));
  EXPECT_EQ(host.services().withdraw_all("demo.plugin"), 1u);
  EXPECT_EQ(host.services().find<Echo>("a"), nullptr);
  ASSERT_NE(host.services().find<Echo>("b"), nullptr);
}

}  // namespace
}  // namespace dialtone::kernel
