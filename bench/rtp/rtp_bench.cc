// Load on the RTP relay: N anchored G.711 calls, each two UDP "phones" on
// 127.0.0.1 sending 20 ms packets (160-byte payload, 50 packets/s per
// direction) through their relay ports for a given time. Reports loss and
// the CPU time of the relay thread and of the whole process.
//
//   rtp_bench <calls> <seconds> [port_min]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "plugins/backend/sip/rtp_relay.h"

using namespace dialtone::plugins::backend::sip;

namespace {

struct Phone {
  int fd = -1;
  int port = 0;
  int relay_port = 0;  // where it sends
  std::uint16_t seq = 0;
  std::uint32_t ssrc = 0;
};

int open_phone() {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    std::perror("bind");
    std::exit(1);
  }
  int buf = 1 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  return fd;
}

int port_of(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

// UDP datagrams the kernel dropped for a full receive buffer (all sockets).
long long rcvbuf_errors() {
  FILE* f = std::fopen("/proc/net/snmp", "r");
  if (!f) return -1;
  char line[1024];
  bool header = false;
  long long v = -1;
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, "Udp:", 4) != 0) continue;
    if (!header) {
      header = true;
      continue;
    }
    // Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors ...
    long long f1, f2, f3, f4, f5;
    if (std::sscanf(line + 4, "%lld %lld %lld %lld %lld", &f1, &f2, &f3, &f4, &f5) == 5) v = f5;
  }
  std::fclose(f);
  return v;
}

double process_cpu() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s <calls> <seconds> [port_min]\n", argv[0]);
    return 2;
  }
  int calls = std::atoi(argv[1]);
  int seconds = std::atoi(argv[2]);
  RelayConfig cfg;
  cfg.bind = "127.0.0.1";
  cfg.port_min = argc > 3 ? std::atoi(argv[3]) : 10000;
  cfg.port_max = cfg.port_min + calls * 4 + 63;
  RtpRelay relay(cfg);
  if (auto s = relay.start(); !s) {
    std::fprintf(stderr, "%s\n", s.error().message.c_str());
    return 1;
  }
  std::vector<Phone> phones(static_cast<std::size_t>(calls) * 2);
  std::vector<RtpRelay::SessionId> sessions;
  for (int i = 0; i < calls; ++i) {
    auto s = relay.allocate();
    if (!s) {
      std::fprintf(stderr, "%s\n", s.error().message.c_str());
      return 1;
    }
    sessions.push_back(s->first);
    Phone& a = phones[i * 2];
    Phone& b = phones[i * 2 + 1];
    a.fd = open_phone();
    b.fd = open_phone();
    a.port = port_of(a.fd);
    b.port = port_of(b.fd);
    a.relay_port = s->second.a;
    b.relay_port = s->second.b;
    a.ssrc = 1000 + i * 2;
    b.ssrc = 1001 + i * 2;
    relay.set_remote(s->first, MediaLeg::a, "127.0.0.1", a.port, a.port + 1);
    relay.set_remote(s->first, MediaLeg::b, "127.0.0.1", b.port, b.port + 1);
  }

  std::atomic<bool> sending{true};
  std::atomic<bool> receiving{true};
  std::atomic<std::uint64_t> sent{0}, received{0}, late{0};

  // Receiver: every phone socket in one epoll set.
  int ep = ::epoll_create1(0);
  for (auto& p : phones) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = p.fd;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, p.fd, &ev);
  }
  std::thread receiver([&] {
    std::vector<epoll_event> evs(512);
    unsigned char buf[2048];
    while (receiving) {
      int n = ::epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 100);
      for (int i = 0; i < n; ++i) {
        while (true) {
          ssize_t got = ::recv(evs[i].data.fd, buf, sizeof buf, 0);
          if (got <= 0) break;
          std::uint64_t stamp;
          std::memcpy(&stamp, buf + 12, sizeof stamp);
          auto now = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                                    std::chrono::steady_clock::now().time_since_epoch())
                                                    .count());
          if (now - stamp > 60000) ++late;  // later than 60 ms end to end
          ++received;
        }
      }
    }
  });

  // Sender: every 20 ms one packet per phone, spread over the period.
  long long drops0 = rcvbuf_errors();
  double cpu0 = relay.cpu_seconds();
  double proc0 = process_cpu();
  auto start = std::chrono::steady_clock::now();
  std::thread sender([&] {
    unsigned char pkt[12 + 160];
    std::memset(pkt, 0xd5, sizeof pkt);  // A-law silence
    pkt[0] = 0x80;
    pkt[1] = 8;
    auto tick = start;
    std::uint32_t ts = 0;
    while (sending) {
      for (std::size_t i = 0; i < phones.size(); ++i) {
        Phone& p = phones[i];
        ++p.seq;
        pkt[2] = static_cast<unsigned char>(p.seq >> 8);
        pkt[3] = static_cast<unsigned char>(p.seq & 0xff);
        std::uint32_t nts = htonl(ts);
        std::memcpy(pkt + 4, &nts, 4);
        std::uint32_t ssrc = htonl(p.ssrc);
        std::memcpy(pkt + 8, &ssrc, 4);
        auto now = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                                  std::chrono::steady_clock::now().time_since_epoch())
                                                  .count());
        std::memcpy(pkt + 12, &now, sizeof now);  // the payload carries the send time
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        to.sin_port = htons(static_cast<std::uint16_t>(p.relay_port));
        if (::sendto(p.fd, pkt, sizeof pkt, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) > 0) ++sent;
      }
      ts += 160;
      tick += std::chrono::milliseconds(20);
      std::this_thread::sleep_until(tick);
    }
  });
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  sending = false;
  sender.join();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // drain
  receiving = false;
  receiver.join();
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double relay_cpu = relay.cpu_seconds() - cpu0;
  double proc_cpu = process_cpu() - proc0;
  auto totals = relay.totals();
  long long drops = rcvbuf_errors() - drops0;
  auto relay_in = totals.a.packets_in + totals.b.packets_in;
  auto relay_out = totals.a.packets_out + totals.b.packets_out;
  double loss = sent ? 100.0 * static_cast<double>(sent - received) / static_cast<double>(sent) : 0;
  std::printf(
      "calls=%d seconds=%d sent=%llu received=%llu loss=%.3f%% late>60ms=%llu relay_in=%llu "
      "relay_out=%llu udp_rcvbuf_drops=%lld relay_lost_seq=%llu relay_cpu=%.1f%% "
      "process_cpu=%.1f%% (of one core)\n",
      calls, seconds, static_cast<unsigned long long>(sent.load()),
      static_cast<unsigned long long>(received.load()), loss,
      static_cast<unsigned long long>(late.load()), static_cast<unsigned long long>(relay_in),
      static_cast<unsigned long long>(relay_out), drops,
      static_cast<unsigned long long>(totals.a.lost + totals.b.lost), 100.0 * relay_cpu / wall,
      100.0 * proc_cpu / wall);
  for (auto id : sessions) relay.release(id);
  for (auto& p : phones) ::close(p.fd);
  ::close(ep);
  bool ok = relay.free_pairs() == relay.capacity();
  if (!ok) std::printf("ports leaked: %zu of %zu free\n", relay.free_pairs(), relay.capacity());
  return ok ? 0 : 1;
}
