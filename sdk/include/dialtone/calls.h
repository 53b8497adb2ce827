// The kernel's call core owns every call: each leg of a call is a channel,
// whatever backend carries it (SIP, `local`, a test driver...). Backends are
// channel drivers: the core asks them to originate, cancel, answer, bridge,
// hold, send DTMF and hang up; they report what happens on their legs. The
// dialplan dials through the core (`call:dial{ "sip/1001", "local/2000@default" }`,
// docs/lua-dialplan.md), never through a backend's own functions.
//
// @code
//   // A channel driver for backend "demo": legs that answer at once.
//   class DemoDriver final : public dialtone::sdk::ChannelDriver {
//    public:
//     explicit DemoDriver(std::shared_ptr<dialtone::sdk::CallCore> core) : core_(std::move(core)) {}
//     // The core created one channel per target (outbound, state down).
//     dialtone::sdk::Status originate(const dialtone::sdk::OriginateRequest& req) override {
//       for (auto& leg : req.legs) {   // leg.target: "1001" of "demo/1001"
//         // A real backend posts the work to its own thread and returns.
//         (void)core_->set_state(leg.channel_id, dialtone::sdk::ChannelState::ringing);
//         (void)core_->set_state(leg.channel_id, dialtone::sdk::ChannelState::up);  // first up wins
//       }
//       return {};
//     }
//     dialtone::sdk::Status hangup(const dialtone::sdk::Channel& ch, int q850) override {
//       (void)core_->end_channel_q850(ch.id, q850 ? q850 : dialtone::sdk::q850::normal_clearing);
//       return {};
//     }
//    private:
//     std::shared_ptr<dialtone::sdk::CallCore> core_;
//   };
//
//   // In the plugin's start():
//   auto core = host.services().find<dialtone::sdk::CallCore>();       // null: run without one
//   if (core) (void)core->register_driver("demo", std::make_shared<DemoDriver>(core));
//   // An inbound leg (a caller) of a new call, on the backend's own thread:
//   dialtone::sdk::ChannelSpec a;
//   a.backend = "demo";
//   a.endpoint = "alice";
//   auto id = core->create_channel(std::move(a));                       // call_id = *id
//   // Ring two targets in parallel for 20 s; `done` runs once, on any thread.
//   dialtone::sdk::DialOptions dial;
//   dial.targets = {"demo/1001", "local/2000@default"};
//   dial.timeout_seconds = 20;
//   core->dial(*id, dial, [](const dialtone::sdk::DialOutcome& o) {
//     // o.status: "answered", "busy", "noanswer", "cancel", "congestion" or
//     // "unavailable"; o.q850 / o.sip: the cause; o.channel: who answered.
//   });
//   // Later, the caller hangs up:
//   (void)core->end_channel_q850(*id, dialtone::sdk::q850::normal_clearing);
// @endcode
//
// Every method of CallCore is thread-safe, never blocks on I/O and holds the
// core's lock only to copy small values, so a backend may call it from its
// signalling thread. It calls drivers without holding its lock; a driver may
// call the core back from inside a driver method.
//
// Bus events (JSON bodies, one channel each, every one with `id` and
// `call_id`), published off the caller's thread:
//   calls.channel.created     a leg exists (state down)
//   calls.channel.state       ringing or up (answered), or a new peer
//   calls.channel.bridged     two legs talk (`peer`, `media`: direct|relayed|engine)
//   calls.channel.unbridged   they no longer do
//   calls.channel.held / unheld
//   calls.channel.transferred a transfer asked by a driver or done by it (`kind`,
//                             `exten`, `context`, `target_channel`)
//   calls.channel.dtmf        a digit the channel's party sent (`digit`, `source`:
//                             rfc4733|inband|info), reported by its driver or the media engine
//   calls.channel.app         a dialplan application starts or ends on the
//                             channel (`phase`: start|end, `app`, `data`; call:app_event)
//   calls.channel.ended       hung up: `cause` (as the backend gave it), `q850_cause`,
//                             `sip_code`, `duration_ms` (0 when never answered)
// Common body fields: id, call_id, backend, endpoint, direction, state,
// caller_number, caller_name, callee_number, callee_name, protocol_id, peer,
// created_at_ms, answered_at_ms; local_tag and remote_tag when the backend
// gave them (set_protocol_ids).
//
// Call services (the same common fields, of the channel named):
//   calls.pickup              a ringing call was taken by another phone: the
//                             body is the caller's channel; `picker` (the
//                             channel that took it), `ringing_channel` (the
//                             leg that stopped ringing), `ringing_endpoint`
//   calls.park.parked         the channel waits in a parking slot: `slot`,
//                             `lot`, `context`, `parker` (channel id),
//                             `parker_endpoint`, `timeout` (seconds)
//   calls.park.retrieved      taken out by `retriever` (channel id)
//   calls.park.timeout        its time ran out (`slot`, `lot`, `context`,
//                             `parker_endpoint`): the dialplan decides where it goes
//   calls.park.abandoned      the parked caller hung up
// Every park event carries `slot`, `lot` and `context`.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dialtone/lua.h"
#include "dialtone/result.h"

namespace dialtone::sdk {

// ---- Causes ---------------------------------------------------------------
// Q.850 cause values the core and the drivers speak (a subset; any 1..127
// passes through).
namespace q850 {
constexpr int unallocated_number = 1;
constexpr int no_route_destination = 3;
constexpr int normal_clearing = 16;
constexpr int user_busy = 17;
constexpr int no_user_response = 18;
constexpr int no_answer = 19;
constexpr int subscriber_absent = 20;
constexpr int call_rejected = 21;
constexpr int number_changed = 22;
constexpr int destination_out_of_order = 27;
constexpr int invalid_number_format = 28;
constexpr int normal_unspecified = 31;
constexpr int no_circuit_available = 34;
constexpr int network_out_of_order = 38;
constexpr int temporary_failure = 41;
constexpr int switching_equipment_congestion = 42;
constexpr int bearer_capability_not_available = 58;
constexpr int service_not_implemented = 79;
constexpr int incompatible_destination = 88;
constexpr int recovery_on_timer_expiry = 102;
constexpr int interworking = 127;
}  // namespace q850

// RFC 3398 mapping, in one table. `to_q850`: the row maps this SIP status to
// the cause (section 8.2.6.1, SIP -> ISDN); `to_sip`: the row gives the SIP
// status sent for the cause (section 8.2.4, ISDN -> SIP).
struct CauseMapping {
  int sip;
  int q850;
  bool to_q850;
  bool to_sip;
};
inline constexpr CauseMapping kCauseMappings[] = {
    {400, 41, true, false},  {401, 21, true, false},  {402, 21, true, false},
    {403, 21, true, true},   {404, 1, true, true},    {405, 63, true, false},
    {406, 79, true, false},  {407, 21, true, false},  {408, 102, true, true},
    {410, 22, true, true},   {413, 127, true, false}, {414, 127, true, false},
    {415, 79, true, false},  {416, 127, true, false}, {420, 127, true, false},
    {480, 18, true, false},  {481, 127, true, false}, {482, 127, true, false},
    {483, 127, true, false}, {484, 28, true, true},   {485, 1, true, false},
    {486, 17, true, true},   {500, 41, true, false},  {501, 79, true, true},
    {502, 38, true, false},  {503, 41, true, true},   {504, 102, true, false},
    {505, 127, true, false}, {580, 47, true, false},  {600, 17, true, false},
    {603, 21, true, false},  {604, 1, true, false},   {606, 58, true, false},
    // ISDN -> SIP only.
    {404, 2, false, true},   {404, 3, false, true},   {408, 18, false, true},
    {480, 19, false, true},  {480, 20, false, true},  {410, 23, false, true},
    {404, 26, false, true},  {502, 27, false, true},  {501, 29, false, true},
    {480, 31, false, true},  {503, 34, false, true},  {503, 38, false, true},
    {503, 42, false, true},  {503, 47, false, true},  {403, 55, false, true},
    {403, 57, false, true},  {503, 58, false, true},  {488, 65, false, true},
    {488, 70, false, true},  {403, 87, false, true},  {503, 88, false, true},
    {500, 111, false, true}, {500, 127, false, true},
};

// The Q.850 cause of a SIP final status: 2xx -> 16 (normal clearing), 487
// (the caller cancelled) -> 16, unknown 4xx/5xx/6xx -> the class default of
// RFC 3398 (31, 41, 31).
constexpr int q850_from_sip(int sip) {
  if (sip >= 200 && sip < 300) return q850::normal_clearing;
  if (sip == 487 || sip == 0) return q850::normal_clearing;
  for (const auto& m : kCauseMappings)
    if (m.to_q850 && m.sip == sip) return m.q850;
  if (sip >= 500 && sip < 600) return q850::temporary_failure;
  return q850::normal_unspecified;
}
// The SIP final status for a Q.850 cause (16, normal clearing: 200, a BYE);
// unknown causes: 500.
constexpr int sip_from_q850(int cause) {
  if (cause == q850::normal_clearing) return 200;
  for (const auto& m : kCauseMappings)
    if (m.to_sip && m.q850 == cause) return m.sip;
  return 500;
}

// ---- Channels -------------------------------------------------------------

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
  bool held = false;
};

// How the media of two bridged legs flows; the core chooses.
enum class MediaPath {
  direct,   // endpoint to endpoint (SDP passed through)
  relayed,  // through the backend's RTP relay
  engine,   // through the media engine (mixing, playback, recording): the
            // hook for media applications, set by CallCore::set_media_engine
};
inline const char* to_string(MediaPath m) {
  return m == MediaPath::direct ? "direct" : m == MediaPath::relayed ? "relayed" : "engine";
}

// One leg the core asks a driver to originate: the core created the channel
// (outbound, down) before asking.
struct OriginateLeg {
  std::string channel_id;
  std::string target;  // after "<backend>/": "1001", "2000@default", "sip:x@trunk"
};

// The legs of one dial that go to one driver (rung together, in parallel
// with the other drivers' legs).
struct OriginateRequest {
  std::string dial_id;
  std::string call_id;
  Channel origin;        // the channel that dials (the caller's leg)
  // The first non-local channel of the call: the leg whose media (e.g. the
  // SIP offer) the new legs answer. Same as origin unless a local leg dials.
  Channel media_origin;
  std::vector<OriginateLeg> legs;
  int timeout_seconds = 30;
  std::string caller_number, caller_name;  // caller ID presented
  bool anonymous = false;
  std::map<std::string, std::string> variables;  // the dialing channel's
  int depth = 0;  // local legs above this dial (loop guard)
  // Appended last. Set when the core routes the new leg of a blind transfer
  // between parties this driver bridges itself (CallCore::transfer_requested,
  // `report.path` direct or relayed): the transferor's channel, still up and
  // bridged with `origin`, the transferee. Each leg's target is then
  // "<exten>@<context>" and its channel carries the transferor's endpoint
  // (inbound) and its own id as backend_ref (name what you make for it so,
  // as later requests on the leg carry it): route it through the dialplan
  // as if the transferor dialed
  // exten in context, for the transferee (the dialplan may answer it, a
  // parking extension, or dial). When a callee it dials answers, put that
  // callee in the transferor's place (its media toward the transferee),
  // link it with the transferee, then report the leg up; when the dialplan
  // answers the leg, report it up before the transferee moves to it. Leave
  // the transferor's channel up either way: the core publishes the transfer,
  // tells the transferor (`progress` of its report) and hangs it up. A leg
  // that ends instead fails the transfer: the transferor keeps its call.
  std::string transfer_of;
};

// A transfer a driver received (a SIP REFER...) and hands to the core.
struct TransferRequest {
  enum class Kind { blind, attended } kind = Kind::blind;
  std::string channel_id;    // the leg that asked (the transferor's)
  std::string exten, context;  // blind: where the transferor's peer goes
  std::string target_channel;  // attended: the leg that replaces the transferor
};

// A transfer request as a driver received it on the wire (a SIP REFER:
// blind, or attended with Replaces), reported with
// CallCore::transfer_requested. The core decides who carries it out and
// tells the transferor how it goes through `progress`.
struct TransferReport {
  // kind; channel_id: the transferor's leg that received the request;
  // blind: exten and context (empty: the transferor's line's context, as the
  // driver knows it); attended: target_channel, the transferor's other leg
  // (the one the request replaces), when the driver knows it.
  TransferRequest request;
  // Attended, when target_channel is empty: the protocol id (SIP Call-ID)
  // of the transferor's other leg, resolved by channel_by_protocol_id.
  std::string replaces;
  // How the transferor's leg and its peer are connected as the driver sees
  // it: direct / relayed (inside the driver: the core joins the parties of
  // an attended transfer through ChannelDriver::join, routes a blind one's
  // transferee through a leg of the driver, OriginateRequest::transfer_of),
  // engine (through the media engine: the core carries it out with its own
  // dial and bridge).
  MediaPath path = MediaPath::relayed;
  // The transferor hears how it goes (SIP: NOTIFY message/sipfrag
  // "SIP/2.0 <status>"): 100 when started, then once with `final` true (2xx
  // done, or the failure). Called on any thread, never under the core's lock.
  std::function<void(int sip_status, bool final)> progress;
};

// A new leg asking to take an answered leg's place, as a driver received it
// on the wire (SIP: an INVITE with Replaces, RFC 3891: the transfer target's
// phone completing an attended transfer, a BLF key taking a call), reported
// with CallCore::replace_requested.
struct ReplaceReport {
  std::string channel_id;  // the newcomer's leg (created by the driver, inbound)
  std::string replaced;    // the leg it replaces, or empty: named by `replaces`
  std::string replaces;    // the replaced leg's protocol id (SIP Call-ID), resolved by channel_by_protocol_id
};

// The SIP-style status a transferor is told when its transfer is refused or
// fails with `e` (SIP: the REFER's final NOTIFY): not_found 481, invalid
// 400, unsupported 501, unavailable 503, conflict 491, else 500.
inline int transfer_refusal_status(const Error& e) {
  switch (e.code) {
    case ErrorCode::not_found: return 481;
    case ErrorCode::invalid: return 400;
    case ErrorCode::unsupported: return 501;
    case ErrorCode::unavailable: return 503;
    case ErrorCode::conflict: return 491;
    default: return 500;
  }
}

// What a backend does for the core. Methods are called on any thread
// without the core's lock: post the work to the backend's own thread and
// return; report what happened through the CallCore methods. Every method
// but hangup has a default answering `unsupported`.
class ChannelDriver {
 public:
  virtual ~ChannelDriver() = default;
  // Ring the legs; each leg reports ringing / up (set_state) or its end
  // (end_channel*). A leg that cannot be rung is ended with its cause.
  virtual Status originate(const OriginateRequest& request);
  // Stop ringing a leg (another answered, the caller left, the time ran out).
  virtual Status cancel(const Channel& channel, int q850_cause);
  // Tell the caller of an inbound leg that the call progresses / rings.
  virtual Status progress(const Channel& channel);
  virtual Status ringing(const Channel& channel);
  // Answer an inbound leg.
  virtual Status answer(const Channel& channel);
  // Connect two legs of this driver, media through `path`.
  virtual Status bridge(const Channel& a, const Channel& b, MediaPath path);
  virtual Status unbridge(const Channel& channel);
  virtual Status hold(const Channel& channel);
  virtual Status unhold(const Channel& channel);
  virtual Status send_dtmf(const Channel& channel, const std::string& digits);
  // Hang the leg up; `q850_cause` 0: the backend's choice. Ending the channel
  // is reported later through end_channel*().
  virtual Status hangup(const Channel& channel, int q850_cause) = 0;

  // Appended last, so that drivers built before keep their vtable. No
  // longer called: the core carries out every transfer a driver reports
  // (join, replace, its own dial and bridge). Kept so that the vtable of
  // drivers built against SDK 2.x does not move.
  virtual Status carry_transfer(const TransferReport& report);
  // Appended last (called only on a driver that reported a transfer). Joins two answered
  // channels of this driver that each talk to a party of their own (an
  // attended transfer: the transferor's peer and the party of its other
  // leg), moving their media itself (SIP: re-INVITEs through its relay,
  // RFC 3725), and links them (CallCore::link). The legs they talked to, the
  // transferor's, stay up, no longer linked to them: the core tells the
  // transferor and hangs them up. `done` runs once, on any thread, with the
  // outcome (the transferor is told its failure, the calls are kept).
  virtual void join(const Channel& a, const Channel& b, std::function<void(Status)> done);
  // Appended last. How this driver carries the media of `channel`, answered
  // and talking to a channel of the same driver: direct or relayed when the
  // driver bridges the two itself (a blind transfer then routes the
  // transferee through a leg of this driver, OriginateRequest::transfer_of),
  // engine otherwise (the default: the core transfers with its own dial and
  // bridge). Called on any thread: answer without waiting on the backend's.
  virtual MediaPath media_path(const Channel& channel);
  // Appended last (the core calls it only on a driver that reported a
  // transfer or a replacement, CallCore::transfer_requested and
  // replace_requested). `newcomer`'s party takes the place of `replaced`,
  // both this driver's:
  // - `replaced` is linked to a peer whose media this driver carries
  //   itself (direct or relayed): the peer's media moves to the newcomer
  //   (SIP: the peer is re-INVITEd with the newcomer's offer, the newcomer
  //   answered with the peer's answer) and the driver links the two
  //   (CallCore::link). `replaced` stays up, no longer linked: the core
  //   publishes the replacement and hangs it up.
  // - `replaced` talks to no channel (a dialplan application: voicemail, an
  //   IVR, a parking slot; its media ends in the media engine): the
  //   newcomer's party is moved into it (SIP: asked for an offer, answered
  //   by `replaced`'s engine endpoint), and `replaced`'s channel, script and
  //   slot carry on with that party. The driver ends the newcomer's channel
  //   and hangs up the leg `replaced` had before.
  // `done` runs once, on any thread; on failure the parties keep what they
  // had where the driver can (else it ends the calls it broke).
  virtual void replace(const Channel& newcomer, const Channel& replaced, std::function<void(Status)> done);
};

inline Status ChannelDriver::originate(const OriginateRequest&) {
  return Error::unsupported("this backend cannot originate calls");
}
inline Status ChannelDriver::cancel(const Channel& channel, int q850_cause) {
  return hangup(channel, q850_cause);
}
inline Status ChannelDriver::progress(const Channel&) { return Error::unsupported("no progress"); }
inline Status ChannelDriver::ringing(const Channel&) { return Error::unsupported("no ringing"); }
inline Status ChannelDriver::answer(const Channel&) { return Error::unsupported("no answer"); }
inline Status ChannelDriver::bridge(const Channel&, const Channel&, MediaPath) {
  return Error::unsupported("this backend cannot bridge two channels");
}
inline Status ChannelDriver::unbridge(const Channel&) { return Error::unsupported("no unbridge"); }
inline Status ChannelDriver::hold(const Channel&) { return Error::unsupported("no hold"); }
inline Status ChannelDriver::unhold(const Channel&) { return Error::unsupported("no unhold"); }
inline Status ChannelDriver::send_dtmf(const Channel&, const std::string&) {
  return Error::unsupported("no DTMF");
}
inline Status ChannelDriver::carry_transfer(const TransferReport&) {
  return Error::unsupported("this backend carries out no transfer itself");
}
inline void ChannelDriver::join(const Channel&, const Channel&, std::function<void(Status)> done) {
  done(Error::unsupported("this backend cannot join two of its channels"));
}
inline MediaPath ChannelDriver::media_path(const Channel&) { return MediaPath::engine; }
inline void ChannelDriver::replace(const Channel&, const Channel&, std::function<void(Status)> done) {
  done(Error::unsupported("this backend cannot put one of its channels in another's place"));
}

// ---- Dialing --------------------------------------------------------------

// The ring time of a dial with no limit of its own (XiVO's "Unlimited" ring
// time, a local leg whose dialplan decides): the legs ring until one
// answers, all fail or the caller hangs up; a day bounds it so that nothing
// rings forever.
inline constexpr int kUnlimitedRingSeconds = 24 * 3600;

struct DialOptions {
  // "<backend>/<target>": "sip/1001", "local/2000@default", "test/bob".
  std::vector<std::string> targets;
  int timeout_seconds = 30;  // then every leg still ringing is cancelled
  std::string caller_number, caller_name;  // empty: the dialing channel's
  bool anonymous = false;
};

// How a dial ended, once.
struct DialOutcome {
  // answered, busy, noanswer (time ran out), cancel (the caller left or the
  // dial was cancelled), congestion (network or resources), unavailable
  // (nothing could be rung, or every leg refused).
  std::string status;
  int q850 = 0;   // the deciding cause
  int sip = 0;    // its SIP status (RFC 3398)
  std::string channel;  // answered: the leg that answered (linked to the caller)
  std::string target;   // answered: its target string
  // The backend's word on whether an outgoing route should try its next
  // trunk after this failure (SIP: the trunk's failover_codes); unset when
  // it gave none. A driver gives it by setting the dialing channel's
  // variable DIAL_FAILOVER to "yes" or "no" before ending its legs.
  std::optional<bool> failover;
};

// A call parked in a slot of a parking lot (seed 5.25).
struct ParkRequest {
  std::string lot;         // the lot's key ("<id>"): its slots are shared by every parker
  std::string context;     // where the slots are dialed (BLF and retrieval)
  int first_slot = 701, last_slot = 750;
  int timeout_seconds = 45;  // 0: no timeout
  // The channel of who parked it (empty: the parked caller itself), and
  // its "<backend>/<endpoint>" (kept after that channel ends: the timeout
  // calls it back).
  std::string parker, parker_endpoint;
};

// A parked call as the core holds it.
struct ParkedCall {
  std::string channel;
  std::string lot, context;
  int slot = 0;
  std::string parker, parker_endpoint;
  std::int64_t parked_at_ms = 0;
  int timeout_seconds = 0;
};

class CallCore {
 public:
  static constexpr std::string_view kServiceName = "kernel.calls";
  // 2: drivers originate, dials go through the core, causes are Q.850.
  static constexpr int kServiceVersion = 2;
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
  // The same with a Q.850 cause (16: normal clearing).
  virtual Status end_channel_q850(std::string_view channel_id, int q850_cause) = 0;
  // Held / resumed by the far end (published as held / unheld).
  virtual Status set_held(std::string_view channel_id, bool held) = 0;
  // A transfer the driver received; the core carries it out (or refuses it
  // with the returned status) and publishes calls.channel.transferred.
  virtual Status request_transfer(TransferRequest request) = 0;
  // A DTMF digit the channel's party sent (`source`: rfc4733, inband,
  // info): published as calls.channel.dtmf.
  virtual Status dtmf_received(std::string_view channel_id, char digit, std::string_view source);

  virtual std::vector<Channel> channels() const = 0;
  virtual Result<Channel> channel(std::string_view channel_id) const = 0;
  // Asks the owning backend to hang up (`q850_cause` 0: its choice);
  // not_found when unknown, unavailable when its backend has no driver.
  virtual Status hangup_channel(std::string_view channel_id, int q850_cause = 0) = 0;
  virtual Status hangup_call(std::string_view call_id, int q850_cause = 0) = 0;

  // Rings `options.targets` in parallel for the channel `origin`: the first
  // leg that answers is linked to it and the others are cancelled. `done`
  // runs once, on any thread (possibly inside dial()). Returns the dial id
  // (cancel_dial takes it).
  virtual std::string dial(std::string_view origin, DialOptions options,
                           std::function<void(const DialOutcome&)> done) = 0;
  virtual void cancel_dial(std::string_view dial_id) = 0;

  // Channels in progress (any state) on these "<backend>/<endpoint>"
  // interfaces: the busy count of a user's lines.
  virtual std::size_t active_calls(const std::vector<std::string>& interfaces) const = 0;
  // Channel variables: set by the dialplan or a driver, inherited by the
  // legs the channel dials, dropped with it.
  virtual Status set_variable(std::string_view channel_id, std::string name, std::string value) = 0;
  virtual Result<std::string> variable(std::string_view channel_id, std::string_view name) const = 0;

  // Media applications add verbs to the dialplan's `call` object
  // (call:play, call:record ...): `verb.fn` gets the call table first, then
  // the script's arguments; `verb.args` declares them all ("call: table,
  // file: string"). Exported to the dialplan at once; conflict on a name
  // the core already has.
  virtual Status register_verb(LuaFunctionSpec verb) = 0;

  // ---- Call services (added in version 2; defaults: unsupported) --------

  // The backend's dialog identifiers of a leg (SIP: Call-ID, the tag of the
  // leg's party and Dialtone's own tag), published with its next events so
  // that BLF watchers can pick the call up with Replaces.
  virtual Status set_protocol_ids(std::string_view channel_id, std::string protocol_id, std::string local_tag,
                                  std::string remote_tag);
  // The channel a backend's protocol id names (the SIP Call-ID of a leg).
  virtual Result<std::string> channel_by_protocol_id(std::string_view protocol_id) const;
  // The oldest leg ringing (outbound, alerting, in a dial) on one of these
  // "<backend>/<endpoint>" interfaces; not_found when nothing rings there.
  virtual Result<std::string> ringing_leg(const std::vector<std::string>& interfaces) const;
  // Pickup: `picker` takes the call ringing on `ringing_leg`. The leg and
  // the others of its dial are cancelled (the phones stop ringing), the
  // caller and the picker are answered and bridged; the caller's dial ends
  // `answered` with `channel` = the picker. `done` runs once, on any thread:
  // invalid when the leg no longer rings (answered, ended), or the error
  // that prevented the bridge (the caller's dial then ends `unavailable`).
  virtual void pickup(std::string_view picker, std::string_view ringing_leg, std::function<void(Status)> done);

  // Parking: `channel` takes the next free slot of `request.lot` (rotating:
  // the slot after the last one taken); unavailable ("full") when none is
  // free. Published as calls.park.parked.
  virtual Result<int> park(std::string_view channel, ParkRequest request);
  // Waits for the parked channel's fate: "retrieved", "timeout" or "hangup"
  // (`done` once, on any thread; at once when it is already decided or the
  // channel is not parked: "hangup").
  virtual void wait_parked(std::string_view channel, std::function<void(std::string outcome)> done);
  // `retriever` takes the call parked in `slot` of `lot`: answered and
  // bridged with it. not_found when the slot is empty.
  virtual void unpark(std::string_view retriever, std::string_view lot, int slot,
                      std::function<void(Status)> done);
  // The calls parked now, by lot then slot.
  virtual std::vector<ParkedCall> parked_calls() const;

  // Appended last, so that plugins built before it keep their vtable:
  // a transfer the driver carried out itself (a SIP REFER the backend
  // completed between its own legs), published as calls.channel.transferred
  // on `done.channel_id`, the transferor's leg, which must still be open, so
  // that records (CEL) see every transfer whoever performs it.
  virtual Status transfer_done(const TransferRequest& done);

  // Appended last. A transfer request the driver received (a SIP
  // REFER, blind or with Replaces): the core carries it out. Blind: the
  // transferor's peer is sent to the dialplan at exten@context (a `local`
  // leg dialed from it), the transferor is told 200 and hung up; the peer is
  // hung up when that dial fails. Attended: the transferor's peer and the
  // party of its other leg talk, both of the transferor's legs are hung up.
  // Attended, the other leg must be the same endpoint's. When the
  // transferor and its peer are bridged inside their driver (`report.path`
  // direct or relayed, both legs of one driver), the core has that driver
  // join the two parties (ChannelDriver::join), then tells the transferor
  // and hangs up its legs; blind, the peer dials a leg of that driver
  // (OriginateRequest::transfer_of) that routes it through the dialplan,
  // and once that leg is up the core publishes the transfer, tells the
  // transferor 200 and hangs it up (a failed dial: told the failure, the
  // call kept); attended, when the other leg talks to no channel (it is in
  // a dialplan application: parked, voicemail, an IVR), the driver puts
  // the transferor's peer in that leg's place (ChannelDriver::replace: the
  // application carries on with it), then the core tells the transferor
  // and hangs up its first leg.
  // Returns what refuses the request (not_found: no such leg; invalid: it
  // talks to nobody, or the replaced leg is unknown; unsupported): the
  // driver answers the request with it (SIP: 481, 400, 501...). Otherwise
  // the request is accepted (SIP: 202) and `report.progress` follows.
  // Publishes calls.channel.transferred on the transferor's leg.
  virtual Status transfer_requested(TransferReport report);

  // Appended last. A new leg asks to take an answered leg's place (SIP: an
  // INVITE with Replaces naming an answered dialog). The core resolves the
  // replaced leg and has the driver swap the newcomer into its bridge
  // (ChannelDriver::replace: the replaced leg's peer now talks to the
  // newcomer); then it publishes calls.channel.transferred on the replaced
  // leg (`kind` "attended", `target_channel` the newcomer) and hangs the
  // replaced leg up with normal clearing (Q.850 16: SIP BYE). Returns what
  // refuses the request, which the driver answers with (SIP: not_found 481,
  // invalid 400, unsupported 501...): no such answered leg, a leg of
  // another backend, or one whose peer the driver does not carry. When the
  // driver's swap fails later, the driver answers the newcomer itself and
  // the replaced leg keeps its call.
  virtual Status replace_requested(ReplaceReport report);
};

inline Status CallCore::dtmf_received(std::string_view, char, std::string_view) {
  return Error::unsupported("this call core takes no DTMF reports");
}
inline Status CallCore::set_protocol_ids(std::string_view, std::string, std::string, std::string) {
  return Error::unsupported("this call core keeps no protocol ids");
}
inline Result<std::string> CallCore::channel_by_protocol_id(std::string_view) const {
  return Error::unsupported("this call core keeps no protocol ids");
}
inline Result<std::string> CallCore::ringing_leg(const std::vector<std::string>&) const {
  return Error::unsupported("this call core has no pickup");
}
inline void CallCore::pickup(std::string_view, std::string_view, std::function<void(Status)> done) {
  done(Error::unsupported("this call core has no pickup"));
}
inline Result<int> CallCore::park(std::string_view, ParkRequest) {
  return Error::unsupported("this call core has no parking");
}
inline void CallCore::wait_parked(std::string_view, std::function<void(std::string)> done) { done("hangup"); }
inline void CallCore::unpark(std::string_view, std::string_view, int, std::function<void(Status)> done) {
  done(Error::unsupported("this call core has no parking"));
}
inline std::vector<ParkedCall> CallCore::parked_calls() const { return {}; }

inline Status CallCore::transfer_done(const TransferRequest&) {
  return Error::unsupported("this call core takes no transfer reports");
}
inline Status CallCore::transfer_requested(TransferReport) {
  return Error::unsupported("this call core carries out no transfer requests");
}
inline Status CallCore::replace_requested(ReplaceReport) {
  return Error::unsupported("this call core puts no channel in another's place");
}

}  // namespace dialtone::sdk
