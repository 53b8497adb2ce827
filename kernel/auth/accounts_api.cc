// Accounts over REST, as wazo-auth's /0.1/users of the XiVO era: create
// (optionally with the uuid of the PBX user, so `me` ACLs reach that user's
// data), list, read, delete, change password; plus /0.1/backends. ACLs are
// set per account ("acls" in the body, PUT /0.1/users/{uuid}/acls): Dialtone
// has no policies.
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "kernel/auth/auth_internal.h"
#include "kernel/auth/auth_service.h"

namespace dialtone::kernel {
namespace {

using sdk::HttpRequest;
using sdk::HttpResponse;
using namespace auth_detail;

constexpr const char* kUserColumns =
    "uuid::text AS uuid, username, firstname, lastname, email, enabled, backend, acls";

void write_user(rapidjson::Writer<rapidjson::StringBuffer>& w, const sdk::QueryResult& q, std::size_t i) {
  auto str_or_null = [&](const char* key, const char* col) {
    w.Key(key);
    if (q.rows[i][q.column(col)]) w.String(q.get(i, col).c_str());
    else w.Null();
  };
  w.StartObject();
  str_or_null("uuid", "uuid");
  str_or_null("username", "username");
  str_or_null("firstname", "firstname");
  str_or_null("lastname", "lastname");
  w.Key("enabled");
  w.Bool(q.get(i, "enabled") == "t");
  w.Key("emails");
  w.StartArray();
  if (!q.get(i, "email").empty()) {
    w.StartObject();
    w.Key("address");
    w.String(q.get(i, "email").c_str());
    w.Key("main");
    w.Bool(true);
    w.Key("confirmed");
    w.Bool(true);
    w.EndObject();
  }
  w.EndArray();
  w.Key("backend");
  w.String(q.get(i, "backend").c_str());
  w.Key("acls");
  w.StartArray();
  for (auto& a : sdk::parse_text_array(q.get(i, "acls"))) w.String(a.c_str());
  w.EndArray();
  w.EndObject();
}

std::string user_json(const sdk::QueryResult& q) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  write_user(w, q, 0);
  return sb.GetString();
}

std::optional<std::vector<std::string>> string_list(const rapidjson::Value& v) {
  if (!v.IsArray()) return std::nullopt;
  std::vector<std::string> out;
  for (auto& e : v.GetArray()) {
    if (!e.IsString()) return std::nullopt;
    out.emplace_back(e.GetString());
  }
  return out;
}

sdk::Route route(const char* method, std::string path, std::string acl, std::string summary,
                 std::function<HttpResponse(const HttpRequest&)> h) {
  sdk::Route r;
  r.method = method;
  r.path = std::move(path);
  r.acl = std::move(acl);
  r.summary = std::move(summary);
  r.handler = std::move(h);
  return r;
}

}  // namespace

std::vector<sdk::Route> AuthService::account_routes() {
  std::vector<sdk::Route> out;

  auto backends = route("GET", "/0.1/backends", "", "Backends a token can be created with",
                        [this](const HttpRequest&) {
                          rapidjson::StringBuffer sb;
                          rapidjson::Writer<rapidjson::StringBuffer> w(sb);
                          w.StartObject();
                          w.Key("data");
                          w.StartArray();
                          for (auto* b : {"dialtone_user", "dialtone_service", "wazo_user", "xivo_admin",
                                          "xivo_service", "xivo_user"})
                            w.String(b);
                          if (!config_.ldap_uri.empty()) w.String("ldap_user");
                          w.EndArray();
                          w.EndObject();
                          return HttpResponse::json(200, sb.GetString());
                        });
  backends.auth = sdk::RouteAuth::none;
  out.push_back(std::move(backends));

  out.push_back(route("POST", "/0.1/users", "auth.users.create", "Create an account", [this](const HttpRequest& req) {
    rapidjson::Document d;
    d.Parse(req.body.c_str());
    if (d.HasParseError() || !d.IsObject()) return auth_error(400, "Invalid body: expected a JSON object");
    auto str = [&](const char* k) -> std::optional<std::string> {
      if (!d.HasMember(k) || d[k].IsNull()) return std::nullopt;
      if (!d[k].IsString()) return std::string("\x01");
      return std::string(d[k].GetString());
    };
    auto username = str("username"), password = str("password"), uuid = str("uuid");
    for (auto* k : {"username", "password", "uuid", "firstname", "lastname", "email_address", "backend"})
      if (str(k) && *str(k) == "\x01") return auth_error(400, std::string("Invalid '") + k + "': expected a string");
    if (!username || username->empty() || username->size() > 128)
      return auth_error(400, "Invalid 'username': 1 to 128 characters required");
    if (!password || password->empty()) return auth_error(400, "Invalid 'password': required, not empty");
    if (uuid && !is_uuid(*uuid)) return auth_error(400, "Invalid 'uuid': not a UUID");
    std::vector<std::string> acls;
    if (d.HasMember("acls")) {
      auto l = string_list(d["acls"]);
      if (!l) return auth_error(400, "Invalid 'acls': expected a list of strings");
      acls = *l;
    }
    auto backend = backend_alias(str("backend").value_or("dialtone_user"));
    if (backend != "dialtone_user" && backend != "dialtone_service")
      return auth_error(400, "Invalid 'backend': use wazo_user (dialtone_user) or xivo_service (dialtone_service)");
    auto r = store_.exec(
        "INSERT INTO auth_user (uuid, username, password_hash, backend, acls, firstname, lastname, email) "
        "VALUES ($1::uuid, $2, $3, $4, $5::text[], $6, $7, $8) RETURNING " + std::string(kUserColumns),
        {uuid.value_or(new_uuid()), *username, hash_password(*password), backend, sdk::text_array(acls), str("firstname"),
         str("lastname"), str("email_address")});
    if (!r) {
      if (r.error().code == sdk::ErrorCode::conflict)
        return auth_error(409, "An account with this username or uuid already exists");
      log_.error("auth: cannot create an account: " + r.error().message);
      return auth_error(503, "Account store unavailable; see the server log");
    }
    log_.info("auth: created account \"" + *username + "\" (" + r->get(0, "uuid") + ")");
    return HttpResponse::json(200, user_json(*r));
  }));

  out.push_back(route("GET", "/0.1/users", "auth.users.read", "List accounts", [this](const HttpRequest& req) {
    std::string search;
    if (auto it = req.query.find("search"); it != req.query.end()) search = it->second;
    if (auto it = req.query.find("username"); it != req.query.end()) search = it->second;
    long limit = -1, offset = 0;
    try {
      if (auto it = req.query.find("limit"); it != req.query.end()) limit = std::stol(it->second);
      if (auto it = req.query.find("offset"); it != req.query.end()) offset = std::stol(it->second);
    } catch (...) {
      return auth_error(400, "Invalid 'limit' or 'offset': expected integers");
    }
    std::string sql = "SELECT " + std::string(kUserColumns) +
                      ", count(*) OVER () AS filtered, (SELECT count(*) FROM auth_user) AS total FROM auth_user "
                      "WHERE $1 = '' OR username ILIKE '%' || $1 || '%' OR email ILIKE '%' || $1 || '%' ORDER BY username";
    if (limit >= 0) sql += " LIMIT " + std::to_string(limit);
    if (offset > 0) sql += " OFFSET " + std::to_string(offset);
    auto r = store_.exec(sql, {search});
    if (!r) return auth_error(503, "Account store unavailable; see the server log");
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.StartObject();
    w.Key("total");
    w.Int64(r->rows.empty() ? 0 : std::stol(r->get(0, "total")));
    w.Key("filtered");
    w.Int64(r->rows.empty() ? 0 : std::stol(r->get(0, "filtered")));
    w.Key("items");
    w.StartArray();
    for (std::size_t i = 0; i < r->rows.size(); ++i) write_user(w, *r, i);
    w.EndArray();
    w.EndObject();
    return HttpResponse::json(200, sb.GetString());
  }));

  auto find = [this](const HttpRequest& req) -> sdk::Result<sdk::QueryResult> {
    const auto& uuid = req.params.at("user_uuid");
    if (!is_uuid(uuid)) return sdk::Error::not_found("no such account");
    auto r = store_.exec("SELECT " + std::string(kUserColumns) + " FROM auth_user WHERE uuid = $1::uuid", {uuid});
    if (!r) return r.error();
    if (r->rows.empty()) return sdk::Error::not_found("no such account");
    return std::move(*r);
  };
  auto failed = [](const sdk::Error& e, const std::string& uuid) {
    if (e.code == sdk::ErrorCode::not_found) return auth_error(404, "No such user: " + uuid);
    return auth_error(503, "Account store unavailable; see the server log");
  };

  out.push_back(route("GET", "/0.1/users/{user_uuid}", "auth.users.{user_uuid}.read", "Read an account",
                      [find, failed](const HttpRequest& req) {
                        auto r = find(req);
                        if (!r) return failed(r.error(), req.params.at("user_uuid"));
                        return HttpResponse::json(200, user_json(*r));
                      }));

  out.push_back(route("DELETE", "/0.1/users/{user_uuid}", "auth.users.{user_uuid}.delete",
                      "Delete an account and revoke its tokens", [this, find, failed](const HttpRequest& req) {
                        auto r = find(req);
                        if (!r) return failed(r.error(), req.params.at("user_uuid"));
                        const auto& uuid = req.params.at("user_uuid");
                        auto tokens = store_.exec("SELECT token::text AS t FROM auth_token WHERE auth_id = $1::uuid", {uuid});
                        if (tokens)
                          for (std::size_t i = 0; i < tokens->rows.size(); ++i) (void)revoke(tokens->get(i, "t"));
                        if (!store_.exec("DELETE FROM auth_user WHERE uuid = $1::uuid", {uuid}))
                          return auth_error(503, "Account store unavailable; see the server log");
                        log_.info("auth: deleted account " + uuid);
                        return HttpResponse::empty(204);
                      }));

  out.push_back(route("PUT", "/0.1/users/{user_uuid}/password", "auth.users.{user_uuid}.password.edit",
                      "Change an account's password ({old_password, new_password})",
                      [this, find, failed](const HttpRequest& req) {
                        auto r = find(req);
                        if (!r) return failed(r.error(), req.params.at("user_uuid"));
                        rapidjson::Document d;
                        d.Parse(req.body.c_str());
                        if (d.HasParseError() || !d.IsObject() || !d.HasMember("old_password") ||
                            !d["old_password"].IsString() || !d.HasMember("new_password") ||
                            !d["new_password"].IsString() || d["new_password"].GetStringLength() == 0)
                          return auth_error(400, "Invalid body: expected {\"old_password\": ..., \"new_password\": ...}");
                        auto row = store_.exec("SELECT password_hash FROM auth_user WHERE uuid = $1::uuid",
                                               {req.params.at("user_uuid")});
                        if (!row || row->rows.empty() ||
                            !verify_password(d["old_password"].GetString(), row->get(0, "password_hash")))
                          return auth_error(401, "Authentication failed: wrong old password");
                        if (!store_.exec("UPDATE auth_user SET password_hash = $2 WHERE uuid = $1::uuid",
                                         {req.params.at("user_uuid"), hash_password(d["new_password"].GetString())}))
                          return auth_error(503, "Account store unavailable; see the server log");
                        return HttpResponse::empty(204);
                      }));

  out.push_back(route("PUT", "/0.1/users/{user_uuid}/acls", "auth.users.{user_uuid}.acls.update",
                      "Replace an account's ACLs ({\"acls\": [...]}); new tokens carry them",
                      [this, find, failed](const HttpRequest& req) {
                        auto r = find(req);
                        if (!r) return failed(r.error(), req.params.at("user_uuid"));
                        rapidjson::Document d;
                        d.Parse(req.body.c_str());
                        std::optional<std::vector<std::string>> acls;
                        if (!d.HasParseError() && d.IsObject() && d.HasMember("acls")) acls = string_list(d["acls"]);
                        if (!acls) return auth_error(400, "Invalid body: expected {\"acls\": [\"confd.users.me.#\", ...]}");
                        if (!store_.exec("UPDATE auth_user SET acls = $2::text[] WHERE uuid = $1::uuid",
                                         {req.params.at("user_uuid"), sdk::text_array(*acls)}))
                          return auth_error(503, "Account store unavailable; see the server log");
                        return HttpResponse::empty(204);
                      }));
  return out;
}

}  // namespace dialtone::kernel
