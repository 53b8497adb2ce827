#include "plugins/backend/sip/features.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <string>

#include <dialtone/bus.h>
#include <dialtone/http.h>
#include <dialtone/lua.h>
#include <dialtone/store.h>

namespace dialtone::plugins::backend::sip {

namespace {

// The longest forward destination api.confd accepts.
constexpr std::size_t kMaxDestination = 128;

std::string user_id_arg(const sdk::LuaValues& args) {
  if (args.empty()) return {};
  if (auto n = args[0].as_int(); n && *n > 0 && *n < 1000000000) return std::to_string(*n);
  if (auto* s = args[0].as_string();
      s && !s->empty() && s->size() <= 9 &&
      std::all_of(s->begin(), s->end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
    return *s;
  return {};
}

sdk::LuaValues failure(const std::string& reason) { return {sdk::LuaValue(), reason}; }

bool valid_destination(const std::string& d) {
  return !d.empty() && d.size() <= kMaxDestination && std::all_of(d.begin(), d.end(), [](char c) {
           return std::isdigit(static_cast<unsigned char>(c)) || c == '*' || c == '#' || c == '+';
         });
}

// Runs `sql` (an UPDATE ... RETURNING id, uuid, ... with its pg_notify),
// publishes config.user.edited and hands the row to `done`; a missing user
// or a store error resumes with nil and the reason.
void update_user(sdk::Host* h, std::string sql, sdk::Params params, std::string user_id,
                 sdk::LuaResume resume,
                 std::function<sdk::LuaValues(const sdk::QueryResult&)> done) {
  auto* store = h->store();
  if (!store) {
    resume(failure("no store: user features cannot be saved"));
    return;
  }
  store->exec_async(std::move(sql), std::move(params),
                    [h, user_id, resume, done](sdk::Result<sdk::QueryResult> r) {
                      if (!r) {
                        h->log().error("sip: user " + user_id + " feature not saved: " + r.error().message);
                        resume(failure("not saved: " + r.error().message));
                        return;
                      }
                      if (r->rows.empty()) {
                        resume(failure("no user " + user_id));
                        return;
                      }
                      h->bus().publish("config.user.edited",
                                       "{\"id\":" + r->get(0, "id") + ",\"uuid\":\"" +
                                           sdk::json_escape(r->get(0, "uuid")) + "\"}");
                      resume(done(*r));
                    });
}

std::string forward_sql(const std::string& kind) {
  const std::string e = "forward_" + kind + "_enabled", d = "forward_" + kind + "_destination";
  return "WITH u AS (UPDATE confd_users SET " + e + " = $2::boolean, " + d + " = coalesce($3, " + d +
         ") WHERE id = $1::int RETURNING id, uuid, " + e + " AS enabled, " + d +
         " AS destination) SELECT id, uuid, enabled, coalesce(destination, '') AS destination, "
         "pg_notify('dialtone_config', 'user.edited:' || id) FROM u";
}

constexpr const char* kDisableAllSql = R"SQL(
WITH u AS (UPDATE confd_users SET forward_unconditional_enabled = false,
                                  forward_busy_enabled = false, forward_noanswer_enabled = false
            WHERE id = $1::int RETURNING id, uuid)
SELECT id, uuid, false AS enabled, '' AS destination,
       pg_notify('dialtone_config', 'user.edited:' || id) FROM u)SQL";

constexpr const char* kToggleDndSql = R"SQL(
WITH u AS (UPDATE confd_users SET service_dnd_enabled = NOT service_dnd_enabled
            WHERE id = $1::int RETURNING id, uuid, service_dnd_enabled)
SELECT id, uuid, service_dnd_enabled AS enabled,
       pg_notify('dialtone_config', 'user.edited:' || id) FROM u)SQL";

}  // namespace

sdk::Status export_features_lua(sdk::Host& host) {
  auto* lua = host.lua();
  if (!lua) return {};
  sdk::Host* h = &host;
  return lua->export_module(
      "config",
      {{"set_forward", "user_id: integer, kind: string, enabled: boolean, destination: string|nil",
        "forward: table|nil, reason: string",
        "Sets the user's forward `kind` (unconditional, busy, noanswer; `all` with enabled=false "
        "turns the three off) and, when given, its destination; returns {enabled, destination} "
        "as saved. Announced like an api.confd user edit.",
        [h](const sdk::LuaValues& args) {
          std::string uid = user_id_arg(args);
          std::string kind = args.size() > 1 && args[1].as_string() ? *args[1].as_string() : "";
          const bool* flag = args.size() > 2 ? std::get_if<bool>(&args[2].v) : nullptr;
          sdk::Param destination;
          if (args.size() > 3 && !args[3].is_nil()) {
            auto* s = args[3].as_string();
            if (!s || !valid_destination(*s))
              return sdk::LuaReply::error(
                  "config.set_forward: destination must be a number (digits, *, #, +; at most 128)");
            destination = *s;
          }
          if (uid.empty()) return sdk::LuaReply::error("config.set_forward: user_id must be a user id");
          if (!flag) return sdk::LuaReply::error("config.set_forward: enabled must be true or false");
          bool enabled = *flag;
          std::string sql;
          sdk::Params params{uid};
          if (kind == "all") {
            if (enabled || destination)
              return sdk::LuaReply::error(
                  "config.set_forward: kind 'all' only turns forwards off (enabled=false, no destination)");
            sql = kDisableAllSql;
          } else if (kind == "unconditional" || kind == "busy" || kind == "noanswer") {
            sql = forward_sql(kind);
            params.push_back(enabled ? "true" : "false");
            params.push_back(destination);
          } else {
            return sdk::LuaReply::error("config.set_forward: kind '" + kind +
                                        "' is not unconditional, busy, noanswer or all");
          }
          return sdk::LuaReply::async([h, sql, params, uid](sdk::LuaResume resume) {
            update_user(h, sql, params, uid, resume, [](const sdk::QueryResult& r) {
              auto t = std::make_shared<sdk::LuaTable>();
              t->fields["enabled"] = r.get(0, "enabled") == "t";
              t->fields["destination"] = r.get(0, "destination");
              return sdk::LuaValues{t};
            });
          });
        }},
       {"toggle_dnd", "user_id: integer", "enabled: boolean|nil, reason: string",
        "Turns the user's do-not-disturb on when it is off and off when it is on; returns the "
        "new state. Announced like an api.confd user edit.",
        [h](const sdk::LuaValues& args) {
          std::string uid = user_id_arg(args);
          if (uid.empty()) return sdk::LuaReply::error("config.toggle_dnd: user_id must be a user id");
          return sdk::LuaReply::async([h, uid](sdk::LuaResume resume) {
            update_user(h, kToggleDndSql, {uid}, uid, resume, [](const sdk::QueryResult& r) {
              return sdk::LuaValues{r.get(0, "enabled") == "t"};
            });
          });
        }}});
}

}  // namespace dialtone::plugins::backend::sip
