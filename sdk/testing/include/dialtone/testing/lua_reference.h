// Keeps a module's section of docs/lua-dialplan.md equal to the reference
// rendered from its LuaFunctionSpec table (dialtone/lua_reference.h).
//
// @code
//   TEST(DirdLua, ReferenceInTheDocsMatchesTheDeclarations) {
//     auto stale = dialtone::testing::stale_lua_reference(DOCS "/lua-dialplan.md", "dird",
//                                                         dird_lua_functions({}, nullptr));
//     EXPECT_FALSE(stale) << *stale;
//   }
// @endcode
//
// Run the test with DIALTONE_UPDATE_DOCS=1 to rewrite the section instead.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dialtone/lua.h"

namespace dialtone::testing {

// nullopt when the section `module` of `doc` is current; otherwise the
// message to fail with (the first differing line and how to refresh it).
std::optional<std::string> stale_lua_reference(const std::filesystem::path& doc, std::string_view module,
                                               const std::vector<sdk::LuaFunctionSpec>& functions);

}  // namespace dialtone::testing
