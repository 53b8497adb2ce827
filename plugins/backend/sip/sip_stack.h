// The SIP stack: sofia-sip NTA on its own su_root thread, the registrar and a
// basic B2BUA. This header carries no sofia types so that the plugin glue,
// the tests and other translation units never include sofia headers.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <dialtone/host.h>
#include <dialtone/media.h>
#include <dialtone/presence.h>
#include <dialtone/result.h>

#include "plugins/backend/sip/caller_identity.h"
#include "plugins/backend/sip/digest.h"
#include "plugins/backend/sip/nat.h"
#include "plugins/backend/sip/external_address.h"
#include "plugins/backend/sip/qualify.h"
#include "plugins/backend/sip/rtp_relay.h"
#include "plugins/backend/sip/trunk_auth.h"

namespace dialtone::plugins::backend::sip {

struct SipConfig {
  std::string host = "127.0.0.1";
  int port = 5060;  // 0: an ephemeral port (tests); udp and tcp share it
  std::vector<std::string> transports{"udp", "tcp"};
  std::string tls_certificate_dir;  // sofia's TLS layout: agent.pem, cafile.pem
  int tls_port = 5061;
  // Accepted TCP and TLS connections kept open at most (0: no limit); past
  // it the newest connections without a registration are closed.
  std::size_t tcp_max_connections = 4096;
  // A TCP or TLS connection silent this long is closed, unless a
  // registration holds it (its phone is called over it).
  std::chrono::milliseconds tcp_idle_timeout{600000};
  std::string realm = "dialtone";
  int expires_min = 60;
  int expires_max = 3600;
  int expires_default = 3600;
  std::chrono::seconds nonce_lifetime{300};
  // Challenges offered (one header each, preferred first) and the only
  // algorithms accepted in answers.
  std::vector<DigestAlgorithm> auth_algorithms{DigestAlgorithm::md5};
  int ban_failures = 5;
  std::chrono::seconds ban_window{60};
  std::chrono::seconds ban_time{600};
  std::chrono::seconds credential_cache{300};
  std::string user_agent = "Dialtone";
  MediaConfig media;  // RTP relay, codecs, direct media default
  // Dialtone behind NAT: public addresses and the local networks.
  ExternalAddress external;
  // OPTIONS qualify of registered contacts (0: off) and how long a probe
  // may stay unanswered before the contact is unreachable.
  std::chrono::milliseconds qualify_interval{60000};
  std::chrono::milliseconds qualify_timeout{3000};
  // How long an out-of-dialog NOTIFY (check-sync) may stay unanswered.
  std::chrono::milliseconds notify_timeout{8000};
  // 64*T1 (RFC 3261): how long a finished transaction is kept to absorb
  // retransmissions, and how long a request of ours waits for an answer.
  std::chrono::milliseconds transaction_timeout{32000};
  // Overload: new INVITEs and REGISTERs waiting for credentials or the
  // dialplan, plus tasks queued for the SIP thread, at most (0: no bound);
  // past it new ones get 503 with Retry-After, dialogs go on.
  std::size_t max_pending = 1000;
  // Overload too: a new INVITE or REGISTER read from the UDP socket this
  // long after it arrived (half of it without credentials) gets 503 with
  // Retry-After before any work (0: no bound). See receive_delay.h.
  std::chrono::milliseconds max_queue_delay{400};
  std::chrono::seconds retry_after{5};
  // Session timers (RFC 4028): a caller's Session-Expires below this gets
  // 422 with Min-SE (the RFC's floor is 90; tests go lower).
  int session_min_se = 90;
  // RFC 3262: 18x go reliably (PRACK) to callers that require 100rel, and
  // with this also to callers that only support it.
  bool rel100_when_supported = false;
  // Responses over UDP go to the port the request came from even without
  // rport in its Via (force_rport); with rport (RFC 3581) they always do.
  bool force_rport = true;
  // resolv.conf for trunk host names (empty: the system's); sofia reads
  // `nameserver` and also `port` lines.
  std::string resolv_conf;
  // SUBSCRIBE (sip_subscriptions.cc): granted lengths, and subscriptions
  // one line may hold at once (past it: 403).
  int subscribe_expires_min = 60;
  int subscribe_expires_max = 3600;
  int subscribe_expires_default = 3600;
  std::size_t subscribe_max_per_line = 200;
  // Directed pickup code written as the target of a ringing BLF dialog:
  // confd's `pickup` feature code, followed at each configuration change
  // (set_pickup_code); empty when the administrator turned it off.
  std::string pickup_code = "*8";
  // Registered phones without a message-summary subscription get their
  // mailbox's counts in unsolicited NOTIFYs (unsolicited_mwi.cc).
  bool mwi_unsolicited = true;
};

// A line's SIP credentials and what the dialplan needs about its caller.
struct LineCredentials {
  std::string username;
  std::string secret;
  std::string context;
  std::string line_id;
  std::string caller_name;
  std::string caller_number;
  std::string user_id;
  std::optional<bool> direct_media;  // the line's own setting, else media.direct_media
  NatMode nat = NatMode::automatic;  // the line's `nat` option
};

// One registered contact of an AOR, as persisted and published.
struct Binding {
  std::string contact;     // the Contact URI
  std::string call_id;
  std::uint32_t cseq = 0;
  std::int64_t expires_at = 0;  // unix seconds
  std::string received;    // transport:ip:port the REGISTER came from
  std::string user_agent;
  // The phone is reached at `received`, not at its Contact (behind NAT, per
  // the line's `nat` option); kept in memory only.
  bool behind_nat = false;
};

// The call as handed to the dialplan.
struct CallInfo {
  std::string id;
  std::string caller_username;
  std::string caller_number;
  std::string caller_name;
  std::string called_number;
  std::string context;
  std::string channel;  // the caller's channel in the call core ("" without one)
  std::string origin = "intern";  // "extern": from a trunk
  std::map<std::string, std::string> variables;  // XIVO_* style
};

// A peer trunk: INVITEs from `ip` (and `port` when non-zero) are taken
// without digest as incoming calls in `context`.
struct TrunkInfo {
  std::string id;
  std::string name;
  std::string ip;
  int port = 0;
  std::string context;
  // Requests Dialtone sends to the trunk (to `ip`[:`port`]) answer the
  // provider's 401/407 with these; no secret: challenges are not answered.
  std::string auth_username;
  std::string secret;
  std::string auth_realm;  // only challenges in this realm are answered (empty: any)
  FailoverCodes failover = default_failover_codes();
  // XiVO's trustrpid: an incoming call's P-Asserted-Identity or
  // Remote-Party-ID names the caller rather than its From.
  bool trust_id = false;
  // XiVO's sendrpid: the caller's identity added to INVITEs to this trunk.
  SendIdentity send_identity = SendIdentity::none;
};

// A trunk that registers to its provider (option outbound_register = yes):
// REGISTER to `host` as `username`, digest with `secret`.
struct TrunkRegistration {
  std::string id;
  std::string name;      // the endpoint's username; names the bus topics
  std::string username;
  std::string secret;
  std::string host;      // registrar host[:port]
  int expires = 3600;    // asked for; the registrar's grant is used
};

// A dial asked by the call core (the SIP channel driver's originate): line
// usernames (rung on all their contacts) or sip: URIs (trunks), rung together.
struct DialRequest {
  std::vector<std::string> targets;
  // The call core's channel of each target (same order), created by the
  // core; empty: the stack asks the backend for one per branch.
  std::vector<std::string> target_channels;
  int timeout_seconds = 30;
  std::string caller_number;  // empty: the caller's From user
  std::string caller_name;
  bool anonymous = false;     // From: Anonymous, number in P-Asserted-Identity
  // Each phone is asked to answer on its own, with the header its vendor
  // understands (auto_answer.h): paging, intercom.
  bool auto_answer = false;
};

// Ringback to the channel that dials, while its SIP legs ring: the ring
// tone on its media-engine endpoint from the first 18x without early media,
// stopped once (an answer, early media, the last leg ending, or the call
// core cancelling the dial). Shared by the legs of one dial; thread-safe,
// because the call core cancels from its own thread and must have stopped
// the tone before the dialplan resumes and plays its own sounds.
class Ringback {
 public:
  explicit Ringback(std::shared_ptr<sdk::media::Endpoint> origin, std::size_t legs)
      : origin_(std::move(origin)), legs_(legs) {}
  void start() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!origin_ || playing_ || done_) return;
    playing_ = true;
    origin_->play_tone("ring");
  }
  void stop() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (done_) return;
    done_ = true;
    if (playing_ && origin_) origin_->stop_playing();
  }
  // One leg ended without answering: the last one stops the tone.
  void leg_ended() {
    bool last;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      last = legs_ > 0 && --legs_ == 0;
    }
    if (last) stop();
  }

 private:
  std::mutex mutex_;
  std::shared_ptr<sdk::media::Endpoint> origin_;
  std::size_t legs_;
  bool playing_ = false;
  bool done_ = false;
};

// One outgoing SIP call whose media ends in the media engine (the call
// core's originate when the dialing channel is not a SIP caller still being
// routed: a call the dialplan answered, a DAHDI span's call, an API
// originate). The INVITE offers an engine endpoint; its answer is applied to
// it and the leg is attached to the engine under `channel`.
struct EngineDial {
  std::string target;   // line username or sip: URI
  std::string channel;  // the call core's channel of this leg
  // The dialing channel whose media this leg joins (its engine endpoint);
  // `join` when this stack mixes the two (the origin is a SIP call of this
  // stack), else the origin's own driver joins them (DAHDI does).
  std::string origin;
  bool join = false;
  std::shared_ptr<Ringback> ringback;
  int timeout_seconds = 30;
  std::string caller_number, caller_name;
  bool anonymous = false;
  // The origin's call id when it is a SIP call of this stack: a caller who
  // asked for privacy stays hidden on this leg.
  std::string origin_call;
  bool auto_answer = false;  // DialRequest::auto_answer
};

// How a dial ended: "answered", "busy", "noanswer" (ring timeout),
// "unavailable" (no contact, 4xx/5xx/6xx other than busy), "cancelled"
// (the caller hung up, or the call is gone), "congestion" (the call already
// rings another dial: one SIP dial per call at a time). `code`: the SIP status.
struct DialResult {
  DialResult() = default;
  DialResult(std::string s, int c, std::optional<bool> f = std::nullopt)
      : status(std::move(s)), code(c), failover(f) {}
  std::string status;
  int code = 0;
  // Whether an outgoing route goes on to its next trunk after this, per the
  // failover_codes of the trunk dialed (unset: nothing was dialed).
  std::optional<bool> failover;
};

// What the dialplan decided.
struct RouteDecision {
  // done: the dialplan already settled the call (answered or cancelled
  // through sip.dial).
  enum class Action { dial, reject, done } action = Action::reject;
  std::vector<std::string> targets;  // SIP usernames of lines
  int timeout_seconds = 30;
  int status = 404;
  std::string reason;
};

// A port free for both UDP and TCP on `host` (sip.listen port 0, and tests
// that need a port for a peer); 0 when none was found.
int free_port(const std::string& host);

// One leg of a call as the call core sees it: A (the caller's, inbound) or a
// B branch (one rung contact, outbound).
struct LegInfo {
  std::string call_id;      // the stack's call id (SipStack::hangup takes it)
  std::string a_leg;        // B legs: the A leg's id, naming the call they belong to
  bool inbound = true;
  std::string endpoint;     // line username, trunk name, or the rung sip: URI
  std::string caller_number;
  std::string caller_name;
  std::string callee_number;
  std::string sip_call_id;  // this leg's Call-ID on the wire
};

enum class LegState { ringing, up, ended };

// A REFER received on a leg, as the stack reports it to the call core.
struct LegTransfer {
  std::string leg_id;    // the transferor's leg (the one that sent REFER)
  bool attended = false;
  std::string exten;     // blind: the Refer-To user part
  std::string replaces;  // attended: the Call-ID of the Replaces parameter
  std::string user;      // the transferor's line username ("" for a trunk)
  bool engine = false;   // the leg's media ends in the media engine
  // The transferor's NOTIFY (message/sipfrag); from any thread.
  std::function<void(int status, bool final)> progress;
};

// A subscription's dialog as the store keeps it (sip_subscriptions.cc), so
// that after a restart its phone can be told to subscribe again.
struct SavedSubscription {
  std::string call_id, local_tag;  // the dialog: its Call-ID and Dialtone's tag
  std::string local_uri;           // Dialtone's side, "<sip:1002@pbx>"
  std::string remote;              // the phone's From, with its tag
  std::string target;              // where NOTIFYs go, "<sip:alice@10.0.0.5:5060>"
  std::string route;               // the Record-Route set, "" when none
  std::string event;               // dialog, presence, message-summary
  std::string line;                // the subscriber's line
  std::int64_t expires_at = 0;     // unix seconds
};

// What the stack needs from the rest of the process. Each method is called on
// the SIP thread, must not block, and may complete from any thread.
class SipBackend {
 public:
  virtual ~SipBackend() = default;
  // `done(creds, ok)`: ok=false when the store failed (the stack answers 503).
  virtual void find_credentials(const std::string& username,
                                std::function<void(std::optional<LineCredentials>, bool ok)> done) = 0;
  virtual void route_call(const CallInfo& call, std::function<void(RouteDecision)> done) = 0;
  // The AOR's full set of bindings changed (empty: unregistered).
  virtual void bindings_changed(const std::string& aor, const std::vector<Binding>& bindings) = 0;
  // A call changed state: "ringing", "answered", "ended" with a SIP status.
  virtual void call_event(const std::string& call_id, const std::string& state, int status) = 0;
  // Peer trunks (host not "dynamic"); `done(trunks, ok)`.
  // A contact's qualify state changed (called on the SIP thread).
  virtual void reachability_changed(const ReachabilityChange& /*change*/) {}
  virtual void find_trunks(std::function<void(std::vector<TrunkInfo>, bool ok)> done) {
    done({}, true);
  }
  // Trunks registering to their provider; `done(list, ok)`.
  virtual void find_registrations(std::function<void(std::vector<TrunkRegistration>, bool ok)> done) {
    done({}, true);
  }
  // A trunk registration succeeded or failed (called on the SIP thread).
  virtual void registration_changed(const TrunkRegistration& /*trunk*/, bool /*registered*/,
                                    int /*status*/, const std::string& /*detail*/) {}
  // Legs for the call core (called on the SIP thread, must stay cheap): the
  // id later events name ("": not tracked, no events follow).
  virtual std::string leg_created(const LegInfo& /*leg*/) { return {}; }
  // `status`: the SIP status that caused it; `peer`: with `up`, the leg it is bridged to.
  virtual void leg_event(const std::string& /*leg_id*/, LegState /*state*/, int /*status*/,
                         const std::string& /*peer*/) {}
  // Whether the call core has the leg linked to another channel (a leg of
  // another backend the dialplan dialed); called on the SIP thread, cheap.
  virtual bool leg_linked(const std::string& /*leg_id*/) { return false; }
  // The leg's dialog identifiers: Call-ID, its party's tag, Dialtone's tag.
  virtual void leg_ids(const std::string& /*leg_id*/, const std::string& /*call_id*/,
                       const std::string& /*local_tag*/, const std::string& /*remote_tag*/) {}
  // The stack completed a transfer (REFER, or INVITE with Replaces): `leg_id`
  // is the transferor's leg, still open; `exten` the blind transfer's target
  // number; `target_leg` the leg that took the transferor's place.
  virtual void leg_transferred(const std::string& /*leg_id*/, bool /*attended*/, const std::string& /*exten*/,
                               const std::string& /*target_leg*/) {}
  // A REFER the stack accepted (202): the call core carries it out (for a
  // relayed call with the stack's help: join_parties, route_transfer,
  // replace_channel). The refusal, or ok; unsupported when there is no call core.
  virtual sdk::Status leg_transfer_requested(const LegTransfer& /*transfer*/) {
    return sdk::Error::unsupported("no call core");
  }
  // An INVITE with Replaces: the newcomer's leg `leg_id` asks to take the
  // place of the answered leg `replaced_leg`; the call core decides and has
  // the stack swap it in (replace_channel). The refusal, or ok.
  virtual sdk::Status leg_replace_requested(const std::string& /*leg_id*/, const std::string& /*replaced_leg*/) {
    return sdk::Error::unsupported("no call core");
  }
  // The party of the leg put the call on hold (true) or resumed it.
  virtual void leg_held(const std::string& /*leg_id*/, bool /*held*/) {}
  // Music on hold (SIP thread, cheap): the engine that plays it (null: none
  // loaded, the held party hears silence) and the class the party of
  // `held_leg` hears while the party of `holder_leg` holds it.
  virtual std::shared_ptr<sdk::media::MediaEngine> media_engine() { return nullptr; }
  virtual std::string hold_music_class(const std::string& /*holder_leg*/, const std::string& /*held_leg*/) {
    return "default";
  }
  // The party of the leg sent a DTMF digit by SIP INFO (application/dtmf-relay).
  virtual void leg_dtmf(const std::string& /*leg_id*/, char /*digit*/) {}
  // The kernel's presence service, served to SUBSCRIBE (null: SUBSCRIBE
  // gets 503). Thread-safe.
  virtual std::shared_ptr<sdk::PresenceService> presence() { return nullptr; }
  // A subscription started (`saved`), was refreshed (its new expiry, unix
  // seconds), or ended: kept in the store so that a restart can end it
  // properly (SIP thread, must not block).
  virtual void subscription_saved(const SavedSubscription& /*saved*/) {}
  virtual void subscription_refreshed(const std::string& /*call_id*/, const std::string& /*local_tag*/,
                                      std::int64_t /*expires_at*/) {}
  virtual void subscription_gone(const std::string& /*call_id*/, const std::string& /*local_tag*/) {}
};

class SipStack {
 public:
  SipStack(SipConfig config, SipBackend& backend, sdk::Logger& log);
  ~SipStack();
  SipStack(const SipStack&) = delete;
  SipStack& operator=(const SipStack&) = delete;

  // Starts the thread and binds the transports; fails with a message naming
  // the address when it cannot.
  sdk::Status start();
  void stop();

  // The port actually bound (after start()).
  int port() const;
  // The TLS port bound (after start()); 0 when TLS is not served.
  int tls_port() const;
  // Accepted TCP and TLS connections open at the last check (thread-safe).
  std::size_t tcp_connections() const;
  // Drops cached credentials (a line changed in the store).
  void invalidate_credentials();
  // Subscriptions an earlier run of the stack held: each phone gets NOTIFY
  // `Subscription-State: terminated;reason=deactivated` in that dialog, which
  // tells it to subscribe again at once (RFC 6665 4.2.2). Any thread.
  void deactivate(std::vector<SavedSubscription> subscriptions);
  // Takes the reloadable settings of `config` (limits, registrar expiries,
  // digest algorithms, caches, session timers, PRACK, media defaults) for
  // what comes next; the rest stays as started.
  void reconfigure(const SipConfig& config);
  // The directed pickup code ringing BLF dialogs name from now on (confd's
  // `pickup` feature code; empty: none). Any thread.
  void set_pickup_code(std::string code);
  // Number of registered contacts of `aor` (thread-safe snapshot).
  std::size_t contact_count(const std::string& aor) const;
  // The AORs with at least one contact (thread-safe snapshot).
  std::vector<std::string> registered_aors() const;
  std::size_t active_calls() const;
  // RTP relay counters over every anchored call since start, and the port
  // pairs not held by a call (thread-safe).
  RelayStats media_totals() const;
  std::size_t media_free_pairs() const;
  // Calls in progress (ringing or answered) in which one of `usernames` is
  // the caller or a rung line (thread-safe snapshot).
  std::size_t active_calls_of(const std::vector<std::string>& usernames) const;
  // Rings `req.targets` for the call `call_id` (still being routed) and
  // calls `done` once, from the SIP thread, when it is answered or failed.
  // After a failure the call stays with the dialplan, which may dial again.
  void dial(const std::string& call_id, DialRequest req, std::function<void(DialResult)> done);

  // Hangs up the call `call_id` (CallInfo::id), or else the call holding the
  // leg `channel` (its call-core id), from any thread: answered, BYE to both
  // legs; still routing or ringing, CANCEL to the rung branches and `status`
  // (a 4xx-6xx, else 480) to the caller. Unknown: nothing.
  void hangup(const std::string& call_id, int status = 0, const std::string& channel = {});
  // Stops ringing the branches of the call core's channel `channel` (CANCEL),
  // leaving the call and its other branches alone; from any thread.
  void cancel_leg(const std::string& channel);

  // Answers the call `call_id` still being routed with its media ending in
  // `engine` (sip_media_answer.cc): an endpoint for the caller's offer, 200 OK
  // with its SDP, `channel` attached to the endpoint and reported up. A call
  // that cannot be answered so (no common codec, no port) is refused and
  // ends. From any thread.
  void answer(const std::string& call_id, const std::string& channel,
              std::shared_ptr<sdk::media::MediaEngine> engine);
  // The same as early media (call:progress()): 183 Session Progress with
  // the endpoint's SDP, `channel` attached and reported ringing, the call
  // still unanswered; a later answer() sends 200 OK with that SDP.
  void early_media(const std::string& call_id, const std::string& channel,
                   std::shared_ptr<sdk::media::MediaEngine> engine);
  // Two calls answered that way talk through `mixer` (already holding both
  // endpoints); when one ends, the other is hung up. From any thread.
  void bridge_engine(const std::string& call_a, const std::string& call_b,
                     std::shared_ptr<sdk::media::Mixer> mixer);
  // Rings `dial.target` with an offer from `engine` (engine_originate.cc);
  // the leg reports ringing / up / ended on `dial.channel`. From any thread.
  void originate_engine(EngineDial dial, std::shared_ptr<sdk::media::MediaEngine> engine);
  // The party an answered engine leg (`channel`) talked to is gone: BYE to
  // an outgoing engine leg, or to a caller whose dialplan has ended. Other
  // legs are left alone. From any thread.
  void end_engine_leg(const std::string& channel);
  // The call core puts the party of channel `newcomer` in the place of
  // channel `replaced` (ChannelDriver::replace): an INVITE with Replaces
  // waiting for the core is swapped into the replaced leg's relayed call
  // (attended_transfer.cc); the party of an answered relayed call takes an
  // engine-answered call's place in its application (engine_takeover.cc).
  // `done` runs once, on the SIP thread. From any thread.
  void replace_channel(const std::string& newcomer, const std::string& replaced,
                       std::function<void(sdk::Status)> done);
  // The call core's blind transfer of the party on channel `transferee` (of
  // the answered relayed call `call_id`): the core's leg `channel` routes it
  // through the dialplan to `target` ("<exten>@<context>") as the other
  // party, the transferor, dialed it; the callee that answers takes the
  // transferor's place, then `channel` comes up, the transferor's channel
  // left to the core. From any thread.
  void route_transfer(const std::string& call_id, const std::string& transferee, const std::string& channel,
                      const std::string& target);
  // The call core's attended transfer: the parties on channels `a` and `b`
  // (each of an answered relayed call) are joined through the relay
  // (re-INVITEs, RFC 3725) and linked; the transferor's legs stay up for the
  // core to hang up. `done` runs once, on the SIP thread. From any thread.
  void join_parties(const std::string& a, const std::string& b, std::function<void(sdk::Status)> done);
  // The call core takes the engine leg `channel` away from the party it is
  // mixed with (a transfer): neither hangs the other up any more. From any thread.
  void unbridge_engine(const std::string& channel);

  // Qualify state of `aor`'s contacts (thread-safe snapshot).
  std::vector<ContactReachability> reachability(const std::string& aor) const;

  // Sends an out-of-dialog NOTIFY (`event` in the Event header) to the
  // registered contacts matching `target`, each to the address its REGISTER
  // came from, and calls `done` once, from any thread, with the outcome.
  struct NotifyTarget {
    std::string device_ip;  // contacts registered from this IP (any AOR)
    std::string username;   // preferred among them; alone when device_ip is empty
    std::string event;
  };
  struct NotifyResult {
    int status = 0;          // best final status: 2xx if one contact accepted; 404: none matched
    std::size_t contacts = 0;
    std::string detail;      // contacts notified and their answers, for logs
  };
  void notify(NotifyTarget target, std::function<void(NotifyResult)> done);

  // Trunk registrations: "registered", "failed" or "pending" by trunk name
  // (thread-safe snapshot).
  std::map<std::string, std::string> registrations() const;

  // The addresses each trunk host name resolves to, as last looked up
  // (thread-safe snapshot).
  std::map<std::string, std::vector<std::string>> trunk_addresses() const;

  // Sofia's transactions alive, finished ones included until they end,
  // sampled every second on the SIP thread (thread-safe).
  struct TransactionCounts {
    std::size_t server = 0;  // incoming requests (ACKs included)
    std::size_t client = 0;  // requests we sent
    std::size_t dialogs = 0;  // legs
    std::uint64_t samples = 0;  // samples taken so far: a later one is fresh
  };
  TransactionCounts transactions() const;

  // SUBSCRIBE dialogs held, and their NOTIFYs (sent, answered 2xx) since
  // start (thread-safe).
  std::size_t subscriptions() const;
  std::pair<std::uint64_t, std::uint64_t> notifies() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace dialtone::plugins::backend::sip
