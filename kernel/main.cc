// dialtoned: the Dialtone kernel.
#include <signal.h>
#include <sys/resource.h>

#include <iostream>
#include <string>

#include <boost/program_options.hpp>

#include "kernel/core/kernel.h"
#include "kernel/core/maintenance.h"
#include "kernel/core/plugin_library.h"
#include "kernel/core/setup.h"

namespace po = boost::program_options;
using namespace dialtone::kernel;

namespace {

int list_plugins(KernelSetup setup) {
  Kernel kernel(std::move(setup));
  kernel.configure_offline();
  auto status = kernel.plugins().status();
  std::size_t w_id = 2, w_ver = 7, w_state = 5;
  for (auto& s : status) {
    w_id = std::max(w_id, s.id.size());
    w_ver = std::max(w_ver, s.version.size());
    w_state = std::max(w_state, to_string(s.state).size());
  }
  auto pad = [](std::string s, std::size_t n) { return s + std::string(n - s.size() + 2, ' '); };
  std::cout << pad("ID", w_id) << pad("VERSION", w_ver) << pad("STATE", w_state) << "FILE\n";
  for (auto& s : status) {
    std::cout << pad(s.id.empty() ? "-" : s.id, w_id) << pad(s.version.empty() ? "-" : s.version, w_ver)
              << pad(std::string(to_string(s.state)), w_state) << s.file.string();
    if (!s.reason.empty()) std::cout << "  (" << to_string(s.state) << ": " << s.reason << ")";
    std::cout << "\n";
  }
  if (status.empty()) std::cout << "(no plugin files found)\n";
  return 0;
}

// Every relayed or terminated RTP port, SIP connection and database
// connection is a descriptor: take all the hard limit allows (the soft
// default, often 1,024, would refuse calls long before the RTP ranges fill).
void raise_file_limit() {
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) != 0 || nofile.rlim_cur == nofile.rlim_max) return;
  nofile.rlim_cur = nofile.rlim_max;
  (void)::setrlimit(RLIMIT_NOFILE, &nofile);
}

int run(KernelSetup setup) {
  raise_file_limit();
  // Every thread started from here on inherits the mask, so only sigwait()
  // below sees these signals.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Kernel kernel(std::move(setup));
  Logging::install_fatal_handlers();
  if (auto s = kernel.start(); !s) {
    std::cerr << "dialtoned: " << s.error().message << "\n";
    kernel.stop();
    return 1;
  }
  for (auto& l : kernel.listener_lines()) std::cout << l << "\n";
  if (!kernel.admin_hint().empty()) std::cout << kernel.admin_hint() << "\n";
  std::cout.flush();
  while (true) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      auto r = kernel.reload();
      kernel.log().info(r.ok() ? "SIGHUP: configuration reloaded" : "SIGHUP: reload refused");
      continue;
    }
    kernel.log().info(std::string("stopping on ") + (sig == SIGINT ? "SIGINT" : "SIGTERM"));
    kernel.stop();
    return 0;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CommandLine cli;
  std::string describe_id;
  long call_log_cels = 0;
  po::options_description visible("dialtoned options");
  visible.add_options()
      ("help,h", "show this help")
      ("version", "print the version and the plugin ABI")
      ("config-dir,c", po::value<std::string>()->default_value("./conf.d"), "conf.d directory")
      ("plugin-dir", po::value<std::string>(), "plugin directory (overrides kernel.plugin_dir)")
      ("data-dir", po::value<std::string>(), "state directory (overrides kernel.data_dir)")
      ("log-level", po::value<std::string>(), "trace|debug|info|warn|error|critical|off (overrides log.level)")
      ("check-config", "validate conf.d and every plugin manifest, print problems, exit 0 or 1")
      ("list-plugins", "load and configure the plugins, show each one's state, exit")
      ("describe", po::value<std::string>(&describe_id), "print a plugin's options (`kernel` for dialtoned's own)")
      ("generate-call-logs", po::value<long>(&call_log_cels),
       "build call logs from the N last CEL entries not yet in one (as xivo-call-logs -c N), exit");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(visible).run(), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "dialtoned: " << e.what() << "; see dialtoned --help\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << "usage: dialtoned [options]\n" << visible << "\n";
    return 0;
  }
  if (vm.count("version")) {
    std::cout << "dialtoned " << DIALTONE_VERSION << " (plugin ABI " << kernel_abi() << ")\n";
    return 0;
  }
  cli.config_dir = vm["config-dir"].as<std::string>();
  if (vm.count("plugin-dir")) cli.plugin_dir = vm["plugin-dir"].as<std::string>();
  if (vm.count("data-dir")) cli.data_dir = vm["data-dir"].as<std::string>();
  if (vm.count("log-level")) cli.log_level = vm["log-level"].as<std::string>();

  auto setup = load_setup(cli);
  if (vm.count("check-config")) return check_config(setup, std::cout);
  if (vm.count("describe")) return describe(setup, describe_id, std::cout);
  if (vm.count("list-plugins")) return list_plugins(std::move(setup));
  if (vm.count("generate-call-logs")) return generate_call_logs(setup, call_log_cels, std::cout, std::cerr);
  return run(std::move(setup));
}
