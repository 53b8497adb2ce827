#include "plugins/backend/sip/transports.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

namespace dialtone::plugins::backend::sip {
namespace {

const char kOption[] = "sip.tls_certificate_dir";

// Never prompts for a passphrase on the terminal: sofia cannot use an
// encrypted key anyway.
int no_passphrase(char*, int, int, void*) { return 0; }

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

std::string readable_problem(const std::string& path) {
  if (::access(path.c_str(), R_OK) == 0) return {};
  return std::string(std::strerror(errno));
}

}  // namespace

std::string tls_directory_problem(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return std::string(kOption) + ": '" + dir +
           "' is not a folder; create it with agent.pem (private key + certificate) and cafile.pem";
  const std::string agent = dir + "/agent.pem";
  const std::string cafile = dir + "/cafile.pem";
  if (auto e = readable_problem(agent); !e.empty())
    return std::string(kOption) + ": cannot read " + agent + " (" + e +
           "); put the private key and the certificate there (cat key.pem cert.pem > agent.pem), "
           "readable by dialtoned";

  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  {
    BioPtr in(BIO_new_file(agent.c_str(), "r"));
    if (in) key = PEM_read_bio_PrivateKey(in.get(), nullptr, &no_passphrase, nullptr);
  }
  {
    BioPtr in(BIO_new_file(agent.c_str(), "r"));
    if (in) cert = PEM_read_bio_X509(in.get(), nullptr, &no_passphrase, nullptr);
  }
  ERR_clear_error();
  std::string problem;
  if (!key)
    problem = std::string(kOption) + ": " + agent +
              " holds no usable private key (missing, not PEM, or encrypted); add the "
              "unencrypted key: cat key.pem cert.pem > agent.pem";
  else if (!cert)
    problem = std::string(kOption) + ": " + agent +
              " holds no PEM certificate; add it after the key: cat key.pem cert.pem > agent.pem";
  else if (X509_check_private_key(cert, key) != 1)
    problem = std::string(kOption) + ": the private key in " + agent +
              " does not match its certificate; put the key the certificate was issued for";
  else if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0)
    problem = std::string(kOption) + ": the certificate in " + agent +
              " has expired; renew it (docs/admin/sip.md shows how to make one)";
  EVP_PKEY_free(key);
  X509_free(cert);
  ERR_clear_error();
  if (!problem.empty()) return problem;

  if (auto e = readable_problem(cafile); !e.empty())
    return std::string(kOption) + ": cannot read " + cafile + " (" + e +
           "); copy the issuing CA's certificate there (for a self-signed certificate, "
           "the certificate itself)";
  X509* ca = nullptr;
  {
    BioPtr in(BIO_new_file(cafile.c_str(), "r"));
    if (in) ca = PEM_read_bio_X509(in.get(), nullptr, &no_passphrase, nullptr);
  }
  ERR_clear_error();
  if (!ca)
    return std::string(kOption) + ": " + cafile +
           " holds no PEM certificate; copy the issuing CA's certificate there (for a "
           "self-signed certificate, the certificate itself)";
  X509_free(ca);
  return {};
}

ConnectionScanner::ConnectionScanner() {
  dir_fd_ = ::open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

ConnectionScanner::~ConnectionScanner() {
  if (dir_fd_ >= 0) ::close(dir_fd_);
}

std::vector<AcceptedConnection> ConnectionScanner::scan(const std::string& host,
                                                        const std::vector<int>& ports,
                                                        bool with_idle) const {
  std::vector<AcceptedConnection> out;
  if (dir_fd_ < 0 || ports.empty()) return out;
  // The listeners' address in binary form, to skip sockets of other
  // addresses that happen to use the same port number.
  in_addr want4{};
  in6_addr want6{};
  bool any = host.empty() || host == "0.0.0.0" || host == "::" || host == "*";
  bool is4 = !any && inet_pton(AF_INET, host.c_str(), &want4) == 1;
  bool is6 = !any && !is4 && inet_pton(AF_INET6, host.c_str(), &want6) == 1;
  if (!any && !is4 && !is6) any = true;  // a name: sofia resolved it, match on ports
  if (::lseek(dir_fd_, 0, SEEK_SET) != 0) return out;
  // getdents64 rather than readdir: no DIR stream to allocate, and the one
  // descriptor is reused for every scan.
  alignas(8) char buf[16384];
  for (;;) {
    long n = ::syscall(SYS_getdents64, dir_fd_, buf, sizeof buf);
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      struct Dirent64 {
        std::uint64_t ino;
        std::int64_t off;
        unsigned short reclen;
        unsigned char type;
        char name[1];
      };
      auto* d = reinterpret_cast<const Dirent64*>(buf + off);
      off += d->reclen;
      if (d->name[0] < '0' || d->name[0] > '9') continue;
      int fd = std::atoi(d->name);
      if (fd == dir_fd_) continue;
      sockaddr_storage local{};
      socklen_t len = sizeof local;
      if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0) continue;
      int port = 0;
      if (local.ss_family == AF_INET)
        port = ntohs(reinterpret_cast<sockaddr_in*>(&local)->sin_port);
      else if (local.ss_family == AF_INET6)
        port = ntohs(reinterpret_cast<sockaddr_in6*>(&local)->sin6_port);
      else
        continue;
      if (std::find(ports.begin(), ports.end(), port) == ports.end()) continue;
      if (is4 && (local.ss_family != AF_INET ||
                  reinterpret_cast<sockaddr_in*>(&local)->sin_addr.s_addr != want4.s_addr))
        continue;
      if (is6 && (local.ss_family != AF_INET6 ||
                  std::memcmp(&reinterpret_cast<sockaddr_in6*>(&local)->sin6_addr, &want6,
                              sizeof want6) != 0))
        continue;
      // The listening socket and the unconnected UDP socket have no peer.
      sockaddr_storage peer{};
      len = sizeof peer;
      if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0) continue;
      char ip[INET6_ADDRSTRLEN] = {0};
      AcceptedConnection c;
      c.fd = fd;
      if (peer.ss_family == AF_INET) {
        auto* in = reinterpret_cast<sockaddr_in*>(&peer);
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        c.peer = std::string(ip) + ":" + std::to_string(ntohs(in->sin_port));
      } else {
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&peer);
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        c.peer = "[" + std::string(ip) + "]:" + std::to_string(ntohs(in6->sin6_port));
      }
      tcp_info info{};
      socklen_t info_len = sizeof info;
      if (with_idle && ::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &info_len) == 0)
        c.idle_ms = std::min(info.tcpi_last_data_recv, info.tcpi_last_data_sent);
      out.push_back(std::move(c));
    }
  }
  return out;
}

std::size_t ConnectionScanner::close_idle(std::vector<AcceptedConnection>& open,
                                         std::int64_t idle_ms,
                                         const std::function<bool(const std::string& peer)>& keep) {
  auto idle = [&](const AcceptedConnection& c) {
    return c.idle_ms > idle_ms && !(keep && keep(c.peer));
  };
  std::size_t n = 0;
  for (auto& c : open)
    if (idle(c)) {
      ::shutdown(c.fd, SHUT_RDWR);
      ++n;
    }
  open.erase(std::remove_if(open.begin(), open.end(), idle), open.end());
  return n;
}

std::size_t ConnectionScanner::shed(std::vector<AcceptedConnection> open, std::size_t max,
                                    const std::function<bool(const std::string& peer)>& keep) {
  if (open.size() <= max) return 0;
  // Kept peers last, then the highest descriptors first among the others.
  std::vector<std::pair<bool, int>> order;
  for (auto& c : open) order.emplace_back(keep && keep(c.peer), c.fd);
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    if (a.first != b.first) return !a.first;
    return a.second > b.second;
  });
  std::size_t excess = open.size() - max;
  std::size_t done = 0;
  for (auto& [kept, fd] : order) {
    if (done == excess) break;
    ::shutdown(fd, SHUT_RDWR);
    ++done;
  }
  return done;
}

}  // namespace dialtone::plugins::backend::sip
