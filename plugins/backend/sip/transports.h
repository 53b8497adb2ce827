// What the TCP and TLS listeners need besides sofia: checking a TLS
// certificate folder before sofia reads it (sofia starts TLS without a usable
// certificate and says nothing), and holding the number of accepted
// connections under a ceiling (sofia has no limit of its own).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace dialtone::plugins::backend::sip {

// Checks `dir` as sofia reads it: agent.pem with the private key and the
// certificate (matching), cafile.pem with at least one certificate. Returns
// an empty string when usable, else one line naming the file and the fix.
std::string tls_directory_problem(const std::string& dir);

// One accepted TCP or TLS connection on a listening port.
struct AcceptedConnection {
  int fd = -1;
  std::string peer;  // "127.0.0.1:40312" ("[::1]:40312" for IPv6)
  std::int64_t idle_ms = 0;  // since data last went either way (the kernel's count); 0: not read
};

// Finds the process's sockets accepted on `ports` (TCP, local address
// `host` or any) without opening a file descriptor per scan, so it still
// works when the process is out of descriptors.
class ConnectionScanner {
 public:
  ConnectionScanner();
  ~ConnectionScanner();
  ConnectionScanner(const ConnectionScanner&) = delete;
  ConnectionScanner& operator=(const ConnectionScanner&) = delete;

  // `host`: the listeners' address; a wildcard (0.0.0.0, ::) matches any.
  // `with_idle`: also read each connection's idle time (one more call each).
  std::vector<AcceptedConnection> scan(const std::string& host, const std::vector<int>& ports,
                                       bool with_idle = true) const;

  // Shuts down (both ways) the connections beyond `max`: first those whose
  // peer `keep` refuses, highest descriptor (most recent) first. The owner
  // of the socket (sofia) sees the end of stream and closes it. Returns how
  // many were shut down.
  // Shuts down the connections silent for more than `idle_ms` whose peer
  // `keep` refuses, and removes them from `open`. Returns how many.
  static std::size_t close_idle(std::vector<AcceptedConnection>& open, std::int64_t idle_ms,
                                const std::function<bool(const std::string& peer)>& keep);

  static std::size_t shed(std::vector<AcceptedConnection> open, std::size_t max,
                          const std::function<bool(const std::string& peer)>& keep);

 private:
  int dir_fd_ = -1;  // /proc/self/fd, reread from its start on each scan
};

}  // namespace dialtone::plugins::backend::sip
