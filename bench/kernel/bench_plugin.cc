// One small plugin, compiled once per index (BENCH_PLUGIN_N = 1..30) into
// bench_plugin_<N>.so with id bench.p<N>. Plugins form chains of five through
// `requires` (p2 requires p1, ..., p5 requires p4; p6 starts a new chain), and
// each one declares a few options of different types, registers a service and
// subscribes to the bus, like a real plugin does at start.
#include <dialtone/bus.h>
#include <dialtone/host.h>
#include <dialtone/plugin.h>
#include <dialtone/services.h>

#include <memory>
#include <string>
#include <string_view>

#ifndef BENCH_PLUGIN_N
#error "compile with -DBENCH_PLUGIN_N=<1..30>"
#endif

#define BENCH_STR2(x) #x
#define BENCH_STR(x) BENCH_STR2(x)

#if BENCH_PLUGIN_N % 5 == 1
#define BENCH_REQUIRES ""
#else
#define BENCH_REQUIRES BENCH_REQUIRES_ID(BENCH_PLUGIN_PREV)
#endif
#define BENCH_REQUIRES_ID(n) "bench.p" BENCH_STR(n)

namespace bench {

namespace sdk = dialtone::sdk;

struct Counter {
  static constexpr std::string_view kServiceName = "bench.counter";
  static constexpr int kServiceVersion = 1;
  int value = 0;
};

class BenchPlugin final : public sdk::Plugin {
 public:
  explicit BenchPlugin(sdk::Host& host) : host_(host) {}
  sdk::Status configure(const sdk::Options& o) override {
    label_ = o.get("bench.label");
    workers_ = o.get_int("bench.workers", 1);
    return {};
  }
  sdk::Status start() override {
    auto s = host_.services().provide<Counter>("p" BENCH_STR(BENCH_PLUGIN_N), std::make_shared<Counter>());
    if (!s) return s;
    sub_ = host_.bus().subscribe("bench.#", [](const sdk::Event&) {});
    host_.log().debug("started " + label_ + " with " + std::to_string(workers_) + " workers");
    return {};
  }
  void stop() override { sub_.reset(); }

 private:
  sdk::Host& host_;
  std::string label_;
  long long workers_ = 1;
  std::unique_ptr<sdk::Subscription> sub_;
};

static constexpr sdk::OptionSpec kOptions[] = {
    {"bench.label", sdk::OptionType::string, "bench", "a name", sdk::kReloadable},
    {"bench.workers", sdk::OptionType::integer, "2", "threads", 0, nullptr, 1, 64},
    {"bench.timeout", sdk::OptionType::duration, "1.5s", "a duration"},
    {"bench.enabled_feature", sdk::OptionType::boolean, "true", "a flag"},
    {"bench.mode", sdk::OptionType::choice, "fast", "a choice", 0, "fast|safe"},
    {}};

}  // namespace bench

DIALTONE_PLUGIN(bench::BenchPlugin, "bench.p" BENCH_STR(BENCH_PLUGIN_N), "bench", "1.0.0",
                "kernel start-time benchmark plugin", BENCH_REQUIRES, "", bench::kOptions)
