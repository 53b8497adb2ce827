// lua_bench: cost of a dialplan call (coroutine create + resume + completion)
// and of an async host-function round trip (yield, resume from another thread).
//
//   build/bin/lua_bench [calls]     (default 200000)
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <unistd.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <thread>

#include "kernel/lua/lua_host.h"
#include "bench/support/bench_util.h"

namespace {

using namespace dialtone;
using Clock = std::chrono::steady_clock;


// Submits `n` calls at once and waits for all: ns per call at full load.
double pipelined(kernel::LuaHostImpl& host, const char* fn, int n) {
  std::atomic<int> left{n};
  std::promise<void> all;
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    host.call(fn, {sdk::LuaValue(i)}, [&](sdk::Result<sdk::LuaValues> r) {
      if (!r) {
        std::fprintf(stderr, "call failed: %s\n", r.error().message.c_str());
        std::exit(1);
      }
      if (--left == 0) all.set_value();
    });
  }
  all.get_future().wait();
  return std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / n;
}

// One call at a time, waiting for each: round-trip latency in ns.
double sequential(kernel::LuaHostImpl& host, const char* fn, int n) {
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    std::promise<void> p;
    host.call(fn, {sdk::LuaValue(i)}, [&](sdk::Result<sdk::LuaValues>) { p.set_value(); });
    p.get_future().wait();
  }
  return std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / n;
}

class Resumer {
 public:
  Resumer() : thread_([this] { run(); }) {}
  ~Resumer() {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  void post(sdk::LuaResume r, sdk::LuaValues v) {
    {
      std::lock_guard lk(mu_);
      queue_.emplace_back(std::move(r), std::move(v));
    }
    cv_.notify_one();
  }

 private:
  void run() {
    std::unique_lock lk(mu_);
    for (;;) {
      cv_.wait(lk, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      auto batch = std::move(queue_);
      queue_.clear();
      lk.unlock();
      for (auto& [resume, v] : batch) resume(std::move(v));
      lk.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<sdk::LuaResume, sdk::LuaValues>> queue_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 200000;
  const auto dir = std::filesystem::temp_directory_path() / ("dialtone-lua-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "extensions.lua") << R"(
function trivial(i) return { action = "dial", destination = "100" .. (i % 10) } end
function with_async(i) return bench.echo(i) end
function sleeper(i) dialtone.sleep(100) return i end
)";
  bench::NullLog log;
  kernel::LuaConfig cfg;
  cfg.script = dir / "extensions.lua";
  cfg.states = 2;
  kernel::LuaHostImpl host(cfg, log);
  // Resumed from one thread that is not a Lua thread, as a directory or
  // database reply would be.
  Resumer resumer;
  (void)host.export_module("bench", {{"echo", "v: any", "v: any", "Echoes asynchronously.",
                                      [&resumer](const sdk::LuaValues& a) {
                                        return sdk::LuaReply::async([&resumer, a](sdk::LuaResume resume) {
                                          resumer.post(std::move(resume), a);
                                        });
                                      }}});
  if (auto st = host.start(); !st) {
    std::fprintf(stderr, "%s\n", st.error().message.c_str());
    return 1;
  }
  pipelined(host, "trivial", n / 10);  // warm-up
  const double trivial_pipe = pipelined(host, "trivial", n);
  const double trivial_seq = sequential(host, "trivial", n / 10);
  const double async_pipe = pipelined(host, "with_async", n / 10);
  const double async_seq = sequential(host, "with_async", n / 20);
  // 1,000 calls each sleeping 100 ms at once: sleeping holds no Lua thread.
  const double sleep_ms = pipelined(host, "sleeper", 1000) * 1000 / 1e6;
  std::printf("states=%zu calls=%d\n", cfg.states, n);
  std::printf("trivial call, pipelined (coroutine create+resume+done): %8.0f ns/call (%.0f calls/s)\n",
              trivial_pipe, 1e9 / trivial_pipe);
  std::printf("trivial call, one at a time (round trip):              %8.0f ns/call\n", trivial_seq);
  std::printf("async host function, pipelined:                         %8.0f ns/call\n", async_pipe);
  std::printf("async host function, one at a time (round trip):        %8.0f ns/call\n", async_seq);
  std::printf("1000 x dialtone.sleep(100) at once:                     %8.0f ms wall\n", sleep_ms);
  host.stop();
  std::filesystem::remove_all(dir);
  return 0;
}
