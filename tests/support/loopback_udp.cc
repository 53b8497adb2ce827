#include "tests/support/loopback_udp.h"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

namespace dialtone::testing {

sockaddr_in loopback_address(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  return a;
}

LoopbackUdp::LoopbackUdp(int port) : fd_(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
  auto a = loopback_address(port);
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return;
  socklen_t len = sizeof a;
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
}

LoopbackUdp::~LoopbackUdp() { ::close(fd_); }

void LoopbackUdp::send_to(int port, std::string_view datagram) const {
  auto a = loopback_address(port);
  ::sendto(fd_, datagram.data(), datagram.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
}

std::string LoopbackUdp::receive(int ms, int* from_port) const {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, ms) <= 0) return {};
  char buf[65536];
  sockaddr_in a{};
  socklen_t len = sizeof a;
  auto n = ::recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&a), &len);
  if (n < 0) return {};
  if (from_port) *from_port = ntohs(a.sin_port);
  return std::string(buf, static_cast<std::size_t>(n));
}

}  // namespace dialtone::testing
