#include "plugins/provisioning/provd/autoprov_lua.h"

#include <dialtone/config.h>
#include <dialtone/lua.h>
#include <dialtone/provisioning.h>
#include <dialtone/services.h>

namespace dialtone::plugins::provisioning {
namespace {

std::string arg(const sdk::LuaValues& args, std::size_t i) {
  if (i >= args.size()) return {};
  if (auto* s = args[i].as_string()) return *s;
  if (auto n = args[i].as_int()) return std::to_string(*n);
  return {};
}

sdk::LuaValues failure(const std::string& reason) { return {sdk::LuaValue(), reason}; }

// The provisioning and configuration services and the device at `ip`, or
// the reason one of them is missing.
struct Parties {
  std::shared_ptr<sdk::ProvisioningService> prov;
  std::shared_ptr<sdk::ConfigService> config;
  std::string device_id;
};

sdk::Result<Parties> parties(sdk::Host& host, const std::string& ip) {
  Parties p;
  p.prov = host.services().find<sdk::ProvisioningService>();
  if (!p.prov) return sdk::Error::unavailable("no provisioning service: enable provisioning.provd");
  p.config = host.services().find<sdk::ConfigService>();
  if (!p.config) return sdk::Error::unavailable("no configuration service: enable api.confd");
  if (ip.empty()) return sdk::Error::invalid("the caller's address is unknown");
  auto dev = p.prov->device_for_ip(ip);
  if (!dev) return dev.error();
  p.device_id = *dev;
  return p;
}

}  // namespace

sdk::Status export_autoprov_lua(sdk::Host& host) {
  auto* lua = host.lua();
  if (!lua) return {};
  return lua->export_module("provisioning", autoprov_lua_functions(&host));
}

std::vector<sdk::LuaFunctionSpec> autoprov_lua_functions(sdk::Host* h) {
  return {{"associate", "code: string, ip: string", "ok: true|nil, reason: string",
           "Gives the line with provisioning code `code` to the device known at `ip` (the phone "
           "dialing it); provd then regenerates its files and makes it resynchronize.",
           [h](const sdk::LuaValues& args) {
             std::string code = arg(args, 0), ip = arg(args, 1);
             return sdk::LuaReply::async([h, code, ip](sdk::LuaResume resume) {
               h->executor().post([h, code, ip, resume] {
                 auto p = parties(*h, ip);
                 if (!p) {
                   resume(failure(p.error().message));
                   return;
                 }
                 // The confd side announces the change (bus and NOTIFY); provd
                 // regenerates and resynchronizes the device from that event.
                 auto device_id = p->device_id;
                 p->config->associate_device(
                     code, device_id, [h, code, ip, device_id, resume](sdk::Result<std::vector<std::int64_t>> r) {
                       if (!r) {
                         resume(failure(r.error().code == sdk::ErrorCode::not_found
                                            ? "no line has provisioning code " + code
                                            : "cannot associate: " + r.error().message));
                         return;
                       }
                       h->log().info("provd: device " + device_id + " at " + ip + " provisioned with code " + code);
                       resume(sdk::LuaValues{true});
                     });
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
                 auto p = parties(*h, ip);
                 if (!p) {
                   resume(failure(p.error().message));
                   return;
                 }
                 auto prov = p->prov;
                 auto device_id = p->device_id;
                 p->config->dissociate_device(
                     device_id, [h, prov, device_id, ip, resume](sdk::Result<std::vector<std::int64_t>> r) {
                       if (!r) {
                         resume(failure("cannot free the lines of " + device_id + ": " + r.error().message));
                         return;
                       }
                       if (auto s = prov->reset_to_autoprov(device_id); !s) {
                         // The config changed; only the resynchronization failed.
                         if (s.error().code != sdk::ErrorCode::not_found && s.error().code != sdk::ErrorCode::timeout &&
                             s.error().code != sdk::ErrorCode::unavailable) {
                           resume(failure(s.error().message));
                           return;
                         }
                         h->log().warn("provd: device " + device_id +
                                       " reset to autoprov, not resynchronized: " + s.error().message);
                       }
                       h->log().info("provd: device " + device_id + " at " + ip + " reset to autoprov");
                       resume(sdk::LuaValues{true});
                     });
               });
             });
           }}};
}

}  // namespace dialtone::plugins::provisioning
