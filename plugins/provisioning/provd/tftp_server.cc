#include "plugins/provisioning/provd/tftp_server.h"

#include <dialtone/text.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "plugins/provisioning/provd/provd.h"

namespace dialtone::plugins::provisioning {
namespace {

constexpr int kRrq = 1, kData = 3, kAck = 4, kError = 5, kOack = 6;
constexpr int kRetries = 5;
constexpr int kTimeoutMs = 1000;

void put16(std::string& s, int v) {
  s += static_cast<char>((v >> 8) & 0xff);
  s += static_cast<char>(v & 0xff);
}

int get16(const char* p) {
  return (static_cast<unsigned char>(p[0]) << 8) | static_cast<unsigned char>(p[1]);
}

void send_error(int fd, const sockaddr_in& to, int code, const std::string& msg) {
  std::string pkt;
  put16(pkt, kError);
  put16(pkt, code);
  pkt += msg;
  pkt += '\0';
  ::sendto(fd, pkt.data(), pkt.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
}

}  // namespace

TftpServer::TftpServer(sdk::Logger& log, Handler handler, int max_transfers)
    : log_(log), handler_(std::move(handler)), max_transfers_(max_transfers) {}

TftpServer::~TftpServer() { stop(); }

sdk::Status TftpServer::start(const std::string& host, int port) {
  fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
  if (fd_ < 0) return sdk::Error::unavailable(std::string("provd: TFTP socket: ") + std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) {
    ::close(fd_);
    fd_ = -1;
    return sdk::Error::invalid("provd: tftp.listen host '" + host + "' is not an IPv4 address");
  }
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    auto err = std::string(std::strerror(errno));
    ::close(fd_);
    fd_ = -1;
    return sdk::Error::unavailable("provd: cannot bind TFTP on " + host + ":" + std::to_string(port) +
                                   ": " + err +
                                   " (port 69 needs root or CAP_NET_BIND_SERVICE; set tftp.listen "
                                   "in conf.d/60-provisioning.conf)");
  }
  socklen_t len = sizeof a;
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  host_ = host;
  running_ = true;
  thread_ = std::thread([this] { loop(); });
  return {};
}

void TftpServer::stop() {
  if (!running_.exchange(false)) return;
  if (thread_.joinable()) thread_.join();
  std::list<Transfer> t;
  {
    std::lock_guard lock(mutex_);
    t.swap(transfers_);
  }
  for (auto& x : t)
    if (x.thread.joinable()) x.thread.join();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void TftpServer::loop() {
  std::vector<char> buf(1024);
  while (running_) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    sockaddr_in from{};
    socklen_t len = sizeof from;
    auto n = ::recvfrom(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 4) continue;
    if (get16(buf.data()) != kRrq) {
      send_error(fd_, from, 4, "only read requests are served");
      continue;
    }
    if (active_ >= max_transfers_) {
      send_error(fd_, from, 0, "server busy, retry later");
      continue;
    }
    char ip[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &from.sin_addr, ip, sizeof ip);
    std::lock_guard lock(mutex_);
    // Reap finished transfer threads.
    for (auto it = transfers_.begin(); it != transfers_.end();) {
      if (*it->done) {
        it->thread.join();
        it = transfers_.erase(it);
      } else {
        ++it;
      }
    }
    ++active_;
    auto done = std::make_shared<std::atomic<bool>>(false);
    transfers_.push_back({std::thread([this, done, peer = std::string(ip), port = ntohs(from.sin_port),
                                       req = std::string(buf.data() + 2, n - 2)] {
                            transfer(peer, port, req);
                            --active_;
                            *done = true;
                          }),
                          done});
  }
}

void TftpServer::transfer(std::string peer_ip, int peer_port, std::string req) {
  // filename \0 mode \0 [option \0 value \0]...
  std::vector<std::string> parts;
  std::size_t i = 0;
  while (i < req.size()) {
    auto z = req.find('\0', i);
    if (z == std::string::npos) break;
    parts.push_back(req.substr(i, z - i));
    i = z + 1;
  }
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return;
  sockaddr_in local{};
  local.sin_family = AF_INET;
  ::inet_pton(AF_INET, host_.c_str(), &local.sin_addr);
  ::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(peer_port));
  ::inet_pton(AF_INET, peer_ip.c_str(), &to.sin_addr);
  auto close_fd = [&] { ::close(fd); };
  if (parts.size() < 2) {
    send_error(fd, to, 4, "malformed request");
    return close_fd();
  }
  sdk::DeviceRequest r;
  r.protocol = sdk::DeviceRequest::Protocol::tftp;
  r.path = parts[0];
  r.remote_ip = peer_ip;
  auto answer = handler_(r);
  if (answer.status != 200) {
    if (answer.status == 403 || answer.status == 429)
      send_error(fd, to, 2, answer.status == 429 ? "too many requests" : "access violation");
    else
      send_error(fd, to, 1, "file not found");
    return close_fd();
  }
  std::size_t blksize = 512;
  std::string oack;
  for (std::size_t k = 2; k + 1 < parts.size(); k += 2) {
    auto name = sdk::text::to_lower(parts[k]);
    if (name == "blksize") {
      long v = std::strtol(parts[k + 1].c_str(), nullptr, 10);
      if (v >= 8 && v <= 65464) {
        blksize = static_cast<std::size_t>(std::min<long>(v, 1428));
        oack += "blksize";
        oack += '\0';
        oack += std::to_string(blksize);
        oack += '\0';
      }
    } else if (name == "tsize") {
      oack += "tsize";
      oack += '\0';
      oack += std::to_string(answer.body.size());
      oack += '\0';
    }
  }
  std::vector<char> in(1024);
  // Sends `pkt` until the peer acknowledges block `block`.
  auto exchange = [&](const std::string& pkt, int block) -> bool {
    for (int attempt = 0; attempt < kRetries && running_; ++attempt) {
      ::sendto(fd, pkt.data(), pkt.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
      auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kTimeoutMs);
      while (true) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
        if (left <= 0) break;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left)) <= 0) break;
        sockaddr_in from{};
        socklen_t len = sizeof from;
        auto n = ::recvfrom(fd, in.data(), in.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
        if (n < 4 || from.sin_port != to.sin_port) continue;
        int op = get16(in.data());
        if (op == kError) return false;
        if (op == kAck && get16(in.data() + 2) == (block & 0xffff)) return true;
      }
    }
    return false;
  };
  if (!oack.empty()) {
    std::string pkt;
    put16(pkt, kOack);
    pkt += oack;
    if (!exchange(pkt, 0)) return close_fd();
  }
  const std::string& data = answer.body;
  int block = 1;
  std::size_t off = 0;
  while (running_) {
    std::size_t n = std::min(blksize, data.size() - off);
    std::string pkt;
    put16(pkt, kData);
    put16(pkt, block & 0xffff);
    pkt.append(data, off, n);
    if (!exchange(pkt, block)) {
      log_.warn("provd: TFTP transfer of " + r.path + " to " + peer_ip + " timed out");
      break;
    }
    off += n;
    ++block;
    if (n < blksize) break;
  }
  close_fd();
}

}  // namespace dialtone::plugins::provisioning
