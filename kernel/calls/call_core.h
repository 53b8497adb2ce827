// The kernel's call core (sdk::CallCore): the channels of every backend in
// one table, bus events for each change, the calld-style REST view, dialing
// (call_dial.cc), the dialplan's `channel` module (call_lua.cc), busy counts
// and the ring memory of groups (group_memory.h).
//
// @code
//   dialtone::kernel::CallCoreImpl calls(bus, log);
//   registry.provide_as("kernel", "kernel.calls", 1, "", ...&calls...);
//   if (auto s = calls.mount(http, "calld"); !s) return s;   // GET/DELETE /1.0/calls
//   (void)calls.export_lua(lua);          // call:dial{...}, call:answer() ... in the dialplan
//   ...
//   calls.stop();   // publishes what is queued, then joins the publisher
// @endcode
//
// Backends call it from their signalling threads: a call takes one mutex for
// a hash-map update and queues the event; the publisher thread builds the
// JSON and publishes, so no JSON or bus work runs on the caller's thread.
// Under sustained traffic the publisher takes the events queued every
// millisecond rather than being woken for each, so an event may reach the
// bus up to 1 ms after the change (at once when the core was idle).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <dialtone/bus.h>
#include <dialtone/calls.h>
#include <dialtone/config.h>
#include <dialtone/host.h>

#include "kernel/calls/group_memory.h"
#include "kernel/http/http_server.h"
#include "kernel/lua/timer_thread.h"

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

  // The configuration the calls API reads users and lines from (api.confd's
  // snapshot); without one, originating answers 503.
  using ConfigSource = std::function<std::shared_ptr<const sdk::ConfigSnapshot>()>;
  void set_config_source(ConfigSource source);

  // A call started from the REST API (xivo-calld's POST /1.0/calls): the
  // user's line rings first; once the user answers, the user's leg dials
  // local/<exten>@<context>, so the dialplan routes the destination as if
  // the user had dialed it. An `api` channel stands for the API while the
  // user's phone rings and ends when it answers.
  struct Origination {
    std::string line_target;                  // "sip/<username>"
    std::string exten, context;               // the destination
    std::string user_number, user_name;       // caller id shown to the destination
    int ring_seconds = 30;                    // the user's ring time
    std::map<std::string, std::string> variables;
  };
  // The id of the user's leg (ringing); unavailable when the line could not
  // be rung at all, with the reason.
  sdk::Result<std::string> originate(Origination o);
  // The origination of a call from `user`: its line `line_id` (one of its
  // own) or else its main line rings; `context` "" is that line's. invalid
  // with a sentence when the user has no line to ring.
  static sdk::Result<Origination> user_origination(const sdk::ConfigSnapshot& snap, const sdk::ConfigUser& user,
                                                   std::optional<std::int64_t> line_id, std::string exten,
                                                   std::string context);

  // Exports the `channel` module (methods of the dialplan's `call` table)
  // to `lua`, and later verbs registered with register_verb().
  sdk::Status export_lua(sdk::LuaHost& lua);
  // The module's declarations (call_lua.cc), in order: they register the
  // functions and generate their reference in docs/lua-dialplan.md.
  std::vector<sdk::LuaFunctionSpec> lua_functions();
  // What ring strategies of groups remember (channel.group_memory).
  GroupMemory& groups() { return groups_; }

  sdk::Status register_driver(std::string backend, std::shared_ptr<sdk::ChannelDriver> driver) override;
  void unregister_driver(std::string_view backend) override;
  sdk::Result<std::string> create_channel(sdk::ChannelSpec spec) override;
  sdk::Status set_state(std::string_view channel_id, sdk::ChannelState state) override;
  sdk::Status link(std::string_view channel_a, std::string_view channel_b) override;
  sdk::Status end_channel(std::string_view channel_id, int cause) override;
  sdk::Status end_channel_q850(std::string_view channel_id, int q850_cause) override;
  sdk::Status set_held(std::string_view channel_id, bool held) override;
  sdk::Status request_transfer(sdk::TransferRequest request) override;
  sdk::Status dtmf_received(std::string_view channel_id, char digit, std::string_view source) override;
  sdk::Status transfer_done(const sdk::TransferRequest& done) override;
  // call_transfer.cc
  sdk::Status transfer_requested(sdk::TransferReport report) override;
  sdk::Status replace_requested(sdk::ReplaceReport report) override;
  std::vector<sdk::Channel> channels() const override;
  sdk::Result<sdk::Channel> channel(std::string_view channel_id) const override;
  sdk::Status hangup_channel(std::string_view channel_id, int q850_cause = 0) override;
  sdk::Status hangup_call(std::string_view call_id, int q850_cause = 0) override;
  std::string dial(std::string_view origin, sdk::DialOptions options,
                   std::function<void(const sdk::DialOutcome&)> done) override;
  void cancel_dial(std::string_view dial_id) override;
  std::size_t active_calls(const std::vector<std::string>& interfaces) const override;
  sdk::Status set_variable(std::string_view channel_id, std::string name, std::string value) override;
  sdk::Result<std::string> variable(std::string_view channel_id, std::string_view name) const override;
  sdk::Status register_verb(sdk::LuaFunctionSpec verb) override;
  // call_pickup.cc
  sdk::Status set_protocol_ids(std::string_view channel_id, std::string protocol_id, std::string local_tag,
                               std::string remote_tag) override;
  sdk::Result<std::string> channel_by_protocol_id(std::string_view protocol_id) const override;
  sdk::Result<std::string> ringing_leg(const std::vector<std::string>& interfaces) const override;
  void pickup(std::string_view picker, std::string_view ringing_leg, std::function<void(sdk::Status)> done) override;
  // call_parking.cc
  sdk::Result<int> park(std::string_view channel, sdk::ParkRequest request) override;
  void wait_parked(std::string_view channel, std::function<void(std::string)> done) override;
  void unpark(std::string_view retriever, std::string_view lot, int slot,
              std::function<void(sdk::Status)> done) override;
  std::vector<sdk::ParkedCall> parked_calls() const override;
  // A transfer handed a party to the parked channel `parked` (an attended
  // transfer to the parking extension): unless someone else parked it, the
  // transferor is its parker, whom its timeout rings back; the dialplan
  // reads it as PARKER_ENDPOINT.
  void parked_by_transfer(const std::string& parked, const sdk::Channel& transferor);

  // Asks the owning driver to act on a channel (answer, hold, DTMF...):
  // not_found for an unknown channel, the driver's status otherwise.
  sdk::Status with_driver(std::string_view channel_id,
                          const std::function<sdk::Status(sdk::ChannelDriver&, const sdk::Channel&)>& act);
  // Asks the channel's driver to answer; `done(ok, error)` runs once, when
  // the channel is up (at once if it is), ended, or the driver refused.
  void answer_channel(std::string_view channel_id, std::function<void(bool ok, std::string error)> done);
  // Asks the channel's driver for early media (SIP: 183 Session Progress
  // with the engine's SDP, the call not answered); `done(ok, error)` runs
  // once, when the driver reports the channel ringing or up (its media then
  // ends in the engine), when it ends, or when the driver refused.
  void progress_channel(std::string_view channel_id, std::function<void(bool ok, std::string error)> done);
  // The `api` channel of an originate hands its answered leg over: the two
  // are no longer linked, without the unbridged event that makes a driver
  // hang its leg up (call_originate.cc).
  void release_link(const std::string& channel_id);
  // Bridges two channels of one driver (media path: direct, or relayed when
  // `relayed`), publishing calls.channel.bridged.
  sdk::Status bridge(std::string_view a, std::string_view b, bool relayed);
  // A transferor leaves its peer (call_transfer.cc): unlinked without the
  // unbridged event, and its driver asked to unbridge it, so that its
  // hang-up does not take the peer along.
  void separate(const sdk::Channel& leaving);
  // The transferor's peer goes to exten@context through a local leg; the
  // transferor is told 200 (`progress`, may be null) and hung up.
  void blind_transfer(const sdk::Channel& transferor, const std::string& exten, std::string context,
                      const std::function<void(int, bool)>& progress);
  // A blind transfer between `transferor` and its `peer`, bridged inside
  // their driver (SIP's relayed calls): `progress` 100, then the peer dials
  // exten@context through a leg of its driver routed as the transferor
  // dialed (dial() and relayed_transfers_); answered: the transfer is
  // published, the transferor told 200 and hung up; else told the failure,
  // its call kept.
  void relayed_blind_transfer(const sdk::Channel& transferor, const sdk::Channel& peer, const std::string& exten,
                              std::string context, const std::function<void(int, bool)>& progress);
  // An attended transfer whose other leg `other` is in a dialplan
  // application (it talks to no channel): the driver puts `peer`, the
  // transferor's party, in its place (ChannelDriver::replace); then the
  // transfer is published, the transferor told 200 and hung up.
  void application_transfer(const sdk::Channel& transferor, const sdk::Channel& peer, const sdk::Channel& other,
                            const std::function<void(int, bool)>& progress);
  // The transferor whose relayed blind transfer routes `transferee` now ("": none).
  std::string relayed_transferor(const std::string& transferee) const;
  // An attended transfer joined the transferor's peer with `party`:
  // published on the transferor's leg, the transferor told 200 (`progress`,
  // may be null), both its legs (`transferor`, `other`) hung up.
  void attended_done(const sdk::Channel& transferor, const sdk::Channel& other, const std::string& party,
                     const std::function<void(int, bool)>& progress);
  // Local legs above `channel_id` (0 for a channel no local leg dialed).
  int depth_of(std::string_view channel_id) const;
  // The Q.850 cause of the last dial `channel_id` made (0: none).
  int last_dial_cause(std::string_view channel_id) const;
  // Every variable of a channel (copied to the legs it dials).
  std::map<std::string, std::string> variables(std::string_view channel_id) const;

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Table = std::unordered_map<std::string, sdk::Channel, Hash, std::equal_to<>>;
  enum class Kind { created, state, ended, bridged, unbridged, held, unheld, transferred, dtmf, service };
  struct Pending {
    Pending(Kind k, sdk::Channel c, int cause_ = 0, int q850_ = 0, int sip_ = 0, std::string extra_ = {})
        : kind(k), channel(std::move(c)), cause(cause_), q850(q850_), sip(sip_), extra(std::move(extra_)) {}
    Kind kind;
    sdk::Channel channel;
    int cause = 0;      // ended: as the backend gave it (SIP-style)
    int q850 = 0;       // ended
    int sip = 0;        // ended
    std::string extra;  // bridged: media path; transferred: kind
    std::string exten, context, target;  // transferred
    std::int64_t duration_ms = 0;        // ended: since the answer
    // service: the topic (calls.pickup, calls.park.*) and its own fields.
    std::string topic;
    std::vector<std::pair<std::string, std::string>> more;
  };
  // A call service's event about `c` (calls.pickup, calls.park.*).
  void queue_service(std::string topic, const sdk::Channel& c, std::vector<std::pair<std::string, std::string>> more);
  // Answers `a` then `b` (each through its driver), calls `answered` (if
  // any), then bridges them; `done` once, off the caller's thread.
  void join_answered(std::string a, std::string b, std::function<void(sdk::Status)> done,
                     std::function<void()> answered = {});
  // The first non-local channel above `channel_id` (the real caller of a local leg).
  std::string media_origin_of(const std::string& channel_id) const;
  // A parked channel ended, or its fate came (call_parking.cc): taken out
  // of its slot, its waiter told `outcome` (false: it was not parked).
  bool unpark_as(const std::string& channel_id, const std::string& outcome, sdk::ParkedCall* out = nullptr);
  void park_timeout(const std::string& channel_id, std::uint64_t generation);
  struct Parked {
    sdk::ParkedCall call;
    std::uint64_t generation = 0;                    // which timer is its own
    std::function<void(std::string)> waiter;         // wait_parked
    std::string outcome;                             // decided before anyone waited
  };
  struct Lot {
    int last_slot = 0;                     // rotation: the next search starts after it
    std::map<int, std::string> slots;      // slot -> channel
  };
  // One dial in progress (call_dial.cc).
  struct Dial {
    std::string id;
    std::string origin;
    std::vector<std::string> legs;            // channel ids
    std::map<std::string, std::string> targets;  // channel id -> target
    std::size_t ended = 0;
    int busy = 0, noanswer = 0, congestion = 0, cancelled = 0;
    int last_q850 = 0, last_sip = 0;
    bool finished = false;
    std::function<void(const sdk::DialOutcome&)> done;
  };

  void queue(Pending p);
  void queue(Kind kind, const sdk::Channel& channel) { queue(Pending{kind, channel}); }
  void publish_loop();
  sdk::Status hangup(const std::vector<sdk::Channel>& targets, int q850_cause);
  std::shared_ptr<const sdk::ConfigSnapshot> config_snapshot() const;
  // calls_api.cc: POST /1.0/calls and the /1.0/users/me/calls routes.
  sdk::Status mount_originate(HttpServerImpl& http, std::string_view listener);
  sdk::Status end(std::string_view channel_id, int cause, int q850, int sip);
  std::shared_ptr<sdk::ChannelDriver> driver_of(const std::string& backend) const;
  // call_dial.cc: a leg of a dial answered / ended, its origin ended, the time ran out.
  void dial_leg_up(const std::string& channel_id);
  void dial_leg_ended(const std::string& channel_id, int q850, int sip);
  void dial_origin_ended(const std::string& channel_id);
  void dial_timeout(const std::string& dial_id);
  void end_dial(std::string_view dial_id, sdk::DialOutcome outcome);
  // Ends the dial (once): cancels `cancel` legs, then calls its done.
  void finish(std::shared_ptr<Dial> d, sdk::DialOutcome outcome, std::vector<std::string> cancel);

  sdk::EventBus& bus_;
  sdk::Logger& log_;
  mutable std::mutex config_mutex_;
  ConfigSource config_source_;
  std::shared_ptr<sdk::ChannelDriver> api_driver_;  // hangs up `api` channels
  // Why a driver refused the last dial of a channel (the API's answer names it).
  std::unordered_map<std::string, std::string> refusals_;
  CallCoreConfig config_;
  std::string id_prefix_;  // "<unix seconds at start>-": no dot, so an id is one ACL segment

  mutable std::mutex mutex_;
  Table channels_;
  std::unordered_map<std::string, std::shared_ptr<sdk::ChannelDriver>, Hash, std::equal_to<>> drivers_;
  std::uint64_t next_id_ = 1;
  std::unordered_map<std::string, std::size_t, Hash, std::equal_to<>> busy_;  // "backend/endpoint"
  std::unordered_map<std::string, std::map<std::string, std::string>, Hash, std::equal_to<>> vars_;
  std::unordered_map<std::string, int, Hash, std::equal_to<>> depth_;  // channel -> local legs above
  std::unordered_map<std::string, std::shared_ptr<Dial>, Hash, std::equal_to<>> dials_;
  std::unordered_map<std::string, std::string, Hash, std::equal_to<>> dial_of_leg_;
  std::unordered_multimap<std::string, std::string> dials_of_origin_;
  std::unordered_map<std::string, std::string> origin_of_;
  std::unordered_map<std::string, int> last_cause_;  // channel -> cause of its last dial  // dialed leg -> the channel that dialed it
  // A local leg lives as long as both channels it joins: when one of these
  // keys ends, the local legs listed end too.
  std::unordered_multimap<std::string, std::string> ends_with_;
  std::uint64_t next_dial_ = 1;
  GroupMemory groups_;
  // Verbs added by media applications, and where to export them.
  std::mutex lua_mutex_;
  sdk::LuaHost* lua_ = nullptr;
  std::vector<sdk::LuaFunctionSpec> verbs_;
  TimerThread timers_;  // ring timeouts
  // call:answer() calls waiting for their channel to be up (under mutex_).
  std::unordered_multimap<std::string, std::function<void(bool, std::string)>> up_waiters_;
  // call:progress() calls waiting for their channel's early media (under mutex_).
  std::unordered_multimap<std::string, std::function<void(bool, std::string)>> early_waiters_;
  // Dialog identifiers backends gave (set_protocol_ids), under mutex_.
  std::unordered_map<std::string, std::pair<std::string, std::string>> tags_;  // channel -> local, remote
  std::unordered_map<std::string, std::string> by_protocol_id_;               // protocol id -> channel
  // Relayed blind transfers routing their transferee: transferee ->
  // transferor (call_transfer.cc), under mutex_.
  std::unordered_map<std::string, std::string> relayed_transfers_;
  // Parking (call_parking.cc), under mutex_.
  std::unordered_map<std::string, Parked> parked_;  // channel -> its slot
  std::map<std::string, Lot> lots_;
  std::uint64_t next_park_ = 1;
  void wake_up_waiters(const std::string& channel_id, bool up);
  void wake_early_waiters(const std::string& channel_id, bool ok);
  using Waiters = std::unordered_multimap<std::string, std::function<void(bool, std::string)>>;
  // Runs and empties the waiters of `channel_id` (under mutex_ meanwhile).
  void wake(Waiters& waiters, const std::string& channel_id, bool ok, const std::string& error);
  // call:answer() and call:progress(): `done` waits in `waiters` while the
  // channel's driver is asked; a refusal (or `settled`: nothing will come)
  // wakes it at once.
  using DriverAsk = std::function<sdk::Status(sdk::ChannelDriver&, const sdk::Channel&, bool& settled)>;
  void ask_and_wait(std::string_view channel_id, Waiters& waiters, std::function<void(bool, std::string)> done,
                    const DriverAsk& ask);

  std::mutex events_mutex_;
  std::condition_variable events_cv_;
  std::vector<Pending> events_;
  bool stopping_ = false;
  // The publisher waits for events with nothing to do: the next queue()
  // wakes it. While events keep coming it naps kPublishNap between batches
  // instead, and the backends' threads queue without a wake-up (a futex
  // call and a context switch per event on the SIP thread otherwise).
  bool publisher_idle_ = false;
  std::atomic<std::uint64_t> dropped_{0};
  std::thread publisher_;
};

}  // namespace dialtone::kernel
