#include "dahdi_host.h"

#include <stdexcept>
#include <thread>

#include <dialtone/option_check.h>

#include "kernel/calls/local_driver.h"

namespace dialtone::testing {

namespace {

// Legs of backend `test` ring and never answer: a callee nobody picks up.
class NeverAnswers final : public sdk::ChannelDriver {
 public:
  explicit NeverAnswers(sdk::CallCore& core) : core_(core) {}
  sdk::Status originate(const sdk::OriginateRequest& r) override {
    for (auto& leg : r.legs) (void)core_.set_state(leg.channel_id, sdk::ChannelState::ringing);
    return {};
  }
  sdk::Status ringing(const sdk::Channel&) override { return {}; }
  sdk::Status progress(const sdk::Channel&) override { return {}; }
  sdk::Status hangup(const sdk::Channel& c, int cause) override {
    (void)core_.end_channel_q850(c.id, cause ? cause : sdk::q850::normal_clearing);
    return {};
  }

 private:
  sdk::CallCore& core_;
};

}  // namespace

sdk::ServiceRegistry& DahdiTestHost::services() { return *services_; }

DahdiTestHost::DahdiTestHost() : services_(std::make_unique<kernel::ServiceRegistryImpl>()) {
  calls_ = std::make_shared<kernel::CallCoreImpl>(bus_, log_);
  (void)services_->provide<sdk::CallCore>("", calls_);
  pool_ = std::make_unique<kernel::ThreadPool>(2, &log_);
  kernel::LuaConfig cfg;
  cfg.script = std::filesystem::path(DAHDI_TEST_DIR) / "dialplan.lua";
  cfg.states = 2;
  cfg.module_paths = {cfg.script.parent_path(), DAHDI_LUA_LIB_DIR};
  lua_ = std::make_unique<kernel::LuaHostImpl>(cfg, log_);
  if (auto s = lua_->start(); !s) throw std::runtime_error("lua: " + s.error().message);
  if (auto s = calls_->export_lua(*lua_); !s) throw std::runtime_error("calls lua: " + s.error().message);
  test_driver_ = std::make_shared<NeverAnswers>(*calls_);
  if (auto s = calls_->register_driver("test", test_driver_); !s) throw std::runtime_error(s.error().message);
  // local/<exten>@<context>: a transfer's leg into the dialplan, as dialtoned's kernel registers it.
  local_driver_ = std::make_shared<kernel::LocalDriver>(*calls_, *lua_, log_);
  if (auto s = calls_->register_driver("local", local_driver_); !s) throw std::runtime_error(s.error().message);
}

DahdiTestHost::~DahdiTestHost() {
  calls_->unregister_driver("dahdi");
  calls_->unregister_driver("test");
  calls_->unregister_driver("local");
  if (dahdi_) dahdi_->stop();
  calls_->stop();
  lua_->stop();
  pool_->shutdown();
}

std::shared_ptr<plugins::dahdi::DahdiDriver> DahdiTestHost::start_dahdi(std::map<std::string, std::string> options) {
  // The kernel's validation, as dialtoned runs it on conf.d.
  std::map<std::string, sdk::OptionValue> given;
  for (auto& [k, v] : options) given[k] = {v, "test.conf:" + k, "/tmp"};
  auto checked = sdk::check_options("backend.dahdi", plugins::dahdi::kOptions, given, "test.conf:1", "/tmp");
  if (!checked.errors.empty()) throw std::runtime_error("options: " + checked.errors.front());
  auto config = plugins::dahdi::parse_config(checked.options);
  if (!config) throw std::runtime_error("config: " + config.error().message);
  dahdi_ = std::make_shared<plugins::dahdi::DahdiDriver>(std::move(*config), *this, calls_);
  if (auto s = dahdi_->start(); !s) throw std::runtime_error("start: " + s.error().message);
  if (auto s = calls_->register_driver("dahdi", dahdi_); !s) throw std::runtime_error(s.error().message);
  return dahdi_;
}

std::shared_ptr<DahdiTestHost::Dial> DahdiTestHost::dial(std::vector<std::string> targets, std::string caller_number,
                                                         int timeout_seconds, bool anonymous) {
  sdk::ChannelSpec a;
  a.backend = "test";
  a.endpoint = "caller";
  a.caller_number = caller_number;
  auto id = calls_->create_channel(a);
  if (!id) throw std::runtime_error(id.error().message);
  (void)calls_->set_state(*id, sdk::ChannelState::up);
  auto d = std::make_shared<Dial>();
  d->origin = *id;
  sdk::DialOptions o;
  o.targets = std::move(targets);
  o.timeout_seconds = timeout_seconds;
  o.anonymous = anonymous;
  calls_->dial(*id, o, [d](const sdk::DialOutcome& out) {
    std::lock_guard lock(d->m);
    d->outcome = out;
    d->cv.notify_all();
  });
  return d;
}

std::optional<sdk::DialOutcome> DahdiTestHost::wait_outcome(Dial& d, std::chrono::seconds limit) {
  std::unique_lock lock(d.m);
  d.cv.wait_for(lock, limit, [&] { return d.outcome.has_value(); });
  return d.outcome;
}

}  // namespace dialtone::testing
