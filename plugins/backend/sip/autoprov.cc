#include "plugins/backend/sip/autoprov.h"

#include <dialtone/bus.h>
#include <dialtone/http.h>
#include <dialtone/lua.h>
#include <dialtone/provisioning.h>
#include <dialtone/services.h>

namespace dialtone::plugins::backend::sip {

namespace {

constexpr const char* kAutoprovSql = R"SQL(
SELECT raw_config->'sip_lines'->'1'->>'password' AS secret
  FROM provd_config
 WHERE raw_config->'X_autoprov' = 'true'::jsonb
   AND raw_config->'sip_lines'->'1'->>'username' = $1
 ORDER BY id LIMIT 1)SQL";

// Lines take the device; each change is announced like api.confd does, so
// provd (here or in another process) regenerates and resynchronizes it.
constexpr const char* kAssociateSql = R"SQL(
WITH l AS (UPDATE confd_lines SET device_id = $2 WHERE provisioning_code = $1 RETURNING id)
SELECT id, pg_notify('dialtone_config', 'line_device.created:' || id) FROM l)SQL";

constexpr const char* kDissociateSql = R"SQL(
WITH l AS (UPDATE confd_lines SET device_id = NULL WHERE device_id = $1 RETURNING id)
SELECT id, pg_notify('dialtone_config', 'line_device.deleted:' || id) FROM l)SQL";

std::string arg(const sdk::LuaValues& args, std::size_t i) {
  if (i >= args.size()) return {};
  if (auto* s = args[i].as_string()) return *s;
  if (auto n = args[i].as_int()) return std::to_string(*n);
  return {};
}

sdk::LuaValues failure(const std::string& reason) { return {sdk::LuaValue(), reason}; }

std::string device_json(const std::string& line_id, const std::string& device_id) {
  return "{\"line_id\":" + line_id + ",\"device_id\":\"" + sdk::json_escape(device_id) + "\"}";
}

// The device at `ip` per the provisioning service, or the reason it is unknown.
sdk::Result<std::pair<std::shared_ptr<sdk::ProvisioningService>, std::string>> device_at(
    sdk::Host& host, const std::string& ip) {
  auto prov = host.services().find<sdk::ProvisioningService>();
  if (!prov)
    return sdk::Error::unavailable("no provisioning service: enable provisioning.provd");
  if (ip.empty()) return sdk::Error::invalid("the caller's address is unknown");
  auto dev = prov->device_for_ip(ip);
  if (!dev) return dev.error();
  return std::make_pair(prov, *dev);
}

}  // namespace

void autoprov_credentials(sdk::Store& store, sdk::Logger& log, const std::string& username,
                          std::function<void(std::optional<LineCredentials>, bool)> done) {
  sdk::Logger* l = &log;
  store.exec_async(kAutoprovSql, {username}, [done, l, username](sdk::Result<sdk::QueryResult> r) {
    if (!r) {
      // Without provd's tables there is no guest line.
      l->debug("sip: no autoprov line (" + r.error().message + ")");
      done(std::nullopt, true);
      return;
    }
    if (r->rows.empty() || !r->rows[0][0]) {
      done(std::nullopt, true);
      return;
    }
    LineCredentials c;
    c.username = username;
    c.secret = *r->rows[0][0];
    c.context = kAutoprovContext;
    c.caller_name = "Autoprov";
    c.caller_number = username;
    done(std::move(c), true);
  });
}

sdk::Status export_provisioning_lua(sdk::Host& host) {
  auto* lua = host.lua();
  if (!lua) return {};
  sdk::Host* h = &host;
  return lua->export_module(
      "provisioning",
      {{"associate", "code: string, ip: string", "ok: true|nil, reason: string",
        "Gives the line with provisioning code `code` to the device known at `ip` (the phone "
        "dialing it); provd then regenerates its files and makes it resynchronize.",
        [h](const sdk::LuaValues& args) {
          std::string code = arg(args, 0), ip = arg(args, 1);
          return sdk::LuaReply::async([h, code, ip](sdk::LuaResume resume) {
            h->executor().post([h, code, ip, resume] {
              auto dev = device_at(*h, ip);
              if (!dev) {
                resume(failure(dev.error().message));
                return;
              }
              auto* store = h->store();
              if (!store) {
                resume(failure("no store"));
                return;
              }
              const std::string& device_id = dev->second;
              auto r = store->exec(kAssociateSql, {code, device_id});
              if (!r) {
                resume(failure("cannot associate: " + r.error().message));
                return;
              }
              if (r->rows.empty()) {
                resume(failure("no line has provisioning code " + code));
                return;
              }
              for (auto& row : r->rows)
                h->bus().publish("config.line_device.created", device_json(*row[0], device_id));
              h->log().info("sip: device " + device_id + " at " + ip +
                            " provisioned with code " + code);
              resume(sdk::LuaValues{true});
            });
          });
        }},
       {"reset", "ip: string", "ok: true|nil, reason: string",
        "Puts the device known at `ip` back in autoprov mode: its lines lose it and provd "
        "gives it the autoprov config and makes it resynchronize.",
        [h](const sdk::LuaValues& args) {
          std::string ip = arg(args, 0);
          return sdk::LuaReply::async([h, ip](sdk::LuaResume resume) {
            h->executor().post([h, ip, resume] {
              auto dev = device_at(*h, ip);
              if (!dev) {
                resume(failure(dev.error().message));
                return;
              }
              auto& [prov, device_id] = *dev;
              if (auto* store = h->store()) {
                auto r = store->exec(kDissociateSql, {device_id});
                if (!r) {
                  resume(failure("cannot free the lines of " + device_id + ": " + r.error().message));
                  return;
                }
                for (auto& row : r->rows)
                  h->bus().publish("config.line_device.deleted", device_json(*row[0], device_id));
              }
              if (auto s = prov->reset_to_autoprov(device_id); !s) {
                // The config changed; only the resynchronization failed.
                if (s.error().code != sdk::ErrorCode::not_found &&
                    s.error().code != sdk::ErrorCode::timeout &&
                    s.error().code != sdk::ErrorCode::unavailable) {
                  resume(failure(s.error().message));
                  return;
                }
                h->log().warn("sip: device " + device_id + " reset to autoprov, not resynchronized: " +
                              s.error().message);
              }
              h->log().info("sip: device " + device_id + " at " + ip + " reset to autoprov");
              resume(sdk::LuaValues{true});
            });
          });
        }}});
}

}  // namespace dialtone::plugins::backend::sip
