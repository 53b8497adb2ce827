// Media engine bench: many endpoints playing a prompt, or one N-party mix,
// measured at a receiver with kernel receive timestamps (SO_TIMESTAMPNS).
//
//   media_bench --mode play --endpoints 1000 --seconds 30
//   media_bench --mode mix --endpoints 50 --seconds 30
//
// Every endpoint sends to one receiver socket; streams are told apart by
// SSRC. Jitter is |inter-arrival - 20 ms| per packet; a packet is late when it
// arrives more than 20 ms (and, separately, 60 ms: the default jitter buffer)
// after its RTP timestamp's due time, measured from the stream's fastest
// transit. CPU is the media threads' utime+stime from /proc over the window.
#include <arpa/inet.h>
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

extern "C" {
#include <spandsp.h>
}

#include "bench/support/bench_util.h"
#include "plugins/media/engine/engine.h"

namespace sm = dialtone::sdk::media;
using dialtone::plugins::media::Engine;
using dialtone::plugins::media::EngineConfig;

namespace {

struct Stream {
  bool started = false;
  std::int64_t last_ns = 0;
  std::uint32_t ts0 = 0;
  std::int64_t best_transit = INT64_MAX;  // arrival - media time, minimum so far
  std::uint32_t last_ts = 0;
};

struct Receiver {
  int fd = -1;
  std::uint16_t port = 0;
  std::atomic<bool> measuring{false}, stop{false};
  std::vector<std::uint32_t> jitter_us;  // |inter-arrival - 20 ms|
  std::vector<std::int64_t> transit_us;  // per packet, relative to stream's best (fixed after)
  std::uint64_t packets = 0, late20 = 0, late60 = 0;
  std::unordered_map<std::uint32_t, Stream> streams;
  std::thread thread;

  void start() {
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
    int buf = 32 * 1024 * 1024;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf) != 0)
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    timeval tv{0, 100000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    streams.reserve(4096);
    jitter_us.reserve(8'000'000);
    thread = std::thread([this] { run(); });
  }

  void run() {
    sched_param sp{};
    sp.sched_priority = 20;  // measure promptly even on a loaded machine
    pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
    constexpr int kBatch = 64;
    std::uint8_t bufs[kBatch][256];
    char ctrl[kBatch][64];
    iovec iov[kBatch];
    mmsghdr msgs[kBatch];
    while (!stop) {
      for (int i = 0; i < kBatch; ++i) {
        iov[i] = {bufs[i], sizeof bufs[i]};
        std::memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_control = ctrl[i];
        msgs[i].msg_hdr.msg_controllen = sizeof ctrl[i];
      }
      // Poll every millisecond instead of sleeping in recv: on loopback the
      // sender pays for waking a blocked receiver on every packet, which
      // would be charged to the media threads. Timestamps come from the kernel.
      int n = recvmmsg(fd, msgs, kBatch, MSG_DONTWAIT, nullptr);
      if (n <= 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        continue;
      }
      for (int i = 0; i < n; ++i) {
        if (msgs[i].msg_len < 12) continue;
        std::int64_t ns = 0;
        for (cmsghdr* c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c))
          if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
            timespec t;
            std::memcpy(&t, CMSG_DATA(c), sizeof t);
            ns = t.tv_sec * 1'000'000'000LL + t.tv_nsec;
          }
        const std::uint8_t* b = bufs[i];
        std::uint32_t ts = (std::uint32_t(b[4]) << 24) | (b[5] << 16) | (b[6] << 8) | b[7];
        std::uint32_t ssrc = (std::uint32_t(b[8]) << 24) | (b[9] << 16) | (b[10] << 8) | b[11];
        Stream& s = streams[ssrc];
        if (!measuring) {
          s.started = false;
          continue;
        }
        if (!s.started) {
          s.started = true;
          s.ts0 = ts;
          s.last_ns = ns;
          s.last_ts = ts;
          continue;
        }
        ++packets;
        std::int64_t gap = ns - s.last_ns;
        std::uint32_t dts = ts - s.last_ts;  // 160 per 20 ms at 8 kHz clock
        std::int64_t expect = static_cast<std::int64_t>(dts) * 125000;
        jitter_us.push_back(static_cast<std::uint32_t>(std::llabs(gap - expect) / 1000));
        std::int64_t media_ns = static_cast<std::int64_t>(ts - s.ts0) * 125000;
        std::int64_t transit = ns - media_ns;
        if (transit < s.best_transit) s.best_transit = transit;
        std::int64_t lateness = transit - s.best_transit;
        if (lateness > 20'000'000) ++late20;
        if (lateness > 60'000'000) ++late60;
        s.last_ns = ns;
        s.last_ts = ts;
      }
    }
  }
};

std::uint64_t thread_cpu_ticks(const std::string& prefix) {
  std::uint64_t total = 0;
  DIR* d = opendir("/proc/self/task");
  if (!d) return 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::string base = std::string("/proc/self/task/") + e->d_name;
    std::ifstream comm(base + "/comm");
    std::string name;
    std::getline(comm, name);
    if (name.rfind(prefix, 0) != 0) continue;
    std::ifstream stat(base + "/stat");
    std::string line;
    std::getline(stat, line);
    auto close = line.rfind(')');
    std::istringstream rest(line.substr(close + 2));
    std::string f;
    std::uint64_t ut = 0, st = 0;
    for (int i = 3; i <= 15; ++i) {
      rest >> f;
      if (i == 14) ut = std::stoull(f);
      if (i == 15) st = std::stoull(f);
    }
    total += ut + st;
  }
  closedir(d);
  return total;
}

long rss_kb() {
  std::ifstream s("/proc/self/statm");
  long pages = 0, rss = 0;
  s >> pages >> rss;
  return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

std::uint32_t pct(std::vector<std::uint32_t>& v, double p) {
  if (v.empty()) return 0;
  std::size_t k = static_cast<std::size_t>(p * (v.size() - 1));
  std::nth_element(v.begin(), v.begin() + k, v.end());
  return v[k];
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = "play", codec = "pcmu", prompt = "conf-getpin";
  int endpoints = 1000, seconds = 20, threads = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--mode") mode = v;
    else if (k == "--endpoints") endpoints = std::stoi(v);
    else if (k == "--seconds") seconds = std::stoi(v);
    else if (k == "--threads") threads = std::stoi(v);
    else if (k == "--codec") codec = v;
    else if (k == "--prompt") prompt = v;
  }
  sm::Codec c = codec == "g722" ? sm::Codec::g722 : codec == "pcma" ? sm::Codec::pcma : sm::Codec::pcmu;
  std::uint8_t pt = c == sm::Codec::g722 ? 9 : c == sm::Codec::pcma ? 8 : 0;

  dialtone::bench::WarnLog log;
  EngineConfig cfg;
  cfg.threads = threads;
  cfg.port_min = 40000;
  cfg.port_max = 60000;
  Engine engine(cfg, log);
  if (!engine.start().ok()) return 1;
  Receiver rx;
  rx.start();
  std::string target = "127.0.0.1:" + std::to_string(rx.port);

  long rss0 = rss_kb();
  std::vector<std::shared_ptr<sm::Endpoint>> eps;
  eps.reserve(endpoints);
  for (int i = 0; i < endpoints; ++i) {
    sm::EndpointConfig ec;
    ec.formats = {{c, pt}};
    ec.remote = target;
    ec.latch = false;  // the talker sends from elsewhere; answer to the receiver
    auto ep = engine.create_endpoint(ec);
    if (!ep) {
      std::cerr << ep.error().message << "\n";
      return 1;
    }
    eps.push_back(*ep);
  }

  // Mix mode: a talker socket sends a tone to every member, paced at 20 ms.
  std::shared_ptr<sm::Mixer> mixer;
  std::atomic<bool> talk{false};
  std::thread talker;
  if (mode == "mix") {
    mixer = engine.create_mixer();
    for (auto& e : eps) mixer->add(e);
    talk = true;
    talker = std::thread([&] {
      int fd = socket(AF_INET, SOCK_DGRAM, 0);
      std::vector<sockaddr_in> to(eps.size());
      for (std::size_t i = 0; i < eps.size(); ++i) {
        to[i].sin_family = AF_INET;
        to[i].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        to[i].sin_port = htons(eps[i]->local_port());
      }
      std::uint8_t pkt[172];
      std::uint16_t seq = 0;
      std::uint32_t ts = 0;
      double phase = 0;
      auto next = std::chrono::steady_clock::now();
      while (talk) {
        pkt[0] = 0x80;
        pkt[1] = pt;
        pkt[2] = seq >> 8;
        pkt[3] = seq & 0xFF;
        for (int k = 0; k < 4; ++k) pkt[4 + k] = (ts >> (24 - 8 * k)) & 0xFF;
        for (int k = 0; k < 160; ++k) {
          phase += 2 * M_PI * 440 / 8000;
          std::int16_t s = static_cast<std::int16_t>(2000 * std::sin(phase));
          pkt[12 + k] = c == sm::Codec::pcma ? linear_to_alaw(s) : linear_to_ulaw(s);
        }
        for (std::size_t i = 0; i < to.size(); ++i) {
          std::uint32_t ssrc = 0x1000 + static_cast<std::uint32_t>(i);
          for (int k = 0; k < 4; ++k) pkt[8 + k] = (ssrc >> (24 - 8 * k)) & 0xFF;
          sendto(fd, pkt, sizeof pkt, 0, reinterpret_cast<sockaddr*>(&to[i]), sizeof to[i]);
        }
        ++seq;
        ts += 160;
        next += std::chrono::milliseconds(20);
        std::this_thread::sleep_until(next);
      }
      close(fd);
    });
  } else {
    sm::PlayOptions o;
    o.loop = true;
    for (auto& e : eps) e->play({prompt}, o);
  }

  std::this_thread::sleep_for(std::chrono::seconds(3));  // attach, load, warm up
  long rss1 = rss_kb();
  std::uint64_t overruns0 = engine.overruns();
  std::uint64_t cpu0 = thread_cpu_ticks("media-");
  auto t0 = std::chrono::steady_clock::now();
  rx.measuring = true;
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  rx.measuring = false;
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::uint64_t cpu1 = thread_cpu_ticks("media-");
  std::uint64_t overruns1 = engine.overruns();
  talk = false;
  if (talker.joinable()) talker.join();
  rx.stop = true;
  rx.thread.join();

  double cpu_pct = 100.0 * (cpu1 - cpu0) / sysconf(_SC_CLK_TCK) / wall;
  double expected = endpoints * 50.0 * wall - endpoints;  // each stream's first packet is its baseline
  std::printf("mode=%s endpoints=%d codec=%s threads=%d seconds=%.1f\n", mode.c_str(), endpoints, codec.c_str(),
              threads, wall);
  std::printf("packets received=%llu (%.1f%% of %.0f expected)\n", static_cast<unsigned long long>(rx.packets),
              100.0 * rx.packets / expected, expected);
  std::printf("jitter |inter-arrival - 20ms|: p50=%.2f ms p99=%.2f ms p99.9=%.2f ms max=%.2f ms\n",
              pct(rx.jitter_us, 0.5) / 1000.0, pct(rx.jitter_us, 0.99) / 1000.0, pct(rx.jitter_us, 0.999) / 1000.0,
              pct(rx.jitter_us, 1.0) / 1000.0);
  std::printf("late packets: >20ms=%llu >60ms=%llu\n", static_cast<unsigned long long>(rx.late20),
              static_cast<unsigned long long>(rx.late60));
  std::printf("media threads CPU=%.1f%% (of one core) timer overruns=%llu\n", cpu_pct,
              static_cast<unsigned long long>(overruns1 - overruns0));
  std::printf("RSS: %.1f KiB per endpoint (%ld KiB for %d endpoints)\n", double(rss1 - rss0) / endpoints,
              rss1 - rss0, endpoints);
  return 0;
}
