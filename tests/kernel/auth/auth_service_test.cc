#include "kernel/auth/auth_service.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "kernel/store/pg_store.h"
#include "tests/kernel/http/http_test_util.h"
#include "tests/support/eventually.h"
#include "tests/support/pg_fixture.h"
#include "tests/support/test_bus.h"

namespace dialtone::kernel {
namespace {

using dialtone::testing::Call;
using dialtone::testing::CaptureLogger;
using dialtone::testing::get;
using dialtone::testing::Reply;
using dialtone::testing::send;

class AuthServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = PgStore::open(StoreConfig{dialtone::testing::test_dsn()}, bus_, log_);
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
    auth_ = std::make_unique<AuthService>(*store_, log_, config_);
    auto m = auth_->migrate();
    ASSERT_TRUE(m) << m.error().message;
    ListenerConfig listener;
    listener.name = "auth";
    http_ = std::make_unique<HttpServerImpl>(std::vector<ListenerConfig>{listener}, log_);
    ASSERT_TRUE(auth_->mount(*http_, "auth"));
    sdk::Route user;
    user.method = "GET";
    user.path = "/1.1/users/{id}/forwards";
    user.acl = "confd.users.{id}.forwards.read";
    user.handler = [](const sdk::HttpRequest& r) {
      return sdk::HttpResponse::json(200, "{\"user\":\"" + r.params.at("id") + "\"}");
    };
    ASSERT_TRUE(http_->mount_as("confd", "auth", user));
    auto st = http_->start();
    ASSERT_TRUE(st) << st.error().message;
    port_ = http_->port("auth");
  }
  void TearDown() override {
    if (http_) http_->stop();
  }

  Reply login(const std::string& user, const std::string& password, const std::string& body = "") {
    Call c;
    c.method = "POST";
    c.path = "/0.1/token";
    c.user = user;
    c.password = password;
    c.body = body;
    return send(port_, c);
  }
  // The token string from a successful POST /0.1/token.
  std::string token_of(const Reply& r) {
    rapidjson::Document d;
    d.Parse(r.body.c_str());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("data")) return {};
    return d["data"]["token"].GetString();
  }
  Reply call(const std::string& method, const std::string& path, std::vector<std::pair<std::string, std::string>> h = {}) {
    Call c;
    c.method = method;
    c.path = path;
    c.headers = std::move(h);
    return send(port_, c);
  }

  AuthConfig config_;
  CaptureLogger log_;
  dialtone::testing::TestBus bus_;
  std::unique_ptr<PgStore> store_;
  std::unique_ptr<AuthService> auth_;
  std::unique_ptr<HttpServerImpl> http_;
  int port_ = 0;
};

TEST_F(AuthServiceTest, TokenOnlyWithTheRightPassword) {
  auto uuid = auth_->create_user("alice", "correct horse", {"confd.users.me.#", "dird.#"});
  ASSERT_TRUE(uuid) << uuid.error().message;
  auto ok = login("alice", "correct horse");
  ASSERT_EQ(ok.status, 200) << ok.body;
  rapidjson::Document d;
  d.Parse(ok.body.c_str());
  const auto& data = d["data"];
  EXPECT_EQ(std::string(data["auth_id"].GetString()), *uuid);
  EXPECT_EQ(std::string(data["xivo_user_uuid"].GetString()), *uuid);
  EXPECT_EQ(std::string(data["token"].GetString()).size(), 36u);
  ASSERT_TRUE(data["acls"].IsArray());
  EXPECT_EQ(std::string(data["acls"][0].GetString()), "confd.users.me.#");
  EXPECT_EQ(std::string(data["acls"][1].GetString()), "dird.#");
  for (auto key : {"issued_at", "expires_at", "utc_issued_at", "utc_expires_at"}) {
    EXPECT_TRUE(data.HasMember(key)) << key;
  }

  auto wrong = login("alice", "wrong horse");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.header("WWW-Authenticate"), "Basic realm=\"dialtone\"");
  EXPECT_EQ(login("nobody", "correct horse").status, 401);
  EXPECT_EQ(call("POST", "/0.1/token").status, 401);
  EXPECT_EQ(login("alice", "correct horse", R"({"backend": "dialtone_service"})").status, 401);
  EXPECT_EQ(login("alice", "correct horse", R"({"backend": "xivo_user"})").status, 200);
  EXPECT_EQ(login("alice", "correct horse", R"({"expiration": 0})").status, 400);
  EXPECT_EQ(login("alice", "correct horse", R"({"expiration": "soon"})").status, 400);
  EXPECT_EQ(login("alice", "correct horse", "not json").status, 400);
  EXPECT_TRUE(log_.contains("auth: failed login for user \"alice\" from 127.0.0.1"));
}

TEST_F(AuthServiceTest, ExpirationIsHonoured) {
  ASSERT_TRUE(auth_->create_user("bob", "pw-bob-123", {"#"}));
  auto r = login("bob", "pw-bob-123", R"({"expiration": 1})");
  ASSERT_EQ(r.status, 200);
  auto token = token_of(r);
  EXPECT_EQ(call("GET", "/0.1/token/" + token).status, 200);
  EXPECT_EQ(call("GET", "/1.1/users/x/forwards", {{"X-Auth-Token", token}}).status, 200);
  // Timed on purpose (the issue asks for it): a 1 s token must be refused 2 s later.
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  EXPECT_EQ(call("GET", "/0.1/token/" + token).status, 404);
  EXPECT_EQ(call("GET", "/1.1/users/x/forwards", {{"X-Auth-Token", token}}).status, 401);
}

TEST_F(AuthServiceTest, HeadGetAndDeleteToken) {
  auto uuid = auth_->create_user("carol", "pw-carol-1", {"confd.users.me.#"});
  ASSERT_TRUE(uuid);
  auto token = token_of(login("carol", "pw-carol-1"));
  ASSERT_FALSE(token.empty());
  auto head = call("HEAD", "/0.1/token/" + token);
  EXPECT_EQ(head.status, 204);
  EXPECT_EQ(call("HEAD", "/0.1/token/" + token + "?scope=confd.users.me.read").status, 204);
  EXPECT_EQ(call("HEAD", "/0.1/token/" + token + "?scope=confd.users." + *uuid + ".forwards.read").status, 204);
  EXPECT_EQ(call("HEAD", "/0.1/token/" + token + "?scope=confd.users.someone-else.read").status, 403);
  EXPECT_EQ(call("HEAD", "/0.1/token/00000000-0000-4000-8000-000000000000").status, 404);
  EXPECT_EQ(call("HEAD", "/0.1/token/not-a-token").status, 404);
  auto got = call("GET", "/0.1/token/" + token);
  EXPECT_EQ(got.status, 200);
  EXPECT_NE(got.body.find("\"auth_id\":\"" + *uuid + "\""), std::string::npos);
  EXPECT_EQ(call("GET", "/1.1/users/" + *uuid + "/forwards", {{"X-Auth-Token", token}}).status, 200);

  EXPECT_EQ(call("DELETE", "/0.1/token/" + token).status, 204);
  EXPECT_EQ(call("HEAD", "/0.1/token/" + token).status, 404);
  EXPECT_EQ(call("GET", "/1.1/users/" + *uuid + "/forwards", {{"X-Auth-Token", token}}).status, 401);
  EXPECT_EQ(call("DELETE", "/0.1/token/" + token).status, 404);
}

TEST_F(AuthServiceTest, RouteAclGrantsOnlyWhatTheTokenHolds) {
  auto alice = auth_->create_user("alice", "pw-alice-1", {"confd.users.me.#"});
  auto bob = auth_->create_user("bob", "pw-bob-1", {"confd.users.me.#"});
  ASSERT_TRUE(auth_->create_user("viewer", "pw-viewer-1", {"dird.#"}));
  ASSERT_TRUE(auth_->create_user("ops", "pw-ops-1", {"confd.users.*.forwards.read"}));
  ASSERT_TRUE(alice && bob);
  auto ta = token_of(login("alice", "pw-alice-1"));
  auto tv = token_of(login("viewer", "pw-viewer-1"));
  auto to = token_of(login("ops", "pw-ops-1"));
  // `me` lets alice read her own forwards and nobody else's.
  auto own = call("GET", "/1.1/users/" + *alice + "/forwards", {{"X-Auth-Token", ta}});
  EXPECT_EQ(own.status, 200);
  EXPECT_EQ(own.body, "{\"user\":\"" + *alice + "\"}");
  EXPECT_EQ(call("GET", "/1.1/users/" + *bob + "/forwards", {{"X-Auth-Token", ta}}).status, 403);
  EXPECT_EQ(call("GET", "/1.1/users/" + *alice + "/forwards", {{"X-Auth-Token", tv}}).status, 403);
  EXPECT_EQ(call("GET", "/1.1/users/" + *bob + "/forwards", {{"X-Auth-Token", to}}).status, 200);
  EXPECT_EQ(call("GET", "/1.1/users/" + *bob + "/forwards").status, 401);
  EXPECT_EQ(call("GET", "/1.1/users/" + *bob + "/forwards", {{"X-Auth-Token", "garbage"}}).status, 401);
}

TEST_F(AuthServiceTest, PasswordIsStoredOnlyAsPbkdf2) {
  ASSERT_TRUE(auth_->create_user("dave", "Plain-Text-Marker-42", {"#"}));
  auto r = store_->exec("SELECT password_hash, auth_user::text AS whole FROM auth_user WHERE username = 'dave'");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->rows.size(), 1u);
  EXPECT_EQ(r->get(0, "password_hash").rfind("pbkdf2_sha256$100000$", 0), 0u) << r->get(0, "password_hash");
  EXPECT_EQ(r->get(0, "whole").find("Plain-Text-Marker-42"), std::string::npos);
  auto tok = login("dave", "Plain-Text-Marker-42");
  ASSERT_EQ(tok.status, 200);
  auto t = store_->exec("SELECT auth_token::text AS whole FROM auth_token");
  ASSERT_TRUE(t);
  for (std::size_t i = 0; i < t->rows.size(); ++i) {
    EXPECT_EQ(t->get(i, "whole").find("Plain-Text-Marker-42"), std::string::npos);
  }
  for (const auto& line : log_.lines()) EXPECT_EQ(line.find("Plain-Text-Marker-42"), std::string::npos) << line;
  EXPECT_FALSE(auth_->create_user("dave", "other", {}));
}

TEST_F(AuthServiceTest, RepeatedFailuresBanTheAddressWith429) {
  ASSERT_TRUE(auth_->create_user("erin", "pw-erin-1", {"#"}));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(login("erin", "guess" + std::to_string(i)).status, 401) << i;
  auto banned = login("erin", "guess5");
  EXPECT_EQ(banned.status, 429);
  int retry = std::stoi(banned.header("Retry-After").empty() ? "0" : banned.header("Retry-After"));
  EXPECT_GT(retry, 290);
  EXPECT_LE(retry, 300);
  // The right password is refused too while the ban lasts.
  EXPECT_EQ(login("erin", "pw-erin-1").status, 429);
  EXPECT_EQ(log_.count("auth: failed login for user \"erin\" from 127.0.0.1"), 5u);
  EXPECT_EQ(log_.count("auth: banned 127.0.0.1 for 300s after 5 failures"), 1u);
}

TEST_F(AuthServiceTest, TokensAreSharedThroughTheDatabaseAndRevocationReachesOtherNodes) {
  ASSERT_TRUE(auth_->create_user("frank", "pw-frank-1", {"confd.#"}));
  AuthService other_node(*store_, log_, config_);
  ASSERT_TRUE(other_node.migrate());
  auto t = auth_->create_token("frank", "pw-frank-1");
  ASSERT_TRUE(t);
  auto seen = other_node.check(t->token, "confd.users.read");
  ASSERT_TRUE(seen) << seen.error().message;
  EXPECT_EQ(seen->username, "frank");
  auto denied = other_node.check(t->token, "dird.read");
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().code, sdk::ErrorCode::forbidden);
  ASSERT_TRUE(auth_->revoke(t->token));
  EXPECT_TRUE(dialtone::testing::eventually([&] { return !other_node.check(t->token, ""); })) << "the other node still accepts a revoked token";
}

TEST_F(AuthServiceTest, EnsureAdminCreatesTheAccountOnceWithAPrivatePasswordFile) {
  auto dir = std::filesystem::temp_directory_path() /
             ("dialtone-admin-" + std::to_string(getpid()) + "-" + std::to_string(port_));
  auto file = dir / "secrets" / "admin-password";
  auto hint = auth_->ensure_admin(file);
  ASSERT_TRUE(hint) << hint.error().message;
  EXPECT_EQ(*hint, "admin password in " + file.string() + " (get a token: curl -u admin:$(cat " + file.string() +
                       ") -X POST http://127.0.0.1:9497/0.1/token)");
  struct stat st{};
  ASSERT_EQ(stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string password;
  std::ifstream(file) >> password;
  EXPECT_EQ(password.size(), 20u);
  auto r = login("admin", password);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(call("GET", "/1.1/users/anyone/forwards", {{"X-Auth-Token", token_of(r)}}).status, 200);

  auto again = auth_->ensure_admin(file);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *hint);
  std::string still;
  std::ifstream(file) >> still;
  EXPECT_EQ(still, password);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace dialtone::kernel
