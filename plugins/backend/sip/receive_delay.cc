#include "plugins/backend/sip/receive_delay.h"

#include <dirent.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdlib>

namespace dialtone::plugins::backend::sip {

bool ReceiveDelay::find_sockets(int port) {
  v4_ = v6_ = -1;
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return false;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    int fd = std::atoi(e->d_name);
    int type = 0;
    socklen_t len = sizeof type;
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_DGRAM) continue;
    sockaddr_storage a{};
    len = sizeof a;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) continue;
    if (a.ss_family == AF_INET && ntohs(reinterpret_cast<sockaddr_in*>(&a)->sin_port) == port) v4_ = fd;
    if (a.ss_family == AF_INET6 && ntohs(reinterpret_cast<sockaddr_in6*>(&a)->sin6_port) == port) v6_ = fd;
  }
  ::closedir(d);
  // Turns timestamps on for what comes next.
  if (v4_ >= 0) last_of(v4_);
  if (v6_ >= 0) last_of(v6_);
  return v4_ >= 0 || v6_ >= 0;
}

std::optional<std::chrono::microseconds> ReceiveDelay::last(int family) const {
  int fd = family == AF_INET ? v4_ : family == AF_INET6 ? v6_ : -1;
  if (fd < 0) return std::nullopt;
  return last_of(fd);
}

std::optional<std::chrono::microseconds> ReceiveDelay::last_within(int family,
                                                                  std::chrono::microseconds bound) {
  int fd = family == AF_INET ? v4_ : family == AF_INET6 ? v6_ : -1;
  if (fd < 0) return std::nullopt;
  Measured& m = measured_[family == AF_INET ? 0 : 1];
  auto now = std::chrono::steady_clock::now();
  if (m.at.time_since_epoch().count() != 0) {
    auto most = m.delay + std::chrono::duration_cast<std::chrono::microseconds>(now - m.at);
    if (most <= bound) return most;
  }
  auto d = last_of(fd);
  if (d) m = {*d, now};
  return d;
}

std::optional<std::chrono::microseconds> ReceiveDelay::last_of(int fd) {
  timeval stamp{};
  if (::ioctl(fd, SIOCGSTAMP, &stamp) != 0) return std::nullopt;
  timeval now{};
  ::gettimeofday(&now, nullptr);
  std::int64_t us = (now.tv_sec - stamp.tv_sec) * 1000000LL + (now.tv_usec - stamp.tv_usec);
  return std::chrono::microseconds(us < 0 ? 0 : us);
}

std::chrono::microseconds late_bound(std::chrono::milliseconds max, bool has_credentials) {
  return has_credentials ? std::chrono::microseconds(max) : std::chrono::microseconds(max) / 2;
}

bool too_late(std::optional<std::chrono::microseconds> delay, std::chrono::milliseconds max,
              bool has_credentials) {
  if (!delay || max.count() <= 0) return false;
  return *delay > late_bound(max, has_credentials);
}

}  // namespace dialtone::plugins::backend::sip
