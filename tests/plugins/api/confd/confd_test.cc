// api.confd through the fake host against a real PostgreSQL. FakeHttp does
// not enforce ACLs: ACL semantics are checked on the route ACL strings.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>
#include <rapidjson/document.h>

#include <dialtone/testing/fake_host.h>

#include "kernel/store/pg_store.h"
#include "plugins/api/confd/confd_api.h"
#include "plugins/media/engine/engine.h"
#include "tests/support/eventually.h"
#include "tests/support/pg_fixture.h"

namespace {

using dialtone::plugins::api::confd::ConfdApi;
using dialtone::sdk::HttpResponse;

rapidjson::Document js(const std::string& s) {
  rapidjson::Document d;
  d.Parse(s.c_str());
  return d;
}

class Confd : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = dialtone::kernel::PgStore::open({.dsn = dialtone::testing::test_dsn()}, host_.bus(), host_.log());
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
    host_.set_store(store_.get());
    harness_ = std::make_unique<dialtone::testing::PluginHarness<ConfdApi>>(host_, dialtone::plugins::api::confd::kOptions);
    auto st = harness_->run(options());
    ASSERT_TRUE(st) << st.error().message;
  }
  // Music on hold classes in a directory of the test's own.
  virtual std::map<std::string, std::string> options() {
    moh_dir_ = std::filesystem::temp_directory_path() / ("dialtone-confd-moh-" + std::to_string(::getpid()));
    std::filesystem::remove_all(moh_dir_);
    std::filesystem::create_directories(moh_dir_);
    return {{"moh.path", moh_dir_.string()}};
  }
  std::filesystem::path moh_dir_;
  void TearDown() override {
    harness_.reset();
    store_->close();
    std::filesystem::remove_all(moh_dir_);
  }
  HttpResponse call(const std::string& m, const std::string& t, const std::string& b = {}) {
    return host_.http()->call(m, t, b);
  }
  int post_id(const std::string& t, const std::string& b) {
    auto r = call("POST", t, b);
    EXPECT_EQ(r.status, 201) << t << " " << b << " -> " << r.body;
    auto d = js(r.body);
    return d.IsObject() && d.HasMember("id") ? d["id"].GetInt() : -1;
  }
  long count(const std::string& table) {
    auto q = store_->exec("SELECT count(*) AS n FROM " + table);
    return std::stol(q->get(0, "n"));
  }
  void default_context() {
    post_id("/1.1/contexts", R"({"name":"default","type":"internal","user_ranges":[{"start":"1000","end":"1999"}],
            "group_ranges":[{"start":"2000","end":"2099"}]})");
    post_id("/1.1/contexts", R"({"name":"from-extern","type":"incall","incall_ranges":[{"start":"5000","end":"5999","did_length":4}]})");
  }

  dialtone::testing::FakeHost host_{"api.confd"};
  std::unique_ptr<dialtone::kernel::PgStore> store_;
  std::unique_ptr<dialtone::testing::PluginHarness<ConfdApi>> harness_;
};

TEST_F(Confd, UserCrudListSearchOrderAndLimit) {
  int a = post_id("/1.1/users", R"({"firstname":"Alice","lastname":"Zed","ring_seconds":25})");
  post_id("/1.1/users", R"({"firstname":"Bob","lastname":"Young","email":"bob@example.com"})");
  post_id("/1.1/users", R"({"firstname":"Carol","lastname":"Xu"})");
  auto one = js(call("GET", "/1.1/users/" + std::to_string(a)).body);
  EXPECT_STREQ(one["firstname"].GetString(), "Alice");
  EXPECT_EQ(one["ring_seconds"].GetInt(), 25);
  std::string uuid = one["uuid"].GetString();
  EXPECT_EQ(call("GET", "/1.1/users/" + uuid).status, 200);  // addressable by uuid

  auto l = js(call("GET", "/1.1/users?search=example.com").body);
  EXPECT_EQ(l["total"].GetInt(), 1);
  EXPECT_STREQ(l["items"][0]["firstname"].GetString(), "Bob");
  l = js(call("GET", "/1.1/users?order=lastname&direction=asc&limit=2").body);
  EXPECT_EQ(l["total"].GetInt(), 3);
  ASSERT_EQ(l["items"].Size(), 2u);
  EXPECT_STREQ(l["items"][0]["lastname"].GetString(), "Xu");
  l = js(call("GET", "/1.1/users?order=firstname&direction=desc&offset=1").body);
  EXPECT_STREQ(l["items"][0]["firstname"].GetString(), "Bob");
  EXPECT_EQ(call("GET", "/1.1/users?order=secret").status, 400);

  EXPECT_EQ(call("PUT", "/1.1/users/" + uuid, R"({"lastname":"Zeta"})").status, 204);
  EXPECT_STREQ(js(call("GET", "/1.1/users/" + std::to_string(a)).body)["lastname"].GetString(), "Zeta");
  EXPECT_EQ(call("DELETE", "/1.1/users/" + std::to_string(a)).status, 204);
  EXPECT_EQ(call("GET", "/1.1/users/" + std::to_string(a)).status, 404);

  // Every write is announced on the bus and through pg_notify.
  EXPECT_EQ(host_.bus().published("config.user.created").size(), 3u);
  auto ev = js(host_.bus().published("config.user.edited").at(0).body);
  EXPECT_STREQ(ev["uuid"].GetString(), uuid.c_str());
  EXPECT_EQ(host_.bus().published("config.user.deleted").size(), 1u);
}

TEST_F(Confd, NotifyReachesListenersOnCommitOnly) {
  std::mutex m;
  std::vector<std::string> got;
  auto sub = store_->listen("dialtone_config", [&](const std::string& p) { std::lock_guard l(m); got.push_back(p); });
  int id = post_id("/1.1/labels", R"({"name":"sales"})");
  EXPECT_EQ(call("POST", "/1.1/labels", R"({"name":"sales"})").status, 400);  // rolled back: no notify
  // Notifications arrive in commit order: had the refused write notified,
  // its line would stand between the two labels' lines.
  int next = post_id("/1.1/labels", R"({"name":"support"})");
  ASSERT_TRUE(dialtone::testing::eventually([&] {
    std::lock_guard l(m);
    return got.size() >= 2;
  }));
  std::lock_guard l(m);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], "label.created:" + std::to_string(id));
  EXPECT_EQ(got[1], "label.created:" + std::to_string(next));
}

TEST_F(Confd, BadInputIsRefusedWithMessagesAndNothingWritten) {
  auto r = call("POST", "/1.1/users", R"({"firstname":3,"bogus":1,"ring_seconds":7})");
  EXPECT_EQ(r.status, 400);
  auto d = js(r.body);
  ASSERT_TRUE(d.IsArray());
  // Unknown fields are ignored as XiVO does; the two bad ones are named.
  EXPECT_EQ(d.Size(), 2u) << r.body;
  EXPECT_EQ(r.body.find("field 'bogus'"), std::string::npos);
  EXPECT_NE(r.body.find("multiple of 5"), std::string::npos);
  r = call("POST", "/1.1/users", R"({"lastname":"x"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("'firstname': Missing data"), std::string::npos);
  r = call("POST", "/1.1/users", std::string("{\"firstname\":\"A\xff\"}"));
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("UTF-8"), std::string::npos);
  EXPECT_EQ(call("POST", "/1.1/users", "{not json").status, 400);
  // A label that does not exist fails after the INSERT: the INSERT is rolled back.
  r = call("POST", "/1.1/users", R"({"firstname":"A","labels":["ghost"]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("ghost"), std::string::npos);
  EXPECT_EQ(count("confd_users"), 0);
  EXPECT_TRUE(host_.bus().published("config.#").empty());
}

TEST_F(Confd, ExtensionsRespectRangesAndUniqueness) {
  default_context();
  post_id("/1.1/extensions", R"({"exten":"1000","context":"default"})");
  auto r = call("POST", "/1.1/extensions", R"({"exten":"1000","context":"default"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("Extension already exists"), std::string::npos) << r.body;
  r = call("POST", "/1.1/extensions", R"({"exten":"3000","context":"default"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("not inside"), std::string::npos) << r.body;
  EXPECT_EQ(call("POST", "/1.1/extensions", R"({"exten":"1001","context":"nowhere"})").status, 400);
  EXPECT_EQ(count("confd_extensions"), 1);
}

// lines.list(search=...) as xivo-confd-client sends it: XiVO searches a
// line's name (its SIP endpoint's username) and protocol besides its own
// columns.
TEST_F(Confd, LinesAreSearchedByNameAndProtocol) {
  default_context();
  int l = post_id("/1.1/lines", R"({"context":"default"})");
  post_id("/1.1/lines", R"({"context":"default"})");
  int s = post_id("/1.1/endpoints/sip", R"({"username":"zq7alice","secret":"s3cret"})");
  ASSERT_EQ(call("PUT", "/1.1/lines/" + std::to_string(l) + "/endpoints/sip/" + std::to_string(s)).status, 204);
  auto found = js(call("GET", "/1.1/lines?search=q7ali").body);
  ASSERT_EQ(found["total"].GetInt(), 1);
  EXPECT_EQ(found["items"][0]["id"].GetInt(), l);
  EXPECT_STREQ(found["items"][0]["name"].GetString(), "zq7alice");
  EXPECT_EQ(js(call("GET", "/1.1/lines?search=sip").body)["total"].GetInt(), 2);
  EXPECT_EQ(js(call("GET", "/1.1/lines?search=nobody").body)["total"].GetInt(), 0);
}

TEST_F(Confd, UserLineExtensionEndpointAssociations) {
  default_context();
  int u = post_id("/1.1/users", R"({"firstname":"Alice"})");
  int l = post_id("/1.1/lines", R"({"context":"default"})");
  int s = post_id("/1.1/endpoints/sip", R"({"username":"alice","secret":"s3cret","options":[["codecs","opus"]]})");
  int e = post_id("/1.1/extensions", R"({"exten":"1000","context":"default"})");
  int g = post_id("/1.1/extensions", R"({"exten":"2000","context":"default"})");
  auto line = js(call("GET", "/1.1/lines/" + std::to_string(l)).body);
  EXPECT_TRUE(std::regex_match(line["provisioning_code"].GetString(), std::regex("[1-9][0-9]{5}")));
  std::string U = std::to_string(u), L = std::to_string(l);
  EXPECT_EQ(call("PUT", "/1.1/users/" + U + "/lines/" + L).status, 204);
  EXPECT_EQ(call("PUT", "/1.1/lines/" + L + "/endpoints/sip/" + std::to_string(s)).status, 204);
  EXPECT_EQ(call("PUT", "/1.1/lines/" + L + "/extensions/" + std::to_string(e)).status, 204);
  auto r = call("PUT", "/1.1/lines/" + L + "/extensions/" + std::to_string(g));
  EXPECT_EQ(r.status, 400);  // 2000 is in the group range, not the user range
  EXPECT_NE(r.body.find("not inside user range"), std::string::npos) << r.body;
  EXPECT_EQ(call("PUT", "/1.1/lines/" + L + "/devices/abc123").status, 204);
  auto ul = js(call("GET", "/1.1/users/" + U + "/lines").body);
  EXPECT_TRUE(ul["items"][0]["main_line"].GetBool());

  // XiVO's rules: an associated user, line or extension cannot be deleted.
  r = call("DELETE", "/1.1/users/" + U);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("associated with a Line"), std::string::npos);
  EXPECT_EQ(call("DELETE", "/1.1/extensions/" + std::to_string(e)).status, 400);
  EXPECT_EQ(call("DELETE", "/1.1/endpoints/sip/" + std::to_string(s)).status, 400);
  EXPECT_EQ(call("DELETE", "/1.1/users/" + U + "/lines/" + L).status, 204);
  EXPECT_EQ(call("DELETE", "/1.1/users/" + U).status, 204);

  // What the SIP registrar reads.
  auto q = store_->exec(
      "SELECT s.username, s.secret, e.exten, l.context, l.device_id FROM confd_lines l "
      "JOIN confd_endpoints_sip s ON s.id = l.endpoint_sip_id JOIN confd_line_extensions le ON le.line_id = l.id "
      "JOIN confd_extensions e ON e.id = le.extension_id");
  ASSERT_EQ(q->rows.size(), 1u);
  EXPECT_EQ(q->get(0, "username"), "alice");
  EXPECT_EQ(q->get(0, "exten"), "1000");
  EXPECT_EQ(q->get(0, "device_id"), "abc123");
}

TEST_F(Confd, TrunksIncallsOutcallsGroups) {
  default_context();
  post_id("/1.1/contexts", R"({"name":"to-extern","type":"outcall"})");
  int u = post_id("/1.1/users", R"({"firstname":"Alice"})");
  int t1 = post_id("/1.1/trunks", R"({"context":"from-extern","description":"provider A"})");
  int t2 = post_id("/1.1/trunks", R"({"context":"from-extern"})");
  int s = post_id("/1.1/endpoints/sip", R"({"username":"provider","secret":"x","type":"peer","host":"192.0.2.1"})");
  EXPECT_EQ(call("PUT", "/1.1/trunks/" + std::to_string(t1) + "/endpoints/sip/" + std::to_string(s)).status, 204);
  int o = post_id("/1.1/outcalls", R"({"name":"national","patterns":[{"pattern":"0XXXXXXXXX","strip_digits":1,"prefix":"0033"}]})");
  auto O = std::to_string(o);
  EXPECT_EQ(call("PUT", "/1.1/outcalls/" + O + "/trunks",
                 "{\"trunks\":[{\"id\":" + std::to_string(t2) + "},{\"id\":" + std::to_string(t1) + "}]}").status, 204);
  auto tr = js(call("GET", "/1.1/outcalls/" + O + "/trunks").body);
  EXPECT_EQ(tr["trunks"][0]["id"].GetInt(), t2);
  EXPECT_EQ(call("PUT", "/1.1/outcalls/" + O + "/trunks", R"({"trunks":[{"id":999}]})").status, 400);
  EXPECT_EQ(js(call("GET", "/1.1/outcalls/" + O + "/trunks").body)["trunks"].Size(), 2u);  // unchanged
  auto twice = call("PUT", "/1.1/outcalls/" + O + "/trunks",
                    "{\"trunks\":[{\"id\":" + std::to_string(t1) + "},{\"id\":" + std::to_string(t1) + "}]}");
  EXPECT_EQ(twice.status, 400);
  EXPECT_NE(twice.body.find("trunk " + std::to_string(t1) + " is listed twice"), std::string::npos) << twice.body;
  EXPECT_EQ(js(call("GET", "/1.1/outcalls/" + O + "/trunks").body)["trunks"][0]["id"].GetInt(), t2);  // unchanged
  EXPECT_EQ(call("GET", "/1.1/outcalls/999/trunks").status, 404);
  EXPECT_EQ(call("POST", "/1.1/outcalls", R"({"name":"bad","patterns":[{"pattern":"1","color":"red"}]})").status, 400);

  int in = post_id("/1.1/incalls", "{\"destination\":{\"type\":\"user\",\"user_id\":" + std::to_string(u) + "}}");
  EXPECT_EQ(call("POST", "/1.1/incalls", R"({"destination":{"type":"user","user_id":999}})").status, 400);
  int did = post_id("/1.1/extensions", R"({"exten":"5000","context":"from-extern"})");
  int internal = post_id("/1.1/extensions", R"({"exten":"1500","context":"default"})");
  EXPECT_EQ(call("PUT", "/1.1/incalls/" + std::to_string(in) + "/extensions/" + std::to_string(did)).status, 204);
  EXPECT_EQ(call("PUT", "/1.1/incalls/" + std::to_string(in) + "/extensions/" + std::to_string(internal)).status, 400);

  int g = post_id("/1.1/groups", R"({"name":"support","ring_strategy":"linear","timeout":20})");
  EXPECT_EQ(call("POST", "/1.1/groups", R"({"name":"x","ring_strategy":"loudest"})").status, 400);
  EXPECT_EQ(call("PUT", "/1.1/groups/" + std::to_string(g) + "/members/users",
                 "{\"users\":[{\"id\":" + std::to_string(u) + "}]}").status, 204);
  EXPECT_EQ(js(call("GET", "/1.1/groups/" + std::to_string(g) + "/members/users").body)["users"].Size(), 1u);
  EXPECT_EQ(call("PUT", "/1.1/groups/" + std::to_string(g) + "/members/users",
                 "{\"users\":[{\"id\":" + std::to_string(u) + "},{\"id\":" + std::to_string(u) + "}]}").status, 400);
  EXPECT_EQ(call("PUT", "/1.1/groups/" + std::to_string(g) + "/members/users",
                 R"({"users":[{"uuid":"00000000-0000-4000-8000-000000000000"}]})").status, 400)
      << "an unknown member is the body's error, not a missing route";
  EXPECT_EQ(js(call("GET", "/1.1/groups/" + std::to_string(g) + "/members/users").body)["users"].Size(), 1u);
  int vm = post_id("/1.1/voicemails", R"({"number":"1000","context":"default","name":"Alice","password":"1234"})");
  EXPECT_EQ(call("POST", "/1.1/voicemails", R"({"number":"1000","context":"default","name":"dup"})").status, 400);
  EXPECT_EQ(call("PUT", "/1.1/users/" + std::to_string(u) + "/voicemails/" + std::to_string(vm)).status, 204);
  post_id("/1.1/schedules", R"({"name":"office","timezone":"Europe/Paris","open_periods":[{"hours_start":"08:00","hours_end":"18:00"}]})");
  int cp = post_id("/1.1/callpermissions", R"({"name":"no-intl","mode":"deny","extensions":["00."]})");
  EXPECT_EQ(call("PUT", "/1.1/users/" + std::to_string(u) + "/callpermissions/" + std::to_string(cp)).status, 204);
  EXPECT_EQ(js(call("GET", "/1.1/users/" + std::to_string(u) + "/callpermissions").body)["items"].Size(), 1u);
}

// What the dialplan applies: group settings and fallbacks, schedules and
// call permissions attached to users, groups, incalls and outcalls, and
// boss-secretary filters (docs/admin/groups.md, schedules.md,
// call-permissions.md, boss-secretary.md).
TEST_F(Confd, RoutingSettingsSchedulesPermissionsAndCallFilters) {
  default_context();
  int u = post_id("/1.1/users", R"({"firstname":"Alice"})");
  int v = post_id("/1.1/users", R"({"firstname":"Bob"})");
  auto U = std::to_string(u), V = std::to_string(v);
  int g = post_id("/1.1/groups", R"({"name":"desk","user_timeout":10,"retry_delay":2,"ring_in_use":false})");
  auto G = std::to_string(g);
  auto group = js(call("GET", "/1.1/groups/" + G).body);
  EXPECT_EQ(group["user_timeout"].GetInt(), 10);
  EXPECT_EQ(group["retry_delay"].GetInt(), 2);
  EXPECT_FALSE(group["ring_in_use"].GetBool());
  EXPECT_EQ(js(call("GET", "/1.1/groups/" + std::to_string(post_id("/1.1/groups", R"({"name":"plain"})"))).body)
                ["user_timeout"].GetInt(), 15) << "XiVO's default reachability timeout";
  EXPECT_EQ(call("PUT", "/1.1/groups/" + G + "/members/users",
                 "{\"users\":[{\"id\":" + U + ",\"penalty\":3},{\"id\":" + V + "}]}").status, 204);
  auto members = js(call("GET", "/1.1/groups/" + G + "/members/users").body);
  EXPECT_EQ(members["users"][0]["penalty"].GetInt(), 3);
  EXPECT_EQ(call("PUT", "/1.1/groups/" + G + "/members/users", "{\"users\":[{\"id\":" + U + ",\"penalty\":-1}]}").status, 400);
  EXPECT_EQ(call("PUT", "/1.1/groups/" + G + "/fallbacks", R"({"noanswer_destination":{"type":"user","user_id":1}})").status, 204);
  EXPECT_STREQ(js(call("GET", "/1.1/groups/" + G + "/fallbacks").body)["noanswer_destination"]["type"].GetString(), "user");
  EXPECT_EQ(call("PUT", "/1.1/groups/" + G + "/fallbacks", R"({"busy_destination":"nowhere"})").status, 400);

  // Schedules: periods are checked, one schedule per object.
  EXPECT_EQ(call("POST", "/1.1/schedules", R"({"name":"bad","open_periods":[{"hours_start":"25:00"}]})").status, 400);
  EXPECT_EQ(call("POST", "/1.1/schedules", R"({"name":"bad","open_periods":[{"week_days":[0]}]})").status, 400);
  EXPECT_EQ(call("POST", "/1.1/schedules", R"({"name":"bad","exceptional_periods":[{"destination":{"type":"moon"}}]})").status, 400);
  int s1 = post_id("/1.1/schedules", R"({"name":"office","timezone":"Europe/Paris","open_periods":[{"hours_start":"08:00","hours_end":"18:00","week_days":[1,2,3,4,5]}],"closed_destination":{"type":"hangup","cause":"busy"}})");
  int s2 = post_id("/1.1/schedules", R"({"name":"night"})");
  EXPECT_EQ(call("PUT", "/1.1/users/" + U + "/schedules/" + std::to_string(s1)).status, 204);
  EXPECT_EQ(call("PUT", "/1.1/users/" + U + "/schedules/" + std::to_string(s2)).status, 204);
  auto attached = js(call("GET", "/1.1/users/" + U + "/schedules").body);
  ASSERT_EQ(attached["items"].Size(), 1u) << "the second replaces the first";
  EXPECT_EQ(attached["items"][0]["id"].GetInt(), s2);
  EXPECT_EQ(js(call("GET", "/1.1/users/" + U).body)["schedules"][0]["id"].GetInt(), s2);
  EXPECT_EQ(call("PUT", "/1.1/groups/" + G + "/schedules/" + std::to_string(s1)).status, 204);
  EXPECT_EQ(call("PUT", "/1.1/groups/9999/schedules/" + std::to_string(s1)).status, 404);
  EXPECT_EQ(call("DELETE", "/1.1/groups/" + G + "/schedules/" + std::to_string(s1)).status, 204);
  EXPECT_EQ(call("DELETE", "/1.1/groups/" + G + "/schedules/" + std::to_string(s1)).status, 404);

  // Call permissions on groups, outcalls and incalls.
  int cp = post_id("/1.1/callpermissions", R"({"name":"no-intl","extensions":["00."]})");
  auto CP = std::to_string(cp);
  int o = post_id("/1.1/outcalls", R"({"name":"national"})");
  int in = post_id("/1.1/incalls", R"({"destination":{"type":"hangup","cause":"congestion"}})");
  EXPECT_EQ(call("POST", "/1.1/incalls", R"({"destination":{"type":"hangup","cause":"maybe"}})").status, 400);
  EXPECT_EQ(call("POST", "/1.1/incalls", R"({"destination":{"type":"ivr","ivr_id":"x"}})").status, 400);
  for (auto& path : {"/1.1/groups/" + G, "/1.1/outcalls/" + std::to_string(o), "/1.1/incalls/" + std::to_string(in)}) {
    EXPECT_EQ(call("PUT", path + "/callpermissions/" + CP).status, 204) << path;
    EXPECT_EQ(js(call("GET", path + "/callpermissions").body)["items"].Size(), 1u) << path;
    EXPECT_EQ(call("PUT", path + "/callpermissions/9999").status, 404) << path;
  }
  EXPECT_EQ(call("GET", "/1.1/groups/9999/callpermissions").status, 404);
  EXPECT_EQ(call("GET", "/1.1/outcalls/9999/schedules").status, 404);
  EXPECT_EQ(call("GET", "/1.1/callfilters/9999/surrogates/users").status, 404);
  EXPECT_EQ(call("DELETE", "/1.1/groups/" + G + "/callpermissions/" + CP).status, 204);
  EXPECT_EQ(count("confd_group_callpermissions"), 0);

  // A boss-secretary filter: member ids survive a list replacement.
  int f = post_id("/1.1/callfilters", R"({"name":"fernando","strategy":"all","surrogates_timeout":20})");
  auto F = std::to_string(f);
  EXPECT_EQ(call("POST", "/1.1/callfilters", R"({"name":"x","strategy":"boss-never"})").status, 400);
  EXPECT_EQ(call("PUT", "/1.1/callfilters/" + F + "/recipients/users", "{\"users\":[{\"id\":" + U + ",\"timeout\":15}]}").status, 204);
  EXPECT_EQ(call("PUT", "/1.1/callfilters/" + F + "/surrogates/users", "{\"users\":[{\"id\":" + V + "}]}").status, 204);
  auto sec = js(call("GET", "/1.1/callfilters/" + F + "/surrogates/users").body);
  ASSERT_EQ(sec["users"].Size(), 1u);
  int member = sec["users"][0]["member_id"].GetInt();
  EXPECT_FALSE(sec["users"][0]["active"].GetBool());
  EXPECT_EQ(call("PUT", "/1.1/callfilters/" + F + "/surrogates/users", "{\"users\":[{\"id\":" + V + "}]}").status, 204);
  EXPECT_EQ(js(call("GET", "/1.1/callfilters/" + F + "/surrogates/users").body)["users"][0]["member_id"].GetInt(), member);
  EXPECT_EQ(call("PUT", "/1.1/callfilters/" + F + "/surrogates/users", "{\"users\":[{\"id\":" + U + "}]}").status, 400)
      << "the boss cannot be a secretary of the same filter";
  EXPECT_EQ(call("PUT", "/1.1/callfilters/" + F + "/surrogates/users", "{\"users\":[{\"id\":" + V + ",\"timeout\":5}]}").status, 400);
  EXPECT_EQ(js(call("GET", "/1.1/callfilters/" + F + "/recipients/users").body)["users"][0]["timeout"].GetInt(), 15);
  EXPECT_EQ(call("PUT", "/1.1/callfilters/" + F + "/fallbacks", R"({"noanswer_destination":{"type":"none"}})").status, 204);
}

TEST_F(Confd, ForwardsServicesFunckeysAndTheirAcls) {
  int u = post_id("/1.1/users", R"({"firstname":"Alice"})");
  auto uuid = std::string(js(call("GET", "/1.1/users/" + std::to_string(u)).body)["uuid"].GetString());
  EXPECT_EQ(call("PUT", "/1.1/users/" + uuid + "/forwards/busy", R"({"enabled":true,"destination":"1234"})").status, 204);
  auto f = js(call("GET", "/1.1/users/" + uuid + "/forwards").body);
  EXPECT_TRUE(f["busy"]["enabled"].GetBool());
  EXPECT_STREQ(f["busy"]["destination"].GetString(), "1234");
  EXPECT_FALSE(f["unconditional"]["enabled"].GetBool());
  EXPECT_EQ(call("PUT", "/1.1/users/" + uuid + "/forwards/sideways", R"({"enabled":true})").status, 404);
  EXPECT_EQ(call("PUT", "/1.1/users/" + uuid + "/services/dnd", R"({"enabled":true})").status, 204);
  EXPECT_TRUE(js(call("GET", "/1.1/users/" + uuid + "/services").body)["dnd"]["enabled"].GetBool());
  // The whole set at once, each name checked; one by name.
  EXPECT_EQ(call("PUT", "/1.1/users/" + uuid + "/services", R"({"dnd":{"enabled":false},"incallfilter":{"enabled":true}})").status, 204);
  EXPECT_FALSE(js(call("GET", "/1.1/users/" + uuid + "/services/dnd").body)["enabled"].GetBool());
  EXPECT_TRUE(js(call("GET", "/1.1/users/" + uuid + "/services/incallfilter").body)["enabled"].GetBool());
  EXPECT_EQ(call("PUT", "/1.1/users/" + uuid + "/services", R"({"dnd":{"enabled":true},"vacation":{"enabled":true}})").status, 400);
  EXPECT_FALSE(js(call("GET", "/1.1/users/" + uuid + "/services/dnd").body)["enabled"].GetBool()) << "a refused set changes nothing";
  EXPECT_EQ(call("GET", "/1.1/users/" + uuid + "/services/vacation").status, 404);
  EXPECT_EQ(call("PUT", "/1.1/users/" + uuid + "/forwards", R"({"unconditional":{"enabled":true,"destination":"1002"}})").status, 204);
  EXPECT_STREQ(js(call("GET", "/1.1/users/" + uuid + "/forwards/unconditional").body)["destination"].GetString(), "1002");
  EXPECT_EQ(call("PUT", "/1.1/users/" + uuid + "/forwards", R"({"sideways":{"enabled":true}})").status, 400);
  EXPECT_EQ(call("PUT", "/1.1/users/" + uuid + "/funckeys/1", R"({"blf":true,"destination":{"type":"service","service":"enablednd"}})").status, 204);
  EXPECT_EQ(call("PUT", "/1.1/users/" + uuid + "/funckeys/2", R"({"destination":{"type":"teleport"}})").status, 400);
  EXPECT_TRUE(js(call("GET", "/1.1/users/" + uuid + "/funckeys").body)["keys"]["1"]["blf"].GetBool());

  // The kernel substitutes {user_id} and matches `me` against the token's
  // uuid: `confd.users.me.forwards.*.update` grants this route only for self.
  auto* http = host_.http();
  EXPECT_EQ(http->required_acl("PUT", "/1.1/users/" + uuid + "/forwards/busy"), "confd.users." + uuid + ".forwards.busy.update");
  EXPECT_EQ(http->required_acl("GET", "/1.1/users/" + uuid + "/services"), "confd.users." + uuid + ".services.read");
  EXPECT_EQ(http->required_acl("DELETE", "/1.1/users/" + uuid + "/funckeys/3"), "confd.users." + uuid + ".funckeys.3.delete");
  EXPECT_EQ(http->required_acl("GET", "/1.1/users"), "confd.users.read");
  EXPECT_EQ(http->required_acl("POST", "/1.1/users"), "confd.users.create");
  EXPECT_EQ(http->required_acl("PUT", "/1.1/users/7"), "confd.users.7.update");
  EXPECT_EQ(http->required_acl("GET", "/1.1/endpoints/sip/3"), "confd.endpoints.sip.3.read");
}

std::string csv_users(int n, int bad_line = 0) {
  std::ostringstream o;
  o << "entity_id,firstname,lastname,email,exten,context,line_protocol,sip_username,sip_secret,ring_seconds\n";
  for (int i = 0; i < n; ++i) {
    int line = i + 2;
    o << "1,First" << i << ",\"Last, " << i << "\",u" << i << "@example.com," << (1000 + i) << ",default,sip,user" << i
      << ",pw" << i << "," << (line == bad_line ? "7" : "30") << "\n";
  }
  return o.str();
}

TEST_F(Confd, ImportsAThousandUsersInOneTransaction) {
  default_context();
  auto body = csv_users(1000);
  // Its speed is measured by bench/confd (confd_bench), not asserted here.
  auto r = call("POST", "/1.1/users/import", body);
  ASSERT_EQ(r.status, 201) << r.body.substr(0, 500);
  EXPECT_EQ(count("confd_users"), 1000);
  EXPECT_EQ(count("confd_lines"), 1000);
  EXPECT_EQ(count("confd_line_extensions"), 1000);
  EXPECT_EQ(count("confd_user_lines"), 1000);
  auto q = store_->exec("SELECT count(DISTINCT provisioning_code) AS n FROM confd_lines");
  EXPECT_EQ(q->get(0, "n"), "1000");
  auto l = js(call("GET", "/1.1/users?search=Last,%20999").body);
  EXPECT_EQ(l["total"].GetInt(), 1);
  EXPECT_EQ(host_.bus().published("config.user.created").size(), 1000u);
  // A second import of the same numbers is refused as a whole.
  r = call("POST", "/1.1/users/import", csv_users(3));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(js(r.body)["errors"][0]["details"]["row_number"].GetInt(), 1) << r.body;
  EXPECT_NE(r.body.find("Resource Error - Extension already exists"), std::string::npos) << r.body;
}

TEST_F(Confd, ImportWithABadLineCreatesNothingAndNamesTheLine) {
  default_context();
  auto r = call("POST", "/1.1/users/import", csv_users(1000, 500));
  EXPECT_EQ(r.status, 400);
  // XiVO's shape: {"errors": [{"message", "timestamp", "details": {"row", "row_number"}}]},
  // rows counted from 1 after the header (file line 500 is row 499).
  auto d = js(r.body);
  ASSERT_TRUE(d.IsObject() && d["errors"].IsArray()) << r.body;
  ASSERT_EQ(d["errors"].Size(), 1u) << r.body;
  EXPECT_EQ(d["errors"][0]["details"]["row_number"].GetInt(), 499) << r.body;
  EXPECT_STREQ(d["errors"][0]["details"]["row"]["ring_seconds"].GetString(), "7") << r.body;
  EXPECT_NE(std::string(d["errors"][0]["message"].GetString()).find("ring_seconds"), std::string::npos);
  EXPECT_EQ(count("confd_users"), 0);
  EXPECT_EQ(count("confd_endpoints_sip"), 0);
  // Out-of-range extension at line 3 is found in the second (database) pass.
  std::string csv = "firstname,exten,context,line_protocol\nA,1000,default,sip\nB,9999,default,sip\n";
  r = call("POST", "/1.1/users/import", csv);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("Input Error - exten 9999 not inside"), std::string::npos) << r.body;
  EXPECT_EQ(js(r.body)["errors"][0]["details"]["row_number"].GetInt(), 2) << r.body;
  EXPECT_EQ(count("confd_users"), 0);
}

TEST_F(Confd, ExportRoundTripsThroughUpdate) {
  default_context();
  post_id("/1.1/labels", R"({"name":"vip"})");
  std::string csv =
      "firstname,lastname,exten,context,line_protocol,labels,voicemail_name,voicemail_number,voicemail_context,"
      "incall_exten,incall_context\n"
      "Jane,\"O\"\"Neil\",1000,default,sip,vip,Jane VM,1000,default,5000,from-extern\nJohn,Doe,1001,default,sip,,,,,,\n";
  auto r = call("POST", "/1.1/users/import", csv);
  ASSERT_EQ(r.status, 201) << r.body;
  auto ex = call("GET", "/1.1/users/export");
  ASSERT_EQ(ex.status, 200);
  EXPECT_EQ(ex.content_type, "text/csv; charset=utf-8");
  EXPECT_NE(ex.body.find("\"O\"\"Neil\""), std::string::npos) << ex.body;
  EXPECT_NE(ex.body.find(",vip,1000,default,sip,"), std::string::npos) << ex.body;
  EXPECT_NE(ex.body.find("5000,from-extern"), std::string::npos) << ex.body;
  // Edit the export and feed it back by uuid.
  std::string edited = std::regex_replace(ex.body, std::regex("Doe"), "Dough");
  auto up = call("PUT", "/1.1/users/import", edited);
  ASSERT_EQ(up.status, 201) << up.body;
  auto l = js(call("GET", "/1.1/users?search=Dough").body);
  EXPECT_EQ(l["total"].GetInt(), 1);
  EXPECT_EQ(call("GET", "/1.1/users/export").body, edited);
}

// An import whose extension or voicemail is already configured names the
// line and what collides, and creates nothing.
TEST_F(Confd, ImportCollidingWithConfiguredExtensionAndVoicemailNamesTheLines) {
  default_context();
  post_id("/1.1/extensions", R"({"exten":"1001","context":"default"})");
  post_id("/1.1/voicemails", R"({"number":"2000","context":"default","name":"kept"})");
  std::string csv =
      "firstname,lastname,exten,context,line_protocol,voicemail_name,voicemail_number,voicemail_context\n"
      "Jane,Doe,1000,default,sip,Jane VM,2000,default\n"
      "John,Doe,1001,default,sip,,,\n";
  auto r = call("POST", "/1.1/users/import", csv);
  ASSERT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("Voicemail already exists ('number': '2000', 'context': 'default')"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("Extension already exists ('exten': '1001', 'context': 'default')"), std::string::npos) << r.body;
  auto d = js(r.body);
  ASSERT_EQ(d["errors"].Size(), 2u) << r.body;
  EXPECT_EQ(d["errors"][0]["details"]["row_number"].GetInt(), 1) << r.body;
  EXPECT_EQ(d["errors"][1]["details"]["row_number"].GetInt(), 2) << r.body;
  EXPECT_EQ(count("confd_users"), 0);
}

TEST_F(Confd, ConcurrentEditsOfOneUserSerialize) {
  int u = post_id("/1.1/users", R"({"firstname":"Alice"})");
  std::atomic<int> ok{0}, other{0};
  auto edit = [&](int who) {
    for (int i = 0; i < 25; ++i) {
      auto r = call("PUT", "/1.1/users/" + std::to_string(u),
                    "{\"lastname\":\"W" + std::to_string(who) + "\",\"email\":\"w" + std::to_string(who) + "@x\"}");
      (r.status == 204 ? ok : other)++;
    }
  };
  std::thread a(edit, 1), b(edit, 2);
  a.join();
  b.join();
  EXPECT_EQ(ok.load(), 50);
  EXPECT_EQ(other.load(), 0);
  auto d = js(call("GET", "/1.1/users/" + std::to_string(u)).body);
  std::string ln = d["lastname"].GetString(), em = d["email"].GetString();
  EXPECT_EQ(em, "w" + ln.substr(1) + "@x");  // never half of one edit and half of the other
}

// Contract from the OpenAPI file: every property a resource's schema declares
// (readable ones: not writeOnly) is in what GET returns for that resource.
// Conference rooms (seed 5.7): CRUD, PIN rules, the conference room range of
// the extension, one owner per extension, and what the dialplan reads.
TEST_F(Confd, ConferencesAndTheirExtensions) {
  default_context();
  post_id("/1.1/contexts", R"({"name":"rooms","conference_room_ranges":[{"start":"4000","end":"4999"}]})");
  int c = post_id("/1.1/conferences", R"({"name":"room-4010","pin":"1234","admin_pin":"9999","max_users":10})");
  auto C = std::to_string(c);
  auto got = js(call("GET", "/1.1/conferences/" + C).body);
  EXPECT_STREQ(got["pin"].GetString(), "1234");
  EXPECT_EQ(got["max_users"].GetInt(), 10);
  EXPECT_TRUE(got["announce_join_leave"].GetBool());
  EXPECT_EQ(call("POST", "/1.1/conferences", R"({"admin_pin":"9999"})").status, 400) << "organizer PIN without PIN";
  EXPECT_EQ(call("POST", "/1.1/conferences", R"({"pin":"12","admin_pin":"12"})").status, 400) << "same PINs";
  EXPECT_EQ(call("POST", "/1.1/conferences", R"({"pin":"12ab"})").status, 400);
  EXPECT_EQ(call("POST", "/1.1/conferences", R"({"max_users":-1})").status, 400);
  EXPECT_EQ(count("confd_conferences"), 1);
  EXPECT_FALSE(got["waiting_room"].GetBool());
  EXPECT_EQ(call("PUT", "/1.1/conferences/" + C, R"({"max_users":3,"announce_join_leave":false,"waiting_room":true})").status, 204);
  EXPECT_TRUE(js(call("GET", "/1.1/conferences/" + C).body)["waiting_room"].GetBool());

  int room = post_id("/1.1/extensions", R"({"exten":"4010","context":"rooms"})");
  int user = post_id("/1.1/extensions", R"({"exten":"1500","context":"default"})");
  EXPECT_EQ(call("PUT", "/1.1/conferences/" + C + "/extensions/" + std::to_string(user)).status, 400)
      << "outside the conference room range";
  EXPECT_EQ(call("PUT", "/1.1/conferences/" + C + "/extensions/" + std::to_string(room)).status, 204);
  EXPECT_EQ(call("PUT", "/1.1/conferences/999/extensions/" + std::to_string(room)).status, 404);
  int g = post_id("/1.1/groups", R"({"name":"g"})");
  auto taken = call("PUT", "/1.1/groups/" + std::to_string(g) + "/extensions/" + std::to_string(room));
  EXPECT_EQ(taken.status, 400);
  EXPECT_NE(taken.body.find("already associated with a Conference"), std::string::npos) << taken.body;
  EXPECT_EQ(js(call("GET", "/1.1/conferences/" + C + "/extensions").body)["items"].Size(), 1u);
  EXPECT_EQ(call("DELETE", "/1.1/extensions/" + std::to_string(room)).status, 400) << "still the room's";
  EXPECT_EQ(call("POST", "/1.1/incalls", "{\"destination\":{\"type\":\"conference\",\"conference_id\":" + C + "}}").status, 201);
  EXPECT_EQ(call("DELETE", "/1.1/conferences/" + C + "/extensions/" + std::to_string(room)).status, 204);
  EXPECT_EQ(call("DELETE", "/1.1/conferences/" + C).status, 204);
  EXPECT_EQ(count("confd_conferences"), 0);
}

// Call pickup groups (seed 5.17) as wazo-confd has them: the lists of user
// and group interceptors and targets, set whole, read back in the pickup.
TEST_F(Confd, CallPickupsAndTheirMembers) {
  default_context();
  int a = post_id("/1.1/users", R"({"firstname":"Alice"})");
  int b = post_id("/1.1/users", R"({"firstname":"Bob"})");
  int g = post_id("/1.1/groups", R"({"name":"sales"})");
  auto buuid = std::string(js(call("GET", "/1.1/users/" + std::to_string(b)).body)["uuid"].GetString());
  int p = post_id("/1.1/callpickups", R"({"name":"reception","description":"front desk"})");
  auto P = "/1.1/callpickups/" + std::to_string(p);
  EXPECT_EQ(call("POST", "/1.1/callpickups", R"({"name":"reception"})").status, 400) << "names are unique";
  EXPECT_EQ(call("POST", "/1.1/callpickups", R"({"description":"no name"})").status, 400);
  EXPECT_EQ(call("PUT", P + "/interceptors/users", "{\"users\":[{\"id\":" + std::to_string(a) + "}]}").status, 204);
  EXPECT_EQ(call("PUT", P + "/targets/users", "{\"users\":[{\"uuid\":\"" + buuid + "\"}]}").status, 204);
  EXPECT_EQ(call("PUT", P + "/targets/groups", "{\"groups\":[{\"id\":" + std::to_string(g) + "}]}").status, 204);
  auto got = js(call("GET", P).body);
  ASSERT_TRUE(got.HasMember("interceptors")) << call("GET", P).body;
  EXPECT_EQ(got["interceptors"]["users"].Size(), 1u);
  EXPECT_EQ(got["interceptors"]["users"][0]["id"].GetInt(), a);
  EXPECT_EQ(got["interceptors"]["groups"].Size(), 0u);
  EXPECT_EQ(std::string(got["targets"]["users"][0]["uuid"].GetString()), buuid);
  EXPECT_STREQ(got["targets"]["groups"][0]["name"].GetString(), "sales");
  EXPECT_TRUE(got["enabled"].GetBool());
  // Bad members: nothing changes.
  EXPECT_EQ(call("PUT", P + "/targets/users", R"({"users":[{"uuid":"no-such-user"}]})").status, 400);
  EXPECT_EQ(call("PUT", P + "/targets/groups", R"({"groups":[{"id":999}]})").status, 400);
  EXPECT_EQ(call("PUT", P + "/targets/users", R"({"users":"bob"})").status, 400);
  EXPECT_EQ(call("PUT", "/1.1/callpickups/999/targets/users", R"({"users":[]})").status, 404);
  EXPECT_EQ(js(call("GET", P).body)["targets"]["users"].Size(), 1u);
  // An empty list empties it; a deleted user leaves every list.
  EXPECT_EQ(call("PUT", P + "/targets/groups", R"({"groups":[]})").status, 204);
  EXPECT_EQ(call("DELETE", "/1.1/users/" + std::to_string(a)).status, 204);
  got = js(call("GET", P).body);
  EXPECT_EQ(got["interceptors"]["users"].Size(), 0u);
  EXPECT_EQ(got["targets"]["groups"].Size(), 0u);
  EXPECT_EQ(call("DELETE", P).status, 204);
  EXPECT_EQ(count("confd_callpickup_users"), 0);
}

// Paging groups (seed 5.24) as wazo-confd has them: XiVO's options with
// their defaults, unique numbers, members and callers set whole, and the
// snapshot the dialplan reads (config.paging) holding them.
TEST_F(Confd, PagingsTheirOptionsMembersAndCallers) {
  default_context();
  int a = post_id("/1.1/users", R"({"firstname":"Alice"})");
  int b = post_id("/1.1/users", R"({"firstname":"Bob"})");
  auto buuid = std::string(js(call("GET", "/1.1/users/" + std::to_string(b)).body)["uuid"].GetString());
  int p = post_id("/1.1/pagings", R"({"number":"601","name":"floor 1","duplex":true})");
  auto P = "/1.1/pagings/" + std::to_string(p);
  auto got = js(call("GET", P).body);
  EXPECT_STREQ(got["number"].GetString(), "601");
  EXPECT_TRUE(got["duplex"].GetBool());
  EXPECT_FALSE(got["ignore_forward"].GetBool());
  EXPECT_FALSE(got["record"].GetBool());
  EXPECT_TRUE(got["caller_notification"].GetBool()) << "XiVO's quiet is off by default";
  EXPECT_TRUE(got["announce_caller"].GetBool());
  EXPECT_EQ(got["timeout"].GetInt(), 30);
  EXPECT_TRUE(got["enabled"].GetBool());
  EXPECT_EQ(call("POST", "/1.1/pagings", R"({"number":"601"})").status, 400) << "numbers are unique";
  EXPECT_EQ(call("POST", "/1.1/pagings", R"({"number":"*11"})").status, 400) << "digits only";
  EXPECT_EQ(call("POST", "/1.1/pagings", R"({"name":"no number"})").status, 400);
  EXPECT_EQ(call("POST", "/1.1/pagings", R"({"number":"602","timeout":-1})").status, 400);
  EXPECT_EQ(call("PUT", P + "/members/users", "{\"users\":[{\"uuid\":\"" + buuid + "\"}]}").status, 204);
  EXPECT_EQ(call("PUT", P + "/callers/users", "{\"users\":[{\"id\":" + std::to_string(a) + "}]}").status, 204);
  got = js(call("GET", P).body);
  ASSERT_TRUE(got.HasMember("members")) << call("GET", P).body;
  ASSERT_EQ(got["members"]["users"].Size(), 1u);
  EXPECT_EQ(std::string(got["members"]["users"][0]["uuid"].GetString()), buuid);
  ASSERT_EQ(got["callers"]["users"].Size(), 1u);
  EXPECT_EQ(got["callers"]["users"][0]["id"].GetInt(), a);
  auto snap = host_.services().find<dialtone::sdk::ConfigService>()->snapshot();
  auto id = dialtone::sdk::ConfigSnapshot::find(snap->paging_by_number_, std::string("601"));
  ASSERT_TRUE(id);
  const auto& cfg = snap->pagings.at(*id);
  EXPECT_TRUE(cfg.duplex);
  EXPECT_EQ(cfg.member_user_ids, std::vector<std::int64_t>{b});
  EXPECT_EQ(cfg.caller_user_ids, std::vector<std::int64_t>{a});
  // Bad members change nothing.
  EXPECT_EQ(call("PUT", P + "/members/users", R"({"users":[{"uuid":"no-such-user"}]})").status, 400);
  EXPECT_EQ(call("PUT", P + "/members/users", "{\"users\":[{\"id\":" + std::to_string(b) + "},{\"id\":" +
                                                 std::to_string(b) + "}]}").status, 400) << "listed twice";
  EXPECT_EQ(call("PUT", "/1.1/pagings/999/members/users", R"({"users":[]})").status, 404);
  EXPECT_EQ(js(call("GET", P).body)["members"]["users"].Size(), 1u);
  // A deleted user leaves the lists; a deleted paging takes its rows.
  EXPECT_EQ(call("DELETE", "/1.1/users/" + std::to_string(a)).status, 204);
  EXPECT_EQ(js(call("GET", P).body)["callers"]["users"].Size(), 0u);
  EXPECT_EQ(call("DELETE", P).status, 204);
  EXPECT_EQ(count("confd_paging_users"), 0);
}

// IVR menus (wazo-confd's /1.1/ivr): defaults, refusals naming the field,
// the incalls sending to a menu, the snapshot lib/ivr.lua reads, and an
// incall left on "none" when its menu is deleted.
TEST_F(Confd, IvrMenusTheirChoicesAndTheIncallsSendingToThem) {
  default_context();
  int u = post_id("/1.1/users", R"({"firstname":"Ivy"})");
  int m = post_id("/1.1/ivr", R"({"name":"main","menu_sound":"main-menu","choices":[{"exten":"1","destination":)"
                              R"({"type":"user","user_id":)" + std::to_string(u) + "}}]}");
  auto M = "/1.1/ivr/" + std::to_string(m);
  auto got = js(call("GET", M).body);
  EXPECT_EQ(got["timeout"].GetInt(), 5);
  EXPECT_EQ(got["max_tries"].GetInt(), 3);
  EXPECT_TRUE(got["abort_destination"].IsNull());
  ASSERT_EQ(got["choices"].Size(), 1u);
  EXPECT_STREQ(got["choices"][0]["exten"].GetString(), "1");
  EXPECT_EQ(got["incalls"].Size(), 0u);
  auto refused = call("POST", "/1.1/ivr", R"({"name":"x"})");
  EXPECT_EQ(refused.status, 400);
  EXPECT_NE(refused.body.find("menu_sound"), std::string::npos) << refused.body;
  refused = call("POST", "/1.1/ivr", R"({"name":"x","menu_sound":"m","choices":[{"exten":"1","destination":{"type":"nowhere"}}]})");
  EXPECT_EQ(refused.status, 400);
  EXPECT_NE(refused.body.find("choices"), std::string::npos) << refused.body;
  EXPECT_EQ(call("POST", "/1.1/ivr", R"({"name":"x","menu_sound":"m","max_tries":0})").status, 400);
  EXPECT_EQ(call("POST", "/1.1/ivr", R"({"name":"x","menu_sound":"../../etc/passwd x"})").status, 400);
  EXPECT_EQ(call("POST", "/1.1/incalls", R"({"destination":{"type":"ivr","ivr_id":999}})").status, 400)
      << "a menu that does not exist";
  int i = post_id("/1.1/incalls", R"({"destination":{"type":"ivr","ivr_id":)" + std::to_string(m) + "}}");
  got = js(call("GET", M).body);
  ASSERT_EQ(got["incalls"].Size(), 1u);
  EXPECT_EQ(got["incalls"][0]["id"].GetInt(), i);
  EXPECT_EQ(call("PUT", M, R"({"timeout":7,"abort_destination":{"type":"hangup"}})").status, 204);
  auto snap = host_.services().find<dialtone::sdk::ConfigService>()->snapshot();
  auto row = dialtone::sdk::ConfigSnapshot::find(snap->ivrs, static_cast<std::int64_t>(m));
  ASSERT_TRUE(row);
  EXPECT_NE(row->find("\"timeout\": 7"), std::string::npos) << *row;
  EXPECT_NE(row->find("\"menu_sound\": \"main-menu\""), std::string::npos) << *row;
  EXPECT_EQ(call("DELETE", M).status, 204);
  EXPECT_EQ(call("GET", M).status, 404);
  EXPECT_STREQ(js(call("GET", "/1.1/incalls/" + std::to_string(i)).body)["destination"]["type"].GetString(), "none");
}

// Parking lots (seed 5.25): the default lot XiVO ships (701-750), slot
// checks, the extension (outside the numbering ranges, as 700 is) and one
// lot per slot number in a context.
TEST_F(Confd, ParkingLotsAndTheirExtensions) {
  default_context();
  auto lots = js(call("GET", "/1.1/parkinglots").body);
  ASSERT_EQ(lots["items"].Size(), 1u) << "the default lot";
  EXPECT_STREQ(lots["items"][0]["slots_start"].GetString(), "701");
  EXPECT_STREQ(lots["items"][0]["slots_end"].GetString(), "750");
  EXPECT_EQ(lots["items"][0]["timeout"].GetInt(), 45);
  int l = post_id("/1.1/parkinglots", R"({"name":"east","slots_start":"801","slots_end":"810","timeout":30,
                                          "music_on_hold":"default","timeout_destination":{"type":"hangup"}})");
  auto L = "/1.1/parkinglots/" + std::to_string(l);
  EXPECT_EQ(call("POST", "/1.1/parkinglots", R"({"slots_start":"820","slots_end":"810"})").status, 400) << "backwards";
  EXPECT_EQ(call("POST", "/1.1/parkinglots", R"({"slots_start":"8a","slots_end":"810"})").status, 400);
  EXPECT_EQ(call("POST", "/1.1/parkinglots", R"({"slots_start":"801"})").status, 400) << "slots_end is required";
  EXPECT_EQ(call("POST", "/1.1/parkinglots",
                 R"({"slots_start":"830","slots_end":"840","timeout_destination":{"type":"nowhere"}})").status, 400);
  EXPECT_EQ(call("POST", "/1.1/parkinglots", R"({"slots_start":"805","slots_end":"806"})").status, 400)
      << "overlaps lot east (both without extension)";
  int x = post_id("/1.1/extensions", R"({"exten":"1800","context":"default"})");
  EXPECT_EQ(call("PUT", L + "/extensions/" + std::to_string(x)).status, 204);
  auto got = js(call("GET", L).body);
  EXPECT_EQ(got["timeout"].GetInt(), 30);
  EXPECT_STREQ(got["timeout_destination"]["type"].GetString(), "hangup");
  ASSERT_EQ(got["extensions"].Size(), 1u);
  EXPECT_STREQ(got["extensions"][0]["exten"].GetString(), "1800");
  int g = post_id("/1.1/groups", R"({"name":"g"})");
  auto taken = call("PUT", "/1.1/groups/" + std::to_string(g) + "/extensions/" + std::to_string(x));
  EXPECT_NE(taken.body.find("already associated with a ParkingLot"), std::string::npos) << taken.body;
  EXPECT_EQ(call("DELETE", "/1.1/extensions/" + std::to_string(x)).status, 400) << "still the lot's";
  EXPECT_EQ(call("PUT", L, R"({"timeout":null})").status, 204);
  EXPECT_TRUE(js(call("GET", L).body)["timeout"].IsNull());
  EXPECT_EQ(call("DELETE", L).status, 204);
  EXPECT_EQ(count("confd_parkinglot_extensions"), 0);
}

TEST_F(Confd, EveryDeclaredFieldIsReturned) {
  default_context();
  post_id("/1.1/contexts", R"({"name":"to-pstn","type":"outcall"})");
  const std::map<std::string, std::string> bodies = {
      {"/1.1/users", R"({"firstname":"Ada"})"},
      {"/1.1/contexts", R"({"name":"ctr"})"},
      {"/1.1/labels", R"({"name":"ctr-label"})"},
      {"/1.1/endpoints/sip", R"({})"},
      {"/1.1/endpoints/custom", R"({"interface":"dahdi/g1"})"},
      {"/1.1/lines", R"({"context":"default"})"},
      {"/1.1/extensions", R"({"exten":"1500","context":"default"})"},
      {"/1.1/trunks", R"({"context":"to-pstn"})"},
      {"/1.1/incalls", R"({"destination":{"type":"none"}})"},
      {"/1.1/outcalls", R"({"name":"ctr-out"})"},
      {"/1.1/groups", R"({"name":"ctr-group"})"},
      {"/1.1/voicemails", R"({"number":"1500","context":"default","name":"Ctr"})"},
      {"/1.1/schedules", R"({"name":"ctr-schedule"})"},
      {"/1.1/callpermissions", R"({"name":"ctr-cp"})"},
      {"/1.1/callfilters", R"({"name":"ctr-filter"})"},
      {"/1.1/conferences", R"({"name":"ctr-room"})"},
      {"/1.1/callpickups", R"({"name":"ctr-pickup"})"},
      {"/1.1/parkinglots", R"({"slots_start":"901","slots_end":"902"})"},
      {"/1.1/pagings", R"({"number":"699"})"},
      {"/1.1/ivr", R"({"name":"ctr-ivr","menu_sound":"vm-intro"})"},
      {"/1.1/funckeys/templates", R"({"name":"ctr-tpl"})"},
      {"/1.1/moh", R"({"name":"ctr-moh","mode":"files"})"}};
  auto spec = YAML::LoadFile(CONFD_API_YML);
  auto schemas = spec["components"]["schemas"];
  ASSERT_TRUE(schemas && schemas.IsMap());
  std::size_t checked = 0;
  for (auto it = schemas.begin(); it != schemas.end(); ++it) {
    auto path = it->second["x-path"].as<std::string>();
    auto body = bodies.find(path);
    ASSERT_NE(body, bodies.end()) << "no example body for " << path << ": add one to this test";
    auto created = js(call("POST", path, body->second).body);
    ASSERT_TRUE(created.IsObject() && (created.HasMember("id") || created.HasMember("uuid"))) << path;
    // Resources addressed by uuid (moh) have no id.
    std::string key = created.HasMember("id") ? std::to_string(created["id"].GetInt()) : created["uuid"].GetString();
    auto got = call("GET", path + "/" + key);
    ASSERT_EQ(got.status, 200) << path << ": " << got.body;
    auto d = js(got.body);
    for (auto p = it->second["properties"].begin(); p != it->second["properties"].end(); ++p) {
      auto name = p->first.as<std::string>();
      if (p->second["writeOnly"] && p->second["writeOnly"].as<bool>()) {
        EXPECT_FALSE(d.HasMember(name.c_str())) << path << " returns the writeOnly " << name;
        continue;
      }
      EXPECT_TRUE(d.HasMember(name.c_str())) << path << " does not return " << name << ": " << got.body;
      ++checked;
    }
  }
  EXPECT_GT(checked, 100u);
}

TEST_F(Confd, OpenApiFileDescribesExactlyTheMountedRoutes) {
  std::ifstream f(CONFD_API_YML);
  ASSERT_TRUE(f) << CONFD_API_YML;
  std::set<std::string> spec, mounted;
  std::string line, path;
  std::regex path_re("^  \"(/[^\"]*)\":\\s*$"), method_re("^    (get|put|post|delete|head):\\s*$");
  std::smatch m;
  while (std::getline(f, line)) {
    if (std::regex_match(line, m, path_re)) path = m[1];
    else if (std::regex_match(line, m, method_re)) {
      std::string meth = m[1];
      for (auto& c : meth) c = static_cast<char>(std::toupper(c));
      spec.insert(meth + " " + path);
    }
  }
  for (auto& r : host_.http()->routes()) mounted.insert(r.route.method + " " + r.route.path);
  EXPECT_EQ(spec, mounted);
  auto served = call("GET", "/1.1/api/api.yml");
  EXPECT_EQ(served.status, 200);
  EXPECT_NE(served.body.find("openapi: \"3.0.3\""), std::string::npos);
}

// A deleted voicemail's event names its box (number, context), so that the
// voicemail application removes its spool.
TEST_F(Confd, VoicemailDeletedEventNamesTheBox) {
  default_context();
  int id = post_id("/1.1/voicemails", R"({"number":"1500","context":"default","name":"Ann"})");
  EXPECT_EQ(call("DELETE", "/1.1/voicemails/" + std::to_string(id)).status, 204);
  auto events = host_.bus().published("config.voicemail.deleted");
  ASSERT_EQ(events.size(), 1u);
  auto ev = js(events[0].body);
  EXPECT_EQ(ev["id"].GetInt(), id);
  EXPECT_STREQ(ev["number"].GetString(), "1500");
  EXPECT_STREQ(ev["context"].GetString(), "default");
}

// /1.1/moh with its classes' directories in a temporary moh.path.
class ConfdMoh : public Confd {
 protected:
  // An 8 kHz 16-bit WAV of `channels` channels and `frames` frames of a ramp.
  static std::string wav(int channels = 1, int frames = 800) {
    std::string data;
    for (int i = 0; i < frames * channels; ++i) {
      auto v = static_cast<std::int16_t>((i % 64) * 200);
      data.append(reinterpret_cast<const char*>(&v), 2);
    }
    std::string h = "RIFF";
    auto u32 = [&](std::uint32_t v) { h.append(reinterpret_cast<const char*>(&v), 4); };
    auto u16 = [&](std::uint16_t v) { h.append(reinterpret_cast<const char*>(&v), 2); };
    u32(static_cast<std::uint32_t>(36 + data.size()));
    h += "WAVEfmt ";
    u32(16);
    u16(1);
    u16(static_cast<std::uint16_t>(channels));
    u32(8000);
    u32(16000u * channels);
    u16(static_cast<std::uint16_t>(2 * channels));
    u16(16);
    h += "data";
    u32(static_cast<std::uint32_t>(data.size()));
    return h + data;
  }
  std::set<std::string> files_in(const std::filesystem::path& d) {
    std::set<std::string> out;
    for (auto& e : std::filesystem::directory_iterator(d)) out.insert(e.path().filename().string());
    return out;
  }
};

// No moh.path in conf.d: the classes live where the media engine plays
// from (its sounds.moh_path), one setting for both.
class ConfdMohOfTheEngine : public ConfdMoh {
 protected:
  std::map<std::string, std::string> options() override {
    ConfdMoh::options();
    dialtone::plugins::media::EngineConfig cfg;
    cfg.moh_path = moh_dir_ / "engine";
    std::filesystem::create_directories(cfg.moh_path);
    engine_ = std::make_shared<dialtone::plugins::media::Engine>(cfg, host_.log());
    EXPECT_TRUE(host_.services().provide<dialtone::sdk::media::MediaEngine>("default", engine_));
    return {};
  }
  std::shared_ptr<dialtone::plugins::media::Engine> engine_;
};

TEST_F(ConfdMohOfTheEngine, ClassesLiveUnderTheEnginesMusicPath) {
  auto r = call("POST", "/1.1/moh", R"({"name":"jazz","mode":"files"})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_TRUE(std::filesystem::is_directory(moh_dir_ / "engine" / "jazz"));
  std::string uuid = js(r.body)["uuid"].GetString();
  ASSERT_EQ(call("PUT", "/1.1/moh/" + uuid + "/files/a.wav", wav()).status, 204);
  auto files = engine_->music_files("jazz");
  ASSERT_EQ(files.size(), 1u) << "the engine does not see the uploaded file";
  EXPECT_EQ(files[0].filename(), "a.wav");
}

TEST_F(ConfdMoh, ClassCrudAndFilesLandInTheClassDirectory) {
  // The migration's `default` class is there (the moh.path directory itself).
  auto l = js(call("GET", "/1.1/moh").body);
  ASSERT_EQ(l["total"].GetInt(), 1);
  EXPECT_STREQ(l["items"][0]["name"].GetString(), "default");

  auto r = call("POST", "/1.1/moh", R"({"name":"jazz","label":"Jazz","mode":"files","sort":"random"})");
  ASSERT_EQ(r.status, 201) << r.body;
  auto c = js(r.body);
  std::string uuid = c["uuid"].GetString();
  EXPECT_STREQ(c["label"].GetString(), "Jazz");
  EXPECT_STREQ(c["sort"].GetString(), "random");
  EXPECT_EQ(c["files"].Size(), 0u);
  EXPECT_TRUE(std::filesystem::is_directory(moh_dir_ / "jazz"));
  EXPECT_EQ(call("POST", "/1.1/moh", R"({"name":"jazz","mode":"files"})").status, 400);  // name taken

  // Upload, list, download, replace, delete a file.
  auto audio = wav();
  EXPECT_EQ(call("PUT", "/1.1/moh/" + uuid + "/files/track1.wav", audio).status, 204);
  EXPECT_EQ(files_in(moh_dir_ / "jazz"), std::set<std::string>{"track1.wav"});
  c = js(call("GET", "/1.1/moh/" + uuid).body);
  ASSERT_EQ(c["files"].Size(), 1u);
  EXPECT_STREQ(c["files"][0]["name"].GetString(), "track1.wav");
  auto got = call("GET", "/1.1/moh/" + uuid + "/files/track1.wav");
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, audio);
  EXPECT_EQ(call("GET", "/1.1/moh/" + uuid + "/files/nope.wav").status, 404);

  EXPECT_EQ(call("PUT", "/1.1/moh/" + uuid, R"({"label":"Cool jazz","sort":null})").status, 204);
  c = js(call("GET", "/1.1/moh/" + uuid).body);
  EXPECT_STREQ(c["label"].GetString(), "Cool jazz");
  EXPECT_TRUE(c["sort"].IsNull());
  EXPECT_STREQ(c["name"].GetString(), "jazz");

  EXPECT_EQ(call("DELETE", "/1.1/moh/" + uuid + "/files/track1.wav").status, 204);
  EXPECT_TRUE(files_in(moh_dir_ / "jazz").empty());
  EXPECT_EQ(call("PUT", "/1.1/moh/" + uuid + "/files/track2.wav", audio).status, 204);
  EXPECT_EQ(call("DELETE", "/1.1/moh/" + uuid).status, 204);
  EXPECT_FALSE(std::filesystem::exists(moh_dir_ / "jazz")) << "the class's files stay after its deletion";
  EXPECT_EQ(call("GET", "/1.1/moh/" + uuid).status, 404);
  EXPECT_EQ(call("GET", "/1.1/moh/not-a-uuid").status, 404);

  EXPECT_EQ(host_.bus().published("config.moh.created").size(), 1u);
  EXPECT_EQ(host_.bus().published("config.moh.deleted").size(), 1u);
}

TEST_F(ConfdMoh, BadUploadsAre400NamingTheProblemAndWriteNothing) {
  auto r = call("POST", "/1.1/moh", R"({"name":"hold","mode":"files"})");
  ASSERT_EQ(r.status, 201) << r.body;
  std::string base = "/1.1/moh/" + std::string(js(r.body)["uuid"].GetString()) + "/files/";
  EXPECT_EQ(call("PUT", base + "good.wav", wav()).status, 204);
  auto refused = [&](const std::string& file, const std::string& body, const std::string& says) {
    auto res = call("PUT", base + file, body);
    EXPECT_EQ(res.status, 400) << file;
    EXPECT_NE(res.body.find(says), std::string::npos) << file << ": " << res.body;
  };
  refused("empty.wav", "", "body is empty");
  refused("junk.wav", "RIFF\x10\x00\x00\x00WAVEfmt this is no wave", "not a WAV file");
  refused("stereo.wav", wav(2), "2 channels");
  refused("silence.wav", wav(1, 0), "no audio frames");
  refused("track.mp3", wav(), "ending in .wav");
  refused(".hidden.wav", wav(), "filename");
  // A bad replacement leaves the good file as it was.
  refused("good.wav", wav().substr(0, 20), "good.wav");
  EXPECT_EQ(files_in(moh_dir_ / "hold"), std::set<std::string>{"good.wav"});
  EXPECT_EQ(call("GET", base + "good.wav").body, wav());

  auto bad = call("POST", "/1.1/moh", R"({"name":"../etc","mode":"shuffle","bogus":1})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("field 'name'"), std::string::npos) << bad.body;
  EXPECT_NE(bad.body.find("field 'mode'"), std::string::npos) << bad.body;
  EXPECT_NE(bad.body.find("field 'bogus'"), std::string::npos) << bad.body;
  EXPECT_EQ(call("POST", "/1.1/moh", R"({"label":"x"})").status, 400);  // name and mode required
  EXPECT_EQ(js(call("GET", "/1.1/moh").body)["total"].GetInt(), 2);
}

// /1.1/sounds: the media engine's sound store (sounds.store), where *9's
// sounds land in recordings/ (tests/plugins/media/calls/recording_test.cc
// records them from a softphone).
class ConfdSounds : public ConfdMoh {
 protected:
  std::map<std::string, std::string> options() override {
    auto o = ConfdMoh::options();
    dialtone::plugins::media::EngineConfig cfg;
    cfg.store_path = moh_dir_ / "sounds";
    engine_ = std::make_shared<dialtone::plugins::media::Engine>(cfg, host_.log());
    EXPECT_TRUE(host_.services().provide<dialtone::sdk::media::MediaEngine>("default", engine_));
    return o;
  }
  std::shared_ptr<dialtone::plugins::media::Engine> engine_;
};

TEST_F(ConfdSounds, RecordedSoundsAreListedServedReplacedAndDeleted) {
  auto store = moh_dir_ / "sounds";
  EXPECT_EQ(js(call("GET", "/1.1/sounds").body)["total"].GetInt(), 0);  // no store yet: nothing, no error
  std::filesystem::create_directories(store / "recordings");
  auto audio = wav();
  std::ofstream(store / "recordings" / "1001-1765000000.wav", std::ios::binary) << audio;
  std::ofstream(store / "recordings" / ".1001-1765000099.wav.part", std::ios::binary) << audio;  // being recorded

  auto l = js(call("GET", "/1.1/sounds").body);
  ASSERT_EQ(l["total"].GetInt(), 1);
  EXPECT_STREQ(l["items"][0]["name"].GetString(), "recordings");
  ASSERT_EQ(l["items"][0]["files"].Size(), 1u) << "a recording in progress is listed";
  const auto& f = l["items"][0]["files"][0];
  EXPECT_STREQ(f["name"].GetString(), "1001-1765000000");
  EXPECT_STREQ(f["formats"][0]["format"].GetString(), "wav");
  EXPECT_EQ(f["formats"][0]["size"].GetInt64(), static_cast<std::int64_t>(audio.size()));
  EXPECT_EQ(js(call("GET", "/1.1/sounds/recordings").body)["files"].Size(), 1u);
  EXPECT_EQ(call("GET", "/1.1/sounds/nothing").status, 404);

  for (const char* name : {"1001-1765000000", "1001-1765000000.wav"}) {
    auto got = call("GET", std::string("/1.1/sounds/recordings/files/") + name);
    EXPECT_EQ(got.status, 200) << name;
    EXPECT_EQ(got.content_type, "audio/wav");
    EXPECT_EQ(got.body, audio) << name;
  }
  EXPECT_EQ(call("GET", "/1.1/sounds/recordings/files/1001-1765000099").status, 404);
  EXPECT_EQ(call("GET", "/1.1/sounds/recordings/files/..").status, 400);
  EXPECT_EQ(call("GET", "/1.1/sounds/../files/passwd").status, 404);

  // An admin adds a sound of another category; a bad one changes nothing.
  EXPECT_EQ(call("PUT", "/1.1/sounds/playback/files/welcome", audio).status, 204);
  EXPECT_TRUE(std::filesystem::exists(store / "playback" / "welcome.wav"));
  auto bad = call("PUT", "/1.1/sounds/playback/files/welcome", wav(2));
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("2 channels"), std::string::npos) << bad.body;
  EXPECT_EQ(call("GET", "/1.1/sounds/playback/files/welcome").body, audio);
  EXPECT_EQ(js(call("GET", "/1.1/sounds").body)["total"].GetInt(), 2);

  EXPECT_EQ(call("DELETE", "/1.1/sounds/recordings/files/1001-1765000000").status, 204);
  EXPECT_FALSE(std::filesystem::exists(store / "recordings" / "1001-1765000000.wav"));
  EXPECT_EQ(call("DELETE", "/1.1/sounds/recordings/files/1001-1765000000").status, 404);
}

}  // namespace
