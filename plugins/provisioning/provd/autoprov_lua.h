// Autoprov (XiVO 5.27.2) from the dialplan: a phone in autoprov mode dials a
// line's provisioning code and gets that line. lua-dialplan/lib/autoprov.lua
// calls `provisioning.associate(code, ip)` and `provisioning.reset(ip)`,
// exported here by provd, which owns the devices; the line side is saved by
// api.confd's configuration service, as PUT/DELETE
// /1.1/lines/{id}/devices/{device_id} do.
#pragma once

#include <vector>

#include <dialtone/host.h>
#include <dialtone/lua.h>
#include <dialtone/result.h>

namespace dialtone::plugins::provisioning {

// Exports the `provisioning` Lua module. Its functions run on the executor
// (the phone is notified to resynchronize) and resume the calling coroutine
// with `true` or `nil, reason`.
sdk::Status export_autoprov_lua(sdk::Host& host);

// The module's one declaration, from which export_autoprov_lua() registers
// it and docs/lua-dialplan.md's reference is generated. `host` is only used
// when a function runs: null will do for the declarations.
std::vector<sdk::LuaFunctionSpec> autoprov_lua_functions(sdk::Host* host);

}  // namespace dialtone::plugins::provisioning
