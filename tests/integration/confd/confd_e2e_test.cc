// api.confd through the real dialtoned: HTTP, tokens, ACLs, PostgreSQL.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <string>

#include "kernel/auth/auth_service.h"
#include "tests/integration/support/dialtoned_fixture.h"

namespace {

using dialtone::testing::Dialtoned;
using dialtone::testing::HttpAnswer;
using dialtone::testing::json_int;
using dialtone::testing::json_size;
using dialtone::testing::json_string;

class ConfdE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    d_ = new Dialtoned({.plugin_files = {{"50-confd.conf", "[plugin]\nname = api.confd\n"}}});
  }
  static void TearDownTestSuite() {
    delete d_;
    d_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(d_->ready()) << d_->error(); }

  HttpAnswer api(const std::string& method, const std::string& path, const std::string& body = "") {
    return d_->http(method, "confd", "/1.1" + path, body, {{"X-Auth-Token", d_->token()}});
  }
  long users_total() { return json_int(api("GET", "/users?limit=1").body, "/total"); }

  static Dialtoned* d_;
};
Dialtoned* ConfdE2E::d_ = nullptr;

TEST_F(ConfdE2E, CreatesAndAssociatesAUserLineEndpointAndExtension) {
  auto ctx = api("POST", "/contexts",
                 R"({"name":"e2e-a","type":"internal","user_ranges":[{"start":"2000","end":"2999"}]})");
  ASSERT_EQ(ctx.status, 201) << ctx.body;
  auto user = api("POST", "/users", R"({"firstname":"Alice","lastname":"Abrams","ring_seconds":25})");
  ASSERT_EQ(user.status, 201) << user.body;
  auto uid = json_string(user.body, "/id");
  EXPECT_FALSE(json_string(user.body, "/uuid").empty());
  auto line = api("POST", "/lines", R"({"context":"e2e-a"})");
  ASSERT_EQ(line.status, 201) << line.body;
  auto lid = json_string(line.body, "/id");
  EXPECT_EQ(json_string(line.body, "/provisioning_code").size(), 6u) << line.body;
  auto sip = api("POST", "/endpoints/sip", R"({"username":"alice-e2e","secret":"s3cret"})");
  ASSERT_EQ(sip.status, 201) << sip.body;
  auto ext = api("POST", "/extensions", R"({"exten":"2000","context":"e2e-a"})");
  ASSERT_EQ(ext.status, 201) << ext.body;

  EXPECT_EQ(api("PUT", "/lines/" + lid + "/endpoints/sip/" + json_string(sip.body, "/id")).status, 204);
  EXPECT_EQ(api("PUT", "/users/" + uid + "/lines/" + lid).status, 204);
  EXPECT_EQ(api("PUT", "/lines/" + lid + "/extensions/" + json_string(ext.body, "/id")).status, 204);

  auto lines = api("GET", "/users/" + uid + "/lines");
  ASSERT_EQ(lines.status, 200) << lines.body;
  EXPECT_EQ(std::to_string(json_int(lines.body, "/items/0/line_id")), lid) << lines.body;
  EXPECT_EQ(json_string(lines.body, "/items/0/main_line"), "true") << lines.body;
  // Outside every range of the context: refused with XiVO's message, nothing created.
  auto out = api("POST", "/extensions", R"({"exten":"3000","context":"e2e-a"})");
  EXPECT_EQ(out.status, 400) << out.body;
  EXPECT_NE(out.body.find("not inside"), std::string::npos) << out.body;
  EXPECT_EQ(json_int(api("GET", "/extensions?exten=3000").body, "/total"), 0);
  // The same extension twice is refused.
  auto dup = api("POST", "/extensions", R"({"exten":"2000","context":"e2e-a"})");
  EXPECT_EQ(dup.status, 400) << dup.body;
  EXPECT_NE(dup.body.find("already exists"), std::string::npos) << dup.body;
  // The user cannot be deleted while a line is associated.
  auto del = api("DELETE", "/users/" + uid);
  EXPECT_EQ(del.status, 400) << del.body;
}

TEST_F(ConfdE2E, ListsWithSearchOrderAndLimit) {
  for (auto* n : {R"({"firstname":"Lina","lastname":"Listsmith"})", R"({"firstname":"Zoe","lastname":"Listsmith"})",
                  R"({"firstname":"Mark","lastname":"Listsmith"})", R"({"firstname":"Other","lastname":"Person"})"})
    ASSERT_EQ(api("POST", "/users", n).status, 201);
  auto r = api("GET", "/users?search=listsmith&order=firstname&direction=desc&limit=2");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json_int(r.body, "/total"), 3) << r.body;
  ASSERT_EQ(json_size(r.body, "/items"), 2u) << r.body;
  EXPECT_EQ(json_string(r.body, "/items/0/firstname"), "Zoe");
  EXPECT_EQ(json_string(r.body, "/items/1/firstname"), "Mark");
  auto page2 = api("GET", "/users?search=listsmith&order=firstname&direction=desc&limit=2&offset=2");
  ASSERT_EQ(json_size(page2.body, "/items"), 1u) << page2.body;
  EXPECT_EQ(json_string(page2.body, "/items/0/firstname"), "Lina");
}

TEST_F(ConfdE2E, BadBodiesGet400WithMessagesAndWriteNothing) {
  long before = users_total();
  auto r = api("POST", "/users", R"({"firstname":"X","ring_seconds":7,"nosuchfield":1})");
  EXPECT_EQ(r.status, 400);
  EXPECT_GE(json_size(r.body, ""), 1u) << r.body;
  EXPECT_NE(r.body.find("ring_seconds"), std::string::npos) << r.body;
  EXPECT_EQ(api("POST", "/users", "{not json").status, 400);
  EXPECT_EQ(api("POST", "/users", R"({"lastname":"no firstname"})").status, 400);
  // An import with one bad line writes none of the good ones.
  std::string csv = "firstname,lastname,ring_seconds\nGood,One,10\nBad,Two,7\nGood,Three,15\n";
  auto imp = d_->http("POST", "confd", "/1.1/users/import", csv,
                      {{"X-Auth-Token", d_->token()}, {"Content-Type", "text/csv; charset=utf-8"}});
  EXPECT_EQ(imp.status, 400) << imp.body;
  EXPECT_EQ(json_int(imp.body, "/errors/0/details/row_number"), 2) << imp.body;
  EXPECT_EQ(users_total(), before);
}

TEST_F(ConfdE2E, OversizeBodyGets413AndNothingIsWritten) {
  long before = users_total();
  // max_body is 1 MiB: announce 2 MiB and send the start of it; the listener
  // answers from the Content-Length, without reading the rest.
  std::string body = R"({"firstname":")" + std::string(2 * 1048576, 'x') + R"("})";
  std::string head = "POST /1.1/users HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Auth-Token: " + d_->token() +
                     "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                     "\r\n\r\n";
  EXPECT_EQ(dialtone::testing::raw_http_status(d_->port("confd"), head + body.substr(0, 65536)), 413);
  EXPECT_EQ(users_total(), before);
}

TEST_F(ConfdE2E, WithoutTokenIs401AndSpecIsPublic) {
  EXPECT_EQ(d_->http("GET", "confd", "/1.1/users").status, 401);
  auto spec = d_->http("GET", "confd", "/1.1/api/api.yml");
  ASSERT_EQ(spec.status, 200);
  EXPECT_NE(spec.body.find("openapi"), std::string::npos);
  EXPECT_NE(spec.body.find("/users/{user_id}/forwards"), std::string::npos);
}

// A user with only `confd.users.me.#` reads and changes their own forwards
// and services, nobody else's. The account is written to the kernel's
// auth_user table with the confd user's uuid, as docs/admin/auth.md describes
// the table (POST /0.1/users does the same over REST: tests/integration/auth).
TEST_F(ConfdE2E, MeAclReachesOnlyOwnForwardsAndServices) {
  auto me = api("POST", "/users", R"({"firstname":"Mia","lastname":"Self"})");
  auto other = api("POST", "/users", R"({"firstname":"Otto","lastname":"Else"})");
  ASSERT_EQ(me.status, 201);
  ASSERT_EQ(other.status, 201);
  auto me_uuid = json_string(me.body, "/uuid"), other_uuid = json_string(other.body, "/uuid");

  PGconn* c = PQconnectdb(d_->dsn().c_str());
  ASSERT_EQ(PQstatus(c), CONNECTION_OK) << PQerrorMessage(c);
  auto hash = dialtone::kernel::hash_password("mia-pass", 1000);
  const char* params[] = {me_uuid.c_str(), hash.c_str()};
  PGresult* res = PQexecParams(c,
                               "INSERT INTO auth_user (uuid, username, password_hash, acls) "
                               "VALUES ($1, 'mia', $2, ARRAY['confd.users.me.#'])",
                               2, nullptr, params, nullptr, nullptr, 0);
  ASSERT_EQ(PQresultStatus(res), PGRES_COMMAND_OK) << PQerrorMessage(c);
  PQclear(res);
  PQfinish(c);

  auto token = d_->token_for("mia", "mia-pass");
  ASSERT_FALSE(token.empty());
  auto as_mia = [&](const std::string& m, const std::string& path, const std::string& body = "") {
    return d_->http(m, "confd", "/1.1" + path, body, {{"X-Auth-Token", token}});
  };
  auto put = as_mia("PUT", "/users/" + me_uuid + "/forwards/unconditional",
                    R"({"enabled":true,"destination":"0612345678"})");
  EXPECT_EQ(put.status, 204) << put.body;
  auto fw = as_mia("GET", "/users/" + me_uuid + "/forwards");
  ASSERT_EQ(fw.status, 200) << fw.body;
  EXPECT_EQ(json_string(fw.body, "/unconditional/destination"), "0612345678") << fw.body;
  EXPECT_EQ(as_mia("PUT", "/users/" + me_uuid + "/services/dnd", R"({"enabled":true})").status, 204);
  EXPECT_EQ(json_string(as_mia("GET", "/users/" + me_uuid + "/services").body, "/dnd/enabled"), "true");

  EXPECT_EQ(as_mia("GET", "/users/" + other_uuid + "/forwards").status, 403);
  EXPECT_EQ(as_mia("PUT", "/users/" + other_uuid + "/services/dnd", R"({"enabled":true})").status, 403);
  EXPECT_EQ(as_mia("GET", "/users").status, 403);
  // Nothing changed for the other user.
  EXPECT_EQ(json_string(api("GET", "/users/" + other_uuid + "/services").body, "/dnd/enabled"), "false");
}

}  // namespace
