// Paging groups (seed 5.24): who is paged (members) and who may page
// (callers), each list set whole as wazo-confd does:
//   PUT /pagings/{id}/members/users   {"users": [{"uuid": ...}]}
//   PUT /pagings/{id}/callers/users   {"users": [{"id": ...}]}
// and the pagings' representation with both lists.
#include <set>

#include "plugins/api/confd/confd_api.h"
#include "plugins/api/confd/embeds.h"

namespace dialtone::plugins::api::confd {
namespace {

using sdk::HttpRequest;
using sdk::HttpResponse;

std::string users_of(bool caller) {
  return "jsonb_build_object('users', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', u.id, 'uuid', u.uuid, "
         "'firstname', u.firstname, 'lastname', u.lastname) ORDER BY u.id), '[]') FROM confd_paging_users m "
         "JOIN confd_users u ON u.id = m.user_id WHERE m.paging_id = t.id AND m.caller = " +
         std::string(caller ? "true" : "false") + "))";
}

}  // namespace

std::string paging_embed(const std::string& b) {
  return "jsonb_build_object('links', jsonb_build_array(" + sql_link(b, "pagings", "pagings", "t.id") +
         "), 'members', " + users_of(false) + ", 'callers', " + users_of(true) + ")";
}

void ConfdApi::paging_routes(const AddRoute& add) {
  for (bool caller : {false, true}) {
    const char* list = caller ? "callers" : "members";
    add("PUT", std::string("/pagings/{paging_id}/") + list + "/users",
        std::string("confd.pagings.{paging_id}.") + list + ".users.update",
        std::string("Set the ") + (caller ? "users allowed to page (callers)" : "users paged (members)") +
            " of a paging (the whole list)",
        [this, caller](const HttpRequest& req) {
          long pid = parse_id("Paging", req.params.at("paging_id"));
          auto doc = parse_body(req.body);
          if (!doc.HasMember("users") || !doc["users"].IsArray())
            throw ApiError{400, {"Input Error - field 'users': Missing list of {\"uuid\": ...} or {\"id\": ...}."}};
          std::vector<std::string> refs;
          for (auto& m : doc["users"].GetArray()) {
            if (m.IsObject() && m.HasMember("uuid") && m["uuid"].IsString()) refs.push_back(m["uuid"].GetString());
            else if (m.IsObject() && m.HasMember("id") && m["id"].IsInt()) refs.push_back(std::to_string(m["id"].GetInt()));
            else throw ApiError{400, {"Input Error - field 'users': each item must be {\"uuid\": <string>} or {\"id\": <integer>}."}};
          }
          return engine_->write([&](sdk::Transaction& tx) {
            if (run(tx, "SELECT 1 FROM confd_pagings WHERE id = $1 FOR UPDATE", {std::to_string(pid)}).rows.empty())
              throw ApiError{404, {not_found("Paging", "id", std::to_string(pid))}};
            std::set<long> ids;
            for (auto& ref : refs) {
              long id;
              try {
                id = user_id(&tx, ref);
              } catch (ApiError& e) {
                e.status = 400;
                throw;
              }
              if (!ids.insert(id).second)
                throw ApiError{400, {"Input Error - field 'users': " + ref + " is listed twice"}};
            }
            const std::string flag = caller ? "true" : "false";
            run(tx, "DELETE FROM confd_paging_users WHERE paging_id = $1 AND caller = " + flag, {std::to_string(pid)});
            for (long id : ids)
              run(tx, "INSERT INTO confd_paging_users (paging_id, user_id, caller) VALUES ($1, $2, " + flag + ")",
                  {std::to_string(pid), std::to_string(id)});
            engine_->notify(tx, std::string("paging_") + (caller ? "caller" : "member") + "_users", "associated", pid,
                            sdk::json::object({{"paging_id", pid}}));
            return HttpResponse::empty(204);
          });
        });
  }
}

}  // namespace dialtone::plugins::api::confd
