// Outgoing routes per context (seed 5.23) through the real dialtoned,
// configured only through confd's REST API: contexts including outcall
// contexts, routes attached to those, RegExp/Target rewriting; SIPp plays
// the phones and the providers' trunks.
//
//   default    (alice, 1001) includes to-extern
//   restricted (rita, 1101)  includes to-local
//   route "national" (priority 1) in to-extern: 0XXXXXXXXX, RegExp 0(.*) Target +33\1, trunk prov-a
//   route "local"    (priority 5) in to-local:  0XXXXXXXXX, strip 1, prefix 00,          trunk prov-b
//   route "premium"  (priority 1) in to-premium (included by nobody): 36XX, trunk prov-a
// Both callers dial the same number: each gets the route its context reaches.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "tests/integration/support/confd_admin.h"
#include "tests/integration/support/dialtoned_fixture.h"
#include "tests/support/udp_ports.h"

namespace {

namespace fs = std::filesystem;
using dialtone::testing::ConfdAdmin;
using dialtone::testing::Dialtoned;
using dialtone::testing::free_tcp_udp_port;
using dialtone::testing::json_int;
using dialtone::testing::json_string;
using dialtone::testing::run_command;
using dialtone::testing::wait_udp_bound;

class RoutingE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    work_ = fs::temp_directory_path() / ("dt-int-routing-" + std::to_string(::getpid()));
    fs::create_directories(work_);
    sip_port_ = free_tcp_udp_port();
    prov_a_ = free_tcp_udp_port();
    prov_b_ = free_tcp_udp_port();
    auto sip_conf = dialtone::testing::sip_plugin_conf(sip_port_, "routing", "\n[qualify]\ninterval = 0s\n");
    d_ = std::make_unique<Dialtoned>(dialtone::testing::DialtonedOptions{
        .plugin_files = {{"40-sip.conf", sip_conf}, {"50-confd.conf", "[plugin]\nname = api.confd\n"}}});
    ASSERT_TRUE(d_->ready()) << d_->error();
    admin_ = std::make_unique<ConfdAdmin>(*d_);
    for (auto* body : {R"({"name":"default","type":"internal","user_ranges":[{"start":"1000","end":"1099"}]})",
                       R"({"name":"restricted","type":"internal","user_ranges":[{"start":"1100","end":"1199"}]})",
                       R"({"name":"to-extern","type":"outcall"})", R"({"name":"to-local","type":"outcall"})",
                       R"({"name":"to-premium","type":"outcall"})"})
      admin_->context(body);
    admin_->include("default", "to-extern");
    admin_->include("restricted", "to-local");
    admin_->user_line("1001", "alice", "Routing", "alice", "alicepw", "default");
    admin_->user_line("1101", "rita", "Routing", "rita", "ritapw", "restricted");
    auto a = admin_->trunk("prov-a", "127.0.0.1:" + std::to_string(prov_a_), "to-extern");
    auto b = admin_->trunk("prov-b", "127.0.0.1:" + std::to_string(prov_b_), "to-extern");
    admin_->outcall("national", 1, R"j([{"pattern":"0XXXXXXXXX","regexp":"0(.*)","target":"+33\\1"}])j", a, "to-extern");
    admin_->outcall("local", 5, R"([{"pattern":"0XXXXXXXXX","strip_digits":1,"prefix":"00"}])", b, "to-local");
    admin_->outcall("premium", 1, R"([{"pattern":"36XX"}])", a, "to-premium");
    ASSERT_FALSE(HasFailure());
  }
  void TearDown() override {
    admin_.reset();
    d_.reset();
    std::error_code ec;
    fs::remove_all(work_, ec);
  }

  dialtone::testing::HttpAnswer post(const std::string& path, const std::string& body) {
    return admin_->post(path, body);
  }
  dialtone::testing::HttpAnswer put(const std::string& path, const std::string& body) {
    return admin_->put(path, body);
  }
  const std::string& context_id(const std::string& name) { return admin_->context_id(name); }

  static std::string scenario(const std::string& name) { return std::string(INTEGRATION_SCENARIOS) + "/" + name; }
  int sipp(const std::string& args, std::string* out) {
    auto cmd = "cd " + work_.string() + " && timeout -k 5 40 " + dialtone::testing::sipp_binary() + " 127.0.0.1:" +
               std::to_string(sip_port_) + " -i 127.0.0.1 -m 1 -timeout 20s -timeout_error -nostdin " + args;
    return run_command(cmd, out);
  }
  // A provider answering on `port`; the INVITE it got is in its message file.
  std::future<int> provider(int port, const std::string& file) {
    return std::async(std::launch::async, [this, port, file] {
      std::string o;
      return sipp("-sf " + scenario("uas_answer.xml") + " -p " + std::to_string(port) + " -trace_msg -message_file " +
                      (work_ / file).string(),
                  &o);
    });
  }
  int call(const std::string& who, const std::string& number, const std::string& file, std::string* out) {
    return sipp("-sf " + scenario(file) + " -p " + std::to_string(free_tcp_udp_port()) + " -s " + number + " -au " +
                    who + " -ap " + who + "pw -key user " + who,
                out);
  }
  std::string slurp(const std::string& file) {
    std::stringstream ss;
    ss << std::ifstream(work_ / file).rdbuf();
    return ss.str();
  }

  fs::path work_;
  std::unique_ptr<Dialtoned> d_;
  std::unique_ptr<ConfdAdmin> admin_;
  int sip_port_ = 0, prov_a_ = 0, prov_b_ = 0;
};

TEST_F(RoutingE2E, TheCallersContextChoosesTheRouteAndItsRewriting) {
  std::string out;
  // alice (default -> to-extern): national, RegExp/Target, provider A.
  auto a = provider(prov_a_, "a.msg");
  ASSERT_TRUE(wait_udp_bound(prov_a_));
  EXPECT_EQ(call("alice", "0123456789", "uac_call_hangup.xml", &out), 0) << out << d_->output();
  EXPECT_EQ(a.get(), 0);
  EXPECT_NE(slurp("a.msg").find("INVITE sip:+33123456789@127.0.0.1"), std::string::npos) << slurp("a.msg");
  // rita (restricted -> to-local): the same number takes local to provider B,
  // although national has the better priority.
  auto b = provider(prov_b_, "b.msg");
  ASSERT_TRUE(wait_udp_bound(prov_b_));
  EXPECT_EQ(call("rita", "0123456789", "uac_call_hangup.xml", &out), 0) << out << d_->output();
  EXPECT_EQ(b.get(), 0);
  EXPECT_NE(slurp("b.msg").find("INVITE sip:00123456789@127.0.0.1"), std::string::npos) << slurp("b.msg");
}

TEST_F(RoutingE2E, ARouteInAContextNobodyIncludesIsNotOffered) {
  std::string out;
  // premium matches 3615 but lives in to-premium: nobody reaches it.
  EXPECT_EQ(call("alice", "3615", "uac_call_404.xml", &out), 0) << out;
  // Once default includes to-premium too, alice's call goes out.
  auto r = put("/1.1/contexts/" + context_id("default") + "/contexts",
               R"({"contexts":[{"id":)" + context_id("to-extern") + R"(},{"id":)" + context_id("to-premium") + "}]}");
  ASSERT_EQ(r.status, 204) << r.body;
  auto listed = admin_->get("/1.1/contexts/" + context_id("default") + "/contexts");
  EXPECT_EQ(json_int(listed.body, "/total"), 2) << listed.body;
  EXPECT_EQ(json_string(listed.body, "/items/1/name"), "to-premium") << listed.body;
  auto a = provider(prov_a_, "premium.msg");
  ASSERT_TRUE(wait_udp_bound(prov_a_));
  // The configuration snapshot is rebuilt from the change's notification: the
  // first call may still see the old one.
  EXPECT_TRUE(dialtone::testing::eventually([&] { return call("alice", "3615", "uac_call_hangup.xml", &out) == 0; })) << out;
  EXPECT_EQ(a.get(), 0);
  EXPECT_NE(slurp("premium.msg").find("INVITE sip:3615@127.0.0.1"), std::string::npos);
}

TEST_F(RoutingE2E, ConfdRefusesWhatTheDialplanCouldNotRun) {
  auto o = post("/1.1/outcalls", R"j({"name":"bad","patterns":[{"pattern":"X.","regexp":"0(.*","target":"\\1"}]})j");
  EXPECT_EQ(o.status, 400) << o.body;
  EXPECT_NE(o.body.find("'(' without its ')'"), std::string::npos) << o.body;
  o = post("/1.1/outcalls", R"j({"name":"bad","patterns":[{"pattern":"X.","regexp":"0(.*)","target":"\\2"}]})j");
  EXPECT_EQ(o.status, 400) << o.body;
  EXPECT_NE(o.body.find("target names group"), std::string::npos) << o.body;
  o = post("/1.1/outcalls", R"j({"name":"bad","patterns":[{"pattern":"X.","regexp":"(1|2)(.*)","target":"\\2"}]})j");
  EXPECT_EQ(o.status, 400) << o.body;
  // The seed's own examples pass, a leading + included.
  o = post("/1.1/outcalls", R"j({"name":"seed","patterns":[{"pattern":"X.","regexp":"+33(.*)","target":"0\\1"},)j"
                            R"j({"pattern":"X.","regexp":"14(.*)..","target":"33\\18"},{"pattern":"X.","regexp":".{1}(.*)","target":"\\1"}]})j");
  EXPECT_EQ(o.status, 201) << o.body;
  // An inclusion loop is refused, and the inclusion kept as it was.
  auto r = put("/1.1/contexts/" + context_id("to-extern") + "/contexts", R"({"contexts":[{"id":)" + context_id("default") + "}]}");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("loop"), std::string::npos) << r.body;
  auto listed = admin_->get("/1.1/contexts/" + context_id("to-extern") + "/contexts");
  EXPECT_EQ(json_int(listed.body, "/total"), 0) << listed.body;
  auto attached = admin_->get("/1.1/outcalls/1/contexts");
  EXPECT_EQ(json_string(attached.body, "/items/0/name"), "to-extern") << attached.body;
}

}  // namespace
