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

#include "bench/media/rtp_receiver.h"
#include "bench/support/bench_util.h"
#include "plugins/media/engine/engine.h"

namespace sm = dialtone::sdk::media;
using dialtone::plugins::media::Engine;
using dialtone::plugins::media::EngineConfig;
using dialtone::bench::pct;
using dialtone::bench::Receiver;
using dialtone::bench::rss_kb;
using dialtone::bench::thread_cpu_ticks;

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
