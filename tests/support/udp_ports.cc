#include "tests/support/udp_ports.h"

#include "tests/support/eventually.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace dialtone::testing {
namespace {

bool udp_port_bound(int port) {
  std::ifstream in("/proc/net/udp");
  std::string line;
  std::getline(in, line);  // header
  char want[8];
  std::snprintf(want, sizeof want, ":%04X", port);
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, local;
    fields >> slot >> local;
    if (local.size() > 5 && local.compare(local.size() - 5, 5, want) == 0) return true;
  }
  return false;
}

}  // namespace

// Only looks: probing by binding the port ourselves would make the other
// process's own bind fail whenever it started at that moment.
bool wait_udp_bound(int port) {
  return eventually([&] { return udp_port_bound(port); });
}

}  // namespace dialtone::testing
