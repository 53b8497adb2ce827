// Autoprov (XiVO 5.27.2): a phone in autoprov mode registers with the guest
// line provd puts in its "autoprov" config; it may only dial provisioning
// codes. The `provisioning` Lua module the dialplan uses to give the phone a
// line is provd's (plugins/provisioning/provd/autoprov_lua.h).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include <dialtone/host.h>
#include <dialtone/store.h>

#include "plugins/backend/sip/sip_stack.h"

namespace dialtone::plugins::backend::sip {

// The dialplan context of calls from the autoprov guest line.
inline constexpr const char* kAutoprovContext = "xivo-initconfig";

// Credentials of `username` when it is the guest line of provd's autoprov
// config (provd_config: X_autoprov with sip_lines.1); nullopt otherwise,
// also when provd's tables are absent.
void autoprov_credentials(sdk::Store& store, sdk::Logger& log, const std::string& username,
                          std::function<void(std::optional<LineCredentials>, bool ok)> done);

}  // namespace dialtone::plugins::backend::sip
