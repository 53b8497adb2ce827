#include "plugins/directory/dird/dird_lua.h"

namespace dialtone::plugins::directory {

std::vector<sdk::LuaFunctionSpec> dird_lua_functions(std::weak_ptr<LookupService> service,
                                                     std::shared_ptr<WorkerPool> pool) {
  return {
      {"reverse", "profile: string, number: string", "name: string|nil",
       "Caller-ID name for a number from the profile's directories (first match), or nil.",
       [weak = std::move(service), pool = std::move(pool)](const sdk::LuaValues& args) {
         auto* p = args.size() > 0 ? args[0].as_string() : nullptr;
         auto* n = args.size() > 1 ? args[1].as_string() : nullptr;
         if (!p || !n) return sdk::LuaReply::error("dird.reverse(profile, number): two strings expected");
         if (!pool) return sdk::LuaReply::values({sdk::LuaValue()});
         std::string profile = *p, number = *n;
         // The lookup may query LDAP or PostgreSQL: the pool runs it, off the Lua thread.
         return sdk::LuaReply::async([weak, pool, profile, number](sdk::LuaResume resume) {
           pool->post([weak, profile, number, resume] {
             auto svc = weak.lock();
             if (!svc) return resume(sdk::LuaValues{sdk::LuaValue()});
             auto r = svc->reverse({profile, number, ""});
             if (!r || !*r) return resume(sdk::LuaValues{sdk::LuaValue()});
             auto name = svc->display_name(*svc->profile(profile), **r);
             resume(sdk::LuaValues{name.empty() ? sdk::LuaValue() : sdk::LuaValue(name)});
           });
         });
       }},
  };
}

}  // namespace dialtone::plugins::directory
