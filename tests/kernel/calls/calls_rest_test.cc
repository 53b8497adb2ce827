// GET/DELETE /1.0/calls through the real kernel HTTP server and auth service
// (tokens and ACLs from PostgreSQL): what calld clients see of the call core.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "kernel/auth/auth_service.h"
#include "kernel/calls/call_core.h"
#include "kernel/store/pg_store.h"
#include "tests/kernel/http/http_test_util.h"
#include "tests/support/openapi_fields.h"
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
  auto r = call("GET", "/1.0/calls", token("reader", {"ctid-ng.calls.read"}));
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
  auto t = token("operator", {"ctid-ng.calls.#"});
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
  auto reader = token("reader", {"ctid-ng.calls.read"});
  EXPECT_EQ(call("DELETE", "/1.0/calls/" + a, reader).status, 403);
  // The ACL names the call: a grant for another call does not do.
  auto other = token("other", {"ctid-ng.calls." + b + ".delete"});
  EXPECT_EQ(call("DELETE", "/1.0/calls/" + a, other).status, 403);
  EXPECT_EQ(call("DELETE", "/1.0/calls/" + b, other).status, 204);
  // A call id is one ACL segment: `*` grants any call.
  auto any = token("any", {"ctid-ng.calls.*.delete"});
  EXPECT_EQ(call("DELETE", "/1.0/calls/" + a, any).status, 204);
  EXPECT_EQ(call("GET", "/1.0/calls", any).status, 403);
  std::lock_guard lock(driver_->mutex);
  EXPECT_EQ(driver_->asked, (std::vector<std::string>{b, a})) << "refused requests reach no backend";
}

// Originating as xivo-calld-client (xivo-ctid-ng-client 2017) does: POST
// /1.0/calls with {source: {user}, destination: {extension, context,
// priority}, variables}, and POST/GET/DELETE /1.0/users/me/calls with a
// user's token. Phones are drivers that record what the core asks: "sip"
// rings the user's line, "local" stands for the dialplan that routes the
// destination.
struct Ringer final : sdk::ChannelDriver {
  explicit Ringer(bool can_ring = true) : can_ring(can_ring) {}
  bool can_ring;
  std::mutex mutex;
  std::vector<sdk::OriginateRequest> rung;
  std::vector<std::string> hung_up;
  sdk::Status originate(const sdk::OriginateRequest& r) override {
    if (!can_ring) return sdk::Error::unsupported("this phone cannot be rung");
    std::lock_guard lock(mutex);
    rung.push_back(r);
    return {};
  }
  sdk::Status hangup(const sdk::Channel& c, int) override {
    std::lock_guard lock(mutex);
    hung_up.push_back(c.id);
    return {};
  }
  sdk::OriginateRequest last() {
    std::lock_guard lock(mutex);
    return rung.empty() ? sdk::OriginateRequest{} : rung.back();
  }
};

class OriginateRestTest : public CallsRestTest {
 protected:
  void SetUp() override {
    CallsRestTest::SetUp();
    calls_->unregister_driver("sip");
    phones_ = std::make_shared<Ringer>();
    dialplan_ = std::make_shared<Ringer>();
    ASSERT_TRUE(calls_->register_driver("sip", phones_));
    ASSERT_TRUE(calls_->register_driver("local", dialplan_));
    admin_ = token("admin", {"ctid-ng.#"});
    user_uuid_ = *auth_->create_user("alice", "secret-alice", {"ctid-ng.users.me.#"});
    user_token_ = auth_->create_token("alice", "secret-alice")->token;
    auto snap = std::make_shared<sdk::ConfigSnapshot>();
    sdk::ConfigUser u;
    u.id = 7;
    u.uuid = user_uuid_;
    u.firstname = "Alice";
    u.lastname = "Liddell";
    u.ring_seconds = 25;
    u.line_ids = {3};
    u.main_line_id = 3;
    snap->users[7] = u;
    sdk::ConfigLine l;
    l.id = 3;
    l.context = "default";
    l.username = "alice-line";
    l.extension_ids = {11};
    l.main_user_id = 7;
    l.user_ids = {7};
    snap->lines[3] = l;
    snap->line_by_username_["alice-line"] = 3;
    snap->extensions[11] = sdk::ConfigExtension{11, "1001", "default", false};
    calls_->set_config_source([snap] { return snap; });
  }
  Reply post(const std::string& path, const std::string& body, const std::string& token) {
    Call c;
    c.method = "POST";
    c.path = path;
    c.body = body;
    c.headers = {{"X-Auth-Token", token}, {"Content-Type", "application/json"}, {"Accept", "application/json"}};
    return dialtone::testing::send(port_, c);
  }
  std::shared_ptr<Ringer> phones_, dialplan_;
  std::string admin_, user_uuid_, user_token_;
};

TEST_F(OriginateRestTest, TheUsersLineRingsThenTheDestinationThroughTheDialplan) {
  auto r = post("/1.0/calls",
                R"({"source": {"user": ")" + user_uuid_ + R"("}, "destination": {"extension": "1002", "context": "default", "priority": 1}, "variables": {"FOO": "bar"}})",
                admin_);
  ASSERT_EQ(r.status, 201) << r.body;
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  std::string leg = d["call_id"].GetString();
  // The user's leg rings the main line; its phone shows the number called.
  auto ring = phones_->last();
  ASSERT_EQ(ring.legs.size(), 1u);
  EXPECT_EQ(ring.legs[0].channel_id, leg);
  EXPECT_EQ(ring.legs[0].target, "alice-line");
  EXPECT_EQ(ring.timeout_seconds, 25);
  EXPECT_EQ(ring.caller_number, "1002");
  EXPECT_EQ(ring.variables.at("FOO"), "bar");
  EXPECT_EQ(ring.variables.at("XIVO_USERUUID"), user_uuid_);
  EXPECT_STREQ(d["line"].GetString(), "alice-line");
  EXPECT_STREQ(d["status"].GetString(), "Down");
  // xivo-ctid-ng's user_uuid: the user of the leg's line.
  ASSERT_TRUE(d["user_uuid"].IsString()) << r.body;
  EXPECT_EQ(d["user_uuid"].GetString(), user_uuid_);
  EXPECT_NE(call("GET", "/1.0/calls/" + leg, admin_).body.find("\"user_uuid\":\"" + user_uuid_ + "\""),
            std::string::npos);
  // Only the legs are calls: the API's own channel is not listed.
  auto listed = call("GET", "/1.0/calls", admin_);
  EXPECT_EQ(listed.body.find("\"backend\":\"api\""), std::string::npos) << listed.body;
  EXPECT_NE(listed.body.find(leg), std::string::npos) << listed.body;
  EXPECT_TRUE(dialplan_->last().legs.empty()) << "nothing dials the destination before the user answers";

  // The user answers: their leg dials local/1002@default with their caller id.
  ASSERT_TRUE(calls_->set_state(leg, sdk::ChannelState::up));
  auto dest = dialplan_->last();
  ASSERT_EQ(dest.legs.size(), 1u);
  EXPECT_EQ(dest.legs[0].target, "1002@default");
  EXPECT_EQ(dest.origin.id, leg);
  EXPECT_EQ(dest.caller_number, "1001");
  EXPECT_EQ(dest.caller_name, "Alice Liddell");
  EXPECT_EQ(dest.variables.at("FOO"), "bar");
  // The destination answers: the two are linked.
  ASSERT_TRUE(calls_->set_state(dest.legs[0].channel_id, sdk::ChannelState::up));
  auto c = calls_->channel(leg);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->peer, dest.legs[0].channel_id);
  EXPECT_EQ(calls_->channels().size(), 2u) << "the API channel is gone";
  auto both = call("GET", "/1.0/calls", admin_);
  EXPECT_NE(both.body.find("\"user_uuid\":null"), std::string::npos) << "the destination's leg has no user: "
                                                                        << both.body;

  // The user's calls, then the user hangs up through the API.
  auto mine = call("GET", "/1.0/users/me/calls", user_token_);
  ASSERT_EQ(mine.status, 200) << mine.body;
  EXPECT_NE(mine.body.find(leg), std::string::npos) << mine.body;
  EXPECT_EQ(call("DELETE", "/1.0/users/me/calls/" + dest.legs[0].channel_id, user_token_).status, 404)
      << "the destination's leg is not on the user's lines";
  EXPECT_EQ(call("DELETE", "/1.0/users/me/calls/" + leg, user_token_).status, 204);
  std::lock_guard lock(phones_->mutex);
  EXPECT_EQ(phones_->hung_up, std::vector<std::string>{leg});
}

TEST_F(OriginateRestTest, TheUserMakesACallInTheirLinesContextAndAFailedDestinationHangsUp) {
  auto r = post("/1.0/users/me/calls", R"({"extension": "2000", "variables": {"X": "1"}})", user_token_);
  ASSERT_EQ(r.status, 201) << r.body;
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  std::string leg = d["call_id"].GetString();
  ASSERT_TRUE(calls_->set_state(leg, sdk::ChannelState::up));
  auto dest = dialplan_->last();
  ASSERT_EQ(dest.legs.size(), 1u);
  EXPECT_EQ(dest.legs[0].target, "2000@default");
  // The destination is busy: the user's leg is hung up.
  ASSERT_TRUE(calls_->end_channel_q850(dest.legs[0].channel_id, sdk::q850::user_busy));
  std::lock_guard lock(phones_->mutex);
  EXPECT_EQ(phones_->hung_up, std::vector<std::string>{leg});
}

TEST_F(OriginateRestTest, TheUserNotAnsweringEndsEverything) {
  auto r = post("/1.0/calls", R"({"source": {"user": ")" + user_uuid_ + R"("}, "destination": {"extension": "1002", "context": "default"}})", admin_);
  ASSERT_EQ(r.status, 201) << r.body;
  auto ring = phones_->last();
  ASSERT_TRUE(calls_->end_channel_q850(ring.legs[0].channel_id, sdk::q850::no_answer));
  EXPECT_TRUE(calls_->channels().empty()) << "the API channel ended with the user's leg";
  EXPECT_TRUE(dialplan_->last().legs.empty());
}

TEST_F(OriginateRestTest, BadRequestsNameTheProblemAndAclsAreXivoCalldOnes) {
  auto bad = [&](const std::string& body, const std::string& words) {
    auto r = post("/1.0/calls", body, admin_);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_NE(r.body.find(words), std::string::npos) << body << " -> " << r.body;
  };
  bad(R"({"destination": {"extension": "1", "context": "default"}})", "source is missing");
  bad(R"({"source": {"user": ")" + user_uuid_ + R"("}, "destination": {"context": "default"}})", "destination.extension is missing");
  bad(R"({"source": {"user": "00000000-0000-4000-8000-000000000000"}, "destination": {"extension": "1", "context": "default"}})",
      "No such user");
  bad(R"({"source": {"user": ")" + user_uuid_ + R"(", "line_id": 99}, "destination": {"extension": "1", "context": "default"}})",
      "line 99 is not a line of user");
  bad(R"({"source": {"user": ")" + user_uuid_ + R"(", "from_mobile": true}, "destination": {"extension": "1", "context": "default"}})",
      "from_mobile is not supported");
  bad("[1]", "JSON object");
  EXPECT_EQ(post("/1.0/calls", "{}", user_token_).status, 403) << "ctid-ng.calls.create is needed";
  EXPECT_EQ(call("GET", "/1.0/users/me/calls", token("creator", {"ctid-ng.calls.create"})).status, 403)
      << "ctid-ng.users.me.calls.read is needed";
  EXPECT_TRUE(calls_->channels().empty());
}

TEST_F(OriginateRestTest, ALineThatCannotBeRungAnswers503WithTheReason) {
  calls_->unregister_driver("sip");
  ASSERT_TRUE(calls_->register_driver("sip", std::make_shared<Ringer>(false)));
  auto r = post("/1.0/calls", R"({"source": {"user": ")" + user_uuid_ + R"("}, "destination": {"extension": "1002", "context": "default"}})", admin_);
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(r.body.find("sip/alice-line could not be rung"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("this phone cannot be rung"), std::string::npos) << "the driver's reason: " << r.body;
  EXPECT_TRUE(log_.contains("cannot ring: this phone cannot be rung"));
  EXPECT_TRUE(calls_->channels().empty());
}

// The field contract of kernel/calls/api.yml (as served): every field it
// declares for an answer is in the real answers, for an answered call
// (talking_to filled) and an originated one.
TEST_F(OriginateRestTest, EveryDeclaredFieldIsReturned) {
  auto spec = YAML::Load(call("GET", "/1.0/api/api.yml", "").body);
  using dialtone::testing::missing_fields;
  auto made = post("/1.0/users/me/calls", R"({"extension": "2000"})", user_token_);
  ASSERT_EQ(made.status, 201) << made.body;
  EXPECT_EQ(missing_fields(spec, "POST", "/1.0/users/me/calls", made.body, 201), "") << made.body;
  auto other = post("/1.0/calls", R"({"source": {"user": ")" + user_uuid_ + R"("}, "destination": {"extension": "1002", "context": "default"}})", admin_);
  ASSERT_EQ(other.status, 201) << other.body;
  EXPECT_EQ(missing_fields(spec, "POST", "/1.0/calls", other.body, 201), "") << other.body;
  auto [a, b] = answered_call();
  auto all = call("GET", "/1.0/calls", admin_);
  EXPECT_NE(all.body.find("\"talking_to\":{\"" + b), std::string::npos) << all.body;
  EXPECT_EQ(missing_fields(spec, "GET", "/1.0/calls", all.body), "") << all.body;
  auto one = call("GET", "/1.0/calls/" + a, admin_);
  EXPECT_EQ(missing_fields(spec, "GET", "/1.0/calls/{call_id}", one.body), "") << one.body;
  auto mine = call("GET", "/1.0/users/me/calls", user_token_);
  EXPECT_EQ(missing_fields(spec, "GET", "/1.0/users/me/calls", mine.body), "") << mine.body;
}

}  // namespace
}  // namespace dialtone::kernel
