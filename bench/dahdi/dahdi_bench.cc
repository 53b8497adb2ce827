// Concurrent calls across simulated E1 spans, every B-channel bridged to a
// media engine endpoint (RTP on loopback) that plays a continuous tone, so
// audio flows both ways on every leg. Reports the process's CPU per call and
// frame loss at each hop (docs/performance.md, "ISDN spans").
//
//   dahdi_bench [--pairs 4] [--seconds 20] [--warmup 3] [--realtime 1]
//
// --pairs N: N pairs of E1 spans joined back to back (2N spans, 30 calls a
// pair, each call a B-channel leg on both spans of its pair).
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "plugins/media/engine/engine.h"
#include "tests/plugins/backend/dahdi/dahdi_host.h"

using namespace dialtone;
using Clock = std::chrono::steady_clock;

namespace {

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Totals {
  std::uint64_t line_out = 0, line_in = 0;      // B-channel frames written / read
  std::uint64_t to_engine = 0, from_engine = 0;  // bridge frames
  std::uint64_t underruns = 0, dropped = 0;
  std::uint64_t rtp_in = 0, rtp_lost = 0, rtp_late = 0;  // engine endpoints
  std::uint64_t ticks = 0, late_ticks = 0;
};

}  // namespace

int main(int argc, char** argv) {
  int pairs = 4, seconds = 20, warmup = 3;
  bool realtime = true;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--pairs")) pairs = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--seconds")) seconds = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--warmup")) warmup = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--realtime")) realtime = std::atoi(argv[i + 1]) != 0;
  }
  testing::DahdiTestHost host;
  plugins::media::EngineConfig ecfg;
  ecfg.realtime = realtime;
  ecfg.port_min = 40000;
  ecfg.port_max = 49999;
  auto engine = std::make_shared<plugins::media::Engine>(ecfg, host.logger());
  if (!engine->start()) return 1;
  (void)host.services().provide<sdk::media::MediaEngine>("default", engine);

  std::map<std::string, std::string> o;
  for (int p = 0; p < pairs; ++p)
    for (int side = 0; side < 2; ++side) {
      int n = 2 * p + 1 + side, base = (n - 1) * 31;
      std::string s = "span." + std::to_string(n) + ".";
      o[s + "driver"] = "simulated";
      o[s + "peer"] = std::to_string(side ? n - 1 : n + 1);
      o[s + "bchan"] = std::to_string(base + 1) + "-" + std::to_string(base + 15) + "," + std::to_string(base + 17) +
                       "-" + std::to_string(base + 31);
      o[s + "dchan"] = std::to_string(base + 16);
      o[s + "signalling"] = side ? "pri_net" : "pri_cpe";
      o[s + "context"] = side ? "from-extern" : "from-pabx";
    }
  auto driver = host.start_dahdi(o);
  if (!testing::eventually([&] {
        for (auto& s : driver->spans())
          if (!s.dchan_up) return false;
        return true;
      })) {
    std::fprintf(stderr, "D-channels did not come up\n");
    return 1;
  }
  // 30 calls per pair, answered by the far span's dialplan (DID 140001000).
  std::vector<std::shared_ptr<testing::DahdiTestHost::Dial>> dials;
  for (int p = 0; p < pairs; ++p)
    for (int c = 0; c < 30; ++c) dials.push_back(host.dial({"dahdi/" + std::to_string(2 * p + 1) + "/140001000"}));
  std::vector<std::string> near;
  for (auto& d : dials) {
    auto out = testing::DahdiTestHost::wait_outcome(*d, std::chrono::seconds(60));
    if (!out || out->status != "answered") {
      std::fprintf(stderr, "a call was not answered: %s\n", out ? out->status.c_str() : "(no outcome)");
      return 1;
    }
    near.push_back(out->channel);
  }
  std::vector<std::string> legs;
  for (auto& c : host.calls().channels())
    if (c.backend == "dahdi") legs.push_back(c.id);
  if (!testing::eventually([&] {
        for (auto& id : legs)
          if (!driver->media_endpoint(id)) return false;
        return true;
      })) {
    std::fprintf(stderr, "not every leg has its media in the engine\n");
    return 1;
  }
  for (auto& id : legs) driver->media_endpoint(id)->play_tone("dial");
  std::printf("%d spans, %zu calls, %zu B-channel legs bridged to RTP endpoints\n", 2 * pairs, near.size(),
              legs.size());

  auto snapshot = [&] {
    Totals t;
    for (auto& id : legs) {
      if (auto k = driver->b_channel(id)) {
        auto s = driver->audio_stats(*k);
        t.line_out += s.frames_out;
        t.line_in += s.frames_in;
      }
      if (auto m = driver->media_stats(id)) {
        t.to_engine += m->to_engine;
        t.from_engine += m->from_engine;
        t.underruns += m->underruns;
        t.dropped += m->dropped;
      }
      if (auto ep = driver->media_endpoint(id)) {
        auto st = ep->stats();
        t.rtp_in += st.packets_in;
        t.rtp_lost += st.lost;
        t.rtp_late += st.late;
      }
    }
    t.ticks = driver->pump().ticks();
    t.late_ticks = driver->pump().late_ticks();
    return t;
  };
  std::this_thread::sleep_for(std::chrono::seconds(warmup));
  auto a = snapshot();
  double cpu0 = cpu_seconds();
  auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  double cpu = cpu_seconds() - cpu0;
  double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  auto b = snapshot();

  auto d = [](std::uint64_t x, std::uint64_t y) { return static_cast<double>(y - x); };
  double legs_n = static_cast<double>(legs.size()), calls_n = static_cast<double>(near.size());
  double ticks = d(a.ticks, b.ticks);
  std::printf("window %.1f s, B-channel ticks %.0f (late > 20 ms: %.0f)\n", wall, ticks, d(a.late_ticks, b.late_ticks));
  std::printf("process CPU %.1f %% of one core: %.3f %% per call, %.3f %% per B-channel leg\n", 100 * cpu / wall,
              100 * cpu / wall / calls_n, 100 * cpu / wall / legs_n);
  double out = d(a.line_out, b.line_out), in = d(a.line_in, b.line_in);
  std::printf("line: %.0f frames written, %.0f read: %.4f %% lost between spans\n", out, in,
              out > 0 ? 100 * (out - in) / out : 0.0);
  double underruns = d(a.underruns, b.underruns), dropped = d(a.dropped, b.dropped);
  double slots = legs_n * ticks;
  std::printf("engine -> line: %.0f frames, %.0f ticks without one (%.4f %%), %.0f dropped (%.4f %%)\n",
              d(a.from_engine, b.from_engine), underruns, 100 * underruns / slots, dropped, 100 * dropped / slots);
  double rtp_in = d(a.rtp_in, b.rtp_in);
  std::printf("line -> engine: %.0f frames sent, %.0f RTP packets received by the endpoints, %.0f lost, %.0f late "
              "(%.4f %%)\n",
              d(a.to_engine, b.to_engine), rtp_in, d(a.rtp_lost, b.rtp_lost), d(a.rtp_late, b.rtp_late),
              rtp_in > 0 ? 100 * (d(a.rtp_lost, b.rtp_lost) + d(a.rtp_late, b.rtp_late)) / rtp_in : 0.0);
  for (auto& dl : dials) (void)host.calls().hangup_channel(dl->origin, 16);
  testing::eventually([&] { return host.calls().channels().empty(); }, std::chrono::seconds(20));
  driver->stop();
  engine->stop();
  return 0;
}
