#include "kernel/core/plugin_manager.h"

#include <dlfcn.h>

#include <gtest/gtest.h>

#include "good/good_service.h"
#include "kernel/bus/event_bus.h"
#include "kernel/core/conf_dir.h"
#include "kernel/executor/thread_pool.h"
#include "test_support.h"

namespace dialtone::kernel {
namespace {

using testing::install_fixture;
using testing::RecordingLogger;
using testing::TempDir;
using testing::write_file;

std::string enable(const std::string& id, const std::string& extra = {}) {
  return "[plugin]\nname = " + id + "\nenabled = true\n" + extra;
}

class PluginManagerTest : public ::testing::Test {
 protected:
  PluginManagerTest() : bus_(log_), pool_(2) {
    ctx_.make_logger = [this](std::string) { return std::make_unique<Tagged>(log_); };
    ctx_.services = &registry_;
    ctx_.bus = &bus_;
    ctx_.executor = &pool_;
    ctx_.data_dir = tmp_ / "data";
  }
  ~PluginManagerTest() override {
    manager_.reset();
    pool_.shutdown();
  }

  // Installs the fixtures, enables each in its own conf.d file, resolves.
  std::vector<std::string> load(const std::vector<std::string>& fixtures,
                                const std::map<std::string, std::string>& confs) {
    for (auto& f : fixtures) install_fixture(plugins_, f);
    int n = 10;
    for (auto& [id, text] : confs) write_file(conf_ / (std::to_string(n++) + "-" + id + ".conf"), text);
    manager_ = std::make_unique<PluginManager>(ctx_, log_);
    manager_->load_dir(plugins_);
    return manager_->resolve(read_conf_dir(conf_), tmp_.path());
  }

  void run() {
    manager_->configure();
    manager_->start();
  }

  PluginStatus status_of(const std::string& file_name) {
    for (auto& s : manager_->status())
      if (s.file.filename() == file_name) return s;
    ADD_FAILURE() << "no status for " << file_name;
    return {};
  }

  struct Tagged final : sdk::Logger {
    explicit Tagged(RecordingLogger& l) : l_(l) {}
    void log(sdk::LogLevel level, std::string_view m) override { l_.log(level, m); }
    bool enabled(sdk::LogLevel) const override { return true; }
    RecordingLogger& l_;
  };

  TempDir tmp_;
  std::filesystem::path plugins_ = tmp_ / "plugins";
  std::filesystem::path conf_ = tmp_ / "conf.d";
  RecordingLogger log_;
  ServiceRegistryImpl registry_;
  EventBusImpl bus_;
  ThreadPool pool_;
  KernelContext ctx_;
  std::unique_ptr<PluginManager> manager_;
};

TEST_F(PluginManagerTest, GoodPluginStartsAndProvidesItsService) {
  auto errors = load({"good"}, {{"good", enable("fixture.good", "[good]\ngreeting = bonjour\n")}});
  EXPECT_TRUE(errors.empty());
  run();
  auto s = status_of("fixture_good.so");
  EXPECT_EQ(s.state, PluginState::started);
  EXPECT_EQ(s.version, "1.2.3");
  auto svc = registry_.find<fixtures::GoodService>("main");
  ASSERT_TRUE(svc);
  EXPECT_EQ(svc->greeting(), "bonjour");
  EXPECT_EQ(svc->port(), 5000);
  EXPECT_EQ(svc->data_dir(), (tmp_ / "data" / "plugins" / "fixture.good").string());
  EXPECT_TRUE(std::filesystem::is_directory(svc->data_dir()));
}

TEST_F(PluginManagerTest, PluginWithoutConfFileIsDisabled) {
  load({"good"}, {});
  run();
  auto s = status_of("fixture_good.so");
  EXPECT_EQ(s.state, PluginState::disabled);
  EXPECT_EQ(s.reason, "no conf.d file enables it");
  EXPECT_FALSE(registry_.find<fixtures::GoodService>("main"));
}

TEST_F(PluginManagerTest, EnabledFalseDisables) {
  load({"good"}, {{"good", "[plugin]\nname = fixture.good\nenabled = false\n"}});
  run();
  auto s = status_of("fixture_good.so");
  EXPECT_EQ(s.state, PluginState::disabled);
  EXPECT_NE(s.reason.find("enabled = false in"), std::string::npos);
}

TEST_F(PluginManagerTest, NotAPluginIsRefused) {
  load({"not_a_plugin"}, {});
  auto s = status_of("fixture_not_a_plugin.so");
  EXPECT_EQ(s.state, PluginState::refused);
  EXPECT_EQ(s.reason, "not a Dialtone plugin (no dialtone_plugin_manifest_v1 symbol)");
  ASSERT_EQ(manager_->problems().size(), 1u);
  EXPECT_EQ(manager_->problems()[0],
            "refused " + (plugins_ / "fixture_not_a_plugin.so").string() +
                ": not a Dialtone plugin (no dialtone_plugin_manifest_v1 symbol)");
}

TEST_F(PluginManagerTest, MissingEntrySymbolIsRefused) {
  load({"missing_symbol"}, {});
  auto s = status_of("fixture_missing_symbol.so");
  EXPECT_EQ(s.state, PluginState::refused);
  EXPECT_NE(s.reason.find("missing entry symbol dialtone_plugin_entry_v1"), std::string::npos);
}

TEST_F(PluginManagerTest, AbiMajorMismatchNamesBothVersions) {
  load({"bad_abi"}, {});
  auto s = status_of("fixture_bad_abi.so");
  EXPECT_EQ(s.state, PluginState::refused);
  EXPECT_NE(s.reason.find("built for SDK ABI 99.0 but the kernel provides ABI " + kernel_abi()),
            std::string::npos)
      << s.reason;
  ASSERT_FALSE(manager_->problems().empty());
  EXPECT_NE(manager_->problems()[0].find("fixture_bad_abi.so"), std::string::npos);
}

TEST_F(PluginManagerTest, NewerMinorIsRefused) {
  load({"newer_minor"}, {});
  auto s = status_of("fixture_newer_minor.so");
  EXPECT_EQ(s.state, PluginState::refused);
  EXPECT_NE(s.reason.find("built for SDK ABI " + std::to_string(DIALTONE_SDK_ABI_MAJOR) + "." + std::to_string(DIALTONE_SDK_ABI_MINOR + 7) +
                          ", newer than the kernel's ABI " + kernel_abi()),
            std::string::npos)
      << s.reason;
}

TEST_F(PluginManagerTest, PluginBuiltWithTheOldStdStringIsRefusedInOneLineNamingBothContracts) {
  load({"old_string_abi", "good"}, {{"fixture.good", enable("fixture.good")}});
  run();
  auto s = status_of("fixture_old_string_abi.so");
  EXPECT_EQ(s.state, PluginState::refused);
  const std::string mine = describe_contract(kernel_contract());
  EXPECT_NE(mine.find("_GLIBCXX_USE_CXX11_ABI=1"), std::string::npos) << mine;
  EXPECT_NE(s.reason.find("built under the C++ ABI contract 'gnu libstdc++ " +
                          std::to_string(_GLIBCXX_RELEASE) + " _GLIBCXX_USE_CXX11_ABI=0' but dialtoned needs '" +
                          mine + "'"),
            std::string::npos)
      << s.reason;
  EXPECT_NE(s.reason.find("rebuild the plugin"), std::string::npos) << s.reason;
  ASSERT_EQ(manager_->problems().size(), 1u);
  EXPECT_EQ(manager_->problems()[0].find('\n'), std::string::npos);
  // The others load as usual.
  EXPECT_EQ(status_of("fixture_good.so").state, PluginState::started);
}

TEST_F(PluginManagerTest, PluginOfAnotherCompilerFamilyIsRefused) {
  load({"foreign_compiler"}, {});
  auto s = status_of("fixture_foreign_compiler.so");
  EXPECT_EQ(s.state, PluginState::refused);
  EXPECT_NE(s.reason.find("contract 'msvc without libstdc++ _GLIBCXX_USE_CXX11_ABI=0'"), std::string::npos)
      << s.reason;
}

TEST_F(PluginManagerTest, OwnContractPassesTheCheck) {
  EXPECT_TRUE(check_contract(kernel_contract()));
  auto older = kernel_contract();
  older.libstdcxx_major -= 1;  // older headers: libstdc++ stays backward compatible
  EXPECT_TRUE(check_contract(older));
  auto newer = kernel_contract();
  newer.libstdcxx_major += 1;
  EXPECT_FALSE(check_contract(newer));
}

TEST_F(PluginManagerTest, TooSmallManifestIsRefused) {
  load({"small_manifest"}, {});
  auto s = status_of("fixture_small_manifest.so");
  EXPECT_EQ(s.state, PluginState::refused);
  EXPECT_NE(s.reason.find("manifest struct_size 8 is smaller than the " +
                          std::to_string(sizeof(dialtone_plugin_manifest)) + " bytes"),
            std::string::npos)
      << s.reason;
}

TEST_F(PluginManagerTest, UndefinedSymbolReportsDlerror) {
  load({"undefined_symbol"}, {});
  auto s = status_of("fixture_undefined_symbol.so");
  EXPECT_EQ(s.state, PluginState::refused);
  EXPECT_NE(s.reason.find("cannot be loaded: "), std::string::npos) << s.reason;
  EXPECT_NE(s.reason.find("undefined symbol: dialtone_fixture_function_nobody_defines"),
            std::string::npos)
      << s.reason;
  EXPECT_EQ(s.reason.find('\n'), std::string::npos);
}

TEST_F(PluginManagerTest, DuplicateIdRefusesTheSecondFileNamingBoth) {
  // fixture_duplicate_id.so sorts before fixture_good.so, so it is the first.
  load({"good", "duplicate_id"}, {{"good", enable("fixture.good")}});
  run();
  auto dup = status_of("fixture_duplicate_id.so");
  auto good = status_of("fixture_good.so");
  EXPECT_EQ(dup.state, PluginState::started);
  EXPECT_EQ(good.state, PluginState::refused);
  EXPECT_EQ(good.reason, "duplicate plugin id 'fixture.good', already loaded from " +
                             (plugins_ / "fixture_duplicate_id.so").string());
}

TEST_F(PluginManagerTest, UnmetRequiresIsRefused) {
  load({"needs_missing"}, {{"needs", enable("fixture.needs_missing")}});
  run();
  auto s = status_of("fixture_needs_missing.so");
  EXPECT_EQ(s.state, PluginState::refused);
  EXPECT_EQ(s.reason, "requires fixture.nowhere which is not installed");
}

TEST_F(PluginManagerTest, RequiringADisabledPluginIsRefused) {
  load({"good", "early_dependent"}, {{"dep", enable("fixture.a_dependent")}});
  run();
  auto s = status_of("fixture_early_dependent.so");
  EXPECT_EQ(s.state, PluginState::refused);
  EXPECT_NE(s.reason.find("requires fixture.good which is disabled"), std::string::npos);
}

TEST_F(PluginManagerTest, CyclicRequiresNamesTheCycle) {
  load({"cycle_a", "cycle_b"}, {{"a", enable("fixture.cycle_a")}, {"b", enable("fixture.cycle_b")}});
  run();
  auto a = status_of("fixture_cycle_a.so");
  auto b = status_of("fixture_cycle_b.so");
  EXPECT_EQ(a.state, PluginState::refused);
  EXPECT_EQ(b.state, PluginState::refused);
  EXPECT_EQ(a.reason, "cyclic requires: fixture.cycle_a -> fixture.cycle_b -> fixture.cycle_a");
  EXPECT_EQ(b.reason, a.reason);
}

TEST_F(PluginManagerTest, ThrowInStartFailsAndBlocksDependents) {
  load({"throws_in_start", "dependent_of_throws", "good"},
       {{"t", enable("fixture.throws_in_start")},
        {"d", enable("fixture.dependent_of_throws")},
        {"g", enable("fixture.good")}});
  run();
  auto t = status_of("fixture_throws_in_start.so");
  EXPECT_EQ(t.state, PluginState::failed);
  EXPECT_EQ(t.reason, "start: exception: boom in start");
  auto d = status_of("fixture_dependent_of_throws.so");
  EXPECT_EQ(d.state, PluginState::blocked);
  EXPECT_EQ(d.reason, "requires fixture.throws_in_start which failed");
  // The rest keeps running.
  EXPECT_EQ(status_of("fixture_good.so").state, PluginState::started);
  EXPECT_TRUE(log_.contains("failed " + (plugins_ / "fixture_throws_in_start.so").string() +
                            " (fixture.throws_in_start): start: exception: boom in start"));
}

TEST_F(PluginManagerTest, ThrowInCreateFails) {
  load({"throws_in_create"}, {{"t", enable("fixture.throws_in_create")}});
  run();
  auto s = status_of("fixture_throws_in_create.so");
  EXPECT_EQ(s.state, PluginState::failed);
  EXPECT_EQ(s.reason, "create: exception: boom in constructor");
}

TEST_F(PluginManagerTest, ConfigureErrorFails) {
  load({"fails_configure"}, {{"f", enable("fixture.fails_configure")}});
  run();
  auto s = status_of("fixture_fails_configure.so");
  EXPECT_EQ(s.state, PluginState::failed);
  EXPECT_EQ(s.reason, "configure: fixture refuses every configuration");
}

TEST_F(PluginManagerTest, RequiredPluginStartsFirst) {
  // The dependent sorts first by file name and fails start() if good is not up.
  load({"early_dependent", "good"}, {{"a", enable("fixture.a_dependent")}, {"g", enable("fixture.good")}});
  run();
  EXPECT_EQ(manager_->start_order(), (std::vector<std::string>{"fixture.good", "fixture.a_dependent"}));
  EXPECT_EQ(status_of("fixture_early_dependent.so").state, PluginState::started);
  manager_->stop();
  // Reverse order on stop: the dependent stops before what it requires.
  auto lines = log_.lines();
  auto pos = [&](const std::string& l) { return std::find(lines.begin(), lines.end(), l) - lines.begin(); };
  EXPECT_LT(pos("stopped fixture.a_dependent"), pos("stopped fixture.good"));
}

TEST_F(PluginManagerTest, InvalidOptionsRefuseThePlugin) {
  auto errors = load({"good"}, {{"good", enable("fixture.good", "[good]\nport = 70000\n")}});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("10-good.conf:5: bad value '70000' for good.port (integer): 70000 is above the maximum 65535"),
            std::string::npos)
      << errors[0];
  run();
  EXPECT_EQ(status_of("fixture_good.so").state, PluginState::refused);
}

bool loaded_in_process(const std::filesystem::path& so) {
  void* h = dlopen(so.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (!h) return false;
  dlclose(h);
  return true;
}

TEST_F(PluginManagerTest, LibraryOutlivesThePluginWhileAServiceIsHeld) {
  load({"good"}, {{"good", enable("fixture.good", "[good]\ngreeting = still here\n")}});
  run();
  auto svc = registry_.find<fixtures::GoodService>("main");
  ASSERT_TRUE(svc);
  manager_->stop();
  manager_.reset();  // every record and the manager's handle on the library are gone
  auto so = plugins_ / "fixture_good.so";
  EXPECT_TRUE(loaded_in_process(so));
  EXPECT_EQ(svc->greeting(), "still here");  // code from the .so still runs
  // Whether the last release unloads it is the dynamic loader's call
  // (libstdc++'s STB_GNU_UNIQUE symbols can pin a library), so not asserted.
  svc.reset();
}

TEST_F(PluginManagerTest, ReloadAppliesReloadableOptionsAndReportsOthers) {
  auto conf_file = conf_ / "10-good.conf";
  load({"good"}, {{"good", enable("fixture.good", "[good]\ngreeting = one\nport = 6000\n")}});
  run();
  auto svc = registry_.find<fixtures::GoodService>("main");
  ASSERT_TRUE(svc);
  write_file(conf_file, enable("fixture.good", "[good]\ngreeting = two\nport = 7000\n"));
  auto report = manager_->reload(read_conf_dir(conf_), tmp_.path());
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report.applied, std::vector<std::string>{"fixture.good: good.greeting"});
  EXPECT_EQ(report.restart_needed, std::vector<std::string>{"fixture.good: restart needed for good.port"});
  EXPECT_EQ(svc->greeting(), "two");
  EXPECT_EQ(svc->port(), 6000);  // not reloadable: kept until restart
  EXPECT_EQ(svc->starts(), 1);   // never restarted
  EXPECT_EQ(svc->reloads(), 1);
  EXPECT_EQ(status_of("fixture_good.so").state, PluginState::started);
}

TEST_F(PluginManagerTest, ReloadWithAnErrorKeepsTheRunningConfiguration) {
  auto conf_file = conf_ / "10-good.conf";
  load({"good"}, {{"good", enable("fixture.good", "[good]\ngreeting = one\n")}});
  run();
  auto svc = registry_.find<fixtures::GoodService>("main");
  write_file(conf_file, enable("fixture.good", "[good]\ngreeting = two\ntimeout = soon\n"));
  auto report = manager_->reload(read_conf_dir(conf_), tmp_.path());
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.errors[0].find("10-good.conf:6: bad value 'soon' for good.timeout"), std::string::npos)
      << report.errors[0];
  EXPECT_EQ(svc->greeting(), "one");
  EXPECT_EQ(svc->reloads(), 0);
}

struct V1 {
  static constexpr std::string_view kServiceName = "test.svc";
  static constexpr int kServiceVersion = 1;
};
struct V2 {
  static constexpr std::string_view kServiceName = "test.svc";
  static constexpr int kServiceVersion = 2;
};

TEST(ServiceRegistryTest, DuplicateAndVersionMismatchAreRefused) {
  ServiceRegistryImpl registry;
  PluginServices a(registry, "plugin.a", nullptr), b(registry, "plugin.b", nullptr);
  ASSERT_TRUE(a.provide<V1>("one", std::make_shared<V1>()).ok());
  auto dup = b.provide<V1>("one", std::make_shared<V1>());
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, sdk::ErrorCode::conflict);
  EXPECT_EQ(dup.error().message, "service test.svc 'one' is already provided by plugin.a");
  EXPECT_TRUE(b.find<V1>("one"));
  EXPECT_TRUE(b.find<V1>());  // no instance: the first provided
  EXPECT_FALSE(b.find<V2>("one"));
  ASSERT_TRUE(b.provide<V1>("two", std::make_shared<V1>()).ok());
  EXPECT_EQ(b.all<V1>().size(), 2u);
  EXPECT_EQ(registry.withdraw_all("plugin.b"), 1u);
  EXPECT_FALSE(a.find<V1>("two"));
  a.withdraw<V1>("one");
  EXPECT_FALSE(a.find<V1>());
}

}  // namespace
}  // namespace dialtone::kernel
