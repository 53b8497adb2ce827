// Router precedence as a plugin author relies on it: a literal segment wins
// over a `{param}` segment at the same position, whatever order (and whichever
// plugin) mounted the routes.
#include <string>

#include <gtest/gtest.h>

#include "kernel/http/http_server.h"
#include "tests/kernel/http/http_test_util.h"

namespace dialtone::kernel {
namespace {

using dialtone::testing::CaptureLogger;
using dialtone::testing::get;

sdk::Route fixed(std::string method, std::string path, std::string answer) {
  sdk::Route r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.auth = sdk::RouteAuth::none;
  r.handler = [answer](const sdk::HttpRequest& req) {
    std::string params;
    for (const auto& [k, v] : req.params) params += k + "=" + v + ";";
    return sdk::HttpResponse::json(200, "{\"route\":\"" + answer + "\",\"params\":\"" + params + "\"}");
  };
  return r;
}

class RoutePrecedence : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    ListenerConfig confd;
    confd.name = "confd";
    server_ = std::make_unique<HttpServerImpl>(std::vector<ListenerConfig>{confd}, log_);
  }
  void run() {
    auto s = server_->start();
    ASSERT_TRUE(s) << s.error().message;
    port_ = server_->port("confd");
  }
  std::string route_of(const std::string& path) {
    auto r = get(port_, path);
    EXPECT_EQ(r.status, 200) << path << ": " << r.body;
    auto at = r.body.find("\"route\":\"");
    if (at == std::string::npos) return r.body;
    at += 9;
    return r.body.substr(at, r.body.find('"', at) - at);
  }
  CaptureLogger log_;
  std::unique_ptr<HttpServerImpl> server_;
  int port_ = 0;
};

// GetParam(): true mounts the parameter route first, false the literal first.
TEST_P(RoutePrecedence, LiteralSegmentWinsOverParameterWhateverTheMountOrder) {
  const bool param_first = GetParam();
  auto param = [&] { ASSERT_TRUE(server_->mount_as("api.confd", "confd", fixed("GET", "/1.1/users/{id}", "user"))); };
  auto literal = [&] {
    ASSERT_TRUE(server_->mount_as("api.import", "confd", fixed("GET", "/1.1/users/import", "import")));
  };
  if (param_first) {
    param();
    literal();
  } else {
    literal();
    param();
  }
  // Deeper: a literal at the last position against parameters elsewhere.
  ASSERT_TRUE(server_->mount_as("api.confd", "confd", fixed("GET", "/1.1/users/{id}/lines/{line}", "line")));
  ASSERT_TRUE(server_->mount_as("api.other", "confd", fixed("GET", "/1.1/users/{id}/lines/main", "main")));
  run();

  EXPECT_EQ(route_of("/1.1/users/import"), "import");
  EXPECT_EQ(route_of("/1.1/users/42"), "user");
  EXPECT_EQ(route_of("/1.1/users/importer"), "user");
  EXPECT_EQ(route_of("/1.1/users/42/lines/main"), "main");
  EXPECT_EQ(route_of("/1.1/users/42/lines/7"), "line");
  // HEAD falls back to GET with the same precedence.
  dialtone::testing::Call head;
  head.method = "HEAD";
  head.path = "/1.1/users/import";
  EXPECT_EQ(dialtone::testing::send(port_, head).status, 200);
}

TEST_P(RoutePrecedence, UnmountingTheLiteralRouteHandsThePathBackToTheParameter) {
  if (GetParam()) {
    ASSERT_TRUE(server_->mount_as("api.confd", "confd", fixed("GET", "/1.1/users/{id}", "user")));
    ASSERT_TRUE(server_->mount_as("api.import", "confd", fixed("GET", "/1.1/users/import", "import")));
  } else {
    ASSERT_TRUE(server_->mount_as("api.import", "confd", fixed("GET", "/1.1/users/import", "import")));
    ASSERT_TRUE(server_->mount_as("api.confd", "confd", fixed("GET", "/1.1/users/{id}", "user")));
  }
  run();
  EXPECT_EQ(route_of("/1.1/users/import"), "import");
  server_->unmount_all("api.import");
  EXPECT_EQ(route_of("/1.1/users/import"), "user");
}

// A literal route with another method does not hide the parameter route's GET.
TEST_P(RoutePrecedence, LiteralOfAnotherMethodLeavesTheParameterRouteServing) {
  if (GetParam()) {
    ASSERT_TRUE(server_->mount_as("api.confd", "confd", fixed("GET", "/1.1/users/{id}", "user")));
    ASSERT_TRUE(server_->mount_as("api.import", "confd", fixed("POST", "/1.1/users/import", "import")));
  } else {
    ASSERT_TRUE(server_->mount_as("api.import", "confd", fixed("POST", "/1.1/users/import", "import")));
    ASSERT_TRUE(server_->mount_as("api.confd", "confd", fixed("GET", "/1.1/users/{id}", "user")));
  }
  run();
  EXPECT_EQ(route_of("/1.1/users/import"), "user");
  dialtone::testing::Call post;
  post.method = "POST";
  post.path = "/1.1/users/import";
  post.body = "{}";
  auto r = dialtone::testing::send(port_, post);
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"route\":\"import\""), std::string::npos) << r.body;
}

INSTANTIATE_TEST_SUITE_P(MountOrder, RoutePrecedence, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "ParamFirst" : "LiteralFirst"; });

}  // namespace
}  // namespace dialtone::kernel
