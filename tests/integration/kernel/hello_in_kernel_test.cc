// The out-of-tree example plugin, built against the INSTALLED SDK by the
// sdk_installed_builds_out_of_tree_plugin test, loaded into a running
// dialtoned: served with token auth, listed by --list-plugins, and its
// reloadable greeting changed by SIGHUP and by POST /0.1/reload without a
// restart. $DIALTONE_HELLO_SO names the plugin file.
#include <cstdlib>

#include <gtest/gtest.h>

#include "daemon.h"

namespace dialtone::integration {
namespace {

std::string hello_so() {
  const char* so = std::getenv("DIALTONE_HELLO_SO");
  return so ? so : "";
}

std::string hello_conf(const std::string& greeting) {
  return "[plugin]\nname = example.hello\n[hello]\ngreeting = " + greeting + "\n";
}

Reply hello(const Daemon& d, const std::string& token) {
  Call c;
  c.path = "/0.1/hello?name=x";
  if (!token.empty()) c.headers = {{"X-Auth-Token", token}};
  return d.call("confd", c);
}

class HelloInKernel : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::is_regular_file(hello_so()))
        << "DIALTONE_HELLO_SO='" << hello_so()
        << "' is not a file; run ctest so that sdk_installed_builds_out_of_tree_plugin builds it first";
    std::filesystem::copy_file(hello_so(), d_.plugins() / "example_hello.so");
    conf_ = d_.write_conf("50-hello.conf", hello_conf("Hello"));
  }
  Daemon d_;
  std::filesystem::path conf_;
};

TEST_F(HelloInKernel, ListPluginsShowsItReadyToStart) {
  auto [rc, out] = d_.run_once({"--list-plugins"});
  EXPECT_EQ(rc, 0) << out;
  // --list-plugins runs offline (no database, no listeners): a plugin that
  // would start is shown loaded and configured.
  EXPECT_NE(out.find("example.hello"), std::string::npos) << out;
  EXPECT_NE(out.find("1.0.0"), std::string::npos) << out;
  EXPECT_NE(out.find("configured"), std::string::npos) << out;
  EXPECT_NE(out.find("example_hello.so"), std::string::npos) << out;

  auto [crc, check] = d_.run_once({"--check-config"});
  EXPECT_EQ(crc, 0) << check;
  EXPECT_NE(check.find("configuration OK"), std::string::npos) << check;
}

TEST_F(HelloInKernel, ServesWithTokenAndReloadsTheGreetingWithoutRestart) {
  ASSERT_TRUE(d_.start()) << d_.output();
  EXPECT_TRUE(d_.wait_for_err("started example.hello 1.0.0")) << d_.err();
  const pid_t pid = d_.pid();

  auto token = d_.admin_token();
  ASSERT_FALSE(token.empty()) << d_.output();
  auto r = hello(d_, token);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"message":"Hello, x!"})");
  EXPECT_EQ(hello(d_, "").status, 401);
  EXPECT_EQ(hello(d_, "not-a-token").status, 401);

  // SIGHUP: the new greeting is served by the same process.
  write_file(conf_, hello_conf("Bonjour"));
  kill(pid, SIGHUP);
  ASSERT_TRUE(d_.wait_for_err("SIGHUP: configuration reloaded")) << d_.err();
  EXPECT_NE(d_.err().find("reloaded example.hello: hello.greeting"), std::string::npos) << d_.err();
  EXPECT_EQ(hello(d_, token).body, R"({"message":"Bonjour, x!"})");

  // POST /0.1/reload with the token: same, and the summary says what applied.
  write_file(conf_, hello_conf("Hola"));
  Call reload;
  reload.method = "POST";
  reload.path = "/0.1/reload";
  reload.headers = {{"X-Auth-Token", token}};
  auto rr = d_.call("confd", reload);
  EXPECT_EQ(rr.status, 200) << rr.body;
  EXPECT_EQ(rr.body, R"({"applied":["example.hello: hello.greeting"],"restart_needed":[]})");
  EXPECT_EQ(hello(d_, token).body, R"({"message":"Hola, x!"})");

  EXPECT_TRUE(d_.running());
  EXPECT_EQ(d_.pid(), pid);
  EXPECT_EQ(d_.count_err("started example.hello"), 1u) << d_.err();
  EXPECT_EQ(d_.stop(), 0);
  EXPECT_NE(d_.err().find("stopped example.hello"), std::string::npos) << d_.err();
}

TEST_F(HelloInKernel, AGreetingThePluginRefusesOnReloadKeepsTheOldOneServing) {
  ASSERT_TRUE(d_.start()) << d_.output();
  auto token = d_.admin_token();
  ASSERT_FALSE(token.empty()) << d_.output();
  write_file(conf_, hello_conf(""));
  Call reload;
  reload.method = "POST";
  reload.path = "/0.1/reload";
  reload.headers = {{"X-Auth-Token", token}};
  // The plugin refuses the value: it keeps its greeting and the reply says why.
  auto rr = d_.call("confd", reload);
  EXPECT_EQ(rr.status, 200) << rr.body;
  EXPECT_NE(rr.body.find("example.hello: reload failed (hello.greeting is empty: set a word such as Hello), "
                         "restart needed for hello.greeting"),
            std::string::npos)
      << rr.body;
  EXPECT_EQ(hello(d_, token).body, R"({"message":"Hello, x!"})");
  // The logger is asynchronous: the line may reach stderr after the reply.
  EXPECT_TRUE(d_.wait_for_err("reload of example.hello failed, it keeps its options")) << d_.err();
  EXPECT_EQ(d_.stop(), 0);
}

}  // namespace
}  // namespace dialtone::integration
