// call_core_bench: what one answered call costs the thread that reports it
// (the SIP thread): 2 create_channel, 4 set_state, 1 link, 2 end_channel, with
// the kernel's bus and one subscriber on calls.#, as a CTI plugin would have.
//
//   build/bin/call_core_bench [calls]     (default 20000)
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "kernel/bus/event_bus.h"
#include "kernel/calls/call_core.h"
#include "bench/support/bench_util.h"
#include "tests/support/sip_leg.h"

namespace {

using namespace dialtone;
using sdk::ChannelDirection;
using sdk::ChannelState;


sdk::ChannelSpec leg(ChannelDirection dir, std::string endpoint, std::string call_id = {}) {
  return testing::sip_leg(dir, std::move(endpoint), std::move(call_id));
}

}  // namespace

int main(int argc, char** argv) {
  const int calls = argc > 1 ? std::atoi(argv[1]) : 20000;
  bench::NullLog log;
  kernel::EventBusImpl bus(log);
  std::atomic<std::uint64_t> seen{0};
  auto sub = bus.subscribe("calls.#", [&](const sdk::Event&) { ++seen; });
  kernel::CallCoreImpl core(bus, log);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < calls; ++i) {
    auto a = core.create_channel(leg(ChannelDirection::inbound, "alice"));
    auto b = core.create_channel(leg(ChannelDirection::outbound, "bob", *a));
    (void)core.set_state(*b, ChannelState::ringing);
    (void)core.set_state(*a, ChannelState::ringing);
    (void)core.set_state(*b, ChannelState::up);
    (void)core.set_state(*a, ChannelState::up);
    (void)core.link(*a, *b);
    (void)core.end_channel(*b, 200);
    (void)core.end_channel(*a, 200);
  }
  auto us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
  core.stop();
  std::printf("call core: %.2f us per answered call (2 channels, 9 calls) on the caller's thread; "
              "%llu events dropped by the core; %zu channels left\n",
              us / calls, static_cast<unsigned long long>(core.events_dropped()), core.channels().size());
  return core.channels().empty() ? 0 : 1;
}
