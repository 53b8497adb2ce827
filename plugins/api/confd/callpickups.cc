// Call pickup groups (seed 5.17): interceptors (users and groups whose
// members may pick up) and targets (users and groups whose calls may be
// picked up), each list set whole as wazo-confd does:
//   PUT /callpickups/{id}/interceptors/users   {"users": [{"uuid": ...}]}
//   PUT /callpickups/{id}/interceptors/groups  {"groups": [{"id": ...}]}
//   PUT /callpickups/{id}/targets/users, /targets/groups
// and the parking lots' representation.
#include <set>

#include "plugins/api/confd/confd_api.h"
#include "plugins/api/confd/embeds.h"

namespace dialtone::plugins::api::confd {
namespace {

using sdk::HttpRequest;
using sdk::HttpResponse;

std::string members(const std::string& category) {
  return "jsonb_build_object("
         "'users', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', u.id, 'uuid', u.uuid, 'firstname', u.firstname, "
         "'lastname', u.lastname) ORDER BY u.id), '[]') FROM confd_callpickup_users m JOIN confd_users u ON u.id = m.user_id "
         "WHERE m.callpickup_id = t.id AND m.category = '" + category + "'), "
         "'groups', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', g.id, 'name', g.name) ORDER BY g.id), '[]') "
         "FROM confd_callpickup_groups m JOIN confd_groups g ON g.id = m.group_id "
         "WHERE m.callpickup_id = t.id AND m.category = '" + category + "'))";
}

struct Category {
  const char* path;      // interceptors
  const char* category;  // interceptor
};
constexpr Category kCategories[] = {{"interceptors", "interceptor"}, {"targets", "target"}};

}  // namespace

std::string callpickup_embed(const std::string& b) {
  return "jsonb_build_object('links', jsonb_build_array(" + sql_link(b, "callpickups", "callpickups", "t.id") +
         "), 'interceptors', " + members("interceptor") + ", 'targets', " + members("target") + ")";
}

std::string parkinglot_embed(const std::string& b) {
  return "jsonb_build_object('links', jsonb_build_array(" + sql_link(b, "parkinglots", "parkinglots", "t.id") +
         "), 'extensions', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', e.id, 'exten', e.exten, "
         "'context', e.context) ORDER BY e.id), '[]') FROM confd_parkinglot_extensions pe "
         "JOIN confd_extensions e ON e.id = pe.extension_id WHERE pe.parkinglot_id = t.id))";
}

void ConfdApi::callpickup_routes(const AddRoute& add) {
  for (auto cat : kCategories) {
    for (bool users : {true, false}) {
      const char* kind = users ? "users" : "groups";
      std::string path = std::string("/callpickups/{callpickup_id}/") + cat.path + "/" + kind;
      std::string acl = std::string("confd.callpickups.{callpickup_id}.") + cat.path + "." + kind + ".update";
      add("PUT", path, acl, std::string("Set the ") + kind + " " + cat.path + " of a call pickup (the whole list)",
          [this, cat, users, kind](const HttpRequest& req) {
            long pid = parse_id("CallPickup", req.params.at("callpickup_id"));
            auto doc = parse_body(req.body);
            if (!doc.IsObject() || !doc.HasMember(kind) || !doc[kind].IsArray())
              throw ApiError{400, {std::string("Input Error - field '") + kind + "': Missing list of " +
                                   (users ? "{\"uuid\": ...} or {\"id\": ...}." : "{\"id\": ...}.")}};
            std::vector<std::string> refs;
            for (auto& m : doc[kind].GetArray()) {
              if (users && m.IsObject() && m.HasMember("uuid") && m["uuid"].IsString()) refs.push_back(m["uuid"].GetString());
              else if (m.IsObject() && m.HasMember("id") && m["id"].IsInt()) refs.push_back(std::to_string(m["id"].GetInt()));
              else
                throw ApiError{400, {std::string("Input Error - field '") + kind + "': each item must be " +
                                     (users ? "{\"uuid\": <string>} or {\"id\": <integer>}." : "{\"id\": <integer>}.")}};
            }
            return engine_->write([&](sdk::Transaction& tx) {
              if (run(tx, "SELECT 1 FROM confd_callpickups WHERE id = $1 FOR UPDATE", {std::to_string(pid)}).rows.empty())
                throw ApiError{404, {not_found("CallPickup", "id", std::to_string(pid))}};
              std::set<long> ids;
              for (auto& ref : refs) {
                long id;
                if (users) {
                  try {
                    id = user_id(&tx, ref);
                  } catch (ApiError& e) {
                    e.status = 400;
                    throw;
                  }
                } else {
                  id = std::atol(ref.c_str());
                  if (run(tx, "SELECT 1 FROM confd_groups WHERE id = $1", {ref}).rows.empty())
                    throw ApiError{400, {"Input Error - field 'groups': " + not_found("Group", "id", ref)}};
                }
                if (!ids.insert(id).second)
                  throw ApiError{400, {std::string("Input Error - field '") + kind + "': " + ref + " is listed twice"}};
              }
              std::string table = users ? "confd_callpickup_users" : "confd_callpickup_groups";
              std::string col = users ? "user_id" : "group_id";
              run(tx, "DELETE FROM " + table + " WHERE callpickup_id = $1 AND category = $2",
                  {std::to_string(pid), cat.category});
              for (long id : ids)
                run(tx, "INSERT INTO " + table + " (callpickup_id, category, " + col + ") VALUES ($1, $2, $3)",
                    {std::to_string(pid), cat.category, std::to_string(id)});
              engine_->notify(tx, std::string("call_pickup_") + cat.path + "_" + kind, "edited", pid,
                              sdk::json::object({{"callpickup_id", pid}}));
              return HttpResponse::empty(204);
            });
          });
    }
  }
}

}  // namespace dialtone::plugins::api::confd
