#include "tests/integration/support/confd_admin.h"

#include <gtest/gtest.h>

namespace dialtone::testing {

HttpAnswer ConfdAdmin::post(const std::string& path, const std::string& body) {
  return d_.http("POST", "confd", path, body, auth());
}

HttpAnswer ConfdAdmin::put(const std::string& path, const std::string& body) {
  return d_.http("PUT", "confd", path, body, auth());
}

HttpAnswer ConfdAdmin::get(const std::string& path) { return d_.http("GET", "confd", path, "", auth()); }

void ConfdAdmin::expect_put(const std::string& path, const std::string& body) {
  auto r = put(path, body);
  EXPECT_EQ(r.status, 204) << "PUT " << path << ": " << r.body;
}

std::string ConfdAdmin::context(const std::string& json) {
  auto r = post("/1.1/contexts", json);
  EXPECT_EQ(r.status, 201) << r.body;
  auto id = json_string(r.body, "/id");
  contexts_[json_string(r.body, "/name")] = id;
  return id;
}

void ConfdAdmin::include(const std::string& context, const std::string& included) {
  expect_put("/1.1/contexts/" + contexts_[context] + "/contexts", R"({"contexts":[{"id":)" + contexts_[included] + "}]}");
}

std::string ConfdAdmin::user_line(const std::string& exten, const std::string& firstname, const std::string& lastname,
                                  const std::string& username, const std::string& secret, const std::string& context) {
  std::string user;
  auto e = create_user_line(d_, exten, R"({"firstname":")" + firstname + R"(","lastname":")" + lastname + R"("})",
                            username, secret, &user, context);
  EXPECT_EQ(e, "");
  return json_string(user, "/id");
}

std::string ConfdAdmin::trunk(const std::string& username, const std::string& host, const std::string& context,
                              const std::string& options, const std::string& secret) {
  auto t = post("/1.1/trunks", R"({"context":")" + context + R"("})");
  auto e = post("/1.1/endpoints/sip", R"({"username":")" + username + R"(","secret":")" + secret +
                                          R"(","type":"peer","host":")" + host + R"(","options":)" + options + "}");
  EXPECT_TRUE(t.status == 201 && e.status == 201) << t.body << " / " << e.body;
  auto tid = json_string(t.body, "/id");
  expect_put("/1.1/trunks/" + tid + "/endpoints/sip/" + json_string(e.body, "/id"));
  return tid;
}

std::string ConfdAdmin::custom_trunk(const std::string& interface, const std::string& context) {
  auto t = post("/1.1/trunks", R"({"context":")" + context + R"("})");
  auto e = post("/1.1/endpoints/custom", R"({"interface":")" + interface + R"("})");
  EXPECT_TRUE(t.status == 201 && e.status == 201) << t.body << " / " << e.body;
  auto tid = json_string(t.body, "/id");
  expect_put("/1.1/trunks/" + tid + "/endpoints/custom/" + json_string(e.body, "/id"));
  return tid;
}

std::string ConfdAdmin::outcall(const std::string& name, int priority, const std::string& patterns_json,
                                const std::string& trunk_id, const std::string& context) {
  return outcall(name, priority, patterns_json, std::vector<std::string>{trunk_id}, context);
}

std::string ConfdAdmin::outcall(const std::string& name, int priority, const std::string& patterns_json,
                                const std::vector<std::string>& trunk_ids, const std::string& context) {
  auto o = post("/1.1/outcalls", R"({"name":")" + name + R"(","priority":)" + std::to_string(priority) +
                                     R"(,"patterns":)" + patterns_json + "}");
  EXPECT_EQ(o.status, 201) << o.body;
  auto id = json_string(o.body, "/id");
  std::string trunks;
  for (auto& t : trunk_ids) trunks += (trunks.empty() ? "" : ",") + std::string(R"({"id":)") + t + "}";
  expect_put("/1.1/outcalls/" + id + "/trunks", R"({"trunks":[)" + trunks + "]}");
  expect_put("/1.1/outcalls/" + id + "/contexts", R"({"contexts":[{"id":)" + contexts_[context] + "}]}");
  return id;
}

std::string ConfdAdmin::incall(const std::string& exten, const std::string& context,
                               const std::string& destination_json) {
  auto i = post("/1.1/incalls", R"({"destination":)" + destination_json + "}");
  auto x = post("/1.1/extensions", R"({"exten":")" + exten + R"(","context":")" + context + R"("})");
  EXPECT_TRUE(i.status == 201 && x.status == 201) << i.body << " / " << x.body;
  auto id = json_string(i.body, "/id");
  expect_put("/1.1/incalls/" + id + "/extensions/" + json_string(x.body, "/id"));
  return id;
}

}  // namespace dialtone::testing
