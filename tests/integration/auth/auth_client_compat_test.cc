// The kernel's auth API as xivo-auth-client (wazo-auth-client of 2017, with
// xivo-lib-rest-client) speaks to it: token.new/is_valid/get/revoke,
// backends.list, users.new/list/get/change_password/delete, with the client's
// headers (Accept and Content-Type application/json) and Basic credentials,
// against a real dialtoned; the ldap_user backend against a real slapd.
#include <dialtone/base64.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "tests/integration/support/dialtoned_fixture.h"
#include "tests/support/openapi_fields.h"
#include "tests/plugins/directory/ldap/slapd_fixture.h"

namespace {

using dialtone::testing::Dialtoned;
using dialtone::testing::HttpAnswer;
using dialtone::testing::json_int;
using dialtone::testing::json_size;
using dialtone::testing::json_string;

class AuthClientCompat : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    slapd_ = new dialtone::testing::Slapd();
    std::string base = std::string("ou=people,") + dialtone::testing::Slapd::kSuffix;
    if (slapd_->running())
      slapd_->add("dn: uid=lucy," + base +
                  "\nobjectClass: inetOrgPerson\ncn: Lucy Ldap\nsn: Ldap\nuid: lucy\nmail: Lucy@Example.com\n"
                  "userPassword: lucy-pw\n");
    d_ = new Dialtoned({.plugin_files = {{"50-confd.conf", "[plugin]\nname = api.confd\n"}},
                        .kernel_extra = "[auth]\nldap_uri = " + slapd_->uri() + "\nldap_base_dn = " + base +
                                        "\n"});
  }
  static void TearDownTestSuite() {
    delete d_;
    delete slapd_;
    d_ = nullptr;
    slapd_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(slapd_->running()) << slapd_->error();
    ASSERT_TRUE(d_->ready()) << d_->error();
  }
  static constexpr const char* kJson = "application/json";
  // TokenCommand.new(backend, expiration): Basic auth from the client's session.
  HttpAnswer new_token(const std::string& user, const std::string& password, const std::string& body) {
    return d_->http("POST", "auth", "/0.1/token", body,
                    {{"Accept", kJson},
                     {"Content-Type", kJson},
                     {"Authorization", "Basic " + dialtone::sdk::base64_encode(user + ":" + password)}});
  }
  HttpAnswer auth(const std::string& method, const std::string& path, const std::string& body = "",
                  const std::string& token = "") {
    return d_->http(method, "auth", "/0.1" + path, body,
                    {{"Accept", kJson}, {"Content-Type", kJson}, {"X-Auth-Token", token.empty() ? d_->token() : token}});
  }

  static Dialtoned* d_;
  static dialtone::testing::Slapd* slapd_;
};
Dialtoned* AuthClientCompat::d_ = nullptr;
dialtone::testing::Slapd* AuthClientCompat::slapd_ = nullptr;

TEST_F(AuthClientCompat, TokensWithXivoAndWazoBackendNames) {
  for (auto* backend : {"xivo_admin", "xivo_user", "wazo_user"}) {
    auto r = new_token("admin", d_->admin_password(), std::string(R"({"backend": ")") + backend + R"(", "expiration": 3600})");
    ASSERT_EQ(r.status, 200) << backend << ": " << r.body;
    auto token = json_string(r.body, "/data/token");
    EXPECT_EQ(token.size(), 36u);
    EXPECT_EQ(json_string(r.body, "/data/xivo_user_uuid"), json_string(r.body, "/data/auth_id")) << r.body;
    EXPECT_EQ(json_string(r.body, "/data/acls/0"), "#") << r.body;
    EXPECT_FALSE(json_string(r.body, "/data/issued_at").empty()) << r.body;
    EXPECT_FALSE(json_string(r.body, "/data/utc_expires_at").empty()) << r.body;
    // is_valid (HEAD with scope), get, revoke.
    EXPECT_EQ(auth("HEAD", "/token/" + token + "?scope=confd.users.read").status, 204);
    EXPECT_EQ(json_string(auth("GET", "/token/" + token).body, "/data/token"), token);
    EXPECT_EQ(auth("DELETE", "/token/" + token).status, 204);
    EXPECT_EQ(auth("HEAD", "/token/" + token).status, 404);
  }
  // xivo-auth's error body.
  auto bad = new_token("admin", "wrong", R"({"backend": "xivo_admin"})");
  EXPECT_EQ(bad.status, 401);
  EXPECT_FALSE(json_string(bad.body, "/reason/0").empty()) << bad.body;
  EXPECT_EQ(json_int(bad.body, "/status_code"), 401) << bad.body;
  EXPECT_EQ(json_size(bad.body, "/timestamp"), 1u) << bad.body;

  auto backends = d_->http("GET", "auth", "/0.1/backends", "", {{"Accept", kJson}, {"Content-Type", kJson}});
  ASSERT_EQ(backends.status, 200) << backends.body;
  for (auto* b : {"xivo_admin", "xivo_user", "wazo_user", "xivo_service", "ldap_user"})
    EXPECT_NE(backends.body.find(std::string("\"") + b + "\""), std::string::npos) << b << " in " << backends.body;
}

// A confd user created with XiVO's CTI credentials (username, password)
// logs in with token.new('xivo_user'): the token is that user's, reaches its
// own confd data and not the others'; a wrong password is refused.
TEST_F(AuthClientCompat, XivoUserBackendLogsInConfdUsers) {
  auto pbx = d_->http("POST", "confd", "/1.1/users",
                      R"({"firstname": "Cyd", "username": "cyd.cti", "password": "cyd-pw12"})",
                      {{"Content-Type", kJson}, {"X-Auth-Token", d_->token()}});
  ASSERT_EQ(pbx.status, 201) << pbx.body;
  auto uuid = json_string(pbx.body, "/uuid");
  auto t = new_token("cyd.cti", "cyd-pw12", R"({"backend": "xivo_user", "expiration": 600})");
  ASSERT_EQ(t.status, 200) << t.body;
  EXPECT_EQ(json_string(t.body, "/data/xivo_user_uuid"), uuid) << t.body;
  EXPECT_EQ(json_string(t.body, "/data/auth_id"), uuid) << t.body;
  auto token = json_string(t.body, "/data/token");
  EXPECT_EQ(auth("HEAD", "/token/" + token + "?scope=dird.personal.read").status, 204);
  EXPECT_EQ(d_->http("GET", "confd", "/1.1/users/" + uuid + "/forwards", "", {{"X-Auth-Token", token}}).status, 200);
  EXPECT_EQ(d_->http("GET", "confd", "/1.1/users", "", {{"X-Auth-Token", token}}).status, 403);
  EXPECT_EQ(new_token("cyd.cti", "cyd-pw13", R"({"backend": "xivo_user"})").status, 401);
  EXPECT_EQ(new_token("cyd.cti", "", R"({"backend": "xivo_user"})").status, 401);
  // Only the xivo_user backend reads confd's users.
  EXPECT_EQ(new_token("cyd.cti", "cyd-pw12", R"({"backend": "wazo_user"})").status, 401);
  // A new password in confd is the next login's.
  ASSERT_EQ(d_->http("PUT", "confd", "/1.1/users/" + uuid, R"({"firstname": "Cyd", "password": "cyd-pw34"})",
                     {{"Content-Type", kJson}, {"X-Auth-Token", d_->token()}})
                .status,
            204);
  EXPECT_EQ(new_token("cyd.cti", "cyd-pw12", R"({"backend": "xivo_user"})").status, 401);
  EXPECT_EQ(new_token("cyd.cti", "cyd-pw34", R"({"backend": "xivo_user"})").status, 200);
}

// users.new with the PBX user's uuid, then its token reaches that user's
// confd data through the `me` ACL; change_password, delete revokes tokens.
TEST_F(AuthClientCompat, AccountsOverRest) {
  auto pbx = d_->http("POST", "confd", "/1.1/users", R"({"firstname": "Rita"})",
                      {{"Content-Type", kJson}, {"X-Auth-Token", d_->token()}});
  ASSERT_EQ(pbx.status, 201) << pbx.body;
  auto uuid = json_string(pbx.body, "/uuid");
  auto created = auth("POST", "/users", R"({"uuid": ")" + uuid + R"(", "username": "rita", "password": "rita-pw",
      "firstname": "Rita", "email_address": "rita@example.com"})");
  ASSERT_EQ(created.status, 200) << created.body;
  EXPECT_EQ(json_string(created.body, "/uuid"), uuid);
  EXPECT_EQ(json_string(created.body, "/emails/0/address"), "rita@example.com");
  EXPECT_EQ(auth("POST", "/users", R"({"username": "rita", "password": "x"})").status, 409);
  EXPECT_EQ(json_string(auth("GET", "/users/" + uuid).body, "/username"), "rita");
  auto list = auth("GET", "/users?search=rit");
  EXPECT_EQ(json_int(list.body, "/filtered"), 1) << list.body;
  EXPECT_EQ(json_string(list.body, "/items/0/uuid"), uuid) << list.body;

  EXPECT_EQ(auth("PUT", "/users/" + uuid + "/acls", R"({"acls": ["confd.users.me.#"]})").status, 204);
  auto t = new_token("rita", "rita-pw", R"({"backend": "wazo_user", "expiration": 600})");
  ASSERT_EQ(t.status, 200) << t.body;
  auto token = json_string(t.body, "/data/token");
  EXPECT_EQ(json_string(t.body, "/data/xivo_user_uuid"), uuid);
  auto own = d_->http("GET", "confd", "/1.1/users/" + uuid + "/forwards", "", {{"X-Auth-Token", token}});
  EXPECT_EQ(own.status, 200) << own.body;
  EXPECT_EQ(d_->http("GET", "confd", "/1.1/users", "", {{"X-Auth-Token", token}}).status, 403);

  EXPECT_EQ(auth("PUT", "/users/" + uuid + "/password", R"({"old_password": "nope", "new_password": "x2"})").status, 401);
  EXPECT_EQ(auth("PUT", "/users/" + uuid + "/password", R"({"old_password": "rita-pw", "new_password": "rita-pw2"})").status, 204);
  EXPECT_EQ(new_token("rita", "rita-pw", "{}").status, 401);
  EXPECT_EQ(new_token("rita", "rita-pw2", "{}").status, 200);
  EXPECT_EQ(auth("DELETE", "/users/" + uuid).status, 204);
  EXPECT_EQ(auth("HEAD", "/token/" + token).status, 404);
  EXPECT_EQ(auth("GET", "/users/" + uuid).status, 404);
}

// ldap_user: the login is found in slapd, the password checked by a bind,
// and the token belongs to the PBX user with the entry's email.
// The field contract of kernel/auth/api.yml (the file served on the auth
// listener): every field it declares for an answer is in the real answer,
// token, accounts (with an email), account list and backends, and an
// error answer has xivo-auth's three fields.
TEST_F(AuthClientCompat, EveryDeclaredFieldIsReturned) {
  auto served = d_->http("GET", "auth", "/0.1/api/api.yml", "", {});
  ASSERT_EQ(served.status, 200);
  auto spec = YAML::Load(served.body);
  using dialtone::testing::missing_fields;

  auto tok = new_token("admin", d_->admin_password(), R"({"expiration": 600})");
  ASSERT_EQ(tok.status, 200) << tok.body;
  EXPECT_EQ(missing_fields(spec, "POST", "/0.1/token", tok.body), "") << tok.body;
  auto t = json_string(tok.body, "/data/token");
  auto got = auth("GET", "/token/" + t);
  EXPECT_EQ(missing_fields(spec, "GET", "/0.1/token/{token}", got.body), "") << got.body;
  auto backends = d_->http("GET", "auth", "/0.1/backends", "", {{"Accept", kJson}});
  EXPECT_EQ(missing_fields(spec, "GET", "/0.1/backends", backends.body), "") << backends.body;

  auto created = auth("POST", "/users",
                      R"({"username": "fields-user", "password": "fields-pw", "firstname": "F", "lastname": "L",
                          "email_address": "fields@example.com", "acls": ["confd.users.me.read"]})");
  ASSERT_EQ(created.status, 200) << created.body;
  EXPECT_EQ(missing_fields(spec, "POST", "/0.1/users", created.body), "") << created.body;
  auto uuid = json_string(created.body, "/uuid");
  auto one = auth("GET", "/users/" + uuid);
  EXPECT_EQ(missing_fields(spec, "GET", "/0.1/users/{user_uuid}", one.body), "") << one.body;
  auto list = auth("GET", "/users?search=fields-user");
  ASSERT_EQ(json_int(list.body, "/filtered"), 1) << list.body;
  EXPECT_EQ(missing_fields(spec, "GET", "/0.1/users", list.body), "") << list.body;

  auto refused = new_token("admin", "wrong", "{}");
  ASSERT_EQ(refused.status, 401);
  EXPECT_EQ(missing_fields(spec, "POST", "/0.1/token", refused.body, 401), "") << refused.body;
  EXPECT_EQ(auth("DELETE", "/users/" + uuid).status, 204);
}

TEST_F(AuthClientCompat, LdapUserBackend) {
  auto pbx = d_->http("POST", "confd", "/1.1/users", R"({"firstname": "Lucy", "email": "lucy@example.com"})",
                      {{"Content-Type", kJson}, {"X-Auth-Token", d_->token()}});
  ASSERT_EQ(pbx.status, 201) << pbx.body;
  auto uuid = json_string(pbx.body, "/uuid");
  auto t = new_token("lucy", "lucy-pw", R"({"backend": "ldap_user", "expiration": 600})");
  ASSERT_EQ(t.status, 200) << t.body << d_->output().substr(0, 0);
  EXPECT_EQ(json_string(t.body, "/data/xivo_user_uuid"), uuid) << t.body;
  EXPECT_EQ(json_string(t.body, "/data/backend"), "ldap_user") << t.body;
  EXPECT_EQ(json_string(t.body, "/data/acls/0"), "confd.users.me.#") << t.body;
  auto own = d_->http("GET", "confd", "/1.1/users/" + uuid + "/services", "",
                      {{"X-Auth-Token", json_string(t.body, "/data/token")}});
  EXPECT_EQ(own.status, 200) << own.body;
  EXPECT_EQ(new_token("lucy", "wrong", R"({"backend": "ldap_user"})").status, 401);
  EXPECT_EQ(new_token("lucy", "", R"({"backend": "ldap_user"})").status, 401);
  EXPECT_EQ(new_token("nobody", "lucy-pw", R"({"backend": "ldap_user"})").status, 401);
  EXPECT_EQ(new_token("lu*", "lucy-pw", R"({"backend": "ldap_user"})").status, 401);
}

}  // namespace

namespace {

// `[http] tls_self_signed = true`: every listener speaks HTTPS with one
// certificate generated in <data_dir>/tls, valid for 127.0.0.1 (curl checks
// it against that file, as XiVO clients trust /usr/share/xivo-certs/server.crt).
TEST(HttpsSelfSigned, OneSwitchGivesEveryListenerHttps) {
  dialtone::testing::Dialtoned d({.kernel_extra = "[http]\ntls_self_signed = true\n"});
  ASSERT_TRUE(d.ready()) << d.error() << d.output();
  auto cert = d.dir() / "data" / "tls" / "server.crt";
  ASSERT_TRUE(std::filesystem::exists(cert)) << d.output();
  EXPECT_TRUE(d.wait_output("created the self-signed certificate"));
  auto key = d.dir() / "data" / "tls" / "server.key";
  EXPECT_EQ(std::filesystem::status(key).permissions() & std::filesystem::perms::others_read,
            std::filesystem::perms::none);
  for (auto* l : {"auth", "confd"}) {
    std::string out;
    int rc = dialtone::testing::run_command(
        "curl -s -o /dev/null -w '%{http_code}' --cacert " + cert.string() + " https://127.0.0.1:" +
            std::to_string(d.port(l)) + (std::string(l) == "auth" ? "/0.1/api/api.yml" : "/1.1/users"),
        &out);
    EXPECT_EQ(rc, 0) << l << ": " << out;
    // confd has no api.confd loaded here: its 404 still comes over verified TLS.
    EXPECT_EQ(out, std::string(l) == "auth" ? "200" : "404") << l;
  }
  // Plain HTTP is not served any more on those ports.
  EXPECT_NE(dialtone::testing::http_request("GET", d.port("auth"), "/0.1/api/api.yml").status, 200);
}

}  // namespace
