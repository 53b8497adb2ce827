// The drift check shared by the plugins' OpenAPI tests, on the SDK's fake host:
//
//   host.http()->set_token(std::nullopt);
//   dialtone::testing::expect_served_spec_matches_routes(*host.http(), "/0.1/api/phonebook.yml", "dird");
//
// The spec served at `spec_path` (without a token) is a valid OpenAPI file
// listing exactly the routes the plugin mounted, with their ACLs; every route
// is on `listener`; every token route refuses a request without one (401).
#pragma once

#include <map>
#include <string>

#include <gtest/gtest.h>

#include "tests/support/openapi_spec.h"

namespace dialtone::testing {

template <class FakeHttp>
void expect_served_spec_matches_routes(FakeHttp& http, const std::string& spec_path, const std::string& listener) {
  auto served = http.call("GET", spec_path);
  ASSERT_EQ(served.status, 200) << served.body;
  EXPECT_EQ(served.content_type, "application/x-yaml");
  auto spec = read_openapi(served.body);
  EXPECT_TRUE(spec.problems.empty()) << spec.problems.front();

  std::map<std::string, std::string> mounted;
  for (auto& m : http.routes()) {
    EXPECT_EQ(m.listener, listener) << m.route.path;
    if (m.route.auth == dialtone::sdk::RouteAuth::token) {
      EXPECT_EQ(http.call(m.route.method, m.route.path).status, 401) << m.route.path;
    }
    mounted[route_key(m.route.method, m.route.path)] = m.route.acl;
  }
  EXPECT_EQ(spec.operations, mounted);
}

}  // namespace dialtone::testing
