// A host for backend.dahdi's tests: the kernel's call core and Lua host
// running dialplan.lua (the shipped incalls module for DID routing), a
// capturing bus and logger, and a `test` backend whose legs ring and never
// answer. No database: the dialplan's `config` holds the incalls.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <dialtone/calls.h>
#include <dialtone/host.h>
#include <dialtone/services.h>

#include "kernel/calls/call_core.h"
#include "kernel/core/service_registry.h"
#include "kernel/executor/thread_pool.h"
#include "kernel/lua/lua_host.h"
#include "plugins/backend/dahdi/dahdi_driver.h"
#include "plugins/backend/dahdi/span_config.h"
#include "tests/support/eventually.h"
#include "tests/support/test_bus.h"
#include "tests/support/test_logger.h"

namespace dialtone::testing {

class DahdiTestHost final : public sdk::Host {
 public:
  DahdiTestHost();
  ~DahdiTestHost() override;

  std::string_view plugin_id() const override { return "backend.dahdi"; }
  sdk::Logger& log() override { return log_; }
  sdk::ServiceRegistry& services() override;
  sdk::EventBus& bus() override { return bus_; }
  sdk::Executor& executor() override { return *pool_; }
  sdk::Store* store() override { return nullptr; }
  sdk::HttpServer* http() override { return nullptr; }
  sdk::LuaHost* lua() override { return lua_.get(); }
  std::filesystem::path data_dir() const override { return "/tmp"; }

  TestLogger& logger() { return log_; }
  TestBus& test_bus() { return bus_; }
  kernel::CallCoreImpl& calls() { return *calls_; }
  std::shared_ptr<kernel::CallCoreImpl> calls_ptr() { return calls_; }

  // Parses `options` as conf.d would hand them, starts the driver and
  // registers it as backend `dahdi`.
  std::shared_ptr<plugins::dahdi::DahdiDriver> start_dahdi(std::map<std::string, std::string> options);

  // A caller's leg of backend `test` (inbound, up) dialing `targets`; the
  // outcome arrives through wait_outcome().
  struct Dial {
    std::string origin;
    std::mutex m;
    std::condition_variable cv;
    std::optional<sdk::DialOutcome> outcome;
  };
  std::shared_ptr<Dial> dial(std::vector<std::string> targets, std::string caller_number = "0612345678",
                             int timeout_seconds = 20, bool anonymous = false);
  static std::optional<sdk::DialOutcome> wait_outcome(Dial& d, std::chrono::seconds limit = std::chrono::seconds(30));

 private:
  TestLogger log_;
  TestBus bus_;
  std::unique_ptr<kernel::ServiceRegistryImpl> services_;  // dialtoned's own
  std::shared_ptr<kernel::CallCoreImpl> calls_;
  std::unique_ptr<kernel::ThreadPool> pool_;
  std::unique_ptr<kernel::LuaHostImpl> lua_;
  std::shared_ptr<sdk::ChannelDriver> test_driver_;
  std::shared_ptr<sdk::ChannelDriver> local_driver_;
  std::shared_ptr<plugins::dahdi::DahdiDriver> dahdi_;
};

}  // namespace dialtone::testing
