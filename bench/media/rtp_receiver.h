// An RTP receiver for the media benches: one UDP socket on 127.0.0.1 that
// every measured stream sends to, told apart by SSRC, with kernel receive
// timestamps (SO_TIMESTAMPNS). Jitter is |inter-arrival - 20 ms| per packet;
// a packet is late when it arrives more than 20 ms (and, separately, 60 ms:
// the default jitter buffer) after its RTP timestamp's due time, measured
// from the stream's fastest transit; lost is the sequence numbers skipped.
// With `talk` it also sends a 440 Hz PCMU tone every 20 ms back to each
// source it heard (a phone talking into a conference).
//
//   Receiver rx;
//   rx.start();                 // or rx.start(port), rx.talk = true first
//   rx.measuring = true; ...; rx.measuring = false;
//   rx.stop = true; rx.thread.join();
#pragma once

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

extern "C" {
#include <spandsp.h>
}

namespace dialtone::bench {

struct Stream {
  bool started = false;
  std::int64_t last_ns = 0;
  std::uint32_t ts0 = 0;
  std::int64_t best_transit = INT64_MAX;  // arrival - media time, minimum so far
  std::uint32_t last_ts = 0;
  std::uint16_t last_seq = 0;
};

struct Receiver {
  int fd = -1;
  std::uint16_t port = 0;
  std::atomic<bool> measuring{false}, stop{false};
  std::vector<std::uint32_t> jitter_us;  // |inter-arrival - 20 ms|
  std::vector<std::int64_t> transit_us;  // per packet, relative to stream's best (fixed after)
  std::uint64_t packets = 0, late20 = 0, late60 = 0, lost = 0;
  std::unordered_map<std::uint32_t, Stream> streams;  // the receiver thread's
  std::atomic<std::size_t> stream_count{0};            // its size, for other threads
  std::thread thread;
  // Talk back (set before start()): the sources heard, by address.
  bool talk = false;
  std::mutex sources_m;
  std::map<std::pair<std::uint32_t, std::uint16_t>, sockaddr_in> sources;
  std::thread talker;

  std::size_t source_count() {
    std::lock_guard lk(sources_m);
    return sources.size();
  }

  void start(std::uint16_t want_port = 0) {
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
    int buf = 32 * 1024 * 1024;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf) != 0)
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(want_port);
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    timeval tv{0, 100000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    streams.reserve(4096);
    jitter_us.reserve(8'000'000);
    thread = std::thread([this] { run(); });
    if (talk) talker = std::thread([this] { talk_back(); });
  }

  void talk_back() {
    std::uint8_t pkt[172];
    std::uint16_t seq = 0;
    std::uint32_t ts = 0;
    double phase = 0;
    std::vector<sockaddr_in> to;
    auto next = std::chrono::steady_clock::now();
    while (!stop) {
      {
        std::lock_guard lk(sources_m);
        to.clear();
        for (auto& [k, a] : sources) to.push_back(a);
      }
      pkt[0] = 0x80;
      pkt[1] = 0;
      pkt[2] = seq >> 8;
      pkt[3] = seq & 0xFF;
      for (int k = 0; k < 4; ++k) pkt[4 + k] = (ts >> (24 - 8 * k)) & 0xFF;
      for (int k = 0; k < 160; ++k) {
        phase += 2 * M_PI * 440 / 8000;
        pkt[12 + k] = linear_to_ulaw(static_cast<std::int16_t>(2000 * std::sin(phase)));
      }
      for (std::size_t i = 0; i < to.size(); ++i) {
        std::uint32_t ssrc = 0x1000 + static_cast<std::uint32_t>(i);
        for (int k = 0; k < 4; ++k) pkt[8 + k] = (ssrc >> (24 - 8 * k)) & 0xFF;
        sendto(fd, pkt, sizeof pkt, 0, reinterpret_cast<const sockaddr*>(&to[i]), sizeof to[i]);
      }
      ++seq;
      ts += 160;
      next += std::chrono::milliseconds(20);
      std::this_thread::sleep_until(next);
    }
  }

  void run() {
    sched_param sp{};
    sp.sched_priority = 20;  // measure promptly even on a loaded machine
    pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
    constexpr int kBatch = 64;
    std::uint8_t bufs[kBatch][256];
    char ctrl[kBatch][64];
    sockaddr_in from[kBatch];
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
        msgs[i].msg_hdr.msg_name = &from[i];
        msgs[i].msg_hdr.msg_namelen = sizeof from[i];
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
        std::uint16_t seq = static_cast<std::uint16_t>((b[2] << 8) | b[3]);
        if (talk) {
          auto key = std::make_pair(from[i].sin_addr.s_addr, from[i].sin_port);
          std::lock_guard lk(sources_m);
          if (!sources.count(key)) sources[key] = from[i];
        }
        auto [it, fresh] = streams.try_emplace(ssrc);
        if (fresh) stream_count.fetch_add(1, std::memory_order_relaxed);
        Stream& s = it->second;
        if (!measuring) {
          s.started = false;
          continue;
        }
        if (!s.started) {
          s.started = true;
          s.ts0 = ts;
          s.last_ns = ns;
          s.last_ts = ts;
          s.last_seq = seq;
          continue;
        }
        ++packets;
        std::uint16_t skipped = static_cast<std::uint16_t>(seq - s.last_seq - 1);
        if (skipped < 1000) lost += skipped;  // beyond: reordered or restarted
        s.last_seq = seq;
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

// utime+stime of the threads of process `pid` ("self") whose name starts
// with `prefix` ("" for all).
inline std::uint64_t thread_cpu_ticks(const std::string& prefix, const std::string& pid = "self") {
  std::uint64_t total = 0;
  const std::string tasks = "/proc/" + pid + "/task";
  DIR* d = opendir(tasks.c_str());
  if (!d) return 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::string base = tasks + "/" + e->d_name;
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

inline long rss_kb(const std::string& pid = "self") {
  std::ifstream s("/proc/" + pid + "/statm");
  long pages = 0, rss = 0;
  s >> pages >> rss;
  return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

inline std::uint32_t pct(std::vector<std::uint32_t>& v, double p) {
  if (v.empty()) return 0;
  std::size_t k = static_cast<std::size_t>(p * (v.size() - 1));
  std::nth_element(v.begin(), v.begin() + k, v.end());
  return v[k];
}

}  // namespace dialtone::bench
