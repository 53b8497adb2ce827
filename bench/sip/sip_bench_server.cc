// Runs backend.sip on 127.0.0.1:<port> with users u0..u<n-1> (password
// "pw<i>", extension 2000+i) until stdin closes; writes users.csv for SIPp.
// Usage: sip_bench_server <port> <users> [option=value ...]
// `records=<plugin dir>` also loads records_cel.so and records_call_logs.so
// from that directory (as dialtoned does, through their entry points) on a
// real event bus: calls then cost what they cost with CEL and call logs on.
// `engine=1` runs a media engine (ports 40000-49999, 2 media threads) with
// its call verbs, as the media.engine plugin does; `dialplan=<file>` runs
// that script instead of lua-dialplan/extensions.lua (bench/sip/
// engine_dial.lua answers each call, then dials its callee through the
// engine: the engine-bridged path).
#include <dlfcn.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <stdexcept>
#include <vector>
#include <string>

#include <dialtone/plugin.h>

#include "bench/support/bench_util.h"
#include "kernel/bus/event_bus.h"
#include "plugins/backend/sip/sip_plugin.h"
#include "plugins/media/engine/call_verbs.h"
#include "plugins/media/engine/engine.h"
#include "tests/plugins/backend/sip/sip_host.h"

namespace {

// The test host records every bus event and log line for assertions; under
// load that is memory growing with each call, so the plugin gets a host
// that drops events and prints only warnings and errors, like a production
// bus with no subscriber and a logger at level warn.
class BenchHost final : public dialtone::sdk::Host {
 public:
  // A call core of its own, publishing to the quiet bus: the legs cost what
  // they cost in dialtoned, without the test bus recording every event.
  // `bus`: null for the quiet one (no subscriber), else a real bus.
  BenchHost(dialtone::testing::SipTestHost& inner, dialtone::sdk::EventBus* bus)
      : inner_(inner), bus_(bus ? bus : &quiet_),
        calls_(std::make_shared<dialtone::kernel::CallCoreImpl>(*bus_, log_)) {
    (void)services_.provide<dialtone::sdk::CallCore>("", calls_);
    if (auto config = inner.services().find<dialtone::sdk::ConfigService>())
      (void)services_.provide<dialtone::sdk::ConfigService>("", config);
    // The dialplan dials through this core (its `channel` functions replace
    // the test host's), with `local` legs as in dialtoned.
    if (auto s = calls_->export_lua(*inner.lua()); !s) throw std::runtime_error(s.error().message);
    local_ = std::make_shared<dialtone::kernel::LocalDriver>(*calls_, *inner.lua(), log_);
    (void)calls_->register_driver("local", local_);
  }
  ~BenchHost() override {
    if (verbs_) verbs_->rebind(nullptr);
    if (engine_) engine_->stop();
    calls_->unregister_driver("local");
    calls_->stop();
  }
  // A media engine with its call verbs, as the media.engine plugin sets up.
  void start_engine() {
    dialtone::plugins::media::EngineConfig cfg;
    cfg.port_min = 40000;
    cfg.port_max = 49999;
    cfg.threads = 2;
    cfg.realtime = false;
    engine_ = std::make_shared<dialtone::plugins::media::Engine>(cfg, log_);
    if (auto s = engine_->start(); !s) throw std::runtime_error(s.error().message);
    auto core = calls_;
    engine_->set_dtmf_sink([core](const std::string& ch, char d, dialtone::sdk::media::DtmfSource s) {
      (void)core->dtmf_received(ch, d, s == dialtone::sdk::media::DtmfSource::rfc4733 ? "rfc4733" : "inband");
    });
    (void)services_.provide<dialtone::sdk::media::MediaEngine>("default", engine_);
    verbs_ = std::make_shared<dialtone::plugins::media::CallVerbs>(engine_, &inner_.executor(), &log_);
    for (auto& v : verbs_->functions())
      if (auto s = calls_->register_verb(std::move(v)); !s) throw std::runtime_error(s.error().message);
  }
  std::string_view plugin_id() const override { return inner_.plugin_id(); }
  dialtone::sdk::Logger& log() override { return log_; }
  dialtone::sdk::ServiceRegistry& services() override { return services_; }
  dialtone::sdk::EventBus& bus() override { return *bus_; }
  dialtone::sdk::Executor& executor() override { return inner_.executor(); }
  dialtone::sdk::Store* store() override { return inner_.store(); }
  dialtone::sdk::HttpServer* http() override { return nullptr; }
  dialtone::sdk::LuaHost* lua() override { return inner_.lua(); }
  std::filesystem::path data_dir() const override { return inner_.data_dir(); }

 private:
  dialtone::testing::SipTestHost& inner_;
  dialtone::bench::NullBus quiet_;
  dialtone::sdk::EventBus* bus_;
  dialtone::bench::WarnLog log_;
  dialtone::testing::TestServiceRegistry services_;
  std::shared_ptr<dialtone::kernel::CallCoreImpl> calls_;
  std::shared_ptr<dialtone::kernel::LocalDriver> local_;
  std::shared_ptr<dialtone::plugins::media::Engine> engine_;
  std::shared_ptr<dialtone::plugins::media::CallVerbs> verbs_;
};

// A plugin .so driven through its exported entry points, as the kernel does.
class LoadedPlugin {
 public:
  LoadedPlugin(const std::filesystem::path& file, dialtone::sdk::Host& host) {
    lib_ = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib_) throw std::runtime_error(std::string("cannot load ") + file.string() + ": " + dlerror());
    auto entry = reinterpret_cast<const dialtone_plugin_vtable* (*)()>(dlsym(lib_, "dialtone_plugin_entry_v1"));
    if (!entry) throw std::runtime_error(file.string() + " has no dialtone_plugin_entry_v1");
    vt_ = entry();
    dialtone::sdk::Error err;
    self_ = vt_->create(&host, &err);
    dialtone::sdk::Options none;
    if (!self_ || !vt_->configure(self_, &none, &err) || !vt_->start(self_, &err))
      throw std::runtime_error(file.string() + ": " + err.message);
  }
  ~LoadedPlugin() {
    dialtone::sdk::Error err;
    if (self_) {
      vt_->stop(self_, &err);
      vt_->destroy(self_);
    }
  }

 private:
  void* lib_ = nullptr;  // left loaded: objects of it may outlive stop()
  const dialtone_plugin_vtable* vt_ = nullptr;
  void* self_ = nullptr;
};

}  // namespace

int main(int argc, char** argv) {
  int port = argc > 1 ? std::atoi(argv[1]) : 5060;
  int users = argc > 2 ? std::atoi(argv[2]) : 1000;
  // The shipped dialplan (lua-dialplan/extensions.lua), as in production,
  // unless dialplan=<file> names another.
  std::filesystem::path dialplan = DIALTONE_DIALPLAN;
  bool engine = false;
  for (int i = 3; i < argc; ++i) {
    std::string kv = argv[i];
    if (kv.rfind("dialplan=", 0) == 0) dialplan = kv.substr(9);
    if (kv == "engine=1") engine = true;
  }
  dialtone::testing::SipTestHost host(dialplan);
  {
    std::ofstream csv("users.csv");
    csv << "SEQUENTIAL\n";
    for (int i = 0; i < users; ++i) {
      host.add_line("u" + std::to_string(i), "pw" + std::to_string(i), std::to_string(2000 + i));
      csv << "u" << i << ";pw" << i << "\n";
    }
  }
  // The most simultaneous calls a user may take, so that load spread over
  // the callees is not refused as busy.
  host.sql("UPDATE confd_users SET simultaneous_calls = 20");
  std::map<std::string, std::string> options = {
      {"sip.listen", "127.0.0.1:" + std::to_string(port)}, {"auth.ban_failures", "0"},
      {"sip.node", "bench"}};
  std::string records_dir;
  // Further plugin options as key=value, e.g. media.direct_media=true.
  for (int i = 3; i < argc; ++i) {
    std::string kv = argv[i];
    auto eq = kv.find('=');
    if (eq == std::string::npos) {
      std::cerr << "option \"" << kv << "\" is not key=value; write e.g. media.direct_media=true\n";
      return 1;
    }
    if (kv.substr(0, eq) == "records") records_dir = kv.substr(eq + 1);
    else if (kv.substr(0, eq) != "dialplan" && kv.substr(0, eq) != "engine") options[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  dialtone::bench::WarnLog bus_log;
  std::unique_ptr<dialtone::kernel::EventBusImpl> bus;
  if (!records_dir.empty()) bus = std::make_unique<dialtone::kernel::EventBusImpl>(bus_log);
  BenchHost bench_host(host, bus.get());
  try {
    if (engine) bench_host.start_engine();
  } catch (const std::exception& e) {
    std::cerr << "media engine: " << e.what() << "\n";
    return 1;
  }
  std::vector<std::unique_ptr<LoadedPlugin>> records;
  try {
    for (auto* so : {"records_cel.so", "records_call_logs.so"})
      if (!records_dir.empty())
        records.push_back(std::make_unique<LoadedPlugin>(std::filesystem::path(records_dir) / so, bench_host));
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  dialtone::plugins::backend::sip::SipPlugin plugin(bench_host);
  auto s = plugin.configure(dialtone::sdk::Options(options));
  if (s) s = plugin.start();
  if (!s) {
    std::cerr << s.error().message << "\n";
    return 1;
  }
  std::cout << "ready on 127.0.0.1:" << plugin.port() << (records.empty() ? "" : " with CEL and call logs")
            << " (database " << host.dsn() << ")" << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  plugin.stop();
  records.clear();
  return 0;
}
