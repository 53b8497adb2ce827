// The kernel's reload reaches the Lua dialplan: POST /0.1/reload and SIGHUP
// re-read the script in the running dialtoned, new calls take the new one at
// once, a call already in the dialplan finishes on the old one, and a script
// that does not compile is refused while the running one keeps answering.
#include <signal.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <string>

#include "tests/integration/support/dialtoned_fixture.h"

namespace {

namespace fs = std::filesystem;
using dialtone::testing::Dialtoned;
using dialtone::testing::free_tcp_udp_port;
using dialtone::testing::json_string;
using dialtone::testing::run_command;

// Every call is refused with `code`; a call to 2000 first waits 3 s in the
// dialplan (printed to the log once it is there).
std::string script(int code, const std::string& name) {
  return "function route_call(call)\n"
         "  if call.callee == '2000' then\n"
         "    print('dialplan " + name + " holds call ' .. call.id)\n"
         "    dialtone.sleep(3000)\n"
         "  end\n"
         "  return { action = 'reject', code = " + std::to_string(code) + " }\n"
         "end\n";
}

void write(const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::trunc) << text; }

class DialplanReload : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dt-reload-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    write(dir_ / "extensions.lua", script(486, "A"));
    sip_port_ = free_tcp_udp_port();
    std::string sip_conf = "[plugin]\nname = backend.sip\n\n[sip]\nlisten = 127.0.0.1:" + std::to_string(sip_port_) +
                           "\ntransports = udp\nnode = reload\n\n[auth]\nban_failures = 0\n";
    d_ = std::make_unique<Dialtoned>(dialtone::testing::DialtonedOptions{
        .plugin_files = {{"40-sip.conf", sip_conf}, {"50-confd.conf", "[plugin]\nname = api.confd\n"}},
        .lua_script = (dir_ / "extensions.lua").string()});
    ASSERT_TRUE(d_->ready()) << d_->error();
    auto h = headers();
    ASSERT_EQ(d_->http("POST", "confd", "/1.1/contexts", R"({"name":"default","type":"internal"})", h).status, 201);
    auto line = d_->http("POST", "confd", "/1.1/lines", R"({"context":"default"})", h);
    auto sip = d_->http("POST", "confd", "/1.1/endpoints/sip", R"({"username":"caller","secret":"callerpw"})", h);
    ASSERT_EQ(line.status, 201) << line.body;
    ASSERT_EQ(sip.status, 201) << sip.body;
    auto put = d_->http("PUT", "confd",
                        "/1.1/lines/" + json_string(line.body, "/id") + "/endpoints/sip/" + json_string(sip.body, "/id"),
                        "", h);
    ASSERT_EQ(put.status, 204) << put.body;
  }
  void TearDown() override {
    d_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  dialtone::testing::Headers headers() { return {{"X-Auth-Token", d_->token()}}; }

  // The caller dials `number` and expects the scenario's final answer.
  int call(const std::string& scenario, const std::string& number, std::string* out) {
    dialtone::testing::SippPhones phones{dir_, sip_port_, INTEGRATION_SCENARIOS};
    return phones.client("-sf " + phones.scenario(scenario) + " -s " + number + " -au caller -ap callerpw -key user caller",
                         out);
  }
  dialtone::testing::HttpAnswer reload() { return d_->http("POST", "confd", "/0.1/reload", "", headers()); }

  fs::path dir_;
  int sip_port_ = 0;
  std::unique_ptr<Dialtoned> d_;
};

TEST_F(DialplanReload, RestAndSighupSwitchNewCallsWhileACallInProgressFinishesOnTheOldScript) {
  std::string out;
  ASSERT_EQ(call("uac_call_486.xml", "2001", &out), 0) << out;

  // A call waits in script A; the reload happens meanwhile.
  std::string held_out;
  auto held = std::async(std::launch::async, [&] { return call("uac_call_486.xml", "2000", &held_out); });
  ASSERT_TRUE(d_->wait_output("dialplan A holds call", 20)) << d_->output();
  write(dir_ / "extensions.lua", script(480, "B"));
  auto r = reload();
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(call("uac_call_480.xml", "2001", &out), 0) << out;
  // The held call still gets script A's answer.
  EXPECT_EQ(held.get(), 0) << held_out;

  // SIGHUP does the same.
  write(dir_ / "extensions.lua", script(404, "C"));
  kill(d_->pid(), SIGHUP);
  ASSERT_TRUE(d_->wait_output("SIGHUP: configuration reloaded", 20)) << d_->output();
  EXPECT_EQ(call("uac_call_404.xml", "2001", &out), 0) << out;

  // A script that does not compile: 400 naming file and line, nothing changes.
  write(dir_ / "extensions.lua", "function route_call(call)\n  return {\nend\n");
  r = reload();
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("extensions.lua:"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("the running dialplan stays"), std::string::npos) << r.body;
  EXPECT_EQ(call("uac_call_404.xml", "2001", &out), 0) << out;
}

}  // namespace
