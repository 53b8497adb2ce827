// The kernel's call core (sdk::CallCore): the channels of every backend in
// one table, bus events for each change, and the calld-style REST view.
//
// @code
//   dialtone::kernel::CallCoreImpl calls(bus, log);
//   registry.provide_as("kernel", "kernel.calls", 1, "", ...&calls...);
//   if (auto s = calls.mount(http, "calld"); !s) return s;   // GET/DELETE /1.0/calls
//   ...
//   calls.stop();   // publishes what is queued, then joins the publisher
// @endcode
//
// Backends call it from their signalling threads: a call takes one mutex for
// a hash-map update and queues the event; the publisher thread builds the
// JSON and publishes, so no JSON or bus work runs on the caller's thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <dialtone/bus.h>
#include <dialtone/calls.h>
#include <dialtone/host.h>

#include "kernel/http/http_server.h"

namespace dialtone::kernel {

struct CallCoreConfig {
  std::size_t max_channels = 100000;  // create_channel fails above: a backend leaking channels
  std::size_t max_queued_events = 65536;  // beyond, events are dropped and counted
};

class CallCoreImpl final : public sdk::CallCore {
 public:
  CallCoreImpl(sdk::EventBus& bus, sdk::Logger& log, CallCoreConfig config = {});
  ~CallCoreImpl() override;
  CallCoreImpl(const CallCoreImpl&) = delete;
  CallCoreImpl& operator=(const CallCoreImpl&) = delete;

  // Publishes the queued events and stops the publisher; later changes are
  // still applied to the table but no longer published.
  void stop();
  // GET /1.0/calls, GET and DELETE /1.0/calls/{call_id}, GET /1.0/api/api.yml.
  sdk::Status mount(HttpServerImpl& http, std::string_view listener);

  std::uint64_t events_dropped() const { return dropped_; }

  sdk::Status register_driver(std::string backend, std::shared_ptr<sdk::ChannelDriver> driver) override;
  void unregister_driver(std::string_view backend) override;
  sdk::Result<std::string> create_channel(sdk::ChannelSpec spec) override;
  sdk::Status set_state(std::string_view channel_id, sdk::ChannelState state) override;
  sdk::Status link(std::string_view channel_a, std::string_view channel_b) override;
  sdk::Status end_channel(std::string_view channel_id, int cause) override;
  std::vector<sdk::Channel> channels() const override;
  sdk::Result<sdk::Channel> channel(std::string_view channel_id) const override;
  sdk::Status hangup_channel(std::string_view channel_id, int cause = 0) override;
  sdk::Status hangup_call(std::string_view call_id, int cause = 0) override;

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Table = std::unordered_map<std::string, sdk::Channel, Hash, std::equal_to<>>;
  enum class Kind { created, state, ended };
  struct Pending {
    Kind kind;
    sdk::Channel channel;
    int cause = 0;
  };

  void queue(Kind kind, const sdk::Channel& channel, int cause = 0);
  void publish_loop();
  sdk::Status hangup(const std::vector<sdk::Channel>& targets, int cause);

  sdk::EventBus& bus_;
  sdk::Logger& log_;
  CallCoreConfig config_;
  std::string id_prefix_;  // "<unix seconds at start>-": no dot, so an id is one ACL segment

  mutable std::mutex mutex_;
  Table channels_;
  std::unordered_map<std::string, std::shared_ptr<sdk::ChannelDriver>, Hash, std::equal_to<>> drivers_;
  std::uint64_t next_id_ = 1;

  std::mutex events_mutex_;
  std::condition_variable events_cv_;
  std::vector<Pending> events_;
  bool stopping_ = false;
  std::atomic<std::uint64_t> dropped_{0};
  std::thread publisher_;
};

}  // namespace dialtone::kernel
