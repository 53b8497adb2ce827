// User feature codes (XiVO *20, *21, *22, *23, *25): the host functions the
// dialplan (lua-dialplan/lib/features.lua) calls to change a user's forwards
// and DND. They add to the `config` Lua module:
//   config.set_forward(user_id, kind, enabled, destination|nil)
//       -> {enabled, destination} | nil, reason
//   config.toggle_dnd(user_id) -> enabled | nil, reason
// Each change is one statement (one transaction) on confd_users announced as
// api.confd announces a user edit: NOTIFY dialtone_config 'user.edited:<id>'
// and the bus event config.user.edited {"id", "uuid"}.
#pragma once

#include <dialtone/host.h>
#include <dialtone/result.h>

namespace dialtone::plugins::backend::sip {

sdk::Status export_features_lua(sdk::Host& host);

}  // namespace dialtone::plugins::backend::sip
