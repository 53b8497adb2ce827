// Runs backend.sip on 127.0.0.1:<port> with users u0..u<n-1> (password
// "pw<i>", extension 2000+i) until stdin closes; writes users.csv for SIPp.
// Usage: sip_bench_server <port> <users> [option=value ...]
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>

#include "plugins/backend/sip/sip_plugin.h"
#include "tests/plugins/backend/sip/sip_host.h"

namespace {

// The test host records every bus event and log line for assertions; under
// load that is memory growing with each call, so the plugin gets a host
// that drops events and prints only warnings and errors, like a production
// bus with no subscriber and a logger at level warn.
class QuietBus final : public dialtone::sdk::EventBus {
 public:
  using dialtone::sdk::EventBus::publish;
  void publish(std::shared_ptr<const dialtone::sdk::Event>) override {}
  std::unique_ptr<dialtone::sdk::Subscription> subscribe(std::string, dialtone::sdk::EventHandler,
                                                         dialtone::sdk::SubscribeOptions) override {
    return nullptr;
  }
};

class WarnLogger final : public dialtone::sdk::Logger {
 public:
  void log(dialtone::sdk::LogLevel level, std::string_view message) override {
    if (enabled(level)) std::cerr << message << "\n";
  }
  bool enabled(dialtone::sdk::LogLevel level) const override {
    return level >= dialtone::sdk::LogLevel::warn;
  }
};

class BenchHost final : public dialtone::sdk::Host {
 public:
  // A call core of its own, publishing to the quiet bus: the legs cost what
  // they cost in dialtoned, without the test bus recording every event.
  explicit BenchHost(dialtone::testing::SipTestHost& inner) : inner_(inner) {
    (void)services_.provide<dialtone::sdk::CallCore>("", calls_);
  }
  ~BenchHost() override { calls_->stop(); }
  std::string_view plugin_id() const override { return inner_.plugin_id(); }
  dialtone::sdk::Logger& log() override { return log_; }
  dialtone::sdk::ServiceRegistry& services() override { return services_; }
  dialtone::sdk::EventBus& bus() override { return bus_; }
  dialtone::sdk::Executor& executor() override { return inner_.executor(); }
  dialtone::sdk::Store* store() override { return inner_.store(); }
  dialtone::sdk::HttpServer* http() override { return nullptr; }
  dialtone::sdk::LuaHost* lua() override { return inner_.lua(); }
  std::filesystem::path data_dir() const override { return inner_.data_dir(); }

 private:
  dialtone::testing::SipTestHost& inner_;
  QuietBus bus_;
  WarnLogger log_;
  dialtone::testing::TestServiceRegistry services_;
  std::shared_ptr<dialtone::kernel::CallCoreImpl> calls_ =
      std::make_shared<dialtone::kernel::CallCoreImpl>(bus_, log_);
};

}  // namespace

int main(int argc, char** argv) {
  int port = argc > 1 ? std::atoi(argv[1]) : 5060;
  int users = argc > 2 ? std::atoi(argv[2]) : 1000;
  // The shipped dialplan (lua-dialplan/extensions.lua), as in production.
  dialtone::testing::SipTestHost host(std::filesystem::path(DIALTONE_DIALPLAN));
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
  BenchHost bench_host(host);
  dialtone::plugins::backend::sip::SipPlugin plugin(bench_host);
  std::map<std::string, std::string> options = {
      {"sip.listen", "127.0.0.1:" + std::to_string(port)}, {"auth.ban_failures", "0"},
      {"sip.node", "bench"}};
  // Further plugin options as key=value, e.g. media.direct_media=true.
  for (int i = 3; i < argc; ++i) {
    std::string kv = argv[i];
    auto eq = kv.find('=');
    if (eq == std::string::npos) {
      std::cerr << "option \"" << kv << "\" is not key=value; write e.g. media.direct_media=true\n";
      return 1;
    }
    options[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  auto s = plugin.configure(dialtone::sdk::Options(options));
  if (s) s = plugin.start();
  if (!s) {
    std::cerr << s.error().message << "\n";
    return 1;
  }
  std::cout << "ready on 127.0.0.1:" << plugin.port() << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  plugin.stop();
  return 0;
}
