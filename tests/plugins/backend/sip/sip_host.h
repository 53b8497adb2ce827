// A test host for backend.sip: real PostgreSQL store (fresh database with the
// confd schema and a few lines), real Lua host running dialplan.lua, a thread
// pool, a capturing bus and logger; plus helpers to run SIPp.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <dialtone/host.h>
#include <dialtone/services.h>

#include "kernel/executor/thread_pool.h"
#include "kernel/lua/lua_host.h"
#include "kernel/store/pg_store.h"
#include "tests/support/test_bus.h"
#include "tests/support/test_logger.h"

namespace dialtone::testing {

// backend.sip provides no services yet; lookups find nothing.
class EmptyServiceRegistry final : public sdk::ServiceRegistry {
 public:
  sdk::Status provide_erased(std::string, int, std::string, std::shared_ptr<void>) override {
    return {};
  }
  std::shared_ptr<void> find_erased(std::string_view, int, std::string_view) const override {
    return nullptr;
  }
  std::vector<std::pair<std::string, std::shared_ptr<void>>> all_erased(std::string_view,
                                                                        int) const override {
    return {};
  }
  void withdraw_erased(std::string_view, std::string_view) override {}
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
  kernel::PgStore& pg() { return *store_; }

  // Adds a user with one SIP line `username`/`secret` and extension `exten`
  // in context "default".
  // Returns the user id.
  std::string add_line(const std::string& username, const std::string& secret, const std::string& exten);
  // Runs one SQL statement on the test database; throws on failure.
  std::string sql(const std::string& statement, const std::vector<std::string>& params = {});

 private:
  TestLogger log_;
  TestBus bus_;
  EmptyServiceRegistry services_;
  std::unique_ptr<kernel::ThreadPool> pool_;
  std::unique_ptr<kernel::PgStore> store_;
  std::unique_ptr<kernel::LuaHostImpl> lua_;
};

// A port on 127.0.0.1 free (at the time of asking) for UDP and TCP.
int free_port();

// Runs SIPp with `args` (bounded by a timeout) in a scratch folder; returns
// its exit status (0: every call succeeded). `output` receives its logs.
int run_sipp(const std::vector<std::string>& args, std::string* output = nullptr);

}  // namespace dialtone::testing
