// The Markdown reference of exported Lua functions, rendered from the same
// LuaFunctionSpec tables that register them and check their arguments, and
// the generated sections of docs/lua-dialplan.md it is kept in.
//
// @code
//   // In a plugin's unit test: the module's table against the docs.
//   auto fresh = dialtone::sdk::lua_reference_markdown("dird", dird_lua_functions({}, nullptr));
//   auto doc = read("docs/lua-dialplan.md");
//   EXPECT_EQ(dialtone::sdk::generated_section(doc, "dird"), fresh);
//   // The section sits between these two lines in the document:
//   //   <!-- BEGIN GENERATED dird -->
//   //   <!-- END GENERATED dird -->
// @endcode
//
// dialtone/testing/lua_reference.h wraps the comparison (and the rewrite,
// with DIALTONE_UPDATE_DOCS=1) for tests.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dialtone/lua.h"
#include "dialtone/result.h"

namespace dialtone::sdk {

// "### Module `m`" then, per function, its signature, returns and doc.
std::string lua_reference_markdown(std::string_view module, const std::vector<LuaFunctionSpec>& functions);

// The markers around section `name`; an empty name gives the unnamed
// "<!-- BEGIN GENERATED -->" pair.
std::string generated_begin(std::string_view name);
std::string generated_end(std::string_view name);

// The text between the markers of section `name`, trailing line ends
// dropped; nullopt when `doc` has no such section.
std::optional<std::string> generated_section(std::string_view doc, std::string_view name);

// `doc` with section `name` replaced by `body`; an error names the missing
// markers.
Result<std::string> replace_generated_section(std::string_view doc, std::string_view name, std::string_view body);

}  // namespace dialtone::sdk
