// Boss-secretary filters (seed 5.2): a filter's bosses (XiVO's recipients,
// each with a ring time) and secretaries (surrogates, in ring order), set
// as whole lists; its fallbacks; and the *37<member id> toggle the dialplan
// asks for. Replacing a list keeps the member ids of the users still in it,
// so function keys dialing *37<id> stay valid.
#include <set>

#include "plugins/api/confd/confd_api.h"

namespace dialtone::plugins::api::confd {
namespace {

using sdk::HttpRequest;
using sdk::HttpResponse;

void require_filter(sdk::Transaction& tx, long id) {
  if (run(tx, "SELECT 1 FROM confd_callfilters WHERE id = $1 FOR UPDATE", {std::to_string(id)}).rows.empty())
    throw ApiError{404, {not_found("CallFilter", "id", std::to_string(id))}};
}

struct Role {
  const char* path;   // recipients
  const char* role;   // boss
  bool has_timeout;
};
constexpr Role kRoles[] = {{"recipients", "boss", true}, {"surrogates", "secretary", false}};

}  // namespace

void ConfdApi::callfilter_routes(const AddRoute& add) {
  for (auto role : kRoles) {
    std::string path = std::string("/callfilters/{callfilter_id}/") + role.path + "/users";
    std::string acl = std::string("confd.callfilters.{callfilter_id}.") + role.path + ".users";
    add("GET", path, acl + ".read", std::string("The ") + role.role + " users of a call filter",
        [this, role](const HttpRequest& req) {
          long fid = parse_id("CallFilter", req.params.at("callfilter_id"));
          if (read(engine_->store(), "SELECT 1 FROM confd_callfilters WHERE id = $1", {std::to_string(fid)}).rows.empty())
            throw ApiError{404, {not_found("CallFilter", "id", std::to_string(fid))}};
          auto q = read(engine_->store(),
                        "SELECT coalesce(jsonb_agg(jsonb_build_object('member_id', m.id, 'uuid', u.uuid, 'id', u.id, "
                        "'firstname', u.firstname, 'lastname', u.lastname, 'timeout', m.timeout, 'active', m.active) "
                        "ORDER BY m.position, m.id), '[]') AS j FROM confd_callfilter_members m "
                        "JOIN confd_users u ON u.id = m.user_id WHERE m.callfilter_id = $1 AND m.role = $2",
                        {std::to_string(fid), role.role});
          return HttpResponse::json(200, sdk::json::object({{"users", sdk::json::Raw{q.get(0, "j", "[]")}}}));
        });
    add("PUT", path, acl + ".update", std::string("Set the ") + role.role + " users of a call filter (the whole list)",
        [this, role](const HttpRequest& req) {
          long fid = parse_id("CallFilter", req.params.at("callfilter_id"));
          auto doc = parse_body(req.body);
          if (!doc.IsObject() || !doc.HasMember("users") || !doc["users"].IsArray())
            throw ApiError{400, {"Input Error - field 'users': Missing list of {\"uuid\": ...} or {\"id\": ...}."}};
          struct Item {
            std::string ref;
            std::string timeout;  // empty: none
          };
          std::vector<Item> items;
          for (auto& u : doc["users"].GetArray()) {
            Item it;
            if (u.IsObject() && u.HasMember("uuid") && u["uuid"].IsString()) it.ref = u["uuid"].GetString();
            else if (u.IsObject() && u.HasMember("id") && u["id"].IsInt()) it.ref = std::to_string(u["id"].GetInt());
            else throw ApiError{400, {"Input Error - field 'users': each item must be {\"uuid\": <string>} or {\"id\": <integer>}."}};
            if (u.HasMember("timeout") && !u["timeout"].IsNull()) {
              if (!role.has_timeout) throw ApiError{400, {"Input Error - field 'users': secretaries have no timeout (the filter's surrogates_timeout applies)"}};
              if (!u["timeout"].IsInt() || u["timeout"].GetInt() < 0)
                throw ApiError{400, {"Input Error - field 'users': timeout must be a positive integer or null"}};
              it.timeout = std::to_string(u["timeout"].GetInt());
            }
            items.push_back(std::move(it));
          }
          return engine_->write([&](sdk::Transaction& tx) {
            require_filter(tx, fid);
            std::vector<std::string> ids;
            std::set<long> seen;
            for (auto& it : items) {
              long uid;
              try {
                uid = user_id(&tx, it.ref);
              } catch (ApiError& e) {
                e.status = 400;
                throw;
              }
              if (!seen.insert(uid).second)
                throw ApiError{400, {"Input Error - field 'users': user " + it.ref + " is listed twice"}};
              auto other = run(tx, "SELECT role FROM confd_callfilter_members WHERE callfilter_id = $1 AND user_id = $2 "
                                   "AND role <> $3", {std::to_string(fid), std::to_string(uid), role.role});
              if (!other.rows.empty())
                throw ApiError{400, {"Input Error - field 'users': user " + it.ref + " is already a " + other.get(0, "role") +
                                     " of this filter: remove it there first"}};
              ids.push_back(std::to_string(uid));
            }
            std::string keep = "{";
            for (std::size_t i = 0; i < ids.size(); ++i) keep += (i ? "," : "") + ids[i];
            keep += "}";
            run(tx, "DELETE FROM confd_callfilter_members WHERE callfilter_id = $1 AND role = $2 AND NOT user_id = ANY($3::int[])",
                {std::to_string(fid), role.role, keep});
            for (std::size_t i = 0; i < ids.size(); ++i)
              run(tx, "INSERT INTO confd_callfilter_members (callfilter_id, user_id, role, position, timeout) "
                      "VALUES ($1, $2, $3, $4, NULLIF($5, '')::int) ON CONFLICT (callfilter_id, user_id) "
                      "DO UPDATE SET position = excluded.position, timeout = excluded.timeout",
                  {std::to_string(fid), ids[i], role.role, std::to_string(i + 1), items[i].timeout});
            engine_->notify(tx, std::string("call_filter_") + role.path, "edited", fid,
                            sdk::json::object({{"callfilter_id", fid}}));
            return HttpResponse::empty(204);
          });
        });
  }

  add("GET", "/callfilters/{callfilter_id}/fallbacks", "confd.callfilters.{callfilter_id}.fallbacks.read",
      "Fallbacks of a call filter", [this](const HttpRequest& req) {
        long fid = parse_id("CallFilter", req.params.at("callfilter_id"));
        auto q = read(engine_->store(),
                      "SELECT jsonb_build_object('noanswer_destination', fallbacks->'noanswer_destination') AS j "
                      "FROM confd_callfilters WHERE id = $1",
                      {std::to_string(fid)});
        if (q.rows.empty()) throw ApiError{404, {not_found("CallFilter", "id", std::to_string(fid))}};
        return HttpResponse::json(200, q.get(0, "j"));
      });
  add("PUT", "/callfilters/{callfilter_id}/fallbacks", "confd.callfilters.{callfilter_id}.fallbacks.update",
      "Set the fallbacks of a call filter", [this](const HttpRequest& req) {
        long fid = parse_id("CallFilter", req.params.at("callfilter_id"));
        auto doc = parse_body(req.body);
        if (!doc.IsObject()) throw ApiError{400, {"Input Error - body must be a JSON object"}};
        rapidjson::Document out(rapidjson::kObjectType);
        if (doc.HasMember("noanswer_destination") && !doc["noanswer_destination"].IsNull()) {
          const auto& d = doc["noanswer_destination"];
          if (!d.IsObject() || !d.HasMember("type") || !d["type"].IsString())
            throw ApiError{400, {"Input Error - field 'noanswer_destination': Must be a destination object with a \"type\"."}};
          out.AddMember("noanswer_destination", rapidjson::Value(d, out.GetAllocator()), out.GetAllocator());
        }
        std::string json = to_json(out);
        return engine_->write([&](sdk::Transaction& tx) {
          require_filter(tx, fid);
          run(tx, "UPDATE confd_callfilters SET fallbacks = $2::jsonb WHERE id = $1", {std::to_string(fid), json});
          engine_->notify(tx, "call_filter_fallback", "edited", fid, sdk::json::object({{"id", fid}}));
          return HttpResponse::empty(204);
        });
      });
}

void ConfigServiceImpl::toggle_callfilter(std::int64_t member_id, std::int64_t user_id,
                                          std::function<void(sdk::Result<bool>)> done) {
  auto self = shared_from_this();
  executor_.post([self, member_id, user_id, done] {
    bool now = false;
    std::string refusal;
    auto r = self->engine_->write([&](sdk::Transaction& tx) {
      auto m = run(tx, "SELECT callfilter_id, active FROM confd_callfilter_members WHERE id = $1 FOR UPDATE",
                   {std::to_string(member_id)});
      if (m.rows.empty()) throw ApiError{404, {not_found("CallFilterMember", "id", std::to_string(member_id))}};
      auto in = run(tx, "SELECT 1 FROM confd_callfilter_members WHERE callfilter_id = $1 AND user_id = $2",
                    {m.get(0, "callfilter_id"), std::to_string(user_id)});
      if (in.rows.empty()) {
        refusal = "user " + std::to_string(user_id) + " is neither a boss nor a secretary of call filter " +
                  m.get(0, "callfilter_id");
        return HttpResponse::empty(403);
      }
      now = m.get(0, "active") != "t";
      run(tx, "UPDATE confd_callfilter_members SET active = $2 WHERE id = $1",
          {std::to_string(member_id), now ? "true" : "false"});
      self->engine_->notify(tx, "call_filter_member", "edited", member_id,
                            sdk::json::object({{"id", member_id},
                                               {"callfilter_id", std::stol(m.get(0, "callfilter_id"))},
                                               {"active", now}}));
      return HttpResponse::empty(204);
    });
    if (!refusal.empty()) {
      done(sdk::Error{sdk::ErrorCode::forbidden, refusal});
      return;
    }
    if (r.status == 404) {
      done(sdk::Error::not_found("call filter member " + std::to_string(member_id) + " does not exist"));
      return;
    }
    if (r.status >= 300) {
      done(sdk::Error::unavailable("the call filter could not be saved (" + std::to_string(r.status) + ")"));
      return;
    }
    done(now);
  });
}

}  // namespace dialtone::plugins::api::confd
