// Lua functions belong to the plugin that exported them: taken back when it
// fails to start or stops, after which a script calling one gets a Lua error
// naming it. Built and run under AddressSanitizer (ctest label `asan`) with an
// instrumented fixture plugin: before the kernel withdrew exports, calling
// the function of a plugin that failed to start read its freed object, which
// ASan reports as a heap-use-after-free and aborts on.
#include <gtest/gtest.h>

#include <dlfcn.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <string>

#include "kernel/core/conf_dir.h"
#include "kernel/core/plugin_manager.h"
#include "kernel/core/service_registry.h"
#include "kernel/lua/lua_host.h"

namespace dialtone::kernel {
namespace {

struct Discard final : sdk::Logger {
  void log(sdk::LogLevel, std::string_view) override {}
  bool enabled(sdk::LogLevel) const override { return false; }
};

class LuaExportsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "dialtone-luaexp-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    std::filesystem::create_directories(dir_ / "plugins");
    std::filesystem::create_directories(dir_ / "conf.d");
    std::filesystem::copy_file(std::filesystem::path(DIALTONE_ASAN_FIXTURE_DIR) / "lua_exports" /
                                   "fixture_asan_lua_exports.so",
                               dir_ / "plugins" / "fixture_asan_lua_exports.so");
    std::ofstream(dir_ / "extensions.lua") << "function greet() return fixture_lua.greet() end\n";
    lua_ = std::make_unique<LuaHostImpl>(LuaConfig{.script = dir_ / "extensions.lua", .states = 1, .module_paths = {}}, log_);
    ASSERT_TRUE(lua_->start());
    ctx_.make_logger = [](std::string) { return std::make_unique<Discard>(); };
    ctx_.services = &registry_;
    ctx_.lua = lua_.get();
    ctx_.export_lua_as = [this](std::string owner, std::string module,
                                std::vector<sdk::LuaFunctionSpec> fns) {
      return lua_->export_module_as(std::move(owner), std::move(module), std::move(fns));
    };
    ctx_.withdraw_lua = [this](std::string_view owner, std::string_view why) { lua_->withdraw(owner, why); };
    ctx_.data_dir = dir_ / "data";
  }
  void TearDown() override {
    manager_.reset();
    lua_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void start_plugin(bool fail) {
    std::ofstream(dir_ / "conf.d" / "10-fixture.conf")
        << "[plugin]\nname = fixture.lua_exports\nenabled = true\n[fixture]\nfail = "
        << (fail ? "true" : "false") << "\n";
    manager_ = std::make_unique<PluginManager>(ctx_, log_);
    manager_->load_dir(dir_ / "plugins");
    ASSERT_TRUE(manager_->resolve(read_conf_dir(dir_ / "conf.d"), dir_).empty());
    manager_->configure();
    manager_->start();
  }

  sdk::Result<sdk::LuaValues> call_greet() {
    std::promise<sdk::Result<sdk::LuaValues>> p;
    auto f = p.get_future();
    lua_->call("greet", {}, [&p](sdk::Result<sdk::LuaValues> r) { p.set_value(std::move(r)); });
    return f.get();
  }

  PluginState state() { return manager_->status().at(0).state; }

  std::filesystem::path dir_;
  Discard log_;
  ServiceRegistryImpl registry_;
  KernelContext ctx_;
  std::unique_ptr<LuaHostImpl> lua_;
  std::unique_ptr<PluginManager> manager_;
};

TEST_F(LuaExportsTest, FunctionOfAPluginThatFailedToStartRaisesALuaErrorNamingIt) {
  start_plugin(/*fail=*/true);
  ASSERT_EQ(state(), PluginState::failed);
  auto r = call_greet();
  ASSERT_FALSE(r) << "the call reached the destroyed plugin";
  EXPECT_NE(r.error().message.find("fixture_lua.greet is no longer available: fixture.lua_exports failed to start"),
            std::string::npos)
      << r.error().message;
  EXPECT_EQ(lua_->reference_markdown().find("fixture_lua"), std::string::npos);
}

TEST_F(LuaExportsTest, FunctionWorksWhileItsPluginRunsAndIsWithdrawnWhenItStops) {
  start_plugin(/*fail=*/false);
  ASSERT_EQ(state(), PluginState::started);
  auto ok = call_greet();
  ASSERT_TRUE(ok) << ok.error().message;
  ASSERT_EQ(ok->size(), 1u);
  EXPECT_EQ(*(*ok)[0].as_string(), "hello from a plugin whose greeting is long enough to live on the heap");
  EXPECT_NE(lua_->reference_markdown().find("fixture_lua.greet"), std::string::npos);

  manager_->stop();
  auto gone = call_greet();
  ASSERT_FALSE(gone);
  EXPECT_NE(gone.error().message.find("fixture_lua.greet is no longer available: fixture.lua_exports stopped"),
            std::string::npos)
      << gone.error().message;
  // Also after a reload: the new states know the name, not the code.
  ASSERT_TRUE(lua_->reload());
  auto reloaded = call_greet();
  ASSERT_FALSE(reloaded);
  EXPECT_NE(reloaded.error().message.find("fixture_lua.greet is no longer available"), std::string::npos)
      << reloaded.error().message;
}

// The two tests above only catch a use-after-free when both sides are
// instrumented: this one fails if the flags are ever dropped from either.
TEST(LuaExportsAsan, TheTestAndItsFixturePluginRunUnderAddressSanitizer) {
#ifndef __SANITIZE_ADDRESS__
  FAIL() << "lua_exports_asan_test was built without -fsanitize=address";
#endif
  auto so = std::filesystem::path(DIALTONE_ASAN_FIXTURE_DIR) / "lua_exports" / "fixture_asan_lua_exports.so";
  void* h = ::dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(h, nullptr) << ::dlerror();
  // An instrumented object needs libasan; dlsym on its handle searches it and
  // what it needs, not the test binary.
  EXPECT_NE(::dlsym(h, "__asan_init"), nullptr) << so << " is not instrumented (-fsanitize=address)";
  ::dlclose(h);
}

}  // namespace
}  // namespace dialtone::kernel
