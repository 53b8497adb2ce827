#include "kernel/http/http_server.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <Poco/Net/SSLManager.h>

#include "kernel/auth/acl.h"
#include "tests/kernel/http/http_test_util.h"

namespace dialtone::kernel {
namespace {

using dialtone::testing::Call;
using dialtone::testing::CaptureLogger;
using dialtone::testing::get;
using dialtone::testing::send;
using sdk::HttpRequest;
using sdk::HttpResponse;
using sdk::Route;
using sdk::RouteAuth;

// A fixed token table: the HTTP layer's contract with sdk::Auth, without a database.
class TableAuth final : public sdk::Auth {
 public:
  std::map<std::string, sdk::TokenInfo> tokens;
  sdk::Result<sdk::TokenInfo> check(std::string_view token, std::string_view acl) override {
    auto it = tokens.find(std::string(token));
    if (it == tokens.end()) return sdk::Error{sdk::ErrorCode::unauthorized, "no such token"};
    if (!acl_allows(it->second, acl)) return sdk::Error{sdk::ErrorCode::forbidden, "acl"};
    return it->second;
  }
  bool acl_allows(const sdk::TokenInfo& t, std::string_view acl) const override {
    return kernel::acl_allows(t.acls, t.auth_id, acl);
  }
};

Route public_route(std::string method, std::string path, std::function<HttpResponse(const HttpRequest&)> h) {
  Route r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.auth = RouteAuth::none;
  r.handler = std::move(h);
  return r;
}

HttpResponse echo_params(const HttpRequest& req) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  for (const auto& [k, v] : req.params) {
    w.Key(k.c_str());
    w.String(v.c_str());
  }
  w.EndObject();
  return HttpResponse::json(200, sb.GetString());
}

class HttpServerTest : public ::testing::Test {
 protected:
  void start(ListenerConfig cfg = {}) {
    if (cfg.name.empty()) cfg.name = "api";
    server_ = std::make_unique<HttpServerImpl>(std::vector<ListenerConfig>{cfg}, log_);
    server_->set_auth(&auth_);
  }
  void run() {
    auto s = server_->start();
    ASSERT_TRUE(s) << s.error().message;
    port_ = server_->port("api");
    ASSERT_GT(port_, 0);
  }
  CaptureLogger log_;
  TableAuth auth_;
  std::unique_ptr<HttpServerImpl> server_;
  int port_ = 0;
};

TEST_F(HttpServerTest, RoutesLiteralAndParameterSegments) {
  start();
  ASSERT_TRUE(server_->mount("api", public_route("GET", "/1.1/users/{id}", echo_params)));
  ASSERT_TRUE(server_->mount("api", public_route("GET", "/1.1/users/export", [](const HttpRequest&) {
    return HttpResponse::json(200, R"({"export":true})");
  })));
  ASSERT_TRUE(server_->mount("api", public_route("GET", "/1.1/users/{id}/lines/{line}", echo_params)));
  run();
  auto a = get(port_, "/1.1/users/42");
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, R"({"id":"42"})");
  EXPECT_EQ(a.header("Content-Type"), "application/json");
  EXPECT_EQ(get(port_, "/1.1/users/export").body, R"({"export":true})");
  EXPECT_EQ(get(port_, "/1.1/users/a%20b/lines/7").body, R"({"id":"a b","line":"7"})");
  EXPECT_EQ(get(port_, "/1.1/users/42/").status, 200);
}

TEST_F(HttpServerTest, UnknownPathIs404JsonAndWrongMethodIs405WithAllow) {
  start();
  ASSERT_TRUE(server_->mount("api", public_route("GET", "/1.1/users/{id}", echo_params)));
  ASSERT_TRUE(server_->mount("api", public_route("DELETE", "/1.1/users/{id}", echo_params)));
  run();
  auto nf = get(port_, "/1.1/nothing");
  EXPECT_EQ(nf.status, 404);
  EXPECT_EQ(nf.body, R"(["No such resource: /1.1/nothing"])");
  Call c;
  c.method = "PUT";
  c.path = "/1.1/users/3";
  c.body = "{}";
  auto na = send(port_, c);
  EXPECT_EQ(na.status, 405);
  EXPECT_EQ(na.header("Allow"), "DELETE, GET, HEAD");
  EXPECT_NE(na.body.find("not allowed"), std::string::npos);
}

TEST_F(HttpServerTest, HeadAnswersLikeGetWithoutBody) {
  start();
  ASSERT_TRUE(server_->mount("api", public_route("GET", "/x", [](const HttpRequest&) {
    return HttpResponse::json(200, R"({"a":1})");
  })));
  run();
  Call c;
  c.method = "HEAD";
  c.path = "/x";
  auto r = send(port_, c);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(r.header("Content-Length"), "7");
}

TEST_F(HttpServerTest, BodyOverTheLimitIs413ForContentLengthAndChunked) {
  ListenerConfig cfg;
  cfg.max_body = 1024;
  start(cfg);
  std::atomic<int> calls{0};
  ASSERT_TRUE(server_->mount("api", public_route("POST", "/x", [&](const HttpRequest& r) {
    ++calls;
    return HttpResponse::json(200, std::to_string(r.body.size()));
  })));
  run();
  Call big;
  big.method = "POST";
  big.path = "/x";
  big.body = "{}";
  big.headers = {{"Content-Length", "5000000"}};  // announced size alone must be refused
  {
    Poco::Net::HTTPClientSession s("127.0.0.1", static_cast<Poco::UInt16>(port_));
    Poco::Net::HTTPRequest req("POST", "/x", Poco::Net::HTTPMessage::HTTP_1_1);
    req.setContentType("application/json");
    req.setContentLength(5000000);
    s.sendRequest(req) << "{}";
    Poco::Net::HTTPResponse resp;
    s.receiveResponse(resp);
    EXPECT_EQ(resp.getStatus(), 413);
  }
  Call chunked;
  chunked.method = "POST";
  chunked.path = "/x";
  chunked.chunked = true;
  chunked.body = "\"" + std::string(4000, 'a') + "\"";
  EXPECT_EQ(send(port_, chunked).status, 413);
  Call fits = chunked;
  fits.body = "\"" + std::string(1000, 'a') + "\"";
  auto ok = send(port_, fits);
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "1002");
  EXPECT_EQ(calls.load(), 1);
}

TEST_F(HttpServerTest, NonJsonBodyIs415) {
  start();
  ASSERT_TRUE(server_->mount("api", public_route("POST", "/x", [](const HttpRequest&) {
    return HttpResponse::json(201, "{}");
  })));
  run();
  Call c;
  c.method = "POST";
  c.path = "/x";
  c.body = "a=b";
  c.content_type = "application/x-www-form-urlencoded";
  auto r = send(port_, c);
  EXPECT_EQ(r.status, 415);
  EXPECT_NE(r.body.find("application/json"), std::string::npos);
  c.body = "{}";
  c.content_type = "application/json; charset=utf-8";
  EXPECT_EQ(send(port_, c).status, 201);
  // Imports post CSV; the handler decides what it parses.
  c.body = "firstname,lastname\nAlice,Liddell\n";
  c.content_type = "text/csv; charset=utf-8";
  EXPECT_EQ(send(port_, c).status, 201);
}

TEST_F(HttpServerTest, AcceptExcludingJsonIs406) {
  start();
  ASSERT_TRUE(server_->mount("api", public_route("GET", "/json", [](const HttpRequest&) {
    return HttpResponse::json(200, "{}");
  })));
  ASSERT_TRUE(server_->mount("api", public_route("GET", "/xml", [](const HttpRequest&) {
    return HttpResponse::text(200, "<a/>", "text/xml");
  })));
  run();
  EXPECT_EQ(get(port_, "/json", {{"Accept", "text/html"}}).status, 406);
  EXPECT_EQ(get(port_, "/json", {{"Accept", "application/json;q=0"}}).status, 406);
  EXPECT_EQ(get(port_, "/json", {{"Accept", "text/html, */*;q=0.1"}}).status, 200);
  EXPECT_EQ(get(port_, "/json", {{"Accept", "application/json"}}).status, 200);
  EXPECT_EQ(get(port_, "/json", {{"Accept", "application/vnd.proformatique.provd+json"}}).status, 200);
  EXPECT_EQ(get(port_, "/xml", {{"Accept", "text/xml"}}).status, 200);
}

TEST_F(HttpServerTest, ListParametersAreParsedAndValidated) {
  start();
  Route r = public_route("GET", "/1.1/users", [](const HttpRequest& req) {
    const auto& l = *req.list;
    std::string b = "{\"search\":\"" + l.search + "\",\"order\":\"" + l.order + "\",\"desc\":" +
                    (l.descending ? "true" : "false") + ",\"limit\":" +
                    (l.limit ? std::to_string(*l.limit) : "null") + ",\"offset\":" + std::to_string(l.offset) +
                    ",\"filters\":" + std::to_string(l.filters.size()) + "}";
    return HttpResponse::json(200, b);
  });
  r.sort_columns = {"lastname", "firstname"};
  ASSERT_TRUE(server_->mount("api", r));
  run();
  EXPECT_EQ(get(port_, "/1.1/users").body,
            R"({"search":"","order":"lastname","desc":false,"limit":null,"offset":0,"filters":0})");
  EXPECT_EQ(get(port_, "/1.1/users?search=bob+m&order=firstname&direction=desc&limit=10&offset=5&context=default")
                .body,
            R"({"search":"bob m","order":"firstname","desc":true,"limit":10,"offset":5,"filters":1})");
  auto bad_order = get(port_, "/1.1/users?order=password");
  EXPECT_EQ(bad_order.status, 400);
  EXPECT_EQ(bad_order.body, R"(["Invalid value for 'order': 'password'; allowed: lastname, firstname"])");
  EXPECT_EQ(get(port_, "/1.1/users?direction=up").status, 400);
  EXPECT_EQ(get(port_, "/1.1/users?limit=-1").status, 400);
  EXPECT_EQ(get(port_, "/1.1/users?limit=ten").status, 400);
  EXPECT_EQ(get(port_, "/1.1/users?offset=1.5").status, 400);
  EXPECT_EQ(get(port_, "/1.1/users?limit=0").status, 200);
}

TEST_F(HttpServerTest, ClientOutsideTheSubnetsIs403) {
  ListenerConfig cfg;
  cfg.subnets = {"10.0.0.0/8", "fd00::/8"};
  start(cfg);
  ASSERT_TRUE(server_->mount("api", public_route("GET", "/x", [](const HttpRequest&) {
    return HttpResponse::json(200, "{}");
  })));
  run();
  auto r = get(port_, "/x");
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("127.0.0.1 is not in the allowed subnets"), std::string::npos);

  ListenerConfig loopback;
  loopback.subnets = {"10.0.0.0/8", "127.0.0.0/8"};
  start(loopback);
  ASSERT_TRUE(server_->mount("api", public_route("GET", "/x", [](const HttpRequest&) {
    return HttpResponse::json(200, "{}");
  })));
  run();
  EXPECT_EQ(get(port_, "/x").status, 200);
}

TEST_F(HttpServerTest, BadSubnetIsRefusedAtStartWithTheFix) {
  ListenerConfig cfg;
  cfg.subnets = {"10.0.0.0/33"};
  start(cfg);
  auto s = server_->start();
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("'api'"), std::string::npos);
  EXPECT_NE(s.error().message.find("10.0.0.0/33"), std::string::npos);
  EXPECT_NE(s.error().message.find("10.0.0.0/8"), std::string::npos);
}

TEST_F(HttpServerTest, ThrowingHandlerIs500AndTheServerKeepsServing) {
  start();
  ASSERT_TRUE(server_->mount_as("buggy.plugin", "api", public_route("GET", "/boom", [](const HttpRequest&) -> HttpResponse {
    throw std::runtime_error("division by zero in report");
  })));
  ASSERT_TRUE(server_->mount("api", public_route("GET", "/ok", [](const HttpRequest&) {
    return HttpResponse::json(200, "{}");
  })));
  run();
  for (int i = 0; i < 3; ++i) {
    auto r = get(port_, "/boom");
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(r.body, R"(["Internal server error; see the server log"])");
  }
  EXPECT_EQ(get(port_, "/ok").status, 200);
  EXPECT_EQ(log_.count("buggy.plugin handler for GET /boom failed: division by zero in report"), 3u);
}

TEST_F(HttpServerTest, TokenRoutesCheckTokenAndSubstitutedAcl) {
  auth_.tokens["tok-alice"] = {"tok-alice", "uuid-alice", "alice", "dialtone_user", {"confd.users.me.read"}, 0, 0};
  auth_.tokens["tok-admin"] = {"tok-admin", "uuid-admin", "admin", "dialtone_user", {"confd.#"}, 0, 0};
  start();
  Route r;
  r.method = "GET";
  r.path = "/1.1/users/{id}";
  r.acl = "confd.users.{id}.read";
  r.handler = [](const HttpRequest& req) {
    return HttpResponse::json(200, "{\"caller\":\"" + req.token->username + "\"}");
  };
  ASSERT_TRUE(server_->mount("api", r));
  run();
  EXPECT_EQ(get(port_, "/1.1/users/uuid-alice").status, 401);
  EXPECT_EQ(get(port_, "/1.1/users/uuid-alice", {{"X-Auth-Token", "forged"}}).status, 401);
  auto own = get(port_, "/1.1/users/uuid-alice", {{"X-Auth-Token", "tok-alice"}});
  EXPECT_EQ(own.status, 200);
  EXPECT_EQ(own.body, R"({"caller":"alice"})");
  auto other = get(port_, "/1.1/users/uuid-bob", {{"X-Auth-Token", "tok-alice"}});
  EXPECT_EQ(other.status, 403);
  EXPECT_EQ(other.body, R"(["Forbidden: the token does not grant confd.users.uuid-bob.read"])");
  EXPECT_EQ(get(port_, "/1.1/users/uuid-bob", {{"X-Auth-Token", "tok-admin"}}).status, 200);
}

TEST_F(HttpServerTest, RequestLogNeverShowsTokensOrCredentials) {
  auth_.tokens["secret-token-123"] = {"secret-token-123", "u", "u", "dialtone_user", {"#"}, 0, 0};
  start();
  Route r;
  r.method = "GET";
  r.path = "/x";
  r.handler = [](const HttpRequest&) { return HttpResponse::json(200, "{}"); };
  ASSERT_TRUE(server_->mount("api", r));
  run();
  EXPECT_EQ(get(port_, "/x?token=secret-token-123",
                {{"X-Auth-Token", "secret-token-123"}, {"Authorization", "Basic c2VjcmV0OnB3"}})
                .status,
            200);
  EXPECT_TRUE(log_.contains("\"GET /x\" 200"));
  for (const auto& l : log_.lines()) {
    EXPECT_EQ(l.find("secret-token-123"), std::string::npos) << l;
    EXPECT_EQ(l.find("c2VjcmV0OnB3"), std::string::npos) << l;
  }
}

TEST_F(HttpServerTest, MountRefusesUnknownListenerDuplicatesAndBadTemplates) {
  start();
  auto h = [](const HttpRequest&) { return HttpResponse::json(200, "{}"); };
  auto unknown = server_->mount("confd", public_route("GET", "/x", h));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, sdk::ErrorCode::not_found);
  EXPECT_NE(unknown.error().message.find("configured listeners: api"), std::string::npos);
  ASSERT_TRUE(server_->mount_as("one", "api", public_route("GET", "/u/{id}", h)));
  auto dup = server_->mount_as("two", "api", public_route("GET", "/u/{uuid}", h));
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, sdk::ErrorCode::conflict);
  EXPECT_NE(dup.error().message.find("by one"), std::string::npos);
  Route bad_acl = public_route("GET", "/v/{id}", h);
  bad_acl.acl = "svc.{name}.read";
  EXPECT_FALSE(server_->mount("api", bad_acl));
  ASSERT_TRUE(server_->mount_as("two", "api", public_route("POST", "/u", h)));
  auto listed = server_->routes();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].path, "/u");
  EXPECT_EQ(listed[0].owner, "two");
  EXPECT_EQ(listed[1].path, "/u/{id}");
  EXPECT_EQ(listed[1].owner, "one");
}

TEST_F(HttpServerTest, UnmountAllRemovesAPluginsRoutesWhileRunning) {
  start();
  auto h = [](const HttpRequest&) { return HttpResponse::json(200, "{}"); };
  ASSERT_TRUE(server_->mount_as("dir.plugin", "api", public_route("GET", "/d", h)));
  ASSERT_TRUE(server_->mount("api", public_route("GET", "/k", h)));
  run();
  EXPECT_EQ(get(port_, "/d").status, 200);
  server_->unmount_all("dir.plugin");
  EXPECT_EQ(get(port_, "/d").status, 404);
  EXPECT_EQ(get(port_, "/k").status, 200);
}

TEST_F(HttpServerTest, SecondServerOnTheSamePortGetsAClearError) {
  start();
  run();
  CaptureLogger other_log;
  ListenerConfig cfg;
  cfg.name = "auth";
  cfg.port = port_;
  HttpServerImpl other({cfg}, other_log);
  auto s = other.start();
  ASSERT_FALSE(s);
  const auto& m = s.error().message;
  EXPECT_NE(m.find("'auth'"), std::string::npos) << m;
  EXPECT_NE(m.find("127.0.0.1:" + std::to_string(port_)), std::string::npos) << m;
  EXPECT_NE(m.find("already in use"), std::string::npos) << m;
  EXPECT_NE(m.find("another port"), std::string::npos) << m;
}

TEST_F(HttpServerTest, ServesHttpsWithACertificateFromOpenssl) {
  auto dir = std::filesystem::temp_directory_path() / ("dialtone-tls-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto cert = (dir / "cert.pem").string(), key = (dir / "key.pem").string();
  std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -keyout " + key +
                    " -out " + cert + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  ListenerConfig cfg;
  cfg.tls_cert = cert;
  cfg.tls_key = key;
  start(cfg);
  ASSERT_TRUE(server_->mount("api", public_route("GET", "/x", [](const HttpRequest&) {
    return HttpResponse::json(200, R"({"tls":true})");
  })));
  run();
  Poco::Net::Context::Ptr ctx = new Poco::Net::Context(Poco::Net::Context::CLIENT_USE, "",
                                                        Poco::Net::Context::VERIFY_NONE);
  Poco::Net::HTTPSClientSession s("127.0.0.1", static_cast<Poco::UInt16>(port_), ctx);
  Call c;
  c.path = "/x";
  auto r = dialtone::testing::send_on(s, c);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"tls":true})");
  // Plain HTTP on the TLS port gets no answer.
  EXPECT_THROW(get(port_, "/x"), Poco::Exception);
  std::filesystem::remove_all(dir);
}

TEST_F(HttpServerTest, MissingCertificateIsRefusedAtStart) {
  ListenerConfig cfg;
  cfg.tls_cert = "/nonexistent/cert.pem";
  cfg.tls_key = "/nonexistent/key.pem";
  start(cfg);
  auto s = server_->start();
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("/nonexistent/cert.pem"), std::string::npos) << s.error().message;
}

}  // namespace
}  // namespace dialtone::kernel
