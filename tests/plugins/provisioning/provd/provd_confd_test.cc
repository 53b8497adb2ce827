// provd driven by the configuration API: the real api.confd (migrations and
// routes) and provd share one PostgreSQL; phones fetch their files over the
// real provd_phones HTTP listener.
#include <gtest/gtest.h>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

#include <chrono>
#include <functional>
#include <thread>

#include <dialtone/testing/fake_host.h>

#include "kernel/http/http_server.h"
#include "kernel/store/pg_store.h"
#include "plugins/api/confd/confd_api.h"
#include "plugins/provisioning/provd/provd.h"
#include "plugins/provisioning/yealink/yealink_description.h"
#include "tests/support/eventually.h"
#include "tests/plugins/provisioning/provd/provd_fixture.h"
#include "tests/support/pg_fixture.h"

// PluginHarness needs the symbol; this binary holds no plugin.
extern "C" const dialtone_plugin_manifest dialtone_plugin_manifest_v1 = {};

namespace dialtone::plugins::provisioning {
namespace {

using api::confd::ConfdApi;

constexpr const char* kUa = "Yealink SIP-T46S 66.86.0.15 00:15:65:12:34:56";

std::string phone_get(int port, const std::string& path) {
  Poco::Net::HTTPClientSession s("127.0.0.1", static_cast<Poco::UInt16>(port));
  s.setTimeout(Poco::Timespan(10, 0));
  Poco::Net::HTTPRequest req("GET", path, Poco::Net::HTTPMessage::HTTP_1_1);
  req.set("User-Agent", kUa);
  s.sendRequest(req);
  Poco::Net::HTTPResponse resp;
  auto& is = s.receiveResponse(resp);
  std::string body;
  Poco::StreamCopier::copyToString(is, body);
  return std::to_string(static_cast<int>(resp.getStatus())) + "\n" + body;
}

// The configuration API's changes reach provd through the bus and NOTIFY,
// handled off the request thread: tests wait on what they expect.
using dialtone::testing::eventually;

class ProvdConfd : public ProvdStoreTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ProvdStoreTest::SetUp());
    confd_host_.set_store(store_.get());
    ASSERT_NO_FATAL_FAILURE(provide_vendor("yealink", yealink_description()));
    http_ = std::make_unique<kernel::HttpServerImpl>(
        std::vector<kernel::ListenerConfig>{{.name = "provd"}, {.name = "provd_phones"}}, host_.log());
    ProvdSettings s;
    s.phones_host = "10.0.0.1";
    s.tftp_enabled = false;
    s.template_check = std::chrono::milliseconds(0);
    provd_ = std::make_unique<Provd>(host_, *store_, http_.get(), s);
    ASSERT_TRUE(provd_->start().ok());
    ASSERT_TRUE(http_->start().ok());
  }

  void TearDown() override {
    confd_.reset();
    if (provd_) provd_->stop();
    if (http_) http_->stop();
    provd_.reset();
    http_.reset();
    ProvdStoreTest::TearDown();
  }

  // api.confd in `host` (this process: provd's host; "another process": its own host and bus).
  void start_confd(testing::FakeHost& host) {
    confd_ = std::make_unique<testing::PluginHarness<ConfdApi>>(host, api::confd::kOptions);
    auto st = confd_->run();
    ASSERT_TRUE(st.ok()) << st.error().message;
    confd_http_ = host.http();
  }

  int post(const std::string& target, const std::string& body) {
    auto r = confd_http_->call("POST", target, body);
    EXPECT_EQ(r.status, 201) << target << " -> " << r.body;
    auto at = r.body.find("\"id\":");
    return at == std::string::npos ? -1 : std::atoi(r.body.c_str() + at + 5);
  }
  void put(const std::string& target, const std::string& body = {}) {
    auto r = confd_http_->call("PUT", target, body);
    EXPECT_EQ(r.status, 204) << target << " -> " << r.body;
  }
  void del(const std::string& target) {
    auto r = confd_http_->call("DELETE", target);
    EXPECT_EQ(r.status, 204) << target << " -> " << r.body;
  }

  // The phone asks once (added in autoprov); returns provd's id of it.
  std::string phone_boots() {
    EXPECT_NE(phone_get(phones(), "/001565123456.cfg").find("account.1.user_name = autoprov"), std::string::npos);
    auto devs = provd_->devices();
    EXPECT_EQ(devs.size(), 1u);
    return devs.empty() ? std::string() : devs[0].id;
  }

  // Context, user Alice Zed, SIP endpoint, line and extension 1000, as an admin does.
  void alice_line() {
    post("/1.1/contexts", R"({"name":"default","type":"internal","user_ranges":[{"start":"1000","end":"1999"}]})");
    user_ = post("/1.1/users", R"({"firstname":"Alice","lastname":"Zed"})");
    line_ = post("/1.1/lines", R"({"context":"default"})");
    int sip = post("/1.1/endpoints/sip", R"({"username":"ab12cd","secret":"s3cretpw"})");
    int ext = post("/1.1/extensions", R"({"exten":"1000","context":"default"})");
    put("/1.1/users/" + std::to_string(user_) + "/lines/" + std::to_string(line_));
    put("/1.1/lines/" + std::to_string(line_) + "/endpoints/sip/" + std::to_string(sip));
    put("/1.1/lines/" + std::to_string(line_) + "/extensions/" + std::to_string(ext));
  }

  bool file_has(const std::string& text) {
    return phone_get(phones(), "/001565123456.cfg").find(text) != std::string::npos;
  }
  int phones() { return http_->port("provd_phones"); }

  testing::FakeHost confd_host_{"api.confd"};
  std::unique_ptr<kernel::HttpServerImpl> http_;
  std::unique_ptr<Provd> provd_;
  std::unique_ptr<testing::PluginHarness<ConfdApi>> confd_;
  testing::FakeHttp* confd_http_ = nullptr;
  int user_ = 0, line_ = 0;
};

TEST_F(ProvdConfd, AssociatingALineProvisionsThePhoneAndRenamingTheUserChangesIt) {
  start_confd(host_);
  auto dev = phone_boots();
  alice_line();
  auto L = std::to_string(line_);
  put("/1.1/lines/" + L + "/devices/" + dev);

  ASSERT_TRUE(eventually([&] { return file_has("account.1.user_name = ab12cd"); }))
      << phone_get(phones(), "/001565123456.cfg");
  auto file = phone_get(phones(), "/001565123456.cfg");
  EXPECT_NE(file.find("account.1.password = s3cretpw"), std::string::npos) << file;
  EXPECT_NE(file.find("account.1.auth_name = ab12cd"), std::string::npos);
  EXPECT_NE(file.find("account.1.display_name = Alice Zed"), std::string::npos);
  EXPECT_NE(file.find("account.1.label = 1000"), std::string::npos);
  EXPECT_NE(file.find("account.1.sip_server.1.address = 10.0.0.1"), std::string::npos);
  auto d = provd_->device(dev);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->config, dev);  // the device's config has the device's id
  EXPECT_TRUE(d->configured);
  auto c = provd_->config(dev);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->role, "confd");

  // The user is renamed: the phone's display name follows.
  put("/1.1/users/" + std::to_string(user_), R"({"firstname":"Alicia"})");
  EXPECT_TRUE(eventually([&] { return file_has("account.1.display_name = Alicia Zed"); }))
      << phone_get(phones(), "/001565123456.cfg");

  // A BLF key on another user's extension.
  int bob = post("/1.1/users", R"({"firstname":"Bob"})");
  int bob_line = post("/1.1/lines", R"({"context":"default"})");
  int bob_ext = post("/1.1/extensions", R"({"exten":"1001","context":"default"})");
  put("/1.1/users/" + std::to_string(bob) + "/lines/" + std::to_string(bob_line));
  put("/1.1/lines/" + std::to_string(bob_line) + "/extensions/" + std::to_string(bob_ext));
  put("/1.1/users/" + std::to_string(user_) + "/funckeys/3",
      R"({"blf":true,"label":"Bob","destination":{"type":"user","user_id":)" + std::to_string(bob) + "}}");
  EXPECT_TRUE(eventually([&] { return file_has("linekey.3.value = 1001"); }))
      << phone_get(phones(), "/001565123456.cfg");
  EXPECT_TRUE(file_has("linekey.3.label = Bob"));

  // Dissociated: back to autoprov, the line's secret is gone from the file.
  del("/1.1/lines/" + L + "/devices/" + dev);
  EXPECT_TRUE(eventually([&] { return file_has("account.1.user_name = autoprov"); }))
      << phone_get(phones(), "/001565123456.cfg");
  EXPECT_FALSE(file_has("s3cretpw"));
  EXPECT_EQ(provd_->device(dev)->config, "autoprov");
  EXPECT_FALSE(provd_->config(dev));
}

// Forward and service keys become speed dials on the feature codes the
// dialplan answers (lua-dialplan/lib/features.lua); supervised ones BLF
// keys on those codes, whose state backend.sip serves.
TEST_F(ProvdConfd, ForwardAndDndKeysDialTheFeatureCodes) {
  start_confd(host_);
  auto dev = phone_boots();
  alice_line();
  put("/1.1/lines/" + std::to_string(line_) + "/devices/" + dev);
  ASSERT_TRUE(eventually([&] { return file_has("account.1.user_name = ab12cd"); }));
  auto U = std::to_string(user_);
  put("/1.1/users/" + U + "/funckeys/4",
      R"({"label":"Fwd Bob","destination":{"type":"forward","forward":"unconditional","exten":"1001"}})");
  put("/1.1/users/" + U + "/funckeys/5", R"({"destination":{"type":"forward","forward":"noanswer"}})");
  put("/1.1/users/" + U + "/funckeys/6", R"({"destination":{"type":"service","service":"enablednd"}})");
  put("/1.1/users/" + U + "/funckeys/7", R"({"destination":{"type":"forward","forward":"busy","exten":"0612345678"}})");
  put("/1.1/users/" + U + "/funckeys/8", R"({"destination":{"type":"service","service":"incallfilter"}})");
  put("/1.1/users/" + U + "/funckeys/9", R"({"blf":true,"destination":{"type":"service","service":"enablednd"}})");
  put("/1.1/users/" + U + "/funckeys/10",
      R"({"blf":true,"destination":{"type":"forward","forward":"unconditional","exten":"1001"}})");
  ASSERT_TRUE(eventually([&] { return file_has("linekey.10.value = *211001"); }))
      << phone_get(phones(), "/001565123456.cfg");
  auto file = phone_get(phones(), "/001565123456.cfg");
  EXPECT_NE(file.find("linekey.4.value = *211001"), std::string::npos) << file;
  EXPECT_NE(file.find("linekey.4.label = Fwd Bob"), std::string::npos);
  EXPECT_NE(file.find("linekey.4.type = 13"), std::string::npos);
  EXPECT_NE(file.find("linekey.5.value = *22\n"), std::string::npos);  // no exten: the code toggles
  EXPECT_NE(file.find("linekey.5.label = No-answer forward\n"), std::string::npos);
  EXPECT_NE(file.find("linekey.6.value = *25"), std::string::npos);
  EXPECT_NE(file.find("linekey.6.label = DND"), std::string::npos);
  EXPECT_NE(file.find("linekey.7.label = Busy forward 0612345678"), std::string::npos);
  EXPECT_NE(file.find("linekey.9.type = 16\nlinekey.9.value = *25\n"), std::string::npos) << file;
  EXPECT_NE(file.find("linekey.10.type = 16\nlinekey.10.value = *211001\n"), std::string::npos) << file;
  // Incoming call filtering toggles with its feature code (features.lua).
  EXPECT_NE(file.find("linekey.8.value = *27\n"), std::string::npos) << file;
  EXPECT_NE(file.find("linekey.8.label = Call screening\n"), std::string::npos) << file;
}

// The phone's directed pickup code (XiVO's exten_pickup_call, the code a BLF
// key dials before the watched extension while that line rings) is confd's
// pickup feature code: changed there, the file follows; turned off, gone.
TEST_F(ProvdConfd, DirectedPickupCodeFollowsTheFeatureCode) {
  start_confd(host_);
  auto dev = phone_boots();
  alice_line();
  put("/1.1/lines/" + std::to_string(line_) + "/devices/" + dev);
  ASSERT_TRUE(eventually([&] { return file_has("features.pickup.direct_pickup_code = *8\n"); }))
      << phone_get(phones(), "/001565123456.cfg");
  auto list = confd_http_->call("GET", "/1.1/extensions/features?search=pickup");
  auto at = list.body.find("\"id\":");
  ASSERT_NE(at, std::string::npos) << list.body;
  auto id = std::to_string(std::atoi(list.body.c_str() + at + 5));
  put("/1.1/extensions/features/" + id, R"({"exten":"_*88."})");
  EXPECT_TRUE(eventually([&] { return file_has("features.pickup.direct_pickup_code = *88\n"); }))
      << phone_get(phones(), "/001565123456.cfg");
  put("/1.1/extensions/features/" + id, R"({"enabled":false})");
  EXPECT_TRUE(eventually([&] { return !file_has("direct_pickup"); })) << phone_get(phones(), "/001565123456.cfg");
}

TEST_F(ProvdConfd, ConfdInAnotherProcessReachesProvdThroughNotify) {
  // Its own host and bus: only PostgreSQL's NOTIFY dialtone_config links them.
  start_confd(confd_host_);
  auto dev = phone_boots();
  alice_line();
  put("/1.1/lines/" + std::to_string(line_) + "/devices/" + dev);
  EXPECT_TRUE(eventually([&] { return file_has("account.1.user_name = ab12cd"); }))
      << phone_get(phones(), "/001565123456.cfg");
  EXPECT_TRUE(host_.bus().published("config.#").empty());
}

TEST_F(ProvdConfd, ConfigsAreRebuiltAtStartAndUnknownDevicesNamed) {
  start_confd(host_);
  auto dev = phone_boots();
  alice_line();
  // provd is down while the line is associated.
  provd_->stop();
  http_->unmount_all("kernel");
  put("/1.1/lines/" + std::to_string(line_) + "/devices/" + dev);
  put("/1.1/lines/" + std::to_string(line_) + "/devices/nosuchdevice");
  put("/1.1/lines/" + std::to_string(line_) + "/devices/" + dev);
  ProvdSettings s;
  s.phones_host = "10.0.0.1";
  s.tftp_enabled = false;
  s.template_check = std::chrono::milliseconds(0);
  provd_ = std::make_unique<Provd>(host_, *store_, http_.get(), s);
  ASSERT_TRUE(provd_->start().ok());
  EXPECT_TRUE(eventually([&] { return file_has("account.1.user_name = ab12cd"); }));

  // A line pointing to a device provd does not know: one clear line, nothing else changes.
  put("/1.1/lines/" + std::to_string(line_) + "/devices/nosuchdevice");
  EXPECT_TRUE(eventually([&] {
    return host_.log().contains("a line of the configuration API points to device 'nosuchdevice'");
  }));
  EXPECT_TRUE(eventually([&] { return file_has("account.1.user_name = autoprov"); }));
  auto again = provd_->sync_from_confd();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0u);
}

}  // namespace
}  // namespace dialtone::plugins::provisioning
