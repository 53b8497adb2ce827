// backend.sip with the provisioning pieces: OPTIONS qualify of registered
// contacts, the SipNotifier (check-sync NOTIFY) and the autoprov flow
// through lua-dialplan/extensions.lua and the real provd, all against SIPp.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include <dialtone/provisioning.h>
#include <dialtone/services.h>

#include "plugins/backend/sip/sip_plugin.h"
#include "plugins/provisioning/provd/autoprov_lua.h"
#include "plugins/provisioning/provd/provd.h"
#include "plugins/provisioning/yealink/yealink_description.h"
#include "tests/plugins/backend/sip/provd_fixture.h"

namespace sip = dialtone::plugins::backend::sip;
namespace prov = dialtone::plugins::provisioning;
namespace sdk = dialtone::sdk;
using dialtone::testing::run_sipp;
using dialtone::testing::scenario;
using dialtone::testing::eventually;

namespace {

class SipProvisioningTest : public dialtone::testing::ProvdSipTest {
 protected:
  static void SetUpTestSuite() {
    make_host({{"alice", "1001"}, {"bob", "1002"}},
              std::filesystem::path(SIP_LUA_LIB_DIR).parent_path() / "extensions.lua");
    // provisioning.provd's `provisioning` module, as its plugin exports it.
    ASSERT_TRUE(prov::export_autoprov_lua(*host_));
  }

  void SetUp() override { provide_vendors({{"yealink", prov::yealink_description()}}); }

  void start_sip(std::map<std::string, std::string> extra = {}) {
    extra.emplace("auth.ban_failures", "1000");
    extra.emplace("sip.node", "prov-node");
    start_plugin(extra);
  }

  // provd, the SIP plugin's provisioning service, with one Yealink phone
  // at 127.0.0.1 in autoprov; its id.
  std::string provd_with_a_phone() {
    start_provd(true);
    return add_device("00:15:65:12:34:56", "Yealink", "T46S", "provisioning.yealink");
  }

  // A phone registered as `user` that stays up `ms` and answers what the
  // out-of-call scenario `ooc` expects; the Contact names an address that
  // cannot be reached, as a phone behind NAT does.
  std::future<int> phone(const std::string& user, const std::string& password, const std::string& ooc,
                         int ms, std::string* out) {
    int port = dialtone::testing::free_port();
    std::vector<std::string> args{target_, "-sf", scenario("register_stay.xml"), "-oocsf", scenario(ooc),
                                  "-i", "127.0.0.1", "-p", std::to_string(port), "-m", "1",
                                  "-d", std::to_string(ms), "-au", user, "-ap", password,
                                  "-key", "user", user, "-key", "contact_host", "192.0.2.1",
                                  "-key", "contact_port", "5060", "-key", "expires", "3600",
                                  "-timeout", "30s", "-timeout_error", "-trace_msg"};
    return std::async(std::launch::async, [args, out] { return run_sipp(args, out); });
  }

  int call(const std::string& file, const std::string& user, const std::string& password,
           const std::string& exten, std::string* out) {
    return client(file, {"-s", exten, "-au", user, "-ap", password, "-key", "user", user}, out);
  }

  std::string autoprov_password() {
    return host_->sql("SELECT raw_config->'sip_lines'->'1'->>'password' FROM provd_config WHERE id = 'autoprov'");
  }
  std::string line_of(const std::string& username, const std::string& column) {
    return host_->sql("SELECT coalesce(l." + column + ", '') FROM confd_lines l JOIN confd_endpoints_sip e "
                       "ON e.id = l.endpoint_sip_id WHERE e.username = $1", {username});
  }

};

TEST_F(SipProvisioningTest, QualifyMarksAContactReachableThenUnreachableAndItIsNoLongerRung) {
  start_sip({{"qualify.interval", "1s"}, {"qualify.timeout", "1s"}});
  std::string out;
  auto phone_done = phone("alice", "alicepw", "ooc_options.xml", 3500, &out);
  auto& bus = host_->test_bus();
  auto up = bus.wait_for("sip.reachability.alice", std::chrono::seconds(20));
  ASSERT_TRUE(up) << "no reachability event";
  EXPECT_NE(up->body.find("\"state\":\"reachable\""), std::string::npos) << up->body;
  EXPECT_NE(up->body.find("\"previous\":\"unknown\""), std::string::npos) << up->body;
  auto states = plugin_->reachability("alice");
  ASSERT_EQ(states.size(), 1u);
  EXPECT_GE(states[0].rtt_ms, 0);
  ASSERT_EQ(phone_done.get(), 0) << out;

  // The phone is gone (its registration is not): the next probe fails.
  auto down = bus.wait_for("sip.reachability.alice", std::chrono::seconds(20), 1);
  ASSERT_TRUE(down) << "no unreachable event; log:\n" << [&] {
    std::string all;
    for (auto& l : host_->logger().lines()) all += l + "\n";
    return all;
  }();
  EXPECT_NE(down->body.find("\"state\":\"unreachable\""), std::string::npos) << down->body;
  EXPECT_EQ(plugin_->contact_count("alice"), 1u);
  EXPECT_EQ(plugin_->reachability("alice")[0].state, sip::Reachability::unreachable);

  // Calling alice: 480 within the scenario timeout (ringing her dead
  // contact would last the 30 s ring time).
  std::string call_out;
  EXPECT_EQ(call("uac_call_480.xml", "bob", "bobpw", "1001", &call_out), 0) << call_out;
}

TEST_F(SipProvisioningTest, NotifierSendsCheckSyncToTheAddressTheRegisterCameFrom) {
  start_sip();
  auto notifier = host_->services().find<sdk::SipNotifier>();
  ASSERT_TRUE(notifier) << "backend.sip provides no SipNotifier";
  auto check_sync = [&](sdk::SyncTarget t) {
    std::promise<sdk::Status> answer;
    auto f = answer.get_future();
    notifier->notify_check_sync(t, [&answer](sdk::Status s) { answer.set_value(std::move(s)); });
    return f.get();
  };
  // Nobody registered from 127.0.0.2.
  auto none = check_sync({"127.0.0.2", "", "check-sync"});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, sdk::ErrorCode::not_found);

  std::string out;
  auto phone_done = phone("bob", "bobpw", "ooc_notify.xml", 6000, &out);
  ASSERT_TRUE(eventually([&] { return plugin_->contact_count("bob") == 1; }));
  auto s = check_sync({"127.0.0.1", "bob", "check-sync;reboot=false"});
  EXPECT_TRUE(s) << s.error().message;
  EXPECT_EQ(phone_done.get(), 0) << out;
  EXPECT_NE(out.find("Event: check-sync;reboot=false"), std::string::npos) << out;
}

TEST_F(SipProvisioningTest, AutoprovPhoneDialsAProvisioningCodeAndGetsTheLine) {
  start_sip();
  auto dev = provd_with_a_phone();
  auto password = autoprov_password();
  ASSERT_FALSE(password.empty());
  auto code = line_of("alice", "provisioning_code");
  ASSERT_EQ(code.size(), 6u);

  std::string out;
  auto phone_done = phone("autoprov", password, "ooc_notify.xml", 8000, &out);
  ASSERT_TRUE(eventually([&] { return plugin_->contact_count("autoprov") == 1; }));

  // Only provisioning codes: an extension is refused.
  std::string call_out;
  EXPECT_EQ(call("uac_call_forbidden.xml", "autoprov", password, "1002", &call_out), 0) << call_out;
  // A wrong code: 404, nothing changes.
  EXPECT_EQ(call("uac_call_404.xml", "autoprov", password, code == "999999" ? "999998" : "999999",
                 &call_out), 0) << call_out;
  EXPECT_EQ(line_of("alice", "device_id"), "");

  EXPECT_EQ(call("uac_call_480.xml", "autoprov", password, code, &call_out), 0) << call_out;
  EXPECT_EQ(line_of("alice", "device_id"), dev);
  EXPECT_TRUE(eventually([&] { return provd_->device(dev)->config == dev; }));
  EXPECT_EQ(phone_done.get(), 0) << out;
  EXPECT_NE(out.find("Event: check-sync;reboot=false"), std::string::npos) << out;
}

TEST_F(SipProvisioningTest, StarGuestWithThePasswordResetsThePhoneToAutoprov) {
  start_sip();
  auto dev = provd_with_a_phone();
  host_->sql("UPDATE confd_lines SET device_id = $1 FROM confd_endpoints_sip e "
              "WHERE e.id = confd_lines.endpoint_sip_id AND e.username = 'bob'", {dev});
  ASSERT_TRUE(provd_->sync_from_confd());
  ASSERT_EQ(provd_->device(dev)->config, dev);

  std::string out;
  auto phone_done = phone("bob", "bobpw", "ooc_notify.xml", 8000, &out);
  ASSERT_TRUE(eventually([&] { return plugin_->contact_count("bob") == 1; }));
  std::string call_out;
  // A wrong password changes nothing.
  EXPECT_EQ(call("uac_call_forbidden.xml", "bob", "bobpw", "*483781234", &call_out), 0) << call_out;
  EXPECT_EQ(line_of("bob", "device_id"), dev);

  EXPECT_EQ(call("uac_call_480.xml", "bob", "bobpw", "*483789486", &call_out), 0) << call_out;
  EXPECT_EQ(line_of("bob", "device_id"), "");
  EXPECT_TRUE(eventually([&] { return provd_->device(dev)->config == "autoprov"; }));
  EXPECT_EQ(phone_done.get(), 0) << out;
  EXPECT_NE(out.find("Event: check-sync;reboot=false"), std::string::npos) << out;
}

}  // namespace
