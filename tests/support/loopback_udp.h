// A UDP socket on 127.0.0.1 for tests that talk to a server the way a phone
// or a media peer does: bound before the first send, so the server's answers
// and requests come back to port().
//
//   LoopbackUdp phone;                        // any free port
//   phone.send_to(plugin->port(), options_request);
//   auto answer = phone.receive();            // "" after 5 s of nothing
#pragma once

#include <netinet/in.h>

#include <string>
#include <string_view>

namespace dialtone::testing {

// 127.0.0.1:`port` as a socket address.
sockaddr_in loopback_address(int port);

class LoopbackUdp {
 public:
  // Bound on 127.0.0.1:`port`; 0: a free port. A port already taken leaves
  // the socket unbound and bound() false.
  explicit LoopbackUdp(int port = 0);
  ~LoopbackUdp();
  LoopbackUdp(const LoopbackUdp&) = delete;
  LoopbackUdp& operator=(const LoopbackUdp&) = delete;

  bool bound() const { return port_ != 0; }
  int port() const { return port_; }
  int fd() const { return fd_; }

  void send_to(int port, std::string_view datagram) const;
  // The next datagram within `ms` ("" when none came), and the port it came
  // from.
  std::string receive(int ms = 5000, int* from_port = nullptr) const;

 private:
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace dialtone::testing
