// Times ConnectionScanner::scan over N accepted loopback connections (2N+
// descriptors in this process), with and without the idle times, as
// backend.sip runs it on its SIP thread. Usage: sip_connection_scan N
// (raise `ulimit -n` above 2N first).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "plugins/backend/sip/transports.h"

using dialtone::plugins::backend::sip::ConnectionScanner;

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 4096;
  int l = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(l, 4096) != 0 ||
      ::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    std::perror("listen");
    return 1;
  }
  for (int i = 0; i < n; ++i) {
    int c = ::socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || ::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::accept(l, nullptr, nullptr) < 0) {
      std::perror("connection");
      return 1;
    }
  }
  ConnectionScanner scanner;
  int port = ntohs(a.sin_port);
  for (bool idle : {false, true}) {
    std::vector<double> ms;
    std::size_t found = 0;
    for (int r = 0; r < 21; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      found = scanner.scan("127.0.0.1", {port}, idle).size();
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    std::printf("%d connections, idle times %s: found %zu, median %.2f ms, max %.2f ms\n", n,
                idle ? "read" : "not read", found, ms[ms.size() / 2], ms.back());
  }
  return 0;
}
