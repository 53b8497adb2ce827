// How long the datagram the SIP thread is handling waited in its UDP
// socket's receive queue: the kernel's receive timestamp of the last
// datagram read (SIOCGSTAMP) against the clock. Under overload the queue,
// not the thread, is where requests wait: a request read seconds after it
// arrived has been retransmitted or abandoned by its sender meanwhile, so
// the front door refuses new requests by this delay before doing any work
// for them (out_of_dialog.cc).
//
// Sofia owns its sockets and does not give their descriptors away: they are
// found once, after the agent is created, as this process's UDP sockets
// bound to the SIP port (one per address family).
#pragma once

#include <chrono>
#include <optional>

namespace dialtone::plugins::backend::sip {

class ReceiveDelay {
 public:
  // Finds the UDP sockets bound to `port`; false when there is none.
  bool find_sockets(int port);
  // The wait of the last datagram read from the socket of `family`
  // (AF_INET, AF_INET6), or none (no such socket, or no timestamp yet).
  std::optional<std::chrono::microseconds> last(int family) const;
  // last(), asked only when the wait could be over `bound`: a socket's
  // queue is first in, first out, so a datagram read `t` after one that
  // waited `d` waited at most `d + t`. While that stays within `bound` the
  // answer is that sum (an upper bound), without a system call; past it,
  // the measured wait. An idle socket's first datagram is measured.
  std::optional<std::chrono::microseconds> last_within(int family, std::chrono::microseconds bound);
  // The same for the socket `fd` (the first call turns timestamps on:
  // only the datagrams received after it have one).
  static std::optional<std::chrono::microseconds> last_of(int fd);

 private:
  struct Measured {
    std::chrono::microseconds delay{0};
    std::chrono::steady_clock::time_point at{};  // epoch: never measured
  };
  int v4_ = -1;
  int v6_ = -1;
  Measured measured_[2];
};

// The front door's decision for a new request that waited `delay` in the
// receive queue: refused (503) past `max`; a request that would only be
// challenged (no credentials yet) already past half of it, so that a
// caller that got through the challenge is not refused after it (0: no
// bound).
bool too_late(std::optional<std::chrono::microseconds> delay, std::chrono::milliseconds max,
              bool has_credentials);
// The wait past which too_late() refuses (0: no bound).
std::chrono::microseconds late_bound(std::chrono::milliseconds max, bool has_credentials);

}  // namespace dialtone::plugins::backend::sip
