// Association routes read from either side, as XiVO serves them: a line's
// users and endpoint, an endpoint's line or trunk, an extension's lines, a
// voicemail's or call permission's users, a user's voicemail (one object),
// its lines set at once, its main line's SIP endpoint and its fallbacks.
#include <algorithm>

#include "plugins/api/confd/confd_api.h"

namespace dialtone::plugins::api::confd {
namespace {

using sdk::HttpRequest;
using sdk::HttpResponse;

// The jsonb of one association row: its id columns and XiVO's two links.
std::string assoc_json(const std::string& base, std::initializer_list<std::pair<const char*, const char*>> cols,
                       const std::string& links) {
  std::string o = "jsonb_build_object(";
  for (auto& [name, sql] : cols) o += std::string("'") + name + "', " + sql + ", ";
  return o + "'links', jsonb_build_array(" + links + "))";
}

void require(sdk::Store& store, const std::string& table, const std::string& singular, long id) {
  if (read(store, "SELECT 1 FROM " + table + " WHERE id = $1", {std::to_string(id)}).rows.empty())
    throw ApiError{404, {not_found(singular, "id", std::to_string(id))}};
}


}  // namespace

void ConfdApi::relation_routes(const AddRoute& add) {
  auto store = [this]() -> sdk::Store& { return engine_->store(); };
  auto resource = [this](const std::string& path) {
    for (auto& r : resources_)
      if (r->path == path) return r;
    return std::shared_ptr<Resource>();
  };

  add("GET", "/lines/{line_id}/users", "confd.lines.{line_id}.users.read", "Users of a line",
      [store](const HttpRequest& req) {
        long lid = parse_id("Line", req.params.at("line_id"));
        require(store(), "confd_lines", "Line", lid);
        auto b = base_url(req);
        auto q = read(store(),
                      "SELECT count(*) AS n, coalesce(jsonb_agg(" +
                          assoc_json("$2", {{"user_id", "user_id"}, {"line_id", "line_id"}, {"main_user", "main_user"},
                                             {"main_line", "main_line"}},
                                     sql_link("$2::text", "lines", "lines", "line_id") + ", " +
                                         sql_link("$2::text", "users", "users", "user_id")) +
                          " ORDER BY main_user DESC, user_id), '[]') AS j FROM confd_user_lines WHERE line_id = $1",
                      {std::to_string(lid), b});
        return HttpResponse::json(200, items_body(q));
      });

  // line <-> SIP endpoint, trunk <-> SIP endpoint and trunk <-> custom
  // endpoint, one object from either side.
  struct EndpointSide {
    const char* owner_path;
    const char* owner_param;
    const char* table;
    const char* owner;
    const char* key;
    const char* kind;      // "sip": /endpoints/sip, endpoint_sip_id
    const char* noun;      // "SIPEndpoint"
    const char* described; // "SIP endpoint"
  };
  for (auto e : {EndpointSide{"lines", "line_id", "confd_lines", "Line", "line_id", "sip", "SIPEndpoint", "SIP endpoint"},
                 EndpointSide{"trunks", "trunk_id", "confd_trunks", "Trunk", "trunk_id", "sip", "SIPEndpoint",
                              "SIP endpoint"},
                 EndpointSide{"trunks", "trunk_id", "confd_trunks", "Trunk", "trunk_id", "custom", "CustomEndpoint",
                              "custom endpoint"}}) {
    std::string K = e.kind, column = "endpoint_" + K + "_id";
    auto answer = [store, e, K, column](const HttpRequest& req, const std::string& where, long id,
                                        const std::string& what) {
      std::string b = base_url(req), kind = "'" + K + "'";
      auto q = read(store(),
                    std::string("SELECT ") +
                        assoc_json("$2", {{e.key, "id"}, {"endpoint_id", column.c_str()}, {"endpoint", kind.c_str()}},
                                   sql_link("$2::text", e.owner_path, e.owner_path, "id") + ", " +
                                       sql_link("$2::text", "endpoint_" + K, "endpoints/" + K, column)) +
                        " AS j FROM " + e.table + " WHERE " + where + " = $1 AND " + column + " IS NOT NULL",
                    {std::to_string(id), b});
      if (q.rows.empty())
        throw ApiError{404, {std::string("Resource Not Found - ") + e.owner + "Endpoint was not found (" + what + ")"}};
      return HttpResponse::json(200, q.get(0, "j"));
    };
    std::string P = e.owner_param;
    add("GET", std::string("/") + e.owner_path + "/{" + P + "}/endpoints/" + K,
        std::string("confd.") + e.owner_path + ".{" + P + "}.endpoints." + K + ".read",
        std::string("The ") + e.described + " of a " + e.owner, [store, e, answer, P](const HttpRequest& req) {
          long id = parse_id(e.owner, req.params.at(P));
          require(store(), e.table, e.owner, id);
          return answer(req, "id", id, "'" + P + "': " + std::to_string(id));
        });
    add("GET", "/endpoints/" + K + "/{endpoint_id}/" + e.owner_path,
        "confd.endpoints." + K + ".{endpoint_id}." + e.owner_path + ".read",
        std::string("The ") + e.owner + " of a " + e.described, [store, e, K, column, answer](const HttpRequest& req) {
          long id = parse_id(e.noun, req.params.at("endpoint_id"));
          require(store(), "confd_endpoints_" + K, e.noun, id);
          return answer(req, column, id, "'endpoint_id': " + std::to_string(id));
        });
  }

  // One line-extension association as confd answers it (links to both).
  const std::string line_extension_json =
      assoc_json("$2", {{"line_id", "line_id"}, {"extension_id", "extension_id"}},
                 sql_link("$2::text", "lines", "lines", "line_id") + ", " +
                     sql_link("$2::text", "extensions", "extensions", "extension_id"));
  auto line_extensions = [store, line_extension_json](const HttpRequest& req, long eid) {
    return read(store(),
                "SELECT count(*) AS n, coalesce(jsonb_agg(" + line_extension_json +
                    " ORDER BY line_id), '[]') AS j, min(line_id) AS first FROM confd_line_extensions WHERE extension_id = $1",
                {std::to_string(eid), base_url(req)});
  };
  add("GET", "/extensions/{extension_id}/lines", "confd.extensions.{extension_id}.lines.read", "Lines of an extension",
      [store, line_extensions](const HttpRequest& req) {
        long eid = parse_id("Extension", req.params.at("extension_id"));
        require(store(), "confd_extensions", "Extension", eid);
        return HttpResponse::json(200, items_body(line_extensions(req, eid)));
      });
  add("GET", "/extensions/{extension_id}/line", "confd.extensions.{extension_id}.line.read", "The line of an extension",
      [store, line_extension_json](const HttpRequest& req) {
        long eid = parse_id("Extension", req.params.at("extension_id"));
        require(store(), "confd_extensions", "Extension", eid);
        auto q = read(store(),
                      "SELECT " + line_extension_json +
                          " AS j FROM confd_line_extensions WHERE extension_id = $1 ORDER BY line_id LIMIT 1",
                      {std::to_string(eid), base_url(req)});
        if (q.rows.empty())
          throw ApiError{404, {"Resource Not Found - LineExtension was not found ('extension_id': " + std::to_string(eid) + ")"}};
        return HttpResponse::json(200, q.get(0, "j"));
      });

  // users <-> voicemail: one voicemail per user, read as one object.
  auto user_voicemail_json = [](const std::string& b) {
    return assoc_json(b, {{"user_id", "user_id"}, {"voicemail_id", "voicemail_id"}},
                      sql_link(b + "::text", "voicemails", "voicemails", "voicemail_id") + ", " +
                          sql_link(b + "::text", "users", "users", "user_id"));
  };
  add("GET", "/users/{user_id}/voicemails", "confd.users.{user_id}.voicemails.read", "The voicemail of a user",
      [this, store, user_voicemail_json](const HttpRequest& req) {
        long uid = user_id(nullptr, req.params.at("user_id"));
        auto q = read(store(), "SELECT " + user_voicemail_json("$2") + " AS j FROM confd_user_voicemails WHERE user_id = $1",
                      {std::to_string(uid), base_url(req)});
        if (q.rows.empty())
          throw ApiError{404, {"Resource Not Found - UserVoicemail was not found ('user_id': " + std::to_string(uid) + ")"}};
        return HttpResponse::json(200, q.get(0, "j"));
      });
  add("DELETE", "/users/{user_id}/voicemails", "confd.users.{user_id}.voicemails.delete", "Dissociate the user's voicemail",
      [this](const HttpRequest& req) {
        return engine_->write([&](sdk::Transaction& tx) {
          long uid = user_id(&tx, req.params.at("user_id"));
          auto q = run(tx, "DELETE FROM confd_user_voicemails WHERE user_id = $1 RETURNING voicemail_id", {std::to_string(uid)});
          for (std::size_t i = 0; i < q.rows.size(); ++i)
            engine_->notify(tx, "user_voicemail", "deleted", uid,
                            sdk::json::object({{"user_id", uid}, {"voicemail_id", std::stol(q.get(i, "voicemail_id"))}}));
          return HttpResponse::empty(204);
        });
      });
  add("GET", "/voicemails/{voicemail_id}/users", "confd.voicemails.{voicemail_id}.users.read", "Users of a voicemail",
      [store, user_voicemail_json](const HttpRequest& req) {
        long vid = parse_id("Voicemail", req.params.at("voicemail_id"));
        require(store(), "confd_voicemails", "Voicemail", vid);
        auto q = read(store(),
                      "SELECT count(*) AS n, coalesce(jsonb_agg(" + user_voicemail_json("$2") +
                          " ORDER BY user_id), '[]') AS j FROM confd_user_voicemails WHERE voicemail_id = $1",
                      {std::to_string(vid), base_url(req)});
        return HttpResponse::json(200, items_body(q));
      });

  // users <-> call permissions, XiVO's key is call_permission_id.
  auto user_cp_json = assoc_json("$2", {{"user_id", "user_id"}, {"call_permission_id", "callpermission_id"}},
                                 sql_link("$2::text", "users", "users", "user_id") + ", " +
                                     sql_link("$2::text", "callpermissions", "callpermissions", "callpermission_id"));
  add("GET", "/users/{user_id}/callpermissions", "confd.users.{user_id}.callpermissions.read", "Call permissions of a user",
      [this, store, user_cp_json](const HttpRequest& req) {
        long uid = user_id(nullptr, req.params.at("user_id"));
        auto q = read(store(),
                      "SELECT count(*) AS n, coalesce(jsonb_agg(" + user_cp_json +
                          " ORDER BY callpermission_id), '[]') AS j FROM confd_user_callpermissions WHERE user_id = $1",
                      {std::to_string(uid), base_url(req)});
        return HttpResponse::json(200, items_body(q));
      });
  add("GET", "/callpermissions/{callpermission_id}/users", "confd.callpermissions.{callpermission_id}.users.read",
      "Users of a call permission", [store, user_cp_json](const HttpRequest& req) {
        long cid = parse_id("CallPermission", req.params.at("callpermission_id"));
        require(store(), "confd_callpermissions", "CallPermission", cid);
        auto q = read(store(),
                      "SELECT count(*) AS n, coalesce(jsonb_agg(" + user_cp_json +
                          " ORDER BY user_id), '[]') AS j FROM confd_user_callpermissions WHERE callpermission_id = $1",
                      {std::to_string(cid), base_url(req)});
        return HttpResponse::json(200, items_body(q));
      });

  // The full SIP endpoint of a user's line (main or given), as xivo-ctid reads it.
  auto user_line_sip = [this, store, resource](const HttpRequest& req, const std::string& line) {
    long uid = user_id(nullptr, req.params.at("user_id"));
    sdk::Params ps = {std::to_string(uid)};
    std::string where = "ul.main_line";
    if (!line.empty()) {
      ps.push_back(std::to_string(parse_id("Line", line)));
      where = "ul.line_id = $2";
    }
    auto q = read(store(),
                  "SELECT ul.line_id, l.endpoint_sip_id FROM confd_user_lines ul JOIN confd_lines l ON l.id = ul.line_id "
                  "WHERE ul.user_id = $1 AND " + where, ps);
    if (q.rows.empty())
      throw ApiError{404, {"Resource Not Found - UserLine was not found ('user_id': " + std::to_string(uid) +
                           (line.empty() ? std::string(", 'main_line': True") : ", 'line_id': " + line) + ")"}};
    if (q.get(0, "endpoint_sip_id").empty())
      throw ApiError{404, {"Resource Not Found - LineEndpoint was not found ('line_id': " + q.get(0, "line_id") + ")"}};
    return engine_->get(*resource("endpoints/sip"), std::stol(q.get(0, "endpoint_sip_id")), base_url(req));
  };
  add("GET", "/users/{user_id}/lines/main/associated/endpoints/sip",
      "confd.users.{user_id}.lines.main.associated.endpoints.sip.read", "SIP endpoint of the user's main line",
      [user_line_sip](const HttpRequest& req) { return user_line_sip(req, ""); });
  add("GET", "/users/{user_id}/lines/{line_id}/associated/endpoints/sip",
      "confd.users.{user_id}.lines.{line_id}.associated.endpoints.sip.read", "SIP endpoint of one of the user's lines",
      [user_line_sip](const HttpRequest& req) { return user_line_sip(req, req.params.at("line_id")); });

  // The whole set of a user's lines; the first is the main line.
  add("PUT", "/users/{user_id}/lines", "confd.users.{user_id}.lines.update", "Set the lines of a user",
      [this](const HttpRequest& req) {
        auto doc = parse_body(req.body);
        if (!doc.IsObject() || !doc.HasMember("lines") || !doc["lines"].IsArray())
          throw ApiError{400, {"Input Error - field 'lines': Missing data for required field."}};
        std::vector<long> lines;
        for (auto& l : doc["lines"].GetArray()) {
          if (!l.IsObject() || !l.HasMember("id") || !l["id"].IsInt())
            throw ApiError{400, {"Input Error - field 'lines': each line needs an integer 'id'."}};
          long id = l["id"].GetInt();
          if (std::find(lines.begin(), lines.end(), id) == lines.end()) lines.push_back(id);
        }
        return engine_->write([&](sdk::Transaction& tx) {
          long uid = user_id(&tx, req.params.at("user_id"));
          std::string wanted = "{";
          for (std::size_t i = 0; i < lines.size(); ++i) {
            if (run(tx, "SELECT 1 FROM confd_lines WHERE id = $1 FOR UPDATE", {std::to_string(lines[i])}).rows.empty())
              throw ApiError{400, {"Input Error - lines: Line was not found ('id': " + std::to_string(lines[i]) + ")"}};
            wanted += (i ? "," : "") + std::to_string(lines[i]);
          }
          wanted += "}";
          auto gone = run(tx, "DELETE FROM confd_user_lines WHERE user_id = $1 AND NOT line_id = ANY($2::int[]) RETURNING line_id",
                          {std::to_string(uid), wanted});
          for (std::size_t i = 0; i < gone.rows.size(); ++i)
            engine_->notify(tx, "user_line", "deleted", uid,
                            sdk::json::object({{"user_id", uid}, {"line_id", std::stol(gone.get(i, "line_id"))}}));
          for (long lid : lines) {
            auto added = run(tx,
                             "INSERT INTO confd_user_lines (user_id, line_id, main_user, main_line) VALUES ($1, $2, "
                             "NOT EXISTS (SELECT 1 FROM confd_user_lines WHERE line_id = $2), false) "
                             "ON CONFLICT DO NOTHING RETURNING line_id",
                             {std::to_string(uid), std::to_string(lid)});
            if (!added.rows.empty())
              engine_->notify(tx, "user_line", "created", uid,
                              sdk::json::object({{"user_id", uid}, {"line_id", lid}}));
          }
          if (!lines.empty())
            run(tx, "UPDATE confd_user_lines SET main_line = (line_id = $2) WHERE user_id = $1",
                {std::to_string(uid), std::to_string(lines.front())});
          return HttpResponse::empty(204);
        });
      });

  add("GET", "/lines/{line_id}/devices", "confd.lines.{line_id}.devices.read", "The device of a line",
      [store](const HttpRequest& req) {
        long lid = parse_id("Line", req.params.at("line_id"));
        require(store(), "confd_lines", "Line", lid);
        auto q = read(store(),
                      "SELECT jsonb_build_object('line_id', id, 'device_id', device_id, 'links', jsonb_build_array(" +
                          sql_link("$2::text", "lines", "lines", "id") + ", jsonb_build_object('rel', 'devices', 'href', "
                          "$2::text || '/devices/' || device_id))) AS j FROM confd_lines WHERE id = $1 AND device_id IS NOT NULL",
                      {std::to_string(lid), base_url(req)});
        if (q.rows.empty())
          throw ApiError{404, {"Resource Not Found - LineDevice was not found ('line_id': " + std::to_string(lid) + ")"}};
        return HttpResponse::json(200, q.get(0, "j"));
      });

  // users -> fallbacks: where unanswered calls go, per reason.
  add("GET", "/users/{user_id}/fallbacks", "confd.users.{user_id}.fallbacks.read", "Fallbacks of a user",
      [this, store](const HttpRequest& req) {
        long uid = user_id(nullptr, req.params.at("user_id"));
        auto q = read(store(),
                      "SELECT jsonb_build_object('busy_destination', fallbacks->'busy_destination', "
                      "'noanswer_destination', fallbacks->'noanswer_destination', "
                      "'congestion_destination', fallbacks->'congestion_destination', "
                      "'fail_destination', fallbacks->'fail_destination') AS j FROM confd_users WHERE id = $1",
                      {std::to_string(uid)});
        return HttpResponse::json(200, q.get(0, "j"));
      });
  add("PUT", "/users/{user_id}/fallbacks", "confd.users.{user_id}.fallbacks.update", "Set the fallbacks of a user",
      [this](const HttpRequest& req) {
        std::string json = fallbacks_json(req.body);
        return engine_->write([&](sdk::Transaction& tx) {
          long uid = user_id(&tx, req.params.at("user_id"));
          auto u = run(tx, "UPDATE confd_users SET fallbacks = $2::jsonb WHERE id = $1 RETURNING uuid",
                       {std::to_string(uid), json});
          engine_->notify(tx, "user_fallback", "edited", uid,
                          sdk::json::object({{"id", uid}, {"uuid", u.get(0, "uuid")}}));
          return HttpResponse::empty(204);
        });
      });
}

}  // namespace dialtone::plugins::api::confd
