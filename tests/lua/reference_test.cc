// docs/lua-dialplan.md's reference of the plugins' Lua modules is generated
// from the same tables that register them: each section must equal what the
// declarations give today. Refresh with
//   DIALTONE_UPDATE_DOCS=1 build/bin/lua_reference_test
#include <gtest/gtest.h>

#include <dialtone/testing/lua_reference.h>

#include "plugins/api/confd/config_service.h"
#include "plugins/directory/dird/dird_lua.h"
#include "plugins/provisioning/provd/autoprov_lua.h"

namespace {

const std::filesystem::path kDoc = std::filesystem::path(DIALTONE_SOURCE_DIR) / "docs" / "lua-dialplan.md";

TEST(LuaReference, DirdSectionMatchesItsDeclarations) {
  auto stale = dialtone::testing::stale_lua_reference(
      kDoc, "dird", dialtone::plugins::directory::dird_lua_functions({}, nullptr));
  EXPECT_FALSE(stale) << *stale;
}

TEST(LuaReference, ConfigSectionMatchesItsDeclarations) {
  auto stale = dialtone::testing::stale_lua_reference(kDoc, "config",
                                                      dialtone::plugins::api::confd::config_lua_functions({}));
  EXPECT_FALSE(stale) << *stale;
}

TEST(LuaReference, ProvisioningSectionMatchesItsDeclarations) {
  auto stale = dialtone::testing::stale_lua_reference(
      kDoc, "provisioning", dialtone::plugins::provisioning::autoprov_lua_functions(nullptr));
  EXPECT_FALSE(stale) << *stale;
}

}  // namespace
