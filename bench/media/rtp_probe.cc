// The phones' ear for benches against a running dialtoned
// (bench/media/run_dialtoned.sh): every call's SDP names this probe's port,
// so every engine endpoint sends here (rtp_receiver.h tells the streams
// apart). Once `--streams` streams arrive (or `--wait` seconds passed), it
// warms up, measures `--seconds`, and prints what the phones received and
// the CPU dialtoned (`--pid`) used over the same window: the whole process
// and its media-* threads.
//
//   rtp_probe --port 40000 --pid 1234 --streams 1000 --seconds 20 [--talk]
//
// `--talk`: each source heard gets a 440 Hz tone back every 20 ms (the
// parties of a conference talking).
#include <cstdio>
#include <iostream>
#include <string>

#include "bench/media/rtp_receiver.h"

using dialtone::bench::pct;
using dialtone::bench::Receiver;
using dialtone::bench::rss_kb;
using dialtone::bench::thread_cpu_ticks;

int main(int argc, char** argv) {
  int port = 0, streams = 1, seconds = 20, warmup = 3, wait = 120;
  std::string pid;
  bool talk = false;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (k == "--talk") {
      talk = true;
      continue;
    }
    if (i + 1 >= argc) break;
    std::string v = argv[++i];
    if (k == "--port") port = std::stoi(v);
    else if (k == "--pid") pid = v;
    else if (k == "--streams") streams = std::stoi(v);
    else if (k == "--seconds") seconds = std::stoi(v);
    else if (k == "--warmup") warmup = std::stoi(v);
    else if (k == "--wait") wait = std::stoi(v);
  }
  if (pid.empty() || port == 0) {
    std::cerr << "rtp_probe: give --port and --pid (dialtoned's)\n";
    return 2;
  }
  Receiver rx;
  rx.talk = talk;
  rx.start(static_cast<std::uint16_t>(port));
  if (rx.port != port) {
    std::cerr << "rtp_probe: cannot bind 127.0.0.1:" << port << "\n";
    return 1;
  }
  std::printf("probe listening on %d\n", port);
  std::fflush(stdout);
  // Streams are counted while not measuring too (rtp_receiver.h keeps them).
  auto t_wait = std::chrono::steady_clock::now();
  while (static_cast<int>(rx.stream_count.load()) < streams &&
         std::chrono::steady_clock::now() - t_wait < std::chrono::seconds(wait))
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::size_t seen = rx.stream_count.load();
  std::this_thread::sleep_for(std::chrono::seconds(warmup));
  long rss = rss_kb(pid);
  std::uint64_t all0 = thread_cpu_ticks("", pid), media0 = thread_cpu_ticks("media-", pid);
  auto t0 = std::chrono::steady_clock::now();
  rx.measuring = true;
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  rx.measuring = false;
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::uint64_t all1 = thread_cpu_ticks("", pid), media1 = thread_cpu_ticks("media-", pid);
  rx.stop = true;
  rx.thread.join();
  if (rx.talker.joinable()) rx.talker.join();

  double tck = static_cast<double>(sysconf(_SC_CLK_TCK));
  double all_pct = 100.0 * (all1 - all0) / tck / wall, media_pct = 100.0 * (media1 - media0) / tck / wall;
  double expected = static_cast<double>(seen) * 50.0 * wall - static_cast<double>(seen);
  std::printf("streams=%zu (wanted %d) seconds=%.1f talk=%s\n", seen, streams, wall, talk ? "yes" : "no");
  std::printf("packets received=%llu (%.2f%% of %.0f expected) lost (sequence gaps)=%llu\n",
              static_cast<unsigned long long>(rx.packets), expected > 0 ? 100.0 * rx.packets / expected : 0.0,
              expected, static_cast<unsigned long long>(rx.lost));
  std::printf("jitter |inter-arrival - 20ms|: p50=%.2f ms p99=%.2f ms p99.9=%.2f ms max=%.2f ms\n",
              pct(rx.jitter_us, 0.5) / 1000.0, pct(rx.jitter_us, 0.99) / 1000.0, pct(rx.jitter_us, 0.999) / 1000.0,
              pct(rx.jitter_us, 1.0) / 1000.0);
  std::printf("late packets: >20ms=%llu >60ms=%llu\n", static_cast<unsigned long long>(rx.late20),
              static_cast<unsigned long long>(rx.late60));
  std::printf("dialtoned CPU=%.1f%% of one core (media threads %.1f%%); per stream %.3f%% (media %.3f%%); RSS %ld KiB\n",
              all_pct, media_pct, seen ? all_pct / seen : 0.0, seen ? media_pct / seen : 0.0, rss);
  return 0;
}
