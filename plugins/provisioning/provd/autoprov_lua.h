// Autoprov (XiVO 5.27.2) from the dialplan: a phone in autoprov mode dials a
// line's provisioning code and gets that line. lua-dialplan/lib/autoprov.lua
// calls `provisioning.associate(code, ip)` and `provisioning.reset(ip)`,
// exported here by provd, which owns the devices; the line side is saved by
// api.confd's configuration service, as PUT/DELETE
// /1.1/lines/{id}/devices/{device_id} do.
#pragma once

#include <dialtone/host.h>
#include <dialtone/result.h>

namespace dialtone::plugins::provisioning {

// Exports the `provisioning` Lua module. Its functions run on the executor
// (the phone is notified to resynchronize) and resume the calling coroutine
// with `true` or `nil, reason`.
sdk::Status export_autoprov_lua(sdk::Host& host);

}  // namespace dialtone::plugins::provisioning
