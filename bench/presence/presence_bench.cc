// BLF fan-out: backend.sip and the kernel's presence service on the test
// host (fresh PostgreSQL database), <lines> lines u0.. (extension 2000+i),
// SIPp holding <subscriptions> dialog subscriptions (all from line u0) spread over <monitored>
// extensions (each watched by subscriptions/monitored keys), then <changes>
// state changes (a callee leg ringing, then ended) injected into the
// presence service as the call core publishes them. Prints RSS per
// subscription, the CPU per NOTIFY (whole process and its busiest thread,
// the SIP thread) and the time from a change to the 200 OK of its last
// watcher's NOTIFY (p50/p99/max).
// Usage: presence_bench <lines> <subscriptions> <monitored> <changes>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "plugins/backend/sip/sip_plugin.h"
#include "tests/plugins/backend/sip/sip_host.h"

namespace {

long rss_kb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return 0;
}

// CPU ticks per thread (utime + stime).
std::vector<std::pair<std::string, long>> thread_ticks() {
  std::vector<std::pair<std::string, long>> out;
  for (auto& t : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream in(t.path() / "stat");
    std::string s((std::istreambuf_iterator<char>(in)), {});
    auto close = s.rfind(')');
    if (close == std::string::npos) continue;
    std::vector<std::string> f;
    std::string w;
    for (char c : s.substr(close + 2)) {
      if (c == ' ') {
        f.push_back(w);
        w.clear();
      } else {
        w += c;
      }
    }
    if (f.size() > 12) out.emplace_back(t.path().filename(), std::stol(f[11]) + std::stol(f[12]));
  }
  return out;
}

double process_cpu_s() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

std::string event(const std::string& id, const std::string& endpoint, const char* state) {
  return R"({"id":")" + id + R"(","call_id":")" + id + R"(","backend":"sip","endpoint":")" + endpoint +
         R"(","direction":"outbound","state":")" + state +
         R"(","caller_number":"1001","caller_name":"Bench","callee_number":"","callee_name":"",)"
         R"("protocol_id":")" + id + R"(@bench","peer":"","created_at_ms":1,"answered_at_ms":0,"held":false})";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::cerr << "usage: presence_bench <lines> <subscriptions> <monitored> <changes>\n";
    return 1;
  }
  int lines = std::atoi(argv[1]), subs = std::atoi(argv[2]), monitored = std::atoi(argv[3]),
      changes = std::atoi(argv[4]);
  dialtone::testing::SipTestHost host;
  for (int i = 0; i < lines; ++i)
    host.add_line("u" + std::to_string(i), "pw" + std::to_string(i), std::to_string(2000 + i));
  auto dir = std::filesystem::temp_directory_path() / ("presence-bench-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  {
    std::ofstream csv(dir / "subs.csv");
    csv << "SEQUENTIAL\n";
    // One subscribing line (u0) holds them all: what is measured is the
    // fan-out, which does not depend on who watches.
    for (int i = 0; i < subs; ++i) csv << 2000 + (i % monitored) << "\n";
  }
  dialtone::plugins::backend::sip::SipPlugin plugin(host);
  auto s = plugin.configure(dialtone::sdk::Options({{"sip.listen", "127.0.0.1:0"},
                                                    {"sip.node", "bench"},
                                                    {"auth.ban_failures", "0"},
                                                    {"qualify.interval", "0"},
                                                    {"sip.max_pending", "0"},
                                                    {"subscribe.max_per_line", "100000"},
                                                    // Finished transactions (kept 64*T1, 32 s, to absorb
                                                    // retransmissions) gone before RSS is read.
                                                    {"sip.transaction_timeout", "1000"}}));
  if (s) s = plugin.start();
  if (!s) {
    std::cerr << s.error().message << "\n";
    return 1;
  }
  long rss0 = rss_kb();
  std::string target = "127.0.0.1:" + std::to_string(plugin.port());
  std::string scenario = std::string(PRESENCE_BENCH_DIR) + "/subscribe_hold.xml";
  pid_t sipp = fork();
  if (sipp == 0) {
    std::filesystem::current_path(dir);
    int out = ::open((dir / "sipp.out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, 1);
    dup2(out, 2);
    std::string m = std::to_string(subs), l = std::to_string(subs + 100),
                port = std::to_string(dialtone::testing::free_port());
    execlp("sipp", "sipp", target.c_str(), "-sf", scenario.c_str(), "-inf", (dir / "subs.csv").c_str(), "-au", "u0",
           "-ap", "pw0", "-key", "user", "u0", "-i",
           "127.0.0.1", "-p", port.c_str(), "-r", "1000", "-rp", "1000", "-m", m.c_str(), "-l", l.c_str(), "-nostdin",
           "-trace_err", "-max_socket", "100", (char*)nullptr);
    _exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(std::max(60, subs / 100));
  while ((plugin.subscriptions() < static_cast<std::size_t>(subs) || plugin.notifies().second < static_cast<std::uint64_t>(subs)) &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (plugin.subscriptions() < static_cast<std::size_t>(subs)) {
    std::cerr << "only " << plugin.subscriptions() << " subscriptions in time; SIPp said:\n";
    std::ifstream in(dir / "sipp.out");
    std::cerr << std::string((std::istreambuf_iterator<char>(in)), {}).substr(0, 3000) << "\n";
    for (auto& f : std::filesystem::directory_iterator(dir))
      if (f.path().string().find("errors") != std::string::npos) {
        std::ifstream e(f.path());
        std::cerr << std::string((std::istreambuf_iterator<char>(e)), {}).substr(0, 3000) << "\n";
      }
    kill(sipp, SIGTERM);
    return 1;
  }
  std::this_thread::sleep_for(std::chrono::seconds(5));
  long rss1 = rss_kb();
  std::cout << subs << " subscriptions on " << monitored << " extensions (" << subs / monitored
            << " watchers each) from " << lines << " lines; presence resources " << host.presence().resources()
            << "\nRSS " << rss0 / 1024 << " -> " << rss1 / 1024 << " MB: "
            << (rss1 - rss0) * 1024.0 / subs << " bytes per subscription\n";

  auto ticks0 = thread_ticks();
  double cpu0 = process_cpu_s();
  auto [sent0, answered0] = plugin.notifies();
  std::vector<double> latency_ms;
  int watchers = subs / monitored;
  for (int c = 0; c < changes; ++c) {
    std::string ext_user = "u" + std::to_string(c % monitored);
    std::string id = "bench-" + std::to_string(c);
    for (const char* state : {"ringing", "ended"}) {
      auto before = plugin.notifies().second;
      auto t0 = std::chrono::steady_clock::now();
      host.presence().on_channel_event(
          {std::string(state) == "ended" ? "calls.channel.ended" : "calls.channel.state", event(id, ext_user, state)});
      while (plugin.notifies().second < before + watchers)
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      latency_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
  }
  double cpu = process_cpu_s() - cpu0;
  auto ticks1 = thread_ticks();
  auto [sent1, answered1] = plugin.notifies();
  // The main thread polls for the answers: left out, the busiest of the
  // others is the SIP thread.
  long busiest = 0, others = 0;
  for (auto& [tid, t] : ticks1) {
    if (tid == std::to_string(getpid())) continue;
    long before = 0;
    for (auto& [tid0, t0] : ticks0)
      if (tid0 == tid) before = t0;
    busiest = std::max(busiest, t - before);
    others += t - before;
  }
  double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  std::sort(latency_ms.begin(), latency_ms.end());
  auto pct = [&](double p) { return latency_ms[std::min(latency_ms.size() - 1, static_cast<std::size_t>(p * latency_ms.size()))]; };
  auto notifies = answered1 - answered0;
  std::printf("%d state changes, %llu NOTIFYs (sent %llu): CPU per NOTIFY %.1f us on the SIP thread, %.1f us on "
              "every thread but the polling main one (whole process with it: %.1f us)\n",
              changes * 2, static_cast<unsigned long long>(notifies), static_cast<unsigned long long>(sent1 - sent0),
              busiest / hz * 1e6 / notifies, others / hz * 1e6 / notifies, cpu * 1e6 / notifies);
  std::printf("change -> last watcher's 200 OK: p50 %.2f ms, p99 %.2f ms, max %.2f ms (%d watchers per change)\n",
              pct(0.5), pct(0.99), latency_ms.back(), watchers);
  kill(sipp, SIGTERM);
  waitpid(sipp, nullptr, 0);
  plugin.stop();
  std::filesystem::remove_all(dir);
  return 0;
}
