// WebSocket fan-out load for events.websocketd (docs/performance.md, "Event
// stream"), in C++: CLIENTS raw RFC 6455 clients subscribed to EVENT
// (calls.# by default) over non-blocking sockets, served by THREADS epoll
// loops (1 by default) in each of PROCS processes (1 by default; each in a
// session, so a scheduling group, of its own). Every client splits what it reads
// into frames and counts its events; the first PROBES clients also time
// each `calls.channel.created` event: the time its bytes were read minus the
// time the call core stamped on the channel (`created_at_ms`). PROBES may be
// CLIENTS: the latency of every delivery. A client costs a few hundred
// nanoseconds per read, so the clients take little of the cores that
// dialtoned shares with them (the Python clients this replaced spent 3.6
// times as much CPU per event: docs/performance.md).
//
// Prints `ready` once every stream is subscribed, then, when stdin closes
// (or SIGTERM), a second later, a summary line for the probes, one for the
// other clients, and the clients' own CPU time. With LATENCY_LOG=FILE, also writes every
// probe's sample there, `arrival_ms latency_ms`, by arrival.
// Usage: ws_fanout ws://127.0.0.1:9502/ TOKEN CLIENTS [PROBES] [EVENT]
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <csignal>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

namespace {

constexpr std::string_view kCreated = R"({"name":"calls.channel.created")";
constexpr std::string_view kStamp = R"("created_at_ms":)";

double wall_ms() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

double mono_s() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// A masked text frame (client to server), payload under 126 bytes.
std::string masked_text(std::string_view payload, std::mt19937& rng) {
  std::string f;
  f += static_cast<char>(0x81);
  f += static_cast<char>(0x80 | payload.size());
  unsigned char mask[4];
  for (auto& m : mask) m = static_cast<unsigned char>(rng());
  f.append(reinterpret_cast<char*>(mask), 4);
  for (std::size_t i = 0; i < payload.size(); ++i) f += static_cast<char>(payload[i] ^ mask[i % 4]);
  return f;
}

// A pong (client to server) with an empty payload, masked.
const std::string kPong = std::string("\x8A\x80\0\0\0\0", 6);

struct Sample {
  double at, latency;
};

struct Client {
  int fd = -1;
  bool probe = false;
  bool upgraded = false, closed = false;
  std::string buf;  // bytes not yet split into frames
  std::uint64_t events = 0, bytes = 0;
  std::vector<Sample> samples;
};

struct Config {
  sockaddr_in addr{};
  std::string host, token, event;
};

std::atomic<bool> g_stop{false};
std::atomic<int> g_ready{0};

// One epoll loop over its share of the clients.
class Loop {
 public:
  Loop(const Config& cfg, std::vector<Client*> clients, unsigned seed)
      : cfg_(cfg), clients_(std::move(clients)), rng_(seed) {}

  void run() {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    std::size_t next = 0, connecting = 0;
    epoll_event evs[256];
    double next_beat = mono_s() + 20;
    while (!done_) {
      // At most 50 handshakes at a time: do not flood the listener's backlog.
      while (next < clients_.size() && connecting < 50) {
        open(*clients_[next++]);
        ++connecting;
      }
      int n = epoll_wait(ep_, evs, 256, 100);
      for (int i = 0; i < n; ++i) {
        auto* c = static_cast<Client*>(evs[i].data.ptr);
        bool was = c->upgraded || c->closed;
        on_readable(*c);
        if (!was && (c->upgraded || c->closed)) --connecting;
      }
      if (g_stop && stop_at_ == 0) stop_at_ = mono_s() + 1;  // the last events of the run
      double now = mono_s();
      if (stop_at_ != 0 && now >= stop_at_) done_ = true;
      if (now >= next_beat) {
        // The server drops a client silent for two ping intervals (60 s).
        for (auto* c : clients_)
          if (c->upgraded && !c->closed) send_all(*c, masked_text(R"({"op": "heartbeat"})", rng_));
        next_beat = now + 20;
      }
    }
    for (auto* c : clients_)
      if (c->fd >= 0) close(c->fd);
    close(ep_);
  }

 private:
  void open(Client& c) {
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(c.fd, reinterpret_cast<const sockaddr*>(&cfg_.addr), sizeof cfg_.addr) != 0) {
      std::fprintf(stderr, "connect: %s\n", std::strerror(errno));
      std::exit(1);
    }
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::string key = "dGhlIHNhbXBsZSBub25jZQ==";
    send_all(c, "GET / HTTP/1.1\r\nHost: " + cfg_.host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                    "Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\nX-Auth-Token: " + cfg_.token +
                    "\r\n\r\n");
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.ptr = &c;
    epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev);
  }

  // Small writes only (handshake, subscribe, heartbeat, pong): the socket
  // takes them whole; blocking mode for these.
  static void send_all(Client& c, const std::string& s) {
    std::size_t off = 0;
    while (off < s.size()) {
      ssize_t w = send(c.fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (w <= 0) return;
      off += static_cast<std::size_t>(w);
    }
  }

  void on_readable(Client& c) {
    char buf[1 << 16];
    ssize_t n = recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
      if (!c.closed) {
        c.closed = true;
        if (!c.upgraded) {
          std::fprintf(stderr, "a client's upgrade was not answered\n");
          std::exit(1);
        }
      }
      epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
      return;
    }
    double now = c.probe ? wall_ms() : 0;
    c.bytes += static_cast<std::size_t>(n);
    c.buf.append(buf, static_cast<std::size_t>(n));
    if (!c.upgraded) {
      auto end = c.buf.find("\r\n\r\n");
      if (end == std::string::npos) return;
      if (c.buf.find(" 101 ") > c.buf.find("\r\n")) {
        std::fprintf(stderr, "upgrade refused: %s\n", c.buf.substr(0, c.buf.find("\r\n")).c_str());
        std::exit(1);
      }
      c.buf.erase(0, end + 4);
      c.upgraded = true;
      send_all(c, masked_text(R"({"op": "subscribe", "data": {"event_name": ")" + cfg_.event + "\"}}", rng_));
      ++g_ready;
    }
    frames(c, now);
  }

  // Splits the stream into frames (server frames are unmasked).
  void frames(Client& c, double now) {
    std::size_t at = 0;
    const auto* b = reinterpret_cast<const unsigned char*>(c.buf.data());
    while (c.buf.size() - at >= 2) {
      int op = b[at] & 0x0F;
      std::uint64_t n = b[at + 1] & 0x7F;
      std::size_t head = 2;
      if (n == 126) {
        if (c.buf.size() - at < 4) break;
        n = (static_cast<std::uint64_t>(b[at + 2]) << 8) | b[at + 3];
        head = 4;
      } else if (n == 127) {
        if (c.buf.size() - at < 10) break;
        n = 0;
        for (int i = 0; i < 8; ++i) n = (n << 8) | b[at + 2 + i];
        head = 10;
      }
      if (c.buf.size() - at < head + n) break;
      std::string_view payload(c.buf.data() + at + head, n);
      at += head + n;
      if (op == 0x8) {
        c.closed = true;
        continue;
      }
      if (op == 0x9) {
        send_all(c, kPong);
        continue;
      }
      if (op != 0x1 || payload.substr(0, 7) != R"({"name")") continue;
      ++c.events;
      if (!c.probe || payload.substr(0, kCreated.size()) != kCreated) continue;
      auto s = payload.find(kStamp);
      if (s == std::string_view::npos) continue;
      double created = std::strtod(std::string(payload.substr(s + kStamp.size(), 20)).c_str(), nullptr);
      if (created > 0) c.samples.push_back({now, now - created});
    }
    c.buf.erase(0, at);
  }

  const Config& cfg_;
  std::vector<Client*> clients_;
  std::mt19937 rng_;
  int ep_ = -1;
  double stop_at_ = 0;
  bool done_ = false;
};

double pct(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  auto i = std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(i), v.end());
  return v[i];
}

// What one process's clients saw, for the summary.
struct Share {
  std::uint64_t pmin = UINT64_MAX, pmax = 0, pclosed = 0, sbytes = 0, sclosed = 0, events = 0;
  double cpu = 0;
  std::vector<Sample> samples;
};

double cpu_seconds() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return secs(r.ru_utime) + secs(r.ru_stime);
}

// Runs the clients `first`, `first + step`, ... of `clients` in `threads`
// loops; `ready` runs once all are subscribed; returns when g_stop is set.
Share run_share(const Config& cfg, int clients, int probes, int first, int step, int threads,
                const std::function<void()>& ready) {
  std::vector<Client> mine;
  for (int i = first; i < clients; i += step) {
    mine.emplace_back();
    mine.back().probe = i < probes;
  }
  std::vector<std::unique_ptr<Loop>> loops;
  for (int t = 0; t < threads; ++t) {
    std::vector<Client*> part;
    for (std::size_t i = static_cast<std::size_t>(t); i < mine.size(); i += static_cast<std::size_t>(threads))
      part.push_back(&mine[i]);
    loops.push_back(std::make_unique<Loop>(cfg, std::move(part), 1234u + static_cast<unsigned>(first * 64 + t)));
  }
  std::vector<std::thread> ts;
  for (auto& l : loops) ts.emplace_back([&l] { l->run(); });
  while (g_ready < static_cast<int>(mine.size())) usleep(10000);
  double cpu0 = cpu_seconds();
  ready();
  for (auto& t : ts) t.join();
  Share r;
  r.cpu = cpu_seconds() - cpu0;
  for (auto& c : mine) {
    r.events += c.events;
    if (c.probe) {
      r.pmin = std::min(r.pmin, c.events);
      r.pmax = std::max(r.pmax, c.events);
      r.pclosed += c.closed;
      r.samples.insert(r.samples.end(), c.samples.begin(), c.samples.end());
    } else {
      r.sbytes += c.bytes;
      r.sclosed += c.closed;
    }
  }
  return r;
}

bool read_all(int fd, void* p, std::size_t n) {
  auto* b = static_cast<char*>(p);
  while (n > 0) {
    ssize_t r = read(fd, b, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    b += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

void write_all(int fd, const void* p, std::size_t n) {
  auto* b = static_cast<const char*>(p);
  while (n > 0) {
    ssize_t w = write(fd, b, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    b += w;
    n -= static_cast<std::size_t>(w);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: ws_fanout ws://HOST:PORT/ TOKEN CLIENTS [PROBES] [EVENT]\n");
    return 2;
  }
  Config cfg;
  std::string url = argv[1];
  auto hp = url.substr(url.find("//") + 2);
  hp = hp.substr(0, hp.find('/'));
  cfg.host = hp;
  cfg.addr.sin_family = AF_INET;
  cfg.addr.sin_port = htons(static_cast<std::uint16_t>(std::atoi(hp.substr(hp.find(':') + 1).c_str())));
  inet_pton(AF_INET, hp.substr(0, hp.find(':')).c_str(), &cfg.addr.sin_addr);
  cfg.token = argv[2];
  int clients = std::atoi(argv[3]);
  int probes = argc > 4 ? std::atoi(argv[4]) : 20;
  cfg.event = argc > 5 ? argv[5] : "calls.#";
  auto env_int = [](const char* name, int dflt) { return std::getenv(name) ? std::atoi(std::getenv(name)) : dflt; };
  int threads = std::max(1, env_int("THREADS", 1));
  int procs = std::clamp(env_int("PROCS", 1), 1, 64);
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGTERM, [](int) { g_stop = true; });

  // PROCS - 1 forked processes, each in a session of its own (the clients
  // stand for dashboards on other machines: a scheduling group, the
  // kernel's autogroup, each, not one share for all). Each says `r` when
  // its clients are subscribed and sends what they saw at SIGTERM.
  std::vector<std::pair<pid_t, int>> children;
  for (int k = 1; k < procs; ++k) {
    int fds[2];
    if (pipe(fds) != 0) return 1;
    pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]);
      setsid();
      int out = fds[1];
      Share r = run_share(cfg, clients, probes, k, procs, threads, [out] { write_all(out, "r", 1); });
      std::uint64_t head[7] = {r.pmin, r.pmax, r.pclosed, r.sbytes, r.sclosed, r.events, r.samples.size()};
      write_all(out, head, sizeof head);
      write_all(out, &r.cpu, sizeof r.cpu);
      write_all(out, r.samples.data(), r.samples.size() * sizeof(Sample));
      _exit(0);
    }
    close(fds[1]);
    children.emplace_back(pid, fds[0]);
  }
  setsid();
  Share total;
  std::thread stdin_watch([&] {
    // Until stdin closes (the bench's fifo) or SIGTERM.
    char b[4096];
    while (!g_stop) {
      ssize_t n = read(0, b, sizeof b);
      if (n == 0 || (n < 0 && errno != EINTR)) break;
    }
    g_stop = true;
    for (auto& [pid, fd] : children) kill(pid, SIGTERM);
  });
  stdin_watch.detach();
  total = run_share(cfg, clients, probes, 0, procs, threads, [&] {
    for (auto& [pid, fd] : children) {
      char c = 0;
      if (!read_all(fd, &c, 1) || c != 'r') {
        std::printf("a client process failed\n");
        std::exit(1);
      }
    }
    std::printf("ready\n");
    std::fflush(stdout);
  });
  for (auto& [pid, fd] : children) {
    std::uint64_t head[7];
    double cpu = 0;
    if (!read_all(fd, head, sizeof head) || !read_all(fd, &cpu, sizeof cpu)) {
      std::printf("a client process failed\n");
      return 1;
    }
    std::vector<Sample> s(head[6]);
    read_all(fd, s.data(), s.size() * sizeof(Sample));
    total.pmin = std::min(total.pmin, head[0]);
    total.pmax = std::max(total.pmax, head[1]);
    total.pclosed += head[2];
    total.sbytes += head[3];
    total.sclosed += head[4];
    total.events += head[5];
    total.cpu += cpu;
    total.samples.insert(total.samples.end(), s.begin(), s.end());
    waitpid(pid, nullptr, 0);
  }

  std::vector<double> lat;
  lat.reserve(total.samples.size());
  for (auto& s : total.samples) lat.push_back(s.latency);
  if (const char* path = std::getenv("LATENCY_LOG")) {
    std::sort(total.samples.begin(), total.samples.end(), [](auto& a, auto& b) { return a.at < b.at; });
    if (FILE* f = std::fopen(path, "w")) {
      for (auto& s : total.samples) std::fprintf(f, "%.1f %.1f\n", s.at, s.latency);
      std::fclose(f);
    }
  }
  double mx = lat.empty() ? 0 : *std::max_element(lat.begin(), lat.end());
  double p50 = pct(lat, 0.5), p99 = pct(lat, 0.99);
  std::printf("probes %d: events each min %" PRIu64 " max %" PRIu64
              ", created-event latency n=%zu p50 %.1f ms p99 %.1f ms max %.1f ms, closed %" PRIu64 "\n",
              probes, total.pmin == UINT64_MAX ? 0 : total.pmin, total.pmax, lat.size(), p50, p99, mx, total.pclosed);
  std::printf("sinks %d in %d process(es): %" PRIu64 " bytes read, closed by the server %" PRIu64 "\n",
              clients - probes, procs, total.sbytes, total.sclosed);
  std::printf("clients' own CPU %.2f s in %d process(es) of %d thread(s): %.3f us per event read (%" PRIu64
              " events)\n",
              total.cpu, procs, threads, total.events ? 1e6 * total.cpu / static_cast<double>(total.events) : 0.0,
              total.events);
  return 0;
}
