// A test host for backend.sip: real PostgreSQL store (fresh database with the
// confd schema and a few lines) and api.confd's configuration service, real Lua host running dialplan.lua, a thread
// pool, a capturing bus and logger; plus helpers to run SIPp.
#pragma once

#include "tests/support/udp_ports.h"  // wait_udp_bound: a SIPp phone is ready to be rung

#include <atomic>
#include <map>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <dialtone/host.h>
#include <dialtone/services.h>

#include "kernel/calls/call_completion.h"
#include "kernel/calls/call_core.h"
#include "kernel/calls/local_driver.h"
#include "kernel/executor/thread_pool.h"
#include "kernel/lua/lua_host.h"
#include "kernel/presence/presence_service.h"
#include "kernel/store/pg_store.h"
#include "plugins/api/confd/config_service.h"
#include "tests/support/eventually.h"  // eventually(): SIP tests wait through it
#include "tests/support/test_bus.h"
#include "tests/support/test_logger.h"

namespace dialtone::testing {

// The folder of this test binary's dialplan.lua and scenarios/. sip_host.cc
// is built once for every binary (dialtone_sip_test_host); sip_test_dir.cc
// defines this in each binary, with that binary's SIP_TEST_DIR.
const char* sip_test_dir();

// Services by (name, version, instance), as the kernel's registry finds them;
// the last provided under a name wins. Holds the kernel's call core.
class TestServiceRegistry final : public sdk::ServiceRegistry {
 public:
  sdk::Status provide_erased(std::string name, int version, std::string instance,
                             std::shared_ptr<void> impl) override;
  std::shared_ptr<void> find_erased(std::string_view name, int version,
                                    std::string_view instance) const override;
  std::vector<std::pair<std::string, std::shared_ptr<void>>> all_erased(std::string_view name,
                                                                        int version) const override;
  void withdraw_erased(std::string_view name, std::string_view instance) override;

 private:
  struct Entry {
    std::string name;
    int version = 0;
    std::string instance;
    std::shared_ptr<void> impl;
  };
  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
};

class SipTestHost final : public sdk::Host {
 public:
  // `script`: the dialplan entry file (default: tests/plugins/backend/sip/dialplan.lua).
  explicit SipTestHost(std::filesystem::path script = {});
  ~SipTestHost() override;

  std::string_view plugin_id() const override { return "backend.sip"; }
  sdk::Logger& log() override { return log_; }
  sdk::ServiceRegistry& services() override { return services_; }
  sdk::EventBus& bus() override { return bus_; }
  sdk::Executor& executor() override { return *pool_; }
  sdk::Store* store() override { return store_.get(); }
  sdk::HttpServer* http() override { return nullptr; }
  sdk::LuaHost* lua() override { return lua_.get(); }
  std::filesystem::path data_dir() const override { return "/tmp"; }

  TestLogger& logger() { return log_; }
  TestBus& test_bus() { return bus_; }
  // The kernel's call core, provided as sdk::CallCore to the plugin.
  kernel::CallCoreImpl& calls() { return *calls_; }
  kernel::PgStore& pg() { return *store_; }
  // The test database, for a connection of the test's own.
  const std::string& dsn() const { return dsn_; }

  // Adds a user with one SIP line `username`/`secret` and extension `exten`
  // in context "default".
  // Returns the user id.
  std::string add_line(const std::string& username, const std::string& secret, const std::string& exten);
  // Adds a group `name` ringing `members` (user ids, in order) by
  // `strategy`, each member 2 s at a time with no pause between tries;
  // `exten` in "default" when not empty. Returns the group id.
  std::string add_group(const std::string& name, const std::string& strategy,
                        const std::vector<std::string>& members, const std::string& exten);
  // Runs one SQL statement on the test database and waits for the
  // configuration snapshot to hold it; throws on failure.
  std::string sql(const std::string& statement, const std::vector<std::string>& params = {});
  // Waits for a configuration snapshot holding everything committed so far
  // (after writing to the store another way than sql()).
  void refresh_config();
  plugins::api::confd::ConfigServiceImpl& config() { return *config_; }
  // The kernel's presence model, provided as sdk::PresenceService.
  kernel::PresenceServiceImpl& presence() { return *presence_; }
  // Call completion (*40), exported to the dialplan as `completion`.
  kernel::CallCompletion& completion() { return *completion_; }
  // From now on dialtone.now() reads `t` plus the time elapsed since this
  // call: the dialplan sees a chosen time of day, and ring times still run.
  void set_time(std::chrono::system_clock::time_point t) {
    clock_shift_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(t - std::chrono::system_clock::now()).count();
  }

 private:
  TestLogger log_;
  TestBus bus_;
  TestServiceRegistry services_;
  std::shared_ptr<kernel::CallCoreImpl> calls_;
  std::unique_ptr<kernel::ThreadPool> pool_;
  std::unique_ptr<kernel::PgStore> store_;
  std::unique_ptr<kernel::LuaHostImpl> lua_;
  std::shared_ptr<kernel::LocalDriver> local_;
  std::shared_ptr<plugins::api::confd::ConfigServiceImpl> config_;
  std::shared_ptr<kernel::PresenceServiceImpl> presence_;
  std::unique_ptr<kernel::CallCompletion> completion_;
  std::string dsn_;
  std::atomic<std::int64_t> clock_shift_ms_{0};
};

// A port on 127.0.0.1 free (at the time of asking) for UDP and TCP.
int free_port();

// SIPp's -mp: a port p, a multiple of four apart from 31100, with p..p+3 free
// for UDP (SIPp binds audio on p and video on p+2, and gives up at once when
// one is taken; run_sipp() then runs it again on another).
int free_media_port();

// The SIPp scenario `name` of tests/plugins/backend/sip/scenarios.
std::string scenario(const std::string& name);

// Runs SIPp with `args` (bounded by a timeout) in a scratch folder; returns
// its exit status (0: every call succeeded). `output` receives its logs.
int run_sipp(const std::vector<std::string>& args, std::string* output = nullptr);

}  // namespace dialtone::testing
