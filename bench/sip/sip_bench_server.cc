// Runs backend.sip on 127.0.0.1:<port> with users u0..u<n-1> (password
// "pw<i>", extension 2000+i) until stdin closes; writes users.csv for SIPp.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "plugins/backend/sip/sip_plugin.h"
#include "tests/plugins/backend/sip/sip_host.h"

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
  dialtone::plugins::backend::sip::SipPlugin plugin(host);
  auto s = plugin.configure(dialtone::sdk::Options(
      {{"sip.listen", "127.0.0.1:" + std::to_string(port)}, {"auth.ban_failures", "0"},
       {"sip.node", "bench"}}));
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
