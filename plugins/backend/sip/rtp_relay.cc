#include "plugins/backend/sip/rtp_relay.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <ctime>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "plugins/backend/sip/endpoint_options.h"
#include "plugins/backend/sip/sdp.h"

namespace dialtone::plugins::backend::sip {
namespace {

std::int64_t mono_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool same_addr(const sockaddr_storage& x, const sockaddr_storage& y) {
  if (x.ss_family != y.ss_family) return false;
  if (x.ss_family == AF_INET) {
    auto& a = reinterpret_cast<const sockaddr_in&>(x);
    auto& b = reinterpret_cast<const sockaddr_in&>(y);
    return a.sin_port == b.sin_port && a.sin_addr.s_addr == b.sin_addr.s_addr;
  }
  auto& a = reinterpret_cast<const sockaddr_in6&>(x);
  auto& b = reinterpret_cast<const sockaddr_in6&>(y);
  return a.sin6_port == b.sin6_port && std::memcmp(&a.sin6_addr, &b.sin6_addr, 16) == 0;
}

socklen_t addr_len(const sockaddr_storage& s) {
  return s.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

// `ip`:`port` in the relay's family; false when it is not a literal of it.
bool make_addr(int family, const std::string& ip, int port, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof out);
  if (family == AF_INET) {
    auto& a = reinterpret_cast<sockaddr_in&>(out);
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    return inet_pton(AF_INET, ip.c_str(), &a.sin_addr) == 1;
  }
  auto& a = reinterpret_cast<sockaddr_in6&>(out);
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(static_cast<std::uint16_t>(port));
  if (inet_pton(AF_INET6, ip.c_str(), &a.sin6_addr) == 1) return true;
  // An IPv4 phone reached through a dual-stack relay socket.
  in_addr v4;
  if (inet_pton(AF_INET, ip.c_str(), &v4) != 1) return false;
  a.sin6_addr.s6_addr[10] = 0xff;
  a.sin6_addr.s6_addr[11] = 0xff;
  std::memcpy(&a.sin6_addr.s6_addr[12], &v4, 4);
  return true;
}

void add(LegStats& t, const LegStats& s) {
  t.packets_in += s.packets_in;
  t.bytes_in += s.bytes_in;
  t.packets_out += s.packets_out;
  t.bytes_out += s.bytes_out;
  t.rtcp_in += s.rtcp_in;
  t.rtcp_out += s.rtcp_out;
  t.lost += s.lost;
  t.dropped += s.dropped;
  t.relatched += s.relatched;
}

}  // namespace

struct RtpRelay::Impl {
  // One socket: where it sends, what it latched.
  struct Endpoint {
    int fd = -1;
    int port = 0;
    sockaddr_storage remote{};
    sockaddr_storage sdp_remote{};
    bool has_remote = false;
    bool has_sdp_remote = false;
    bool latched = false;
    std::int64_t last_rx_ms = 0;
  };
  struct Session {
    SessionId id = 0;
    int base[2] = {0, 0};   // RTP port per leg
    Endpoint ep[2][2];      // [leg][0 rtp, 1 rtcp]; no RTCP socket on a muxed leg
    bool mux[2] = {false, false};  // RTCP shares the RTP socket (RFC 5761)
    LegStats stats[2];
    bool have_seq[2] = {false, false};
    std::uint16_t last_seq[2] = {0, 0};
    std::uint32_t ssrc[2] = {0, 0};
    // Music on hold: feed[L] takes RTP from a local source (a media engine
    // endpoint) and sends it to leg L in place of what the other leg sends.
    Endpoint feed[2];
    int feed_base[2] = {0, 0};
  };
  // Socket slots indexed by port - port_min; the generation makes an event
  // for a socket closed meanwhile harmless.
  struct Slot {
    Session* session = nullptr;
    int leg = 0;  // 0, 1: the legs; 2 + L: the feed toward leg L
    int rtcp = 0;
    std::uint32_t generation = 0;
  };

  RelayConfig cfg;
  sdk::Logger* log;
  int family = AF_INET;
  int epfd = -1;
  int wake_fd = -1;
  std::thread thread;
  std::atomic<bool> running{false};

  // Guards the tables below and each session's addresses and counters; held
  // for table look-ups and counter updates only, never across a system call
  // on a media socket, so the SIP thread never waits for the relay's I/O.
  mutable std::mutex mutex;
  // The range as pairs (RTP even, RTCP odd) and single ports: a leg with
  // rtcp-mux takes one port, split from a pair when no single is free, and
  // a port given back joins its partner again when that one is free.
  // Both lists may hold ports taken since (checked against `state`).
  enum PortState : std::uint8_t { taken, in_pair, single };
  std::vector<std::uint8_t> state;  // by port - port_min
  std::deque<int> free_pairs;       // even ports
  std::deque<int> free_singles;
  std::size_t pairs_free = 0;
  std::vector<Slot> slots;
  std::unordered_map<SessionId, std::unique_ptr<Session>> sessions;
  // The session whose sockets the relay thread is reading or writing now.
  // Released meanwhile, it goes to `retired` with its sockets open, and the
  // relay thread closes them (and frees the ports) when it is done with it;
  // any other session is closed at once.
  Session* busy = nullptr;
  std::vector<std::unique_ptr<Session>> retired;
  std::vector<std::pair<int, int>> retired_feeds;  // (fd, port) of a busy session
  SessionId next_id = 1;
  RelayStats released;

  Impl(RelayConfig c, sdk::Logger* l) : cfg(std::move(c)), log(l) {}

  int open_socket(int port) {
    int fd = ::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_storage a;
    make_addr(family, cfg.bind, port, a);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), addr_len(a)) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }

  static std::uint64_t event_key(int index, std::uint32_t generation) {
    return (static_cast<std::uint64_t>(generation) << 32) | static_cast<std::uint32_t>(index);
  }

  void loop() {
    constexpr int kEvents = 256;
    epoll_event events[kEvents];
    alignas(8) unsigned char buf[2048];
    while (running.load(std::memory_order_relaxed)) {
      bury();
      int n = ::epoll_wait(epfd, events, kEvents, 500);
      if (n <= 0) continue;
      std::int64_t now = mono_ms();
      for (int i = 0; i < n; ++i) {
        std::uint64_t key = events[i].data.u64;
        if (key == UINT64_MAX) {
          std::uint64_t v;
          while (::read(wake_fd, &v, sizeof v) > 0) {
          }
          continue;
        }
        auto index = static_cast<std::uint32_t>(key & 0xffffffffu);
        auto generation = static_cast<std::uint32_t>(key >> 32);
        int fd = -1;
        {
          std::lock_guard<std::mutex> lock(mutex);
          if (index >= slots.size()) continue;
          Slot& slot = slots[index];
          if (!slot.session || slot.generation != generation) continue;
          fd = slot.leg >= 2 ? slot.session->feed[slot.leg - 2].fd : slot.session->ep[slot.leg][slot.rtcp].fd;
          busy = slot.session;
        }
        // `busy` keeps the session's sockets open until bury(): safe to use
        // without the lock even if the session is released meanwhile.
        // A bounded batch per socket keeps one busy stream from starving others.
        for (int k = 0; k < 32; ++k) {
          sockaddr_storage src;
          socklen_t len = sizeof src;
          ssize_t got = ::recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&src), &len);
          if (got < 0) break;
          Target out;
          {
            std::lock_guard<std::mutex> lock(mutex);
            Slot& slot = slots[index];
            if (!slot.session || slot.generation != generation) break;
            out = slot.leg >= 2 ? on_feed(*slot.session, slot.leg - 2, src, static_cast<std::size_t>(got))
                                : on_packet(*slot.session, slot.leg, slot.rtcp, src, buf,
                                            static_cast<std::size_t>(got), now);
          }
          if (out.fd < 0) continue;
          ssize_t sent = ::sendto(out.fd, buf, static_cast<std::size_t>(got), 0,
                                  reinterpret_cast<const sockaddr*>(&out.to), addr_len(out.to));
          if (sent < 0) {
            std::lock_guard<std::mutex> lock(mutex);
            Slot& slot = slots[index];
            if (slot.session && slot.generation == generation && slot.leg < 2)
              unsent(*slot.session, slot.leg, slot.rtcp, static_cast<std::size_t>(got));
          }
        }
        {
          std::lock_guard<std::mutex> lock(mutex);
          busy = nullptr;
        }
        bury();
      }
    }
  }

  // Where a packet goes on: the other leg's socket and address (fd -1: nowhere).
  struct Target {
    int fd = -1;
    sockaddr_storage to{};
  };

  // Closes the sockets of released sessions and returns their ports.
  void bury() {
    std::vector<std::unique_ptr<Session>> dead;
    std::vector<std::pair<int, int>> feeds;
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (retired.empty() && retired_feeds.empty()) return;
      dead.swap(retired);
      feeds.swap(retired_feeds);
    }
    for (auto& s : dead) {
      for (auto& leg : s->ep)
        for (auto& e : leg)
          if (e.fd >= 0) ::close(e.fd);
      for (auto& f : s->feed)
        if (f.fd >= 0) ::close(f.fd);
    }
    for (auto& [fd, port] : feeds) ::close(fd);
    std::lock_guard<std::mutex> lock(mutex);
    for (auto& s : dead) give_back_ports(*s);
    for (auto& [fd, port] : feeds) give_back(port);
  }

  // ---- the port pool (under the lock) ----
  std::uint8_t& state_of(int port) { return state[static_cast<std::size_t>(port - cfg.port_min)]; }
  // An even port whose pair is free, or 0.
  int take_pair() {
    while (!free_pairs.empty()) {
      int p = free_pairs.front();
      free_pairs.pop_front();
      if (state_of(p) != in_pair) continue;
      state_of(p) = state_of(p + 1) = taken;
      --pairs_free;
      return p;
    }
    return 0;
  }
  // One port: a single if there is one, else half of a pair; 0 if none.
  int take_single() {
    while (!free_singles.empty()) {
      int p = free_singles.front();
      free_singles.pop_front();
      if (state_of(p) != single) continue;
      state_of(p) = taken;
      return p;
    }
    int p = take_pair();
    if (!p) return 0;
    state_of(p + 1) = single;
    free_singles.push_back(p + 1);
    return p;
  }
  void give_pair(int p) {  // both ports taken by the caller
    state_of(p) = state_of(p + 1) = in_pair;
    free_pairs.push_back(p);
    ++pairs_free;
  }
  void give_back(int port) {
    int partner = port ^ 1;
    if (state_of(partner) == single) {
      give_pair(std::min(port, partner));
      return;
    }
    state_of(port) = single;
    free_singles.push_back(port);
    // Entries left behind by pairs that joined again: dropped now and then.
    if (free_singles.size() > state.size()) {
      std::deque<int> live;
      for (int p : free_singles)
        if (state_of(p) == single) {
          live.push_back(p);
          state_of(p) = taken;  // once each
        }
      for (int p : live) state_of(p) = single;
      free_singles.swap(live);
    }
  }
  void give_back_ports(const Session& s) {
    for (auto& leg : s.ep)
      for (auto& e : leg)
        if (e.port) give_back(e.port);
    for (auto& f : s.feed)
      if (f.port) give_back(f.port);
  }

  // A packet of the music fed toward leg `to`: only from the first source
  // heard (the engine endpoint), sent from the socket that faces the leg.
  Target on_feed(Session& s, int to, const sockaddr_storage& src, std::size_t len) {
    Endpoint& in = s.feed[to];
    if (!in.latched) {
      in.remote = src;
      in.latched = true;
    } else if (!same_addr(src, in.remote)) {
      return {};
    }
    Endpoint& out = s.ep[to][0];
    if (!out.has_remote) return {};
    ++s.stats[to].packets_out;
    s.stats[to].bytes_out += len;
    return Target{out.fd, out.remote};
  }

  // Closes the feed toward `to` (under the lock).
  void close_feed(Session& s, int to) {
    Endpoint& f = s.feed[to];
    if (f.fd < 0) return;
    ::epoll_ctl(epfd, EPOLL_CTL_DEL, f.fd, nullptr);
    Slot& slot = slots[f.port - cfg.port_min];
    slot.session = nullptr;
    ++slot.generation;
    if (&s == busy) {
      retired_feeds.emplace_back(f.fd, f.port);
    } else {
      ::close(f.fd);
      give_back(f.port);
    }
    f = Endpoint{};
    s.feed_base[to] = 0;
  }


  Target on_packet(Session& s, int leg, int rtcp, const sockaddr_storage& src,
                   const unsigned char* data, std::size_t len, std::int64_t now) {
    // RFC 5761 4: on a muxed port, RTCP is told apart by its packet type
    // (the second byte, 192-223 there, never an RTP payload type in use).
    if (s.mux[leg] && len >= 2 && data[1] >= 192 && data[1] <= 223) rtcp = 1;
    Endpoint& in = s.ep[leg][s.mux[leg] ? 0 : rtcp];
    LegStats& st = s.stats[leg];
    if (!in.latched) {
      in.remote = src;
      in.has_remote = true;
      in.latched = true;
    } else if (!same_addr(src, in.remote)) {
      if (now - in.last_rx_ms < cfg.relatch_quiet.count()) {
        ++st.dropped;
        return {};
      }
      in.remote = src;
      ++st.relatched;
    }
    in.last_rx_ms = now;
    if (rtcp) {
      ++st.rtcp_in;
    } else {
      ++st.packets_in;
      st.bytes_in += len;
      if (len >= 12 && (data[0] >> 6) == 2) {
        std::uint16_t seq = static_cast<std::uint16_t>((data[2] << 8) | data[3]);
        std::uint32_t ssrc;
        std::memcpy(&ssrc, data + 8, 4);
        if (!s.have_seq[leg] || ssrc != s.ssrc[leg]) {
          s.have_seq[leg] = true;
          s.ssrc[leg] = ssrc;
        } else {
          auto delta = static_cast<std::uint16_t>(seq - s.last_seq[leg]);
          // Forward jumps below 3000 are gaps; anything else is a late or
          // repeated packet, or a sender restart, and is not counted.
          if (delta == 0 || delta >= 3000) return forward(s, leg, rtcp, len);
          st.lost += delta - 1u;
        }
        s.last_seq[leg] = seq;
      }
    }
    return forward(s, leg, rtcp, len);
  }

  // Counted as sent here; unsent() takes it back if sendto() fails.
  Target forward(Session& s, int leg, int rtcp, std::size_t len) {
    int other = 1 - leg;
    Endpoint& out = s.ep[other][rtcp && !s.mux[other] ? 1 : 0];
    if (!out.has_remote) return {};
    if (!rtcp && s.feed[other].fd >= 0) return {};  // the other leg hears the music instead
    LegStats& st = s.stats[other];
    if (rtcp) {
      ++st.rtcp_out;
    } else {
      ++st.packets_out;
      st.bytes_out += len;
    }
    return Target{out.fd, out.remote};
  }

  void unsent(Session& s, int leg, int rtcp, std::size_t len) {
    LegStats& st = s.stats[1 - leg];
    if (rtcp) {
      --st.rtcp_out;
    } else {
      --st.packets_out;
      st.bytes_out -= len;
    }
  }

  // Out of the tables (under the lock); its sockets are closed now, or by
  // the relay thread when it is using them.
  void retire(std::unique_ptr<Session> s) {
    for (auto& f : s->feed)
      if (f.fd >= 0) {
        ::epoll_ctl(epfd, EPOLL_CTL_DEL, f.fd, nullptr);
        Slot& slot = slots[f.port - cfg.port_min];
        slot.session = nullptr;
        ++slot.generation;
      }
    for (auto& leg : s->ep)
      for (auto& e : leg) {
        if (e.fd < 0) continue;
        ::epoll_ctl(epfd, EPOLL_CTL_DEL, e.fd, nullptr);
        Slot& slot = slots[e.port - cfg.port_min];
        slot.session = nullptr;
        ++slot.generation;
      }
    if (s.get() == busy) {
      retired.push_back(std::move(s));
      return;
    }
    for (auto& leg : s->ep)
      for (auto& e : leg)
        if (e.fd >= 0) ::close(e.fd);
    for (auto& f : s->feed)
      if (f.fd >= 0) ::close(f.fd);
    give_back_ports(*s);
  }
};

RtpRelay::RtpRelay(RelayConfig config, sdk::Logger* log)
    : config_(config), impl_(std::make_unique<Impl>(std::move(config), log)) {}

RtpRelay::~RtpRelay() { stop(); }

sdk::Status RtpRelay::start() {
  auto& d = *impl_;
  if (d.running) return {};
  if (config_.port_min < 1024 || config_.port_max > 65535 || config_.port_max - config_.port_min < 3)
    return sdk::Error::invalid("rtp.port_min/rtp.port_max: need a range of at least 4 ports within 1024-65535 (got " +
                               std::to_string(config_.port_min) + "-" + std::to_string(config_.port_max) + ")");
  in6_addr v6;
  in_addr v4;
  if (inet_pton(AF_INET, config_.bind.c_str(), &v4) == 1) d.family = AF_INET;
  else if (inet_pton(AF_INET6, config_.bind.c_str(), &v6) == 1) d.family = AF_INET6;
  else
    return sdk::Error::invalid("rtp.bind: '" + config_.bind + "' is not an IPv4 or IPv6 address");
  int probe = d.open_socket(0);
  if (probe < 0)
    return sdk::Error::unavailable("rtp.bind: cannot bind UDP on " + config_.bind + ": " + std::strerror(errno));
  ::close(probe);
  auto range = static_cast<std::size_t>(config_.port_max - config_.port_min + 1);
  // Each relayed port is a descriptor: a process limit below the range
  // refuses calls (503) long before the range is exhausted.
  if (rlimit nofile{}; d.log && ::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY &&
                       nofile.rlim_cur < range + 1024)
    d.log->warn("rtp: the open file limit (" + std::to_string(nofile.rlim_cur) + ") is below the relay's " +
                std::to_string(range) + " ports (rtp.port_min-rtp.port_max) plus 1,024: calls will be refused "
                "before the range is full; raise it (LimitNOFILE= in the service unit, ulimit -n) or narrow the range");
  d.slots.assign(range, {});
  d.state.assign(range, Impl::taken);  // a port outside every pair stays taken
  d.free_pairs.clear();
  d.free_singles.clear();
  d.pairs_free = 0;
  int first = config_.port_min + (config_.port_min % 2);
  for (int p = first; p + 1 <= config_.port_max; p += 2) d.give_pair(p);
  d.epfd = ::epoll_create1(EPOLL_CLOEXEC);
  d.wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (d.epfd < 0 || d.wake_fd < 0) return sdk::Error::internal("rtp: cannot create epoll/eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = UINT64_MAX;
  ::epoll_ctl(d.epfd, EPOLL_CTL_ADD, d.wake_fd, &ev);
  d.running = true;
  d.thread = std::thread([&d] {
    pthread_setname_np(pthread_self(), "rtp-relay");
    d.loop();
  });
  return {};
}

void RtpRelay::stop() {
  auto& d = *impl_;
  if (!d.running.exchange(false)) return;
  std::uint64_t one = 1;
  ssize_t w = ::write(d.wake_fd, &one, sizeof one);
  (void)w;
  d.thread.join();
  {
    std::lock_guard<std::mutex> lock(d.mutex);
    for (auto& [id, s] : d.sessions) d.retire(std::move(s));
    d.sessions.clear();
  }
  d.bury();
  ::close(d.epfd);
  ::close(d.wake_fd);
  d.epfd = d.wake_fd = -1;
}

sdk::Result<std::pair<RtpRelay::SessionId, RtpRelay::Ports>> RtpRelay::allocate(bool mux_a, bool mux_b) {
  auto& d = *impl_;
  if (!d.running) return sdk::Error::unavailable("rtp: the relay is not running");
  auto s = std::make_unique<Impl::Session>();
  s->mux[0] = mux_a;
  s->mux[1] = mux_b;
  // Ports taken under the lock and bound outside it: the relay thread never
  // waits for a bind(). A port another program holds goes to the back.
  int got = 0;
  // Ports that fail to bind stay aside until the end, so the loop ends.
  std::vector<int> busy_pairs, busy_singles;
  while (got < 2) {
    bool single = s->mux[got];
    int p = 0;
    {
      std::lock_guard<std::mutex> lock(d.mutex);
      p = single ? d.take_single() : d.take_pair();
    }
    if (!p) break;
    int rtp = d.open_socket(p);
    int rtcp = rtp >= 0 && !single ? d.open_socket(p + 1) : -1;
    if (rtp < 0 || (!single && rtcp < 0)) {
      if (rtp >= 0) ::close(rtp);
      (single ? busy_singles : busy_pairs).push_back(p);
      continue;
    }
    s->base[got] = p;
    s->ep[got][0].fd = rtp;
    s->ep[got][0].port = p;
    if (!single) {
      s->ep[got][1].fd = rtcp;
      s->ep[got][1].port = p + 1;
    }
    ++got;
  }
  std::unique_lock<std::mutex> lock(d.mutex);
  for (int p : busy_pairs) d.give_pair(p);
  for (int p : busy_singles) d.give_back(p);
  if (got < 2) {
    for (int l = 0; l < got; ++l)
      for (auto& e : s->ep[l])
        if (e.fd >= 0) ::close(e.fd);
    d.give_back_ports(*s);
    return sdk::Error::unavailable("rtp: no free port pair in " + std::to_string(config_.port_min) +
                                   "-" + std::to_string(config_.port_max) + "; widen rtp.port_min/rtp.port_max");
  }
  s->id = d.next_id++;
  for (int l = 0; l < 2; ++l)
    for (int r = 0; r < 2; ++r) {
      auto& e = s->ep[l][r];
      if (e.fd < 0) continue;
      auto index = e.port - config_.port_min;
      auto& slot = d.slots[index];
      slot.session = s.get();
      slot.leg = l;
      slot.rtcp = r;
      ++slot.generation;
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = Impl::event_key(index, slot.generation);
      ::epoll_ctl(d.epfd, EPOLL_CTL_ADD, e.fd, &ev);
    }
  Ports ports{s->base[0], s->base[1], s->mux[0], s->mux[1]};
  SessionId id = s->id;
  d.sessions.emplace(id, std::move(s));
  return std::make_pair(id, ports);
}

bool RtpRelay::mux(SessionId id, MediaLeg leg) {
  auto& d = *impl_;
  std::lock_guard<std::mutex> lock(d.mutex);
  auto it = d.sessions.find(id);
  if (it == d.sessions.end()) return false;
  auto& s = *it->second;
  int l = static_cast<int>(leg);
  if (s.mux[l]) return true;
  s.mux[l] = true;
  auto& e = s.ep[l][1];
  if (e.fd < 0) return true;
  ::epoll_ctl(d.epfd, EPOLL_CTL_DEL, e.fd, nullptr);
  Impl::Slot& slot = d.slots[e.port - config_.port_min];
  slot.session = nullptr;
  ++slot.generation;
  if (&s == d.busy) {
    d.retired_feeds.emplace_back(e.fd, e.port);
  } else {
    ::close(e.fd);
    d.give_back(e.port);
  }
  e = Impl::Endpoint{};
  return true;
}

void RtpRelay::set_remote(SessionId id, MediaLeg leg, const std::string& ip, int rtp_port, int rtcp_port) {
  auto& d = *impl_;
  std::lock_guard<std::mutex> lock(d.mutex);
  auto it = d.sessions.find(id);
  if (it == d.sessions.end()) return;
  int l = static_cast<int>(leg);
  int ports[2] = {rtp_port, rtcp_port};
  for (int r = 0; r < 2; ++r) {
    auto& e = it->second->ep[l][r];
    sockaddr_storage a;
    if (ports[r] <= 0 || !make_addr(d.family, ip, ports[r], a)) continue;
    if (e.has_sdp_remote && same_addr(a, e.sdp_remote)) continue;
    e.sdp_remote = a;
    e.has_sdp_remote = true;
    e.remote = a;
    e.has_remote = true;
    e.latched = false;
  }
}

sdk::Result<int> RtpRelay::feed(SessionId id, MediaLeg toward) {
  auto& d = *impl_;
  int l = static_cast<int>(toward);
  {
    std::lock_guard<std::mutex> lock(d.mutex);
    auto it = d.sessions.find(id);
    if (it == d.sessions.end()) return sdk::Error::not_found("rtp: no relay session " + std::to_string(id));
    if (it->second->feed[l].fd >= 0) return it->second->feed[l].port;
  }
  // One port of the range, bound outside the lock.
  int port = 0, fd = -1;
  std::vector<int> busy;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(d.mutex);
      port = d.take_single();
    }
    if (!port) break;
    fd = d.open_socket(port);
    if (fd >= 0) break;
    busy.push_back(port);
    if (busy.size() > 16) break;
  }
  std::lock_guard<std::mutex> lock(d.mutex);
  for (int p : busy) d.give_back(p);
  if (fd < 0)
    return sdk::Error::unavailable("rtp: no free port in " + std::to_string(config_.port_min) + "-" +
                                   std::to_string(config_.port_max) + " for music on hold; widen rtp.port_min/rtp.port_max");
  auto it = d.sessions.find(id);
  if (it == d.sessions.end() || it->second->feed[l].fd >= 0) {  // released, or fed meanwhile
    ::close(fd);
    d.give_back(port);
    if (it == d.sessions.end()) return sdk::Error::not_found("rtp: no relay session " + std::to_string(id));
    return it->second->feed[l].port;
  }
  auto& s = *it->second;
  s.feed[l].fd = fd;
  s.feed[l].port = port;
  s.feed_base[l] = port;
  auto index = port - config_.port_min;
  auto& slot = d.slots[index];
  slot.session = &s;
  slot.leg = 2 + l;
  slot.rtcp = 0;
  ++slot.generation;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = Impl::event_key(index, slot.generation);
  ::epoll_ctl(d.epfd, EPOLL_CTL_ADD, fd, &ev);
  return port;
}

void RtpRelay::end_feed(SessionId id, MediaLeg toward) {
  auto& d = *impl_;
  std::lock_guard<std::mutex> lock(d.mutex);
  auto it = d.sessions.find(id);
  if (it != d.sessions.end()) d.close_feed(*it->second, static_cast<int>(toward));
}

std::optional<RelayStats> RtpRelay::stats(SessionId id) const {
  auto& d = *impl_;
  std::lock_guard<std::mutex> lock(d.mutex);
  auto it = d.sessions.find(id);
  if (it == d.sessions.end()) return std::nullopt;
  return RelayStats{it->second->stats[0], it->second->stats[1]};
}

std::optional<RelayStats> RtpRelay::release(SessionId id) {
  auto& d = *impl_;
  std::lock_guard<std::mutex> lock(d.mutex);
  auto it = d.sessions.find(id);
  if (it == d.sessions.end()) return std::nullopt;
  RelayStats out{it->second->stats[0], it->second->stats[1]};
  add(d.released.a, out.a);
  add(d.released.b, out.b);
  d.retire(std::move(it->second));
  d.sessions.erase(it);
  return out;
}

std::size_t RtpRelay::capacity() const {
  int first = config_.port_min + (config_.port_min % 2);
  return first + 1 <= config_.port_max ? static_cast<std::size_t>((config_.port_max - first + 1) / 2) : 0;
}

std::size_t RtpRelay::free_pairs() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->pairs_free;
}

std::size_t RtpRelay::sessions() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->sessions.size();
}

RelayStats RtpRelay::totals() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  RelayStats t = impl_->released;
  for (auto& [id, s] : impl_->sessions) {
    add(t.a, s->stats[0]);
    add(t.b, s->stats[1]);
  }
  return t;
}

double RtpRelay::cpu_seconds() const {
  if (!impl_->running) return 0;
  clockid_t clock;
  if (pthread_getcpuclockid(impl_->thread.native_handle(), &clock) != 0) return 0;
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// ---- CallMedia -------------------------------------------------------------

struct CallMedia::State {
  MediaConfig cfg;
  std::string advertise;
  std::optional<RtpRelay::SessionId> session;
  RtpRelay::Ports ports;
  std::optional<Sdp> last_offer;
  MediaLeg offerer = MediaLeg::a;
  std::optional<Sdp> last_answer;
  // Our offer to a leg carried rtcp-mux (its RTCP port held until it answers).
  bool offered_mux[2] = {false, false};

  bool muxed(MediaLeg l) const { return l == MediaLeg::a ? ports.mux_a : ports.mux_b; }
  int port(MediaLeg l) const { return l == MediaLeg::a ? ports.a : ports.b; }
};

namespace {
MediaLeg other(MediaLeg l) { return l == MediaLeg::a ? MediaLeg::b : MediaLeg::a; }
}  // namespace

CallMedia::CallMedia(RtpRelay* relay, const MediaConfig& config, bool direct, std::string call_id,
                     sdk::Logger* log)
    : relay_(relay), direct_(direct || !relay), call_id_(std::move(call_id)), log_(log),
      state_(std::make_unique<State>()) {
  state_->cfg = config;
  state_->advertise = config.advertise.empty() ? config.relay.bind : config.advertise;
}

CallMedia::~CallMedia() { release(); }

sdk::Result<std::string> CallMedia::offer(MediaLeg from, const std::string& text) {
  if (direct_) return text;
  auto parsed = parse_sdp(text);
  if (!parsed) return parsed.error();
  auto filtered = filter_offer(*parsed, state_->cfg.codecs);
  if (!filtered) return filtered.error();
  // rtcp-mux where the offerer offers it: one port for its leg. The other
  // leg is offered rtcp-mux whether or not the offerer muxes (the relay ends
  // each leg's RTCP on its own): its RTCP port is held only until it answers,
  // so a call costs two ports when both mux, three when only the answerer does.
  bool mux = rtcp_mux(*filtered);
  if (!state_->session) {
    auto a = relay_->allocate(mux && from == MediaLeg::a, mux && from == MediaLeg::b);
    if (!a) return a.error();
    state_->session = a->first;
    state_->ports = a->second;
  }
  if (auto addr = audio_address(*filtered))
    relay_->set_remote(*state_->session, from, addr->ip, addr->rtp_port, addr->rtcp_port);
  state_->last_offer = *filtered;
  state_->offerer = from;
  state_->last_answer.reset();
  MediaLeg to = other(from);
  state_->offered_mux[static_cast<int>(to)] = !state_->muxed(to);
  Sdp out = std::move(*filtered);
  // The other leg sends to the relay port that faces it.
  anchor(out, state_->advertise, state_->port(to), true);
  return out.to_string();
}

sdk::Result<std::string> CallMedia::answer(MediaLeg from, const std::string& text) {
  if (direct_) return text;
  if (!state_->session || !state_->last_offer)
    return sdk::Error::invalid("an SDP answer without an offer");
  auto parsed = parse_sdp(text);
  if (!parsed) return parsed.error();
  auto filtered = filter_answer(*parsed, *state_->last_offer);
  if (!filtered) return filtered.error();
  int leg = static_cast<int>(from);
  if (state_->offered_mux[leg] && rtcp_mux(*filtered) && relay_->mux(*state_->session, from))
    (from == MediaLeg::a ? state_->ports.mux_a : state_->ports.mux_b) = true;
  state_->offered_mux[leg] = false;
  if (auto addr = audio_address(*filtered))
    relay_->set_remote(*state_->session, from, addr->ip, addr->rtp_port, addr->rtcp_port);
  state_->last_answer = *filtered;
  Sdp out = std::move(*filtered);
  MediaLeg to = other(from);
  anchor(out, state_->advertise, state_->port(to), state_->muxed(to));
  return out.to_string();
}

sdk::Result<CallMedia::Feed> CallMedia::start_feed(MediaLeg toward) {
  if (direct_) return sdk::Error::unsupported("direct media: the relay does not carry this call's audio");
  if (!state_->session || !state_->last_offer || !state_->last_answer)
    return sdk::Error::unavailable("the call's media is not negotiated yet");
  const Sdp& answer = *state_->last_answer;
  const Sdp& own = toward == state_->offerer ? *state_->last_offer : answer;
  const SdpMedia* chosen = answer.audio();
  const SdpMedia* mine = own.audio();
  if (!chosen || !mine) return sdk::Error::unsupported("the call has no active audio stream");
  bool srtp = chosen->proto == "RTP/SAVP" || chosen->proto == "RTP/SAVPF";
  if (chosen->proto != "RTP/AVP" && !srtp)
    return sdk::Error::unsupported(chosen->proto + " media: the relay cannot add music to this stream");
  std::optional<sdk::media::CryptoAttribute> send_key, recv_key;
  if (srtp) {
    // SRTP crosses the relay end to end: the music is protected with the key
    // `toward` decrypts with, the other party's (the answer's own line, or the
    // offered line carrying the answer's tag).
    auto chosen_keys = sdes_keys(*chosen);
    auto offered_keys = sdes_keys(*state_->last_offer->audio());
    if (chosen_keys.empty() || offered_keys.empty())
      return sdk::Error::unsupported(chosen->proto + " media without an SDES key of a supported suite in both SDPs");
    auto offered = offered_keys.front();
    for (auto& k : offered_keys)
      if (k.tag == chosen_keys.front().tag) offered = k;
    bool toward_offered = toward == state_->offerer;
    send_key = toward_offered ? chosen_keys.front() : offered;
    recv_key = toward_offered ? offered : chosen_keys.front();
  }
  // The answer's first codec is what flows; `toward` receives it under the
  // payload type of its own SDP.
  for (const auto& pt : chosen->formats) {
    std::string enc = chosen->encoding(pt);
    if (enc.rfind("telephone-event", 0) == 0 || enc.empty()) continue;
    Feed f;
    f.encoding = enc;
    f.payload_type = std::atoi(pt.c_str());
    for (const auto& own_pt : mine->formats)
      if (mine->encoding(own_pt) == enc) f.payload_type = std::atoi(own_pt.c_str());
    auto port = relay_->feed(*state_->session, toward);
    if (!port) return port.error();
    f.address = relay_->address();
    f.port = *port;
    f.srtp_send = send_key;
    f.srtp_recv = recv_key;
    return f;
  }
  return sdk::Error::unsupported("no audio codec in the answer");
}

void CallMedia::end_feed(MediaLeg toward) {
  if (!direct_ && state_->session) relay_->end_feed(*state_->session, toward);
}

std::optional<RelayStats> CallMedia::stats() const {
  if (direct_ || !state_->session) return std::nullopt;
  return relay_->stats(*state_->session);
}

std::optional<RtpRelay::Ports> CallMedia::ports() const {
  if (direct_ || !state_->session) return std::nullopt;
  return state_->ports;
}

void CallMedia::release() {
  if (direct_ || !state_->session) return;
  auto s = relay_->release(*state_->session);
  state_->session.reset();
  if (s && log_)
    log_->debug("sip: call " + call_id_ + " media: A sent " + std::to_string(s->a.packets_in) +
                " RTP (" + std::to_string(s->a.lost) + " lost), B sent " + std::to_string(s->b.packets_in) +
                " RTP (" + std::to_string(s->b.lost) + " lost), dropped " +
                std::to_string(s->a.dropped + s->b.dropped));
}

std::optional<bool> direct_media_option(const std::string& options_json) {
  return endpoint_flag(options_json, "direct_media");
}

int media_error_status(const sdk::Error& e) {
  switch (e.code) {
    case sdk::ErrorCode::unavailable:
      return 503;
    case sdk::ErrorCode::unsupported:
    case sdk::ErrorCode::invalid:
      return 488;
    default:
      return 500;
  }
}

}  // namespace dialtone::plugins::backend::sip
