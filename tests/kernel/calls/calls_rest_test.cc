// GET/DELETE /1.0/calls through the real kernel HTTP server and auth service
// (tokens and ACLs from PostgreSQL): what calld clients see of the call core.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "kernel/auth/auth_service.h"
#include "kernel/calls/call_core.h"
#include "kernel/store/pg_store.h"
#include "tests/kernel/http/http_test_util.h"
#include "tests/support/pg_fixture.h"
#include "tests/support/test_bus.h"

namespace dialtone::kernel {
namespace {

using dialtone::testing::Call;
using dialtone::testing::CaptureLogger;
using dialtone::testing::Reply;

struct RecordingDriver final : sdk::ChannelDriver {
  std::mutex mutex;
  std::vector<std::string> asked;  // channel ids
  sdk::Status hangup(const sdk::Channel& c, int) override {
    std::lock_guard lock(mutex);
    asked.push_back(c.id);
    return {};
  }
};

class CallsRestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = PgStore::open(StoreConfig{dialtone::testing::test_dsn()}, bus_, log_);
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
    auth_ = std::make_unique<AuthService>(*store_, log_, AuthConfig{});
    ASSERT_TRUE(auth_->migrate());
    calls_ = std::make_unique<CallCoreImpl>(bus_, log_);
    ListenerConfig listener;
    listener.name = "calld";
    http_ = std::make_unique<HttpServerImpl>(std::vector<ListenerConfig>{listener}, log_);
    http_->set_auth(auth_.get());
    ASSERT_TRUE(calls_->mount(*http_, "calld"));
    auto st = http_->start();
    ASSERT_TRUE(st) << st.error().message;
    port_ = http_->port("calld");
    driver_ = std::make_shared<RecordingDriver>();
    ASSERT_TRUE(calls_->register_driver("sip", driver_));
  }
  void TearDown() override {
    if (http_) http_->stop();
  }

  std::string token(const std::string& user, std::vector<std::string> acls) {
    EXPECT_TRUE(auth_->create_user(user, "secret-" + user, std::move(acls)));
    auto t = auth_->create_token(user, "secret-" + user);
    EXPECT_TRUE(t) << t.error().message;
    return t ? t->token : std::string();
  }
  Reply call(const std::string& method, const std::string& path, const std::string& token) {
    Call c;
    c.method = method;
    c.path = path;
    if (!token.empty()) c.headers = {{"X-Auth-Token", token}};
    return dialtone::testing::send(port_, c);
  }
  // An answered call alice (1001) -> bob (1002): returns {A, B}.
  std::pair<std::string, std::string> answered_call() {
    sdk::ChannelSpec a;
    a.backend = "sip";
    a.endpoint = "alice";
    a.direction = sdk::ChannelDirection::inbound;
    a.caller_number = "1001";
    a.caller_name = "Alice";
    a.callee_number = "1002";
    a.protocol_id = "a-call@phone";
    auto ida = calls_->create_channel(a);
    sdk::ChannelSpec b = a;
    b.endpoint = "bob";
    b.direction = sdk::ChannelDirection::outbound;
    b.call_id = *ida;
    b.protocol_id = "b-call@dialtone";
    auto idb = calls_->create_channel(b);
    EXPECT_TRUE(calls_->set_state(*ida, sdk::ChannelState::up));
    EXPECT_TRUE(calls_->set_state(*idb, sdk::ChannelState::up));
    EXPECT_TRUE(calls_->link(*ida, *idb));
    return {*ida, *idb};
  }

  dialtone::testing::TestBus bus_;
  CaptureLogger log_;
  std::unique_ptr<PgStore> store_;
  std::unique_ptr<AuthService> auth_;
  std::unique_ptr<CallCoreImpl> calls_;
  std::unique_ptr<HttpServerImpl> http_;
  std::shared_ptr<RecordingDriver> driver_;
  int port_ = 0;
};

TEST_F(CallsRestTest, ListsEachLegAsACalldCallWithItsPeer) {
  auto [a, b] = answered_call();
  auto r = call("GET", "/1.0/calls", token("reader", {"calld.calls.read"}));
  ASSERT_EQ(r.status, 200) << r.body;
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  ASSERT_TRUE(d.IsObject() && d["items"].IsArray()) << r.body;
  ASSERT_EQ(d["items"].Size(), 2u) << r.body;
  for (auto& item : d["items"].GetArray()) {
    std::string id = item["call_id"].GetString();
    bool caller = id == a;
    std::string peer = caller ? b : a;
    EXPECT_STREQ(item["status"].GetString(), "Up");
    EXPECT_STREQ(item["conversation_id"].GetString(), a.c_str());
    EXPECT_TRUE(item["talking_to"].HasMember(peer.c_str())) << r.body;
    EXPECT_STREQ(item["talking_to"][peer.c_str()].GetString(), "Up");
    EXPECT_EQ(item["is_caller"].GetBool(), caller);
    // Each leg shows its own party first, the other as the peer.
    EXPECT_STREQ(item["caller_id_number"].GetString(), caller ? "1001" : "1002");
    EXPECT_STREQ(item["peer_caller_id_number"].GetString(), caller ? "1002" : "1001");
    EXPECT_STREQ(item["line"].GetString(), caller ? "alice" : "bob");
    EXPECT_STREQ(item["sip_call_id"].GetString(), caller ? "a-call@phone" : "b-call@dialtone");
    EXPECT_EQ(std::string(item["creation_time"].GetString()).size(), 28u) << item["creation_time"].GetString();
    EXPECT_TRUE(item["answer_time"].IsString());
  }
}

TEST_F(CallsRestTest, DeleteAsksTheBackendToHangUpAndUnknownIs404) {
  auto [a, b] = answered_call();
  auto t = token("operator", {"calld.calls.#"});
  auto r = call("DELETE", "/1.0/calls/" + b, t);
  EXPECT_EQ(r.status, 204) << r.body;
  {
    std::lock_guard lock(driver_->mutex);
    EXPECT_EQ(driver_->asked, std::vector<std::string>{b});
  }
  auto missing = call("DELETE", "/1.0/calls/1-999999", t);
  EXPECT_EQ(missing.status, 404) << missing.body;
  EXPECT_NE(missing.body.find("1-999999"), std::string::npos) << missing.body;
  EXPECT_EQ(call("GET", "/1.0/calls/1-999999", t).status, 404);
  auto one = call("GET", "/1.0/calls/" + a, t);
  EXPECT_EQ(one.status, 200) << one.body;
}

TEST_F(CallsRestTest, TokenAndAclAreRequired) {
  auto [a, b] = answered_call();
  EXPECT_EQ(call("GET", "/1.0/calls", "").status, 401);
  EXPECT_EQ(call("DELETE", "/1.0/calls/" + a, "").status, 401);
  auto reader = token("reader", {"calld.calls.read"});
  EXPECT_EQ(call("DELETE", "/1.0/calls/" + a, reader).status, 403);
  // The ACL names the call: a grant for another call does not do.
  auto other = token("other", {"calld.calls." + b + ".delete"});
  EXPECT_EQ(call("DELETE", "/1.0/calls/" + a, other).status, 403);
  EXPECT_EQ(call("DELETE", "/1.0/calls/" + b, other).status, 204);
  // A call id is one ACL segment: `*` grants any call.
  auto any = token("any", {"calld.calls.*.delete"});
  EXPECT_EQ(call("DELETE", "/1.0/calls/" + a, any).status, 204);
  EXPECT_EQ(call("GET", "/1.0/calls", any).status, 403);
  std::lock_guard lock(driver_->mutex);
  EXPECT_EQ(driver_->asked, (std::vector<std::string>{b, a})) << "refused requests reach no backend";
}

}  // namespace
}  // namespace dialtone::kernel
