// docs/lua-dialplan.md's reference of the plugins' Lua modules is generated
// from the same tables that register them: each section must equal what the
// declarations give today. Refresh with
//   DIALTONE_UPDATE_DOCS=1 build/bin/lua_reference_test
#include <gtest/gtest.h>

#include <dialtone/testing/lua_reference.h>

#include "tests/support/test_bus.h"
#include "tests/support/test_logger.h"

#include "kernel/calls/call_completion.h"
#include "kernel/calls/call_core.h"
#include "kernel/presence/presence_service.h"
#include "plugins/api/confd/config_service.h"
#include "plugins/directory/dird/dird_lua.h"
#include "plugins/media/engine/call_verbs.h"
#include "plugins/app/fax/fax_app.h"
#include "plugins/app/voicemail/voicemail_app.h"
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

TEST(LuaReference, VoicemailSectionMatchesItsDeclarations) {
  auto app = std::make_shared<dialtone::plugins::voicemail::VoicemailApp>(
      dialtone::plugins::voicemail::AppConfig{}, nullptr, nullptr, nullptr, nullptr);
  auto stale = dialtone::testing::stale_lua_reference(kDoc, "voicemail", app->functions());
  EXPECT_FALSE(stale) << *stale;
}

// The call API (the `channel` module, methods of `call`): the call core's
// table, then the verbs the media engine and app.fax register with it.
TEST(LuaReference, ChannelSectionMatchesItsDeclarations) {
  dialtone::testing::TestBus bus;
  dialtone::testing::TestLogger log;
  dialtone::kernel::CallCoreImpl core(bus, log);
  auto functions = core.lua_functions();
  auto verbs = std::make_shared<dialtone::plugins::media::CallVerbs>(nullptr, nullptr, nullptr);
  for (auto& v : verbs->functions()) functions.push_back(std::move(v));
  auto fax = std::make_shared<dialtone::plugins::fax::FaxApp>(dialtone::plugins::fax::FaxConfig{}, nullptr, nullptr,
                                                              nullptr);
  for (auto& v : fax->functions()) functions.push_back(std::move(v));
  auto stale = dialtone::testing::stale_lua_reference(kDoc, "channel", functions);
  core.stop();
  EXPECT_FALSE(stale) << *stale;
}

// Call completion (*40): the kernel's `completion` module.
TEST(LuaReference, CompletionSectionMatchesItsDeclarations) {
  dialtone::testing::TestBus bus;
  dialtone::testing::TestLogger log;
  dialtone::kernel::CallCoreImpl core(bus, log);
  dialtone::kernel::PresenceServiceImpl presence(bus, log, [] { return nullptr; });
  dialtone::kernel::CallCompletion completion(core, presence, log, [] { return nullptr; });
  auto stale = dialtone::testing::stale_lua_reference(kDoc, "completion", completion.lua_functions());
  completion.stop();
  presence.stop();
  core.stop();
  EXPECT_FALSE(stale) << *stale;
}

}  // namespace
