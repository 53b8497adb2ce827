// What the dialplan applies to calls, attached to the objects it routes:
// a schedule on a user, group, incall or outcall (one each, seed 5.29), call
// permissions on groups, outcalls and incalls (seed 5.5; users' own are in
// confd_api.cc), and a group's fallback destinations (seed 5.16).
#include "plugins/api/confd/confd_api.h"

namespace dialtone::plugins::api::confd {
namespace {

using sdk::HttpRequest;
using sdk::HttpResponse;

struct Owner {
  const char* path;      // users
  const char* param;     // user_id
  const char* table;     // confd_users
  const char* singular;  // User
  const char* kind;      // user (the link tables' prefix and the events')
};

constexpr Owner kScheduled[] = {{"users", "user_id", "confd_users", "User", "user"},
                                {"groups", "group_id", "confd_groups", "Group", "group"},
                                {"incalls", "incall_id", "confd_incalls", "Incall", "incall"},
                                {"outcalls", "outcall_id", "confd_outcalls", "Outcall", "outcall"}};
constexpr const Owner* kPermitted[] = {&kScheduled[1], &kScheduled[2], &kScheduled[3]};


void require_row(sdk::Transaction& tx, const std::string& table, const std::string& singular, long id) {
  if (run(tx, "SELECT 1 FROM " + table + " WHERE id = $1 FOR UPDATE", {std::to_string(id)}).rows.empty())
    throw ApiError{404, {not_found(singular, "id", std::to_string(id))}};
}

void require_row(sdk::Store& store, const std::string& table, const std::string& singular, long id) {
  if (read(store, "SELECT 1 FROM " + table + " WHERE id = $1", {std::to_string(id)}).rows.empty())
    throw ApiError{404, {not_found(singular, "id", std::to_string(id))}};
}

}  // namespace

void ConfdApi::routing_routes(const AddRoute& add) {
  auto owner_id = [this](const Owner& o, const HttpRequest& req, sdk::Transaction* tx) -> long {
    if (std::string(o.kind) == "user") return user_id(tx, req.params.at(o.param));
    long id = parse_id(o.singular, req.params.at(o.param));
    if (tx) require_row(*tx, o.table, o.singular, id);
    return id;
  };
  auto event = [this](sdk::Transaction& tx, const std::string& name, const std::string& action, long a,
                      const std::string& an, long b, const std::string& bn) {
    engine_->notify(tx, name, action, a,
                    sdk::json::object({{an, a}, {bn, b}}));
  };

  for (auto& o : kScheduled) {
    std::string base = std::string("/") + o.path + "/{" + o.param + "}/schedules";
    std::string acl = std::string("confd.") + o.path + ".{" + o.param + "}.schedules";
    std::string link = std::string("confd_") + o.kind + "_schedules";
    std::string col = std::string(o.kind) + "_id";
    add("GET", base, acl + ".read", std::string("The schedule of a ") + o.singular + " (none or one)",
        [this, o, link, col, owner_id](const HttpRequest& req) {
          long id = owner_id(o, req, nullptr);
          if (o.kind != std::string("user")) require_row(engine_->store(), o.table, o.singular, id);
          auto q = read(engine_->store(),
                        "SELECT count(*) AS n, coalesce(jsonb_agg(jsonb_build_object('id', s.id, 'name', s.name)), "
                        "'[]') AS j FROM " + link + " l JOIN confd_schedules s ON s.id = l.schedule_id WHERE l." + col +
                            " = $1",
                        {std::to_string(id)});
          return HttpResponse::json(200, items_body(q));
        });
    add("PUT", base + "/{schedule_id}", acl + ".{schedule_id}.update",
        std::string("Attach a schedule to a ") + o.singular + " (replaces the one it had)",
        [this, o, link, col, owner_id, event](const HttpRequest& req) {
          long sid = parse_id("Schedule", req.params.at("schedule_id"));
          return engine_->write([&](sdk::Transaction& tx) {
            long id = owner_id(o, req, &tx);
            require_row(tx, "confd_schedules", "Schedule", sid);
            run(tx, "INSERT INTO " + link + " (" + col + ", schedule_id) VALUES ($1, $2) ON CONFLICT (" + col +
                        ") DO UPDATE SET schedule_id = excluded.schedule_id",
                {std::to_string(id), std::to_string(sid)});
            event(tx, std::string(o.kind) + "_schedule", "associated", id, col, sid, "schedule_id");
            return HttpResponse::empty(204);
          });
        });
    add("DELETE", base + "/{schedule_id}", acl + ".{schedule_id}.delete",
        std::string("Detach a schedule from a ") + o.singular,
        [this, o, link, col, owner_id, event](const HttpRequest& req) {
          long sid = parse_id("Schedule", req.params.at("schedule_id"));
          return engine_->write([&](sdk::Transaction& tx) {
            long id = owner_id(o, req, &tx);
            auto q = run(tx, "DELETE FROM " + link + " WHERE " + col + " = $1 AND schedule_id = $2 RETURNING 1",
                         {std::to_string(id), std::to_string(sid)});
            if (q.rows.empty())
              throw ApiError{404, {std::string("Resource Not Found - ") + o.singular + "Schedule was not found ('" +
                                   col + "': " + std::to_string(id) + ", 'schedule_id': " + std::to_string(sid) + ")"}};
            event(tx, std::string(o.kind) + "_schedule", "dissociated", id, col, sid, "schedule_id");
            return HttpResponse::empty(204);
          });
        });
  }

  for (const Owner* op : kPermitted) {
    Owner o = *op;
    std::string base = std::string("/") + o.path + "/{" + o.param + "}/callpermissions";
    std::string acl = std::string("confd.") + o.path + ".{" + o.param + "}.callpermissions";
    std::string link = std::string("confd_") + o.kind + "_callpermissions";
    std::string col = std::string(o.kind) + "_id";
    add("GET", base, acl + ".read", std::string("Call permissions of a ") + o.singular,
        [this, o, link, col](const HttpRequest& req) {
          long id = parse_id(o.singular, req.params.at(o.param));
          require_row(engine_->store(), o.table, o.singular, id);
          auto q = read(engine_->store(),
                        "SELECT count(*) AS n, coalesce(jsonb_agg(jsonb_build_object('" + col + "', l." + col +
                            ", 'call_permission_id', l.callpermission_id) ORDER BY l.callpermission_id), '[]') AS j "
                            "FROM " + link + " l WHERE l." + col + " = $1",
                        {std::to_string(id)});
          return HttpResponse::json(200, items_body(q));
        });
    add("PUT", base + "/{callpermission_id}", acl + ".{callpermission_id}.update",
        std::string("Associate a call permission to a ") + o.singular,
        [this, o, link, col, owner_id, event](const HttpRequest& req) {
          long cid = parse_id("CallPermission", req.params.at("callpermission_id"));
          return engine_->write([&](sdk::Transaction& tx) {
            long id = owner_id(o, req, &tx);
            require_row(tx, "confd_callpermissions", "CallPermission", cid);
            run(tx, "INSERT INTO " + link + " (" + col + ", callpermission_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                {std::to_string(id), std::to_string(cid)});
            event(tx, std::string(o.kind) + "_callpermission", "created", id, col, cid, "callpermission_id");
            return HttpResponse::empty(204);
          });
        });
    add("DELETE", base + "/{callpermission_id}", acl + ".{callpermission_id}.delete",
        std::string("Dissociate a call permission from a ") + o.singular,
        [this, o, link, col, owner_id, event](const HttpRequest& req) {
          long cid = parse_id("CallPermission", req.params.at("callpermission_id"));
          return engine_->write([&](sdk::Transaction& tx) {
            long id = owner_id(o, req, &tx);
            auto q = run(tx, "DELETE FROM " + link + " WHERE " + col + " = $1 AND callpermission_id = $2 RETURNING 1",
                         {std::to_string(id), std::to_string(cid)});
            if (q.rows.empty())
              throw ApiError{404, {std::string("Resource Not Found - ") + o.singular + "CallPermission was not found ('" +
                                   col + "': " + std::to_string(id) + ", 'callpermission_id': " + std::to_string(cid) + ")"}};
            event(tx, std::string(o.kind) + "_callpermission", "deleted", id, col, cid, "callpermission_id");
            return HttpResponse::empty(204);
          });
        });
  }

  // groups -> fallbacks: where calls the group did not take go, per reason.
  add("GET", "/groups/{group_id}/fallbacks", "confd.groups.{group_id}.fallbacks.read", "Fallbacks of a group",
      [this](const HttpRequest& req) {
        long gid = parse_id("Group", req.params.at("group_id"));
        auto q = read(engine_->store(),
                      "SELECT jsonb_build_object('busy_destination', fallbacks->'busy_destination', "
                      "'noanswer_destination', fallbacks->'noanswer_destination', "
                      "'congestion_destination', fallbacks->'congestion_destination', "
                      "'fail_destination', fallbacks->'fail_destination') AS j FROM confd_groups WHERE id = $1",
                      {std::to_string(gid)});
        if (q.rows.empty()) throw ApiError{404, {not_found("Group", "id", std::to_string(gid))}};
        return HttpResponse::json(200, q.get(0, "j"));
      });
  add("PUT", "/groups/{group_id}/fallbacks", "confd.groups.{group_id}.fallbacks.update", "Set the fallbacks of a group",
      [this](const HttpRequest& req) {
        long gid = parse_id("Group", req.params.at("group_id"));
        std::string json = fallbacks_json(req.body);
        return engine_->write([&](sdk::Transaction& tx) {
          require_row(tx, "confd_groups", "Group", gid);
          run(tx, "UPDATE confd_groups SET fallbacks = $2::jsonb WHERE id = $1", {std::to_string(gid), json});
          engine_->notify(tx, "group_fallback", "edited", gid, sdk::json::object({{"id", gid}}));
          return HttpResponse::empty(204);
        });
      });
}

}  // namespace dialtone::plugins::api::confd
