// api.confd as xivo-confd-client 1.1.2 (wazo-confd-client b6ae060, with
// xivo-lib-rest-client 0.2) speaks to it: each call below sends the method,
// path, query string, headers and body that client sends for the named
// method, and checks the fields the client (or a script using it) reads.
// ConfdSession sends Accept: application/json on reads, plus Content-Type:
// application/json on writes, and X-Auth-Token from the token it was given;
// update() PUTs the GET body back without its "links".
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>

#include "tests/integration/support/dialtoned_fixture.h"

namespace {

using dialtone::testing::Dialtoned;
using dialtone::testing::HttpAnswer;
using dialtone::testing::json_int;
using dialtone::testing::json_size;
using dialtone::testing::json_string;

rapidjson::Document parse(const std::string& s) {
  rapidjson::Document d;
  d.Parse(s.c_str());
  return d;
}

std::string dump(const rapidjson::Value& v) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  v.Accept(w);
  return sb.GetString();
}

class ConfdClientCompat : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // The users directory and dird too: lookups name the confd user (relations).
    d_ = new Dialtoned({.plugin_files = {
                            {"50-confd.conf", "[plugin]\nname = api.confd\n"},
                            {"22-directory-users.conf",
                             "[plugin]\nname = directory.users\n\n[source.users]\nunique_column = uuid\n"
                             "searched_columns = firstname, lastname\nfirst_matched_columns = exten\n"
                             "format_columns = name = {firstname} {lastname}, number = {exten}\n"},
                            {"29-directory-dird.conf",
                             "[plugin]\nname = directory.dird\n\n[profile.default]\nsources = users\n"
                             "display = d\n\n[display.d]\ncolumns = Name|name|name, Number|number|number\n"}}});
  }
  static void TearDownTestSuite() {
    delete d_;
    d_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(d_->ready()) << d_->error(); }

  // ConfdSession.get/head/delete: READ_HEADERS.
  HttpAnswer read(const std::string& method, const std::string& path) {
    return d_->http(method, "confd", "/1.1" + path, "", {{"Accept", "application/json"}, {"X-Auth-Token", d_->token()}});
  }
  HttpAnswer get(const std::string& path) { return read("GET", path); }
  HttpAnswer del(const std::string& path) { return read("DELETE", path); }
  // ConfdSession.post/put: WRITE_HEADERS and json.dumps(body) (no body: none).
  HttpAnswer write(const std::string& method, const std::string& path, const std::string& body = "") {
    return d_->http(method, "confd", "/1.1" + path, body,
                    {{"Accept", "application/json"}, {"Content-Type", "application/json"}, {"X-Auth-Token", d_->token()}});
  }
  HttpAnswer post(const std::string& path, const std::string& body) { return write("POST", path, body); }
  HttpAnswer put(const std::string& path, const std::string& body = "") { return write("PUT", path, body); }
  // CRUDCommand.update: PUT /resource/<uuid or id> with the body minus "links".
  HttpAnswer update_from_get(const std::string& resource, const std::string& got) {
    auto d = parse(got);
    d.RemoveMember("links");
    std::string id = d.HasMember("uuid") && d["uuid"].IsString() ? d["uuid"].GetString()
                                                                   : std::to_string(d["id"].GetInt());
    return put("/" + resource + "/" + id, dump(d));
  }
  HttpAnswer csv(const std::string& method, const std::string& body) {
    return d_->http(method, "confd", "/1.1/users/import", body,
                    {{"Accept", "application/json"}, {"Content-Type", "text/csv; charset=utf-8"},
                     {"X-Auth-Token", d_->token()}});
  }

  static Dialtoned* d_;
};
Dialtoned* ConfdClientCompat::d_ = nullptr;

// infos(), configuration.live_reload.get/update (the wizard: ConfdWizard below).
TEST_F(ConfdClientCompat, InfosAndLiveReload) {
  auto infos = get("/infos");
  ASSERT_EQ(infos.status, 200) << infos.body;
  EXPECT_EQ(json_string(infos.body, "/uuid").size(), 36u) << infos.body;
  EXPECT_EQ(json_string(get("/infos").body, "/uuid"), json_string(infos.body, "/uuid"));

  EXPECT_EQ(json_string(get("/configuration/live_reload").body, "/enabled"), "true");
  EXPECT_EQ(put("/configuration/live_reload", R"({"enabled": false})").status, 204);
  EXPECT_EQ(json_string(get("/configuration/live_reload").body, "/enabled"), "false");
  EXPECT_EQ(put("/configuration/live_reload", R"({"enabled": true})").status, 204);
}

// users.create with the 2017 fields, get, list filters and views, exist(),
// update() of what get() returned.
TEST_F(ConfdClientCompat, UsersWithTheirFieldsRelationsAndFilters) {
  ASSERT_EQ(post("/contexts", R"({"name": "cc-internal", "type": "internal", "user_ranges": [{"start": "1000", "end": "1999"}]})").status, 201);
  auto created = post("/users", R"({"firstname": "Alice", "lastname": "Compat", "caller_id": "\"Alice C\" <1001>",
      "userfield": "team-a", "description": "desk 4", "timezone": "Europe/Paris", "username": "alice.c",
      "password": "secret12", "music_on_hold": "default", "preprocess_subroutine": "pre-alice",
      "call_record_enabled": true, "unknown_field_of_a_newer_xivo": 1})");
  ASSERT_EQ(created.status, 201) << created.body;
  auto uuid = json_string(created.body, "/uuid");
  auto uid = std::to_string(json_int(created.body, "/id"));
  EXPECT_EQ(json_string(created.body, "/caller_id"), "\"Alice C\" <1001>");
  EXPECT_EQ(json_string(created.body, "/userfield"), "team-a");
  EXPECT_EQ(json_string(created.body, "/username"), "alice.c");
  EXPECT_EQ(json_string(created.body, "/call_record_enabled"), "true");
  EXPECT_EQ(json_string(created.body, "/password"), "") << "the password is never read back";
  EXPECT_NE(json_string(created.body, "/links/0/href").find("/1.1/users/" + uid), std::string::npos) << created.body;

  // A user without caller_id gets XiVO's "firstname lastname".
  auto bob = post("/users", R"({"firstname": "Bob", "lastname": "Compat"})");
  ASSERT_EQ(bob.status, 201) << bob.body;
  EXPECT_EQ(json_string(bob.body, "/caller_id"), "\"Bob Compat\"");

  // lines.create, endpoints_sip.create({}) (generated credentials),
  // extensions.create, then the associations the client makes.
  auto line = post("/lines", R"({"context": "cc-internal"})");
  ASSERT_EQ(line.status, 201) << line.body;
  auto lid = std::to_string(json_int(line.body, "/id"));
  auto sip = post("/endpoints/sip", "{}");
  ASSERT_EQ(sip.status, 201) << sip.body;
  auto sid = std::to_string(json_int(sip.body, "/id"));
  EXPECT_EQ(json_string(sip.body, "/username").size(), 8u) << sip.body;
  EXPECT_EQ(json_string(sip.body, "/secret").size(), 8u) << sip.body;
  auto ext = post("/extensions", R"({"exten": "1001", "context": "cc-internal"})");
  ASSERT_EQ(ext.status, 201) << ext.body;
  auto eid = std::to_string(json_int(ext.body, "/id"));
  EXPECT_EQ(put("/lines/" + lid + "/endpoints/sip/" + sid).status, 204);   // lines(l).add_endpoint_sip
  EXPECT_EQ(put("/lines/" + lid + "/extensions/" + eid).status, 204);      // lines(l).add_extension
  EXPECT_EQ(put("/users/" + uid + "/lines/" + lid).status, 204);           // users(u).add_line
  // lines(l).list_extensions() / extensions(e).list_lines(): scripts read "total".
  auto lext = get("/lines/" + lid + "/extensions");
  EXPECT_EQ(json_int(lext.body, "/total"), 1) << lext.body;
  EXPECT_EQ(json_int(lext.body, "/items/0/extension_id"), std::stol(eid)) << lext.body;

  // get(): the relations XiVO embeds.
  auto u = get("/users/" + uuid);
  ASSERT_EQ(u.status, 200) << u.body;
  EXPECT_EQ(json_int(u.body, "/lines/0/id"), std::stol(lid)) << u.body;
  EXPECT_EQ(json_string(u.body, "/lines/0/extensions/0/exten"), "1001") << u.body;
  EXPECT_EQ(json_string(u.body, "/lines/0/endpoint_sip/username"), json_string(sip.body, "/username")) << u.body;
  EXPECT_EQ(json_string(u.body, "/forwards/busy/enabled"), "false") << u.body;
  EXPECT_EQ(json_string(u.body, "/services/dnd/enabled"), "false") << u.body;
  EXPECT_EQ(json_size(u.body, "/groups"), 0u) << u.body;
  auto l = get("/lines/" + lid);
  ASSERT_EQ(l.status, 200) << l.body;
  EXPECT_EQ(json_string(l.body, "/users/0/uuid"), uuid) << l.body;
  EXPECT_EQ(json_string(l.body, "/extensions/0/exten"), "1001") << l.body;
  EXPECT_EQ(json_int(l.body, "/endpoint_sip/id"), std::stol(sid)) << l.body;
  EXPECT_EQ(json_string(l.body, "/protocol"), "sip") << l.body;

  // update() of exactly what get() returned (relations, protocol, device_id...).
  EXPECT_EQ(update_from_get("users", u.body).status, 204);
  EXPECT_EQ(update_from_get("lines", l.body).status, 204);
  EXPECT_EQ(update_from_get("endpoints/sip", get("/endpoints/sip/" + sid).body).status, 204);
  EXPECT_EQ(update_from_get("extensions", get("/extensions/" + eid).body).status, 204);
  EXPECT_EQ(json_string(get("/users/" + uid).body, "/userfield"), "team-a");

  // list(**kwargs) filters XiVO supports, and view=directory / summary.
  auto by_exten = get("/users?exten=1001");
  EXPECT_EQ(json_int(by_exten.body, "/total"), 1) << by_exten.body;
  EXPECT_EQ(json_string(by_exten.body, "/items/0/uuid"), uuid);
  EXPECT_EQ(json_int(get("/users?context=cc-internal").body, "/total"), 1);
  EXPECT_EQ(json_int(get("/users?userfield=team-a").body, "/total"), 1);
  EXPECT_EQ(json_int(get("/lines?user_id=" + uid).body, "/total"), 1);
  EXPECT_EQ(json_int(get("/users?exten=1999").body, "/total"), 0);
  auto dir = get("/users?view=directory&search=compat");
  ASSERT_EQ(dir.status, 200) << dir.body;
  EXPECT_EQ(json_int(dir.body, "/total"), 2) << dir.body;
  EXPECT_EQ(json_string(dir.body, "/items/0/exten"), "1001") << dir.body;
  EXPECT_EQ(json_string(dir.body, "/items/0/context"), "cc-internal") << dir.body;
  EXPECT_EQ(json_int(dir.body, "/items/0/line_id"), std::stol(lid)) << dir.body;
  auto summary = get("/users?view=summary&exten=1001");
  EXPECT_EQ(json_string(summary.body, "/items/0/extension"), "1001") << summary.body;
  EXPECT_EQ(json_string(summary.body, "/items/0/protocol"), "sip") << summary.body;

  // users.exist(uuid): HEAD.
  EXPECT_EQ(read("HEAD", "/users/" + uuid).status, 200);
  EXPECT_EQ(read("HEAD", "/users/00000000-0000-4000-8000-000000000000").status, 404);

  // Reverse relations.
  auto lu = get("/lines/" + lid + "/users");                                  // lines(l).list_users
  EXPECT_EQ(json_int(lu.body, "/items/0/user_id"), std::stol(uid)) << lu.body;
  EXPECT_EQ(json_string(lu.body, "/items/0/main_user"), "true") << lu.body;
  auto le = get("/lines/" + lid + "/endpoints/sip");                          // lines(l).get_endpoint_sip
  EXPECT_EQ(json_int(le.body, "/endpoint_id"), std::stol(sid)) << le.body;
  EXPECT_EQ(json_string(le.body, "/endpoint"), "sip") << le.body;
  EXPECT_EQ(json_int(get("/endpoints/sip/" + sid + "/lines").body, "/line_id"), std::stol(lid));  // get_line
  EXPECT_EQ(json_int(get("/extensions/" + eid + "/line").body, "/line_id"), std::stol(lid));     // get_line
  EXPECT_EQ(json_int(get("/extensions/" + eid + "/lines").body, "/items/0/line_id"), std::stol(lid));
  EXPECT_EQ(json_int(get("/lines/" + lid + "/extensions").body, "/items/0/extension_id"), std::stol(eid));
  auto main_sip = get("/users/" + uuid + "/lines/main/associated/endpoints/sip");  // users.get_main_endpoint_sip
  ASSERT_EQ(main_sip.status, 200) << main_sip.body;
  EXPECT_EQ(json_string(main_sip.body, "/username"), json_string(sip.body, "/username"));
  EXPECT_FALSE(json_string(main_sip.body, "/secret").empty());
  EXPECT_EQ(json_int(get("/users/" + uuid + "/lines/" + lid + "/associated/endpoints/sip").body, "/id"), std::stol(sid));

  // users(u).update_lines([line]): PUT /users/{id}/lines {"lines": [{"id": ..}]}.
  auto line2 = post("/lines", R"({"context": "cc-internal"})");
  auto lid2 = std::to_string(json_int(line2.body, "/id"));
  EXPECT_EQ(put("/users/" + uid + "/lines", R"({"lines": [{"id": )" + lid2 + "}, {\"id\": " + lid + "}]}").status, 204);
  auto ul = get("/users/" + uid + "/lines");
  EXPECT_EQ(json_int(ul.body, "/total"), 2) << ul.body;
  EXPECT_EQ(json_int(ul.body, "/items/0/line_id"), std::stol(lid2)) << ul.body;
  EXPECT_EQ(json_string(ul.body, "/items/0/main_line"), "true") << ul.body;
  EXPECT_EQ(put("/users/" + uid + "/lines", R"({"lines": [{"id": )" + lid + "}]}").status, 204);
  EXPECT_EQ(json_int(get("/users/" + uid + "/lines").body, "/total"), 1);
  EXPECT_EQ(put("/users/" + uid + "/lines", R"({"lines": [{"id": 999999}]})").status, 400);
}

// lines.create / extensions.create / voicemails.create with a context that
// does not exist: the client raises with the joined messages, which name
// the field (not a database constraint).
TEST_F(ConfdClientCompat, UnknownContextIsAnInputErrorNamingTheField) {
  for (auto [path, body] : {std::pair{"/lines", R"({"context": "cc-nosuch"})"},
                            std::pair{"/extensions", R"({"exten": "1999", "context": "cc-nosuch"})"},
                            std::pair{"/voicemails", R"({"name": "x", "number": "1999", "context": "cc-nosuch"})"},
                            std::pair{"/trunks", R"({"context": "cc-nosuch"})"}}) {
    auto r = post(path, body);
    EXPECT_EQ(r.status, 400) << path;
    EXPECT_NE(r.body.find("Input Error - field 'context'"), std::string::npos) << path << ": " << r.body;
    EXPECT_EQ(r.body.find("constraint"), std::string::npos) << path << ": " << r.body;
  }
}

// xivo-dird-client's directories.lookup: a users entry's relations name the
// confd user, its main line and the server (GET /1.1/infos uuid).
TEST_F(ConfdClientCompat, DirdLookupRelationsNameTheUser) {
  ASSERT_EQ(post("/contexts", R"({"name": "cc-dird", "type": "internal", "user_ranges": [{"start": "4000", "end": "4999"}]})").status, 201);
  auto imp = csv("POST", "firstname,lastname,exten,context,line_protocol\nDora,Dirdsearch,4001,cc-dird,sip\n");
  ASSERT_EQ(imp.status, 201) << imp.body;
  auto r = d_->http("GET", "dird", "/0.1/directories/lookup/default?term=dirdsearch", "",
                    {{"Accept", "application/json"}, {"X-Auth-Token", d_->token()}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json_string(r.body, "/results/0/relations/user_uuid"), json_string(imp.body, "/created/0/user_uuid")) << r.body;
  EXPECT_EQ(json_int(r.body, "/results/0/relations/user_id"), json_int(imp.body, "/created/0/user_id")) << r.body;
  EXPECT_EQ(json_int(r.body, "/results/0/relations/endpoint_id"), json_int(imp.body, "/created/0/line_id")) << r.body;
  EXPECT_EQ(json_string(r.body, "/results/0/relations/xivo_id"), json_string(get("/infos").body, "/uuid")) << r.body;
  EXPECT_EQ(json_string(r.body, "/results/0/column_values/1"), "4001") << r.body;
}

// users(u).add_voicemail/get_voicemail/remove_voicemail,
// voicemails(v).list_users, call permissions from both sides.
TEST_F(ConfdClientCompat, VoicemailAndCallPermissionRelations) {
  ASSERT_EQ(post("/contexts", R"({"name": "cc-vm", "type": "internal"})").status, 201);
  auto u = post("/users", R"({"firstname": "Vera"})");
  auto uid = std::to_string(json_int(u.body, "/id"));
  auto vm = post("/voicemails", R"({"number": "2001", "context": "cc-vm", "name": "Vera"})");
  ASSERT_EQ(vm.status, 201) << vm.body;
  auto vid = std::to_string(json_int(vm.body, "/id"));
  EXPECT_EQ(get("/users/" + uid + "/voicemails").status, 404);
  EXPECT_EQ(put("/users/" + uid + "/voicemails/" + vid).status, 204);
  auto uv = get("/users/" + uid + "/voicemails");
  ASSERT_EQ(uv.status, 200) << uv.body;
  EXPECT_EQ(json_int(uv.body, "/voicemail_id"), std::stol(vid)) << uv.body;
  EXPECT_EQ(json_int(uv.body, "/user_id"), std::stol(uid)) << uv.body;
  EXPECT_EQ(json_string(get("/users/" + uid).body, "/voicemail/name"), "Vera");
  auto vu = get("/voicemails/" + vid + "/users");
  EXPECT_EQ(json_int(vu.body, "/items/0/user_id"), std::stol(uid)) << vu.body;
  EXPECT_EQ(json_int(get("/voicemails?user_id=" + uid).body, "/total"), 1);
  EXPECT_EQ(del("/users/" + uid + "/voicemails").status, 204);
  EXPECT_EQ(get("/users/" + uid + "/voicemails").status, 404);

  auto cp = post("/callpermissions", R"({"name": "cc-no-intl", "mode": "deny", "extensions": ["00."]})");
  auto cid = std::to_string(json_int(cp.body, "/id"));
  EXPECT_EQ(put("/users/" + uid + "/callpermissions/" + cid).status, 204);
  auto ucp = get("/users/" + uid + "/callpermissions");
  EXPECT_EQ(json_int(ucp.body, "/items/0/call_permission_id"), std::stol(cid)) << ucp.body;
  EXPECT_EQ(json_int(ucp.body, "/total"), 1) << ucp.body;
  auto cpu = get("/callpermissions/" + cid + "/users");
  EXPECT_EQ(json_int(cpu.body, "/items/0/user_id"), std::stol(uid)) << cpu.body;
  EXPECT_EQ(del("/users/" + uid + "/callpermissions/" + cid).status, 204);
}

// users(u).update_funckey/update_funckeys/list_funckeys, funckeys (templates)
// create/get/update_template_funckey/delete_template_funckey, add/remove_funckey_template.
TEST_F(ConfdClientCompat, FunctionKeysAndTemplates) {
  auto u = post("/users", R"({"firstname": "Fabian"})");
  auto uuid = json_string(u.body, "/uuid");
  EXPECT_EQ(put("/users/" + uuid + "/funckeys/1", R"({"blf": false, "label": "Park", "destination": {"type": "parking"}})").status, 204);
  EXPECT_EQ(put("/users/" + uuid + "/funckeys",
                R"({"keys": {"2": {"blf": true, "destination": {"type": "service", "service": "enablednd"}},
                             "3": {"label": "Lot", "destination": {"type": "parking"}}}})").status, 204);
  auto keys = get("/users/" + uuid + "/funckeys");
  ASSERT_EQ(keys.status, 200) << keys.body;
  EXPECT_EQ(json_string(keys.body, "/keys/1/label"), "") << "the bulk PUT replaced the whole set: " << keys.body;
  EXPECT_EQ(json_string(keys.body, "/keys/2/blf"), "true") << keys.body;
  EXPECT_EQ(json_string(keys.body, "/keys/3/destination/type"), "parking") << keys.body;
  EXPECT_EQ(put("/users/" + uuid + "/funckeys", R"({"keys": {"4": {"destination": {"type": "teleport"}}}})").status, 400);

  auto tpl = post("/funckeys/templates", R"({"name": "reception", "keys": {"5": {"label": "Ops", "destination": {"type": "custom", "exten": "1234"}}}})");
  ASSERT_EQ(tpl.status, 201) << tpl.body;
  auto tid = std::to_string(json_int(tpl.body, "/id"));
  EXPECT_EQ(json_string(get("/funckeys/templates/" + tid).body, "/name"), "reception");
  EXPECT_EQ(json_int(get("/funckeys/templates").body, "/total"), 1);
  EXPECT_EQ(put("/funckeys/templates/" + tid + "/6", R"({"destination": {"type": "parking"}})").status, 204);
  EXPECT_EQ(json_string(get("/funckeys/templates/" + tid + "/6").body, "/destination/type"), "parking");
  EXPECT_EQ(del("/funckeys/templates/" + tid + "/6").status, 204);
  EXPECT_EQ(get("/funckeys/templates/" + tid + "/6").status, 404);
  EXPECT_EQ(put("/users/" + uuid + "/funckeys/templates/" + tid).status, 204);
  auto merged = get("/users/" + uuid + "/funckeys");
  EXPECT_EQ(json_string(merged.body, "/keys/5/inherited"), "true") << merged.body;
  EXPECT_EQ(json_string(merged.body, "/keys/2/inherited"), "false") << merged.body;
  EXPECT_EQ(del("/users/" + uuid + "/funckeys/templates/" + tid).status, 204);
  EXPECT_EQ(json_string(get("/users/" + uuid + "/funckeys").body, "/keys/5/label"), "");
  EXPECT_EQ(del("/funckeys/templates/" + tid).status, 204);
}

// users(u).update_fallbacks/list_fallbacks.
TEST_F(ConfdClientCompat, Fallbacks) {
  auto u = post("/users", R"({"firstname": "Flo"})");
  auto uuid = json_string(u.body, "/uuid");
  auto empty = get("/users/" + uuid + "/fallbacks");
  ASSERT_EQ(empty.status, 200) << empty.body;
  auto e = parse(empty.body);
  ASSERT_TRUE(e.IsObject() && e.HasMember("busy_destination")) << empty.body;
  EXPECT_TRUE(e["busy_destination"].IsNull()) << empty.body;
  EXPECT_EQ(put("/users/" + uuid + "/fallbacks", R"({"noanswer_destination": {"type": "hangup"}, "busy_destination": null})").status, 204);
  auto fb = get("/users/" + uuid + "/fallbacks");
  EXPECT_EQ(json_string(fb.body, "/noanswer_destination/type"), "hangup") << fb.body;
  EXPECT_EQ(json_string(get("/users/" + uuid).body, "/fallbacks/noanswer_destination/type"), "hangup");
}

// lines_sip.create/get/list/update/delete (the legacy resource).
TEST_F(ConfdClientCompat, LinesSip) {
  ASSERT_EQ(post("/contexts", R"({"name": "cc-legacy", "type": "internal"})").status, 201);
  auto created = post("/lines_sip", R"({"context": "cc-legacy", "device_slot": 1, "callerid": "\"Legacy\" <1500>"})");
  ASSERT_EQ(created.status, 201) << created.body;
  auto id = std::to_string(json_int(created.body, "/id"));
  EXPECT_FALSE(json_string(created.body, "/username").empty()) << created.body;
  EXPECT_FALSE(json_string(created.body, "/secret").empty()) << created.body;
  EXPECT_EQ(json_string(created.body, "/callerid"), "\"Legacy\" <1500>") << created.body;
  EXPECT_EQ(json_string(created.body, "/provisioning_extension").size(), 6u) << created.body;
  auto got = get("/lines_sip/" + id);
  ASSERT_EQ(got.status, 200) << got.body;
  auto all = get("/lines_sip");
  EXPECT_NE(all.body.find("\"username\": \"" + json_string(created.body, "/username") + "\""), std::string::npos) << all.body;
  EXPECT_EQ(json_int(all.body, "/total"), static_cast<long>(json_size(all.body, "/items")));
  EXPECT_EQ(update_from_get("lines_sip", got.body).status, 204);
  EXPECT_EQ(put("/lines_sip/" + id, R"({"context": "cc-legacy", "username": "legacy1500"})").status, 204);
  EXPECT_EQ(json_string(get("/lines_sip/" + id).body, "/username"), "legacy1500");
  EXPECT_EQ(json_string(get("/lines/" + id).body, "/name"), "legacy1500");
  EXPECT_EQ(del("/lines_sip/" + id).status, 204);
  EXPECT_EQ(get("/lines_sip/" + id).status, 404);
}

// trunks: get() then update() of the same object, the endpoint from both sides.
TEST_F(ConfdClientCompat, TrunksRoundTrip) {
  ASSERT_EQ(post("/contexts", R"({"name": "cc-out", "type": "outcall"})").status, 201);
  auto t = post("/trunks", R"({"context": "cc-out"})");
  ASSERT_EQ(t.status, 201) << t.body;
  auto tid = std::to_string(json_int(t.body, "/id"));
  auto sip = post("/endpoints/sip", R"({"username": "cc-trunk", "secret": "trunkpw"})");
  auto sid = std::to_string(json_int(sip.body, "/id"));
  EXPECT_EQ(put("/trunks/" + tid + "/endpoints/sip/" + sid).status, 204);
  EXPECT_EQ(json_int(get("/trunks/" + tid + "/endpoints/sip").body, "/endpoint_id"), std::stol(sid));
  EXPECT_EQ(json_int(get("/endpoints/sip/" + sid + "/trunks").body, "/trunk_id"), std::stol(tid));
  EXPECT_EQ(json_int(get("/endpoints/sip/" + sid).body, "/trunk/id"), std::stol(tid));
  EXPECT_EQ(update_from_get("trunks", get("/trunks/" + tid).body).status, 204);
}

// users.import_csv/update_csv/export_csv: XiVO's answers (seed 5.33.1).
TEST_F(ConfdClientCompat, UsersCsvImportUpdateExport) {
  ASSERT_EQ(post("/contexts", R"({"name": "cc-csv", "type": "internal", "user_ranges": [{"start": "3000", "end": "3999"}]})").status, 201);
  std::string file =
      "firstname,lastname,username,password,exten,context,line_protocol,entity_id\n"
      "Carla,Csv,carla.csv,carlapass,3001,cc-csv,sip,1\n"
      "Dan,Csv,,,,,,1\n";
  auto imp = csv("POST", file);
  ASSERT_EQ(imp.status, 201) << imp.body;
  EXPECT_EQ(json_int(imp.body, "/created/0/row_number"), 1) << imp.body;
  EXPECT_EQ(json_int(imp.body, "/created/1/row_number"), 2) << imp.body;
  auto carla = json_string(imp.body, "/created/0/user_uuid");
  EXPECT_EQ(carla.size(), 36u) << imp.body;
  EXPECT_GT(json_int(imp.body, "/created/0/line_id"), 0) << imp.body;
  EXPECT_EQ(json_string(get("/users/" + carla).body, "/username"), "carla.csv");

  auto bad = csv("POST", "firstname,ring_seconds\nOk,10\nBad,7\n");
  ASSERT_EQ(bad.status, 400) << bad.body;
  EXPECT_EQ(json_int(bad.body, "/errors/0/details/row_number"), 2) << bad.body;
  EXPECT_FALSE(json_string(bad.body, "/errors/0/message").empty()) << bad.body;
  EXPECT_GT(json_int(bad.body, "/errors/0/timestamp"), 0) << bad.body;
  EXPECT_EQ(json_string(bad.body, "/errors/0/details/row/firstname"), "Bad") << bad.body;

  // An SCCP row does not reject the file: its user is created without a line.
  auto sccp = csv("POST", "firstname,exten,context,line_protocol\nSid,3002,cc-csv,sccp\nSam,3003,cc-csv,sip\n");
  ASSERT_EQ(sccp.status, 201) << sccp.body;
  EXPECT_EQ(json_size(sccp.body, "/created"), 2u) << sccp.body;
  EXPECT_GT(json_int(sccp.body, "/created/1/line_id"), 0) << sccp.body;

  auto upd = csv("PUT", "uuid,firstname,userfield\n" + carla + ",Carla2,from-csv\n");
  ASSERT_EQ(upd.status, 201) << upd.body;
  EXPECT_EQ(json_int(upd.body, "/updated/0/row_number"), 1) << upd.body;
  EXPECT_EQ(json_string(upd.body, "/updated/0/user_uuid"), carla) << upd.body;
  EXPECT_EQ(json_string(get("/users/" + carla).body, "/userfield"), "from-csv");

  auto exp = d_->http("GET", "confd", "/1.1/users/export", "",
                      {{"Accept", "text/csv; charset=utf-8"}, {"X-Auth-Token", d_->token()}});
  ASSERT_EQ(exp.status, 200) << exp.body;
  auto header = exp.body.substr(0, exp.body.find('\r'));
  for (auto* col : {"uuid", "entity_id", "username", "userfield", "exten", "context", "line_protocol"})
    EXPECT_NE(("," + header + ",").find(std::string(",") + col + ","), std::string::npos) << col << " in " << header;
  EXPECT_NE(exp.body.find("carla.csv"), std::string::npos);
}

}  // namespace

namespace {

// wizard.get/discover/create as xivo-confd-client sends them (WizardCommand:
// GET /1.1/wizard, GET /1.1/wizard/discover, POST /1.1/wizard with the body)
// on a server that has no context yet, then what a script does next: log in
// as root with the wizard's password and create a user in `default`.
TEST(ConfdWizard, CreatesXivosContextsAndTheRootAccountOnce) {
  Dialtoned d({.plugin_files = {{"50-confd.conf", "[plugin]\nname = api.confd\n"}}});
  ASSERT_TRUE(d.ready()) << d.error();
  auto call = [&](const std::string& method, const std::string& path, const std::string& body = "") {
    dialtone::testing::Headers h{{"Accept", "application/json"}, {"X-Auth-Token", d.token()}};
    if (!body.empty()) h["Content-Type"] = "application/json";
    return d.http(method, "confd", "/1.1" + path, body, h);
  };
  auto state = call("GET", "/wizard");
  ASSERT_EQ(state.status, 200) << state.body;
  EXPECT_EQ(json_string(state.body, "/configured"), "false");
  auto discover = call("GET", "/wizard/discover");
  ASSERT_EQ(discover.status, 200) << discover.body;
  EXPECT_FALSE(json_string(discover.body, "/hostname").empty()) << discover.body;
  auto dd = parse(discover.body);
  EXPECT_TRUE(dd["interfaces"].IsArray() && dd["gateways"].IsArray() && dd["nameservers"].IsArray()) << discover.body;

  auto bad = call("POST", "/wizard", R"({"admin_password": "x", "license": false, "timezone": "America/Montreal"})");
  ASSERT_EQ(bad.status, 400) << bad.body;
  for (auto* field : {"'admin_password'", "'license'", "'network'", "'context_internal'"})
    EXPECT_NE(bad.body.find(field), std::string::npos) << field << " " << bad.body;
  EXPECT_EQ(json_string(call("GET", "/wizard").body, "/configured"), "false") << "a refused wizard changes nothing";

  const std::string body = R"({"admin_password": "Wiz4rd-pw", "license": true, "language": "fr_FR",
      "timezone": "America/Montreal", "entity_name": "Acme Inc",
      "network": {"hostname": "pbx", "domain": "example.com", "interface": "eth0", "ip_address": "10.0.0.2",
                  "netmask": "255.255.255.0", "gateway": "10.0.0.1", "nameservers": ["10.0.0.53"]},
      "context_internal": {"display_name": "Internal", "number_start": "1000", "number_end": "1999"},
      "context_incall": {"number_start": "4000", "number_end": "4099", "did_length": 4},
      "context_outcall": {"display_name": "Out"}})";
  auto created = call("POST", "/wizard", body);
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(json_string(created.body, "/admin_username"), "root");
  EXPECT_EQ(json_string(created.body, "/xivo_uuid"), json_string(call("GET", "/infos").body, "/uuid"));
  EXPECT_EQ(json_string(created.body, "/network/ip_address"), "10.0.0.2");
  EXPECT_EQ(created.body.find("Wiz4rd-pw"), std::string::npos) << "the password is not read back";

  EXPECT_EQ(json_string(call("GET", "/wizard").body, "/configured"), "true");
  EXPECT_EQ(call("GET", "/wizard/discover").status, 403);
  auto again = call("POST", "/wizard", body);
  EXPECT_EQ(again.status, 403) << again.body;
  EXPECT_NE(again.body.find("already configured"), std::string::npos) << again.body;

  auto contexts = parse(call("GET", "/contexts?order=name").body);
  ASSERT_EQ(contexts["total"].GetInt(), 3) << dump(contexts);
  const auto& items = contexts["items"];
  EXPECT_STREQ(items[0]["name"].GetString(), "default");
  EXPECT_STREQ(items[0]["type"].GetString(), "internal");
  EXPECT_STREQ(items[0]["label"].GetString(), "Internal");
  EXPECT_STREQ(items[0]["user_ranges"][0]["start"].GetString(), "1000");
  EXPECT_STREQ(items[0]["user_ranges"][0]["end"].GetString(), "1999");
  EXPECT_STREQ(items[1]["name"].GetString(), "from-extern");
  EXPECT_STREQ(items[1]["type"].GetString(), "incall");
  EXPECT_STREQ(items[1]["label"].GetString(), "Incalls");
  EXPECT_EQ(items[1]["incall_ranges"][0]["did_length"].GetInt(), 4);
  EXPECT_STREQ(items[2]["name"].GetString(), "to-extern");
  EXPECT_STREQ(items[2]["type"].GetString(), "outcall");
  auto includes = call("GET", "/contexts/" + std::to_string(items[0]["id"].GetInt()) + "/contexts");
  EXPECT_EQ(json_string(includes.body, "/items/0/name"), "to-extern") << includes.body;

  // root logs in with the wizard's password and has every ACL.
  auto root = d.token_for("root", "Wiz4rd-pw");
  ASSERT_FALSE(root.empty()) << d.output();
  auto listed = d.http("GET", "confd", "/1.1/users", "", {{"X-Auth-Token", root}});
  EXPECT_EQ(listed.status, 200) << listed.body;
  // The internal range is the wizard's: 1001 fits, 2001 does not.
  dialtone::testing::Headers h{{"Content-Type", "application/json"}, {"X-Auth-Token", root}};
  EXPECT_EQ(d.http("POST", "confd", "/1.1/extensions", R"({"exten": "1001", "context": "default"})", h).status, 201);
  EXPECT_EQ(d.http("POST", "confd", "/1.1/extensions", R"({"exten": "2001", "context": "default"})", h).status, 400);
}

// A server that already has contexts is configured: the wizard does not run.
TEST(ConfdWizard, ServerWithContextsIsConfigured) {
  Dialtoned d({.plugin_files = {{"50-confd.conf", "[plugin]\nname = api.confd\n"}}});
  ASSERT_TRUE(d.ready()) << d.error();
  dialtone::testing::Headers h{{"Content-Type", "application/json"}, {"X-Auth-Token", d.token()}};
  ASSERT_EQ(d.http("POST", "confd", "/1.1/contexts", R"({"name": "office", "type": "internal"})", h).status, 201);
  EXPECT_EQ(json_string(d.http("GET", "confd", "/1.1/wizard", "", h).body, "/configured"), "true");
  EXPECT_EQ(d.http("POST", "confd", "/1.1/wizard", "{}", h).status, 403);
}

}  // namespace
