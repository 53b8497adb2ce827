// Function keys beyond one position: a user's whole set at once, the keys of
// a template by position, and templates associated with users (seed 12.6).
#include <algorithm>

#include "plugins/api/confd/confd_api.h"

namespace dialtone::plugins::api::confd {
namespace {

using sdk::HttpRequest;
using sdk::HttpResponse;

long position(const HttpRequest& req) {
  auto p = req.params.at("position");
  if (p.empty() || p.size() > 3 || !std::all_of(p.begin(), p.end(), ::isdigit) || std::stoi(p) < 1)
    throw ApiError{404, {"Resource Not Found - FuncKey was not found ('position': '" + p + "')"}};
  return std::stol(p);
}

// One key as stored: blf (default false), label (or null), destination.
rapidjson::Value stored_key(const rapidjson::Value& k, rapidjson::Document::AllocatorType& a) {
  rapidjson::Value o(rapidjson::kObjectType);
  o.AddMember("blf", k.HasMember("blf") && k["blf"].IsBool() && k["blf"].GetBool(), a);
  if (k.HasMember("label") && k["label"].IsString()) o.AddMember("label", rapidjson::Value(k["label"], a), a);
  else o.AddMember("label", rapidjson::Value(), a);
  o.AddMember("destination", rapidjson::Value(k["destination"], a), a);
  return o;
}

}  // namespace

void ConfdApi::funckey_routes(const AddRoute& add) {
  auto templates = [this]() -> const Resource& {
    for (auto& r : resources_)
      if (r->path == "funckeys/templates") return *r;
    throw ApiError{500, {"Internal Error - function key templates are not defined"}};
  };
  // Checks a {"keys": {...}} body with the template resource's rules.
  auto keys_of = [templates](const rapidjson::Document& doc) {
    if (!doc.IsObject()) throw ApiError{400, {"Input Error - body must be a JSON object"}};
    if (auto errs = Engine::validate(templates(), doc, false); !errs.empty()) throw ApiError{400, errs};
  };

  add("PUT", "/users/{user_id}/funckeys", "confd.users.{user_id}.funckeys.update", "Replace all function keys of a user",
      [this, keys_of](const HttpRequest& req) {
        auto doc = parse_body(req.body);
        keys_of(doc);
        return engine_->write([&](sdk::Transaction& tx) {
          long uid = user_id(&tx, req.params.at("user_id"));
          run(tx, "DELETE FROM confd_user_funckeys WHERE user_id = $1", {std::to_string(uid)});
          if (doc.HasMember("keys")) {
            rapidjson::Document scratch;
            for (auto m = doc["keys"].MemberBegin(); m != doc["keys"].MemberEnd(); ++m) {
              auto k = stored_key(m->value, scratch.GetAllocator());
              run(tx,
                  "INSERT INTO confd_user_funckeys (user_id, position, blf, label, destination) VALUES ($1, $2, $3, $4, $5)",
                  {std::to_string(uid), m->name.GetString(), k["blf"].GetBool() ? "true" : "false",
                   k["label"].IsString() ? sdk::Param{k["label"].GetString()} : std::nullopt, to_json(k["destination"])});
            }
          }
          engine_->notify(tx, "user_funckey", "edited", uid, sdk::json::object({{"user_id", uid}}));
          return HttpResponse::empty(204);
        });
      });

  add("GET", "/funckeys/templates/{template_id}/{position}", "confd.funckeys.templates.{template_id}.{position}.read",
      "One key of a function key template", [this](const HttpRequest& req) {
        long tid = parse_id("FuncKeyTemplate", req.params.at("template_id"));
        long pos = position(req);
        auto q = read(engine_->store(), "SELECT id, keys->($2::text) AS k FROM confd_funckey_templates WHERE id = $1",
                      {std::to_string(tid), std::to_string(pos)});
        if (q.rows.empty()) throw ApiError{404, {not_found("FuncKeyTemplate", "id", std::to_string(tid))}};
        if (q.get(0, "k").empty())
          throw ApiError{404, {"Resource Not Found - FuncKey was not found ('template_id': " + std::to_string(tid) +
                               ", 'position': " + std::to_string(pos) + ")"}};
        return HttpResponse::json(200, q.get(0, "k"));
      });
  add("PUT", "/funckeys/templates/{template_id}/{position}", "confd.funckeys.templates.{template_id}.{position}.update",
      "Set one key of a function key template", [this, keys_of](const HttpRequest& req) {
        long tid = parse_id("FuncKeyTemplate", req.params.at("template_id"));
        long pos = position(req);
        auto body = parse_body(req.body);
        rapidjson::Document doc(rapidjson::kObjectType);
        rapidjson::Value keys(rapidjson::kObjectType);
        auto p = std::to_string(pos);
        keys.AddMember(rapidjson::Value(p.c_str(), doc.GetAllocator()), rapidjson::Value(body, doc.GetAllocator()),
                       doc.GetAllocator());
        doc.AddMember("keys", keys, doc.GetAllocator());
        keys_of(doc);
        auto key = to_json(stored_key(doc["keys"][p.c_str()], doc.GetAllocator()));
        return engine_->write([&](sdk::Transaction& tx) {
          auto q = run(tx, "UPDATE confd_funckey_templates SET keys = keys || jsonb_build_object($2::text, $3::jsonb) "
                           "WHERE id = $1 RETURNING id", {std::to_string(tid), p, key});
          if (q.rows.empty()) throw ApiError{404, {not_found("FuncKeyTemplate", "id", std::to_string(tid))}};
          engine_->notify(tx, "func_key_template", "edited", tid, sdk::json::object({{"id", tid}}));
          return HttpResponse::empty(204);
        });
      });
  add("DELETE", "/funckeys/templates/{template_id}/{position}", "confd.funckeys.templates.{template_id}.{position}.delete",
      "Remove one key of a function key template", [this](const HttpRequest& req) {
        long tid = parse_id("FuncKeyTemplate", req.params.at("template_id"));
        long pos = position(req);
        return engine_->write([&](sdk::Transaction& tx) {
          auto q = run(tx, "UPDATE confd_funckey_templates SET keys = keys - $2::text WHERE id = $1 AND keys ? $2::text RETURNING id",
                       {std::to_string(tid), std::to_string(pos)});
          if (q.rows.empty())
            throw ApiError{404, {"Resource Not Found - FuncKey was not found ('template_id': " + std::to_string(tid) +
                                 ", 'position': " + std::to_string(pos) + ")"}};
          engine_->notify(tx, "func_key_template", "edited", tid, sdk::json::object({{"id", tid}}));
          return HttpResponse::empty(204);
        });
      });

  for (bool associate : {true, false}) {
    add(associate ? "PUT" : "DELETE", "/users/{user_id}/funckeys/templates/{template_id}",
        std::string("confd.users.{user_id}.funckeys.templates.{template_id}.") + (associate ? "update" : "delete"),
        associate ? "Associate a function key template to a user" : "Dissociate a function key template from a user",
        [this, associate](const HttpRequest& req) {
          long tid = parse_id("FuncKeyTemplate", req.params.at("template_id"));
          return engine_->write([&](sdk::Transaction& tx) {
            long uid = user_id(&tx, req.params.at("user_id"));
            if (run(tx, "SELECT 1 FROM confd_funckey_templates WHERE id = $1", {std::to_string(tid)}).rows.empty())
              throw ApiError{404, {not_found("FuncKeyTemplate", "id", std::to_string(tid))}};
            auto q = associate
                         ? run(tx, "INSERT INTO confd_user_funckey_templates VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1",
                               {std::to_string(uid), std::to_string(tid)})
                         : run(tx, "DELETE FROM confd_user_funckey_templates WHERE user_id = $1 AND template_id = $2 RETURNING 1",
                               {std::to_string(uid), std::to_string(tid)});
            if (!associate && q.rows.empty())
              throw ApiError{404, {"Resource Not Found - UserFuncKeyTemplate was not found ('user_id': " +
                                   std::to_string(uid) + ", 'template_id': " + std::to_string(tid) + ")"}};
            if (!q.rows.empty())
              engine_->notify(tx, "user_func_key_template", associate ? "created" : "deleted", uid,
                              sdk::json::object({{"user_id", uid}, {"template_id", tid}}));
            return HttpResponse::empty(204);
          });
        });
  }
}

}  // namespace dialtone::plugins::api::confd
