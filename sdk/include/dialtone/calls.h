// The kernel's call core: every leg of every call is a channel here, whatever
// backend carries it (SIP today). Backends report their legs; anyone lists
// them or asks to hang one up.
//
// @code
//   // A backend, in start():
//   auto core = host.services().find<dialtone::sdk::CallCore>();   // null: run without one
//   if (core) (void)core->register_driver("sip", my_driver);       // hang-ups come back here
//   // On its own thread, for each leg:
//   dialtone::sdk::ChannelSpec a;
//   a.backend = "sip";
//   a.endpoint = "alice";                                           // inbound by default
//   auto id = core->create_channel(std::move(a));                  // a new call: call_id = *id
//   (void)core->set_state(*id, dialtone::sdk::ChannelState::up);
//   (void)core->link(*id, b_id);                                    // the two legs talk
//   (void)core->end_channel(*id, 200);                              // removed from the core
//   // Anyone:
//   for (auto& ch : core->channels()) ...;
//   (void)core->hangup_call(call_id);   // the owning backend's driver is asked
// @endcode
//
// Every method is thread-safe, never blocks on I/O and holds the core's lock
// only to copy small values, so a backend may call it from its signalling
// thread. Bus events (JSON bodies, one channel each) are published by the core
// off the caller's thread: `calls.channel.created`, `calls.channel.state`,
// `calls.channel.ended`.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dialtone/result.h"

namespace dialtone::sdk {

enum class ChannelDirection {
  inbound,   // towards the PBX: the caller's leg
  outbound,  // from the PBX: a callee's leg
};

enum class ChannelState {
  down,     // created, nothing signalled yet (e.g. the dialplan is routing)
  ringing,  // alerting: the callee rings (outbound), the caller hears it (inbound)
  up,       // answered
};

inline const char* to_string(ChannelDirection d) {
  return d == ChannelDirection::inbound ? "inbound" : "outbound";
}
inline const char* to_string(ChannelState s) {
  switch (s) {
    case ChannelState::down: return "down";
    case ChannelState::ringing: return "ringing";
    case ChannelState::up: return "up";
  }
  return "down";
}

// What a backend says about a new leg.
struct ChannelSpec {
  std::string backend;    // "sip"; names the driver that hangs it up
  std::string endpoint;   // line username, trunk name, or the dialed URI
  ChannelDirection direction = ChannelDirection::inbound;
  std::string call_id;    // the call it belongs to; empty: a new call named after this channel
  std::string caller_number, caller_name;  // who calls
  std::string callee_number, callee_name;  // who is called
  std::string protocol_id;  // the backend's id on the wire (the SIP Call-ID)
  std::string backend_ref;  // the backend's own handle, handed back to its driver
};

// A channel as the core holds it (a snapshot value).
struct Channel : ChannelSpec {
  std::string id;
  ChannelState state = ChannelState::down;
  std::string peer;               // the linked channel's id, empty when not bridged
  std::int64_t created_at_ms = 0;   // unix milliseconds
  std::int64_t answered_at_ms = 0;  // 0 until up
};

// What a backend gives the core so that hang-ups reach it.
class ChannelDriver {
 public:
  virtual ~ChannelDriver() = default;
  // Called on any thread (a REST worker): post the work to the backend's own
  // thread and return. `cause` is a SIP-style status (0: the backend's
  // choice). Ending the channel is reported later through end_channel().
  virtual Status hangup(const Channel& channel, int cause) = 0;
};

class CallCore {
 public:
  static constexpr std::string_view kServiceName = "kernel.calls";
  static constexpr int kServiceVersion = 1;
  virtual ~CallCore() = default;

  // One driver per backend name; conflict when one is registered already.
  virtual Status register_driver(std::string backend, std::shared_ptr<ChannelDriver> driver) = 0;
  // Also ends every channel of that backend still held (its calls are gone).
  virtual void unregister_driver(std::string_view backend) = 0;

  // The new channel's id; unavailable when the core holds its maximum.
  virtual Result<std::string> create_channel(ChannelSpec spec) = 0;
  // not_found for an unknown (or ended) channel; setting the same state is a no-op.
  virtual Status set_state(std::string_view channel_id, ChannelState state) = 0;
  // The two legs of a bridged call talk to each other.
  virtual Status link(std::string_view channel_a, std::string_view channel_b) = 0;
  // Removes the channel; `cause` is a SIP-style status (200: normal clearing).
  virtual Status end_channel(std::string_view channel_id, int cause) = 0;

  virtual std::vector<Channel> channels() const = 0;
  virtual Result<Channel> channel(std::string_view channel_id) const = 0;
  // Asks the owning backend to hang up; not_found when unknown, unavailable
  // when its backend has no driver.
  virtual Status hangup_channel(std::string_view channel_id, int cause = 0) = 0;
  virtual Status hangup_call(std::string_view call_id, int cause = 0) = 0;
};

}  // namespace dialtone::sdk
