// System routes XiVO clients call first (/infos, live reload) and the legacy
// /lines_sip view of a line with its SIP endpoint (the wizard: wizard_routes.cc).
#include <regex>

#include "plugins/api/confd/confd_api.h"

namespace dialtone::plugins::api::confd {
namespace {

using sdk::HttpRequest;
using sdk::HttpResponse;

#ifndef DIALTONE_VERSION
#define DIALTONE_VERSION "0"
#endif

std::string line_sip_json(const std::string& b) {
  return "jsonb_build_object('id', l.id, 'username', s.username, 'secret', s.secret, "
         "'callerid', CASE WHEN l.caller_id_name IS NULL THEN NULL ELSE '\"' || l.caller_id_name || '\"' || "
         "coalesce(' <' || l.caller_id_num || '>', '') END, 'device_slot', l.position, 'context', l.context, "
         "'provisioning_extension', l.provisioning_code, 'links', jsonb_build_array(" +
         sql_link(b, "lines", "lines", "l.id") + ", " + sql_link(b, "lines_sip", "lines_sip", "l.id") + "))";
}

// Splits a line_sip body into the line's and the endpoint's fields.
void split_line_sip(const rapidjson::Document& in, rapidjson::Document& line, rapidjson::Document& sip) {
  if (!in.IsObject()) throw ApiError{400, {"Input Error - body must be a JSON object"}};
  line.SetObject();
  sip.SetObject();
  auto copy = [](const rapidjson::Document& from, const char* k, rapidjson::Document& to, const char* as) {
    if (from.HasMember(k)) to.AddMember(rapidjson::StringRef(as), rapidjson::Value(from[k], to.GetAllocator()), to.GetAllocator());
  };
  copy(in, "username", sip, "username");
  copy(in, "secret", sip, "secret");
  copy(in, "context", line, "context");
  copy(in, "device_slot", line, "position");
  copy(in, "provisioning_extension", line, "provisioning_code");
  if (in.HasMember("callerid")) {
    static const std::regex cid("\"([^\"]+)\"(\\s+<(\\+?[0-9]+)>)?");
    std::smatch m;
    std::string v = in["callerid"].IsString() ? in["callerid"].GetString() : "";
    if (in["callerid"].IsNull()) {
      line.AddMember("caller_id_name", rapidjson::Value(), line.GetAllocator());
      line.AddMember("caller_id_num", rapidjson::Value(), line.GetAllocator());
    } else if (std::regex_match(v, m, cid)) {
      line.AddMember("caller_id_name", rapidjson::Value(m[1].str().c_str(), line.GetAllocator()), line.GetAllocator());
      if (m[3].matched)
        line.AddMember("caller_id_num", rapidjson::Value(m[3].str().c_str(), line.GetAllocator()), line.GetAllocator());
    } else {
      throw ApiError{400, {"Input Error - field 'callerid': Must be \"Name\" or \"Name\" <number>."}};
    }
  }
}

}  // namespace

void ConfdApi::system_routes(const AddRoute& add) {
  add("GET", "/infos", "confd.infos.read", "Identity of this server", [this](const HttpRequest&) {
    auto q = read(engine_->store(), "SELECT value #>> '{}' AS uuid FROM confd_settings WHERE name = 'uuid'");
    rapidjson::Document d(rapidjson::kObjectType);
    d.AddMember("uuid", rapidjson::Value(q.get(0, "uuid").c_str(), d.GetAllocator()), d.GetAllocator());
    d.AddMember("wazo_version", rapidjson::StringRef(DIALTONE_VERSION), d.GetAllocator());
    return HttpResponse::json(200, to_json(d));
  });

  add("GET", "/configuration/live_reload", "confd.configuration.live_reload.read", "Whether changes apply at once",
      [this](const HttpRequest&) {
        auto q = read(engine_->store(), "SELECT value FROM confd_settings WHERE name = 'live_reload'");
        return HttpResponse::json(200, q.get(0, "value", sdk::json::object({{"enabled", true}})));
      });
  add("PUT", "/configuration/live_reload", "confd.configuration.live_reload.update", "Turn live reload on or off",
      [this](const HttpRequest& req) {
        auto doc = parse_body(req.body);
        if (!doc.IsObject() || !doc.HasMember("enabled") || !doc["enabled"].IsBool())
          throw ApiError{400, {"Input Error - field 'enabled': Missing data for required field."}};
        std::string v = sdk::json::object({{"enabled", doc["enabled"].GetBool()}});
        return engine_->write([&](sdk::Transaction& tx) {
          run(tx, "INSERT INTO confd_settings VALUES ('live_reload', $1::jsonb) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
              {v});
          engine_->notify(tx, "live_reload", "edited", 0, v);
          return HttpResponse::empty(204);
        });
      });

  auto resource = [this](const std::string& path) -> const Resource& {
    for (auto& r : resources_)
      if (r->path == path) return *r;
    throw ApiError{500, {"Internal Error - resource " + path + " is not defined"}};
  };
  auto one = [this](sdk::Transaction* tx, long id, const std::string& base) -> std::optional<std::string> {
    std::string sql = "SELECT " + line_sip_json("$2::text") +
                      " AS j FROM confd_lines l JOIN confd_endpoints_sip s ON s.id = l.endpoint_sip_id WHERE l.id = $1";
    auto q = tx ? run(*tx, sql, {std::to_string(id), base}) : read(engine_->store(), sql, {std::to_string(id), base});
    if (q.rows.empty()) return std::nullopt;
    return q.get(0, "j");
  };
  add("GET", "/lines_sip", "confd.lines_sip.read", "Lines with their SIP endpoint (legacy)", [this](const HttpRequest& req) {
    auto q = read(engine_->store(),
                  "SELECT count(*) AS n, coalesce(jsonb_agg(" + line_sip_json("$1::text") +
                      " ORDER BY l.id), '[]') AS j FROM confd_lines l JOIN confd_endpoints_sip s ON s.id = l.endpoint_sip_id",
                  {base_url(req)});
    return HttpResponse::json(200, items_body(q));
  });
  add("GET", "/lines_sip/{id}", "confd.lines_sip.{id}.read", "A line with its SIP endpoint (legacy)",
      [one](const HttpRequest& req) {
        long id = parse_id("LineSIP", req.params.at("id"));
        auto j = one(nullptr, id, base_url(req));
        if (!j) throw ApiError{404, {not_found("LineSIP", "id", std::to_string(id))}};
        return HttpResponse::json(200, *j);
      });
  add("POST", "/lines_sip", "confd.lines_sip.create", "Create a line and its SIP endpoint (legacy)",
      [this, resource, one](const HttpRequest& req) {
        auto in = parse_body(req.body);
        rapidjson::Document line, sip;
        split_line_sip(in, line, sip);
        auto& sr = resource("endpoints/sip");
        auto& lr = resource("lines");
        if (sr.fill_defaults) sr.fill_defaults(sip);
        auto errs = Engine::validate(sr, sip, true);
        for (auto& e : Engine::validate(lr, line, true)) errs.push_back(e);
        if (!errs.empty()) throw ApiError{400, errs};
        std::string base = base_url(req);
        return engine_->write([&](sdk::Transaction& tx) {
          long sid = engine_->upsert(tx, sr, sip, -1);
          long lid = engine_->upsert(tx, lr, line, -1);
          run(tx, "UPDATE confd_lines SET endpoint_sip_id = $2 WHERE id = $1", {std::to_string(lid), std::to_string(sid)});
          engine_->notify(tx, sr.event, "created", sid, sdk::json::object({{"id", sid}}));
          engine_->notify(tx, lr.event, "created", lid, sdk::json::object({{"id", lid}}));
          engine_->notify(tx, "line_endpoint_sip", "created", lid,
                          sdk::json::object({{"line_id", lid}, {"endpoint_id", sid}}));
          auto out = HttpResponse::json(201, *one(&tx, lid, base));
          out.headers.emplace_back("Location", base + "/lines_sip/" + std::to_string(lid));
          return out;
        });
      });
  add("PUT", "/lines_sip/{id}", "confd.lines_sip.{id}.update", "Update a line and its SIP endpoint (legacy)",
      [this, resource](const HttpRequest& req) {
        long id = parse_id("LineSIP", req.params.at("id"));
        auto in = parse_body(req.body);
        rapidjson::Document line, sip;
        split_line_sip(in, line, sip);
        auto& sr = resource("endpoints/sip");
        auto& lr = resource("lines");
        auto errs = Engine::validate(sr, sip, false);
        for (auto& e : Engine::validate(lr, line, false)) errs.push_back(e);
        if (!errs.empty()) throw ApiError{400, errs};
        return engine_->write([&](sdk::Transaction& tx) {
          auto q = run(tx, "SELECT endpoint_sip_id FROM confd_lines WHERE id = $1 AND endpoint_sip_id IS NOT NULL FOR UPDATE",
                       {std::to_string(id)});
          if (q.rows.empty()) throw ApiError{404, {not_found("LineSIP", "id", std::to_string(id))}};
          long sid = std::stol(q.get(0, "endpoint_sip_id"));
          engine_->upsert(tx, sr, sip, sid);
          engine_->upsert(tx, lr, line, id);
          engine_->notify(tx, sr.event, "edited", sid, sdk::json::object({{"id", sid}}));
          engine_->notify(tx, lr.event, "edited", id, sdk::json::object({{"id", id}}));
          return HttpResponse::empty(204);
        });
      });
  add("DELETE", "/lines_sip/{id}", "confd.lines_sip.{id}.delete", "Delete a line and its SIP endpoint (legacy)",
      [this, resource](const HttpRequest& req) {
        long id = parse_id("LineSIP", req.params.at("id"));
        auto& lr = resource("lines");
        return engine_->write([&](sdk::Transaction& tx) {
          auto q = run(tx, "SELECT endpoint_sip_id FROM confd_lines WHERE id = $1 AND endpoint_sip_id IS NOT NULL FOR UPDATE",
                       {std::to_string(id)});
          if (q.rows.empty()) throw ApiError{404, {not_found("LineSIP", "id", std::to_string(id))}};
          if (lr.before_delete) lr.before_delete(tx, id);
          std::string sid = q.get(0, "endpoint_sip_id");
          run(tx, "DELETE FROM confd_lines WHERE id = $1", {std::to_string(id)});
          run(tx, "DELETE FROM confd_endpoints_sip WHERE id = $1", {sid});
          engine_->notify(tx, lr.event, "deleted", id, sdk::json::object({{"id", id}}));
          engine_->notify(tx, "endpoint_sip", "deleted", std::stol(sid), sdk::json::object({{"id", std::stol(sid)}}));
          return HttpResponse::empty(204);
        });
      });
}

}  // namespace dialtone::plugins::api::confd
