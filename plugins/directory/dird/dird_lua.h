// The `dird` Lua module: its one declaration, from which directory.dird
// registers the functions and docs/lua-dialplan.md's reference is generated
// (tests/plugins/directory/dird keeps the two equal).
#pragma once

#include <memory>
#include <vector>

#include <dialtone/lua.h>

#include "plugins/directory/dird/lookup_service.h"

namespace dialtone::plugins::directory {

// `service` may be empty (the plugin stopped, or only the declarations are
// wanted): the functions then answer nil.
std::vector<sdk::LuaFunctionSpec> dird_lua_functions(std::weak_ptr<LookupService> service,
                                                     std::shared_ptr<WorkerPool> pool);

}  // namespace dialtone::plugins::directory
