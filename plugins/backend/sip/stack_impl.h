// The SIP stack's shared state: SipStack::Impl (calls and their legs are in
// call_state.h), whose members are defined in one file per capability (see the table in
// docs/architecture.md): stack_loop.cc, out_of_dialog.cc, authentication.cc,
// registrar.cc, b2bua.cc, in_dialog.cc, transfer.cc, attended_transfer.cc,
// session_timers.cc, trunks.cc, connections.cc, sip_subscriptions.cc.
// Private to the plugin.
#pragma once

#include "plugins/backend/sip/sofia_wrappers.h"

#include "plugins/backend/sip/sip_stack.h"

#include <malloc.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>

#include "plugins/backend/sip/answered_requests.h"
#include "plugins/backend/sip/call_state.h"
#include "plugins/backend/sip/receive_delay.h"
#include "plugins/backend/sip/auth_ban.h"
#include "plugins/backend/sip/digest.h"
#include "plugins/backend/sip/transports.h"
#include "plugins/backend/sip/outbound_register.h"
#include "plugins/backend/sip/qualify.h"
#include "plugins/backend/sip/sdp.h"
#include "plugins/backend/sip/sip_subscriptions.h"
#include "plugins/backend/sip/unsolicited_mwi.h"

namespace dialtone::plugins::backend::sip {

// Tasks posted from other threads, run on the SIP thread. Shared with the
// completion callbacks so a late completion after stop() is dropped safely.
struct Inbox {
  std::mutex mutex;
  std::deque<std::function<void()>> tasks;
  int fd = -1;
  bool open = true;

  bool post(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (!open) return false;
      tasks.push_back(std::move(task));
      // One wakeup per batch: the SIP thread takes every queued task when
      // it swaps the queue, so only the post that finds it empty writes.
      if (tasks.size() > 1) return true;
    }
    std::uint64_t one = 1;
    ssize_t n = ::write(fd, &one, sizeof one);
    (void)n;
    return true;
  }
  void close() {
    std::lock_guard<std::mutex> lock(mutex);
    open = false;
    tasks.clear();
  }
  std::size_t depth() {
    std::lock_guard<std::mutex> lock(mutex);
    return tasks.size();
  }
};

struct SipStack::Impl {
  SipConfig cfg;
  SipBackend& backend;
  sdk::Logger& log;
  NonceFactory nonces;
  AuthBan bans;
  QualifyTable qualify{cfg.qualify_interval, cfg.qualify_timeout};
  std::shared_ptr<Inbox> inbox = std::make_shared<Inbox>();

  std::thread thread;
  std::atomic<int> bound_port{0};
  std::mutex start_mutex;
  std::condition_variable start_cv;
  bool start_done = false;
  std::string start_error;

  // Sofia objects: only touched on the SIP thread.
  su_root_t* root = nullptr;
  nta_agent_t* agent = nullptr;
  su_timer_t* sweep_timer = nullptr;
  unsigned sweeps = 0;
  // Sofia's transaction and leg counts, sampled by the sweep.
  std::atomic<std::size_t> server_transactions{0};
  std::atomic<std::size_t> client_transactions{0};
  std::atomic<std::size_t> dialog_legs{0};
  std::atomic<std::uint64_t> transaction_samples{0};
  std::size_t held_peak = 0;  // most transactions held since the last malloc_trim
  su_wait_t inbox_wait[1];
  int inbox_index = -1;
  Home home;
  sip_contact_t* contact = nullptr;

  // Registrar working copy (SIP thread) and a snapshot for other threads.
  std::unordered_map<std::string, std::vector<Binding>> locations;
  mutable std::mutex snapshot_mutex;
  std::unordered_map<std::string, std::size_t> snapshot;

  struct CachedCredentials {
    std::optional<LineCredentials> creds;
    std::int64_t fetched_ms = 0;
  };
  std::unordered_map<std::string, CachedCredentials> credentials;
  std::unordered_map<std::string,
                     std::vector<std::function<void(const std::optional<LineCredentials>&, bool)>>>
      credential_waiters;

  std::unordered_map<std::uint64_t, std::unique_ptr<Call>> calls;
  std::unordered_map<std::string, std::uint64_t> call_ids;  // Call::id -> serial
  // The call core's channel ids of each call (its own and its branches') ->
  // serial, so that requests naming a channel (cancel a leg, end an engine
  // leg) find their call without walking every call. Entries are added when
  // a channel is created and removed with the call; a lookup checks that the
  // call still holds the channel.
  std::unordered_map<std::string, std::uint64_t> channel_calls;
  std::atomic<std::size_t> call_count{0};
  std::unique_ptr<RtpRelay> relay;  // started before and stopped after the SIP thread
  // Calls per line username (caller or rung), read by the dialplan.
  mutable std::mutex lines_mutex;
  std::unordered_map<std::string, int> line_calls;
  // Peer trunks, cached like credentials.
  std::vector<TrunkInfo> trunks;
  std::int64_t trunks_fetched_ms = -1;
  bool trunks_known = false;  // loaded once: the front door goes by the last list
  std::vector<std::function<void()>> trunk_waiters;
  std::uint64_t next_call = 1;

  // SUBSCRIBE dialogs and their NOTIFYs (sip_subscriptions.cc).
  std::unique_ptr<Subscriptions> subscriptions = std::make_unique<Subscriptions>(*this);
  // Message-waiting NOTIFYs to registered phones that do not subscribe
  // (unsolicited_mwi.cc).
  std::unique_ptr<UnsolicitedMwi> mwi = std::make_unique<UnsolicitedMwi>(*this);

  Impl(SipConfig c, SipBackend& b, sdk::Logger& l)
      : cfg(std::move(c)),
        backend(b),
        log(l),
        nonces(cfg.realm, cfg.nonce_lifetime),
        bans(cfg.ban_failures, cfg.ban_window, cfg.ban_time) {}

  // ---- thread and loop ------------------------------------------------

  void run(int port);

  std::string open(int port);

  void close();

  static int on_inbox(void* magic, su_wait_t* w, void* arg);

  // Runs `fn` on the SIP thread later (also used to leave sofia callbacks
  // before destroying the objects they belong to).
  void later(std::function<void()> fn) { inbox->post(std::move(fn)); }

  static int on_stray(void*, nta_agent_t* agent, msg_t* msg, sip_t* sip);

  // Every second: registrations and bans expire, sofia's counts are sampled,
  // probes and request deadlines run.
  static void on_sweep(void* magic, su_timer_t*, void* arg);
  void sample_transactions();

  // ---- requests outside dialogs -------------------------------------

  // The front door: every request that matches no transaction or dialog
  // arrives here before sofia keeps anything for it. What can be answered
  // at once (OPTIONS, challenges, 481, 405, 400, the 503 of overload) is
  // answered statelessly, so junk and floods cost no memory after the
  // reply; retransmissions of requests whose transaction ended are dropped;
  // the rest becomes a transaction for on_request.
  void front_door(msg_t* msg, sip_t* sip);
  void reply_stateless(msg_t* msg, int status, const char* phrase);
  // A 401 (407 for an INVITE) sent and kept in `answered`, so that the
  // request's retransmissions get the same challenge, not a new nonce.
  void challenge_statelessly(msg_t* msg, sip_t* sip, bool proxy, bool stale);
  void accept(msg_t* msg, sip_t* sip);
  // New INVITEs and REGISTERs waiting for credentials or the dialplan, and
  // tasks queued for the SIP thread: past cfg.max_pending new ones get 503.
  bool overloaded();
  // The call's route decision came, or it rings or ends: no longer pending.
  void routed(Call& c) {
    if (c.awaits_route) --awaiting_route;
    c.awaits_route = false;
  }
  std::size_t awaiting_credentials = 0;
  std::size_t awaiting_route = 0;
  // The 503 of overload (Retry-After), counted in `count`.
  void refuse_overload(msg_t* msg, std::atomic<std::uint64_t>& count);
  // Every second: a warning when refusals begin, a line when they end.
  void report_overload();
  // How long the request being read waited in the UDP receive queue.
  ReceiveDelay receive_delay;
  std::atomic<std::uint64_t> overload_refused{0};  // past max_pending
  std::atomic<std::uint64_t> late_refused{0};      // past max_queue_delay
  std::uint64_t overload_logged = 0;  // refusals (both) seen by the last report
  std::uint64_t late_logged = 0;
  std::uint64_t overload_episode = 0;  // refusals (both) before the current episode
  bool overload_reported = false;

  static int on_request(void* magic, nta_leg_t* leg, nta_incoming_t* irq, const sip_t* sip);

  // ---- authentication --------------------------------------------------

  enum class AuthStep { challenge, stale, check, forbidden };
  // What credentials call for before any lookup: none or unusable ones a
  // challenge, an expired nonce a stale one, else a check of the response.
  AuthStep auth_step(const std::optional<DigestCredentials>& creds);
  static std::optional<std::uint32_t> nonce_count(const DigestCredentials& c);

  // One challenge per offered algorithm, preferred first, sharing one nonce
  // (RFC 8760 section 2.4); a client takes the first it supports.
  void challenge(nta_incoming_t* irq, bool proxy, bool stale);
  struct Challenge {
    std::string first;
    std::string second;  // empty: one algorithm offered
  };
  Challenge make_challenge(bool stale);

  void reply(nta_incoming_t* irq, int status, const char* phrase);

  // The credentials in `list` meant for our realm, parsed.
  std::optional<DigestCredentials> our_credentials(const msg_auth_t* list);

  void auth_failed(const std::string& user, const Source& src);

  // Challenges, refuses, or calls `next(creds)` once the user's credentials
  // have been looked up and the response verified. Returns 0 (the request is
  // answered here or later).
  int authenticate(nta_incoming_t* irq, const sip_t* sip, bool proxy, const char* method,
                   std::function<void(nta_incoming_t*, const LineCredentials&)> next);

  // The response of credentials that passed auth_step() checked against the
  // user's secret (looked up, maybe later), and the nonce count used.
  enum class Verdict { ok, unavailable, forbidden, retransmission, stale };
  void verify_digest(const Source& src, const DigestCredentials& c, const sip_t* sip,
                     const char* method, std::function<void(Verdict, const LineCredentials*)> done);

  void with_credentials(const std::string& user,
                        std::function<void(const std::optional<LineCredentials>&, bool)> cb);

  void on_credentials(const std::string& user, const std::optional<LineCredentials>& c, bool ok);

  // ---- registrar ---------------------------------------------------------

  // REGISTER with credentials to check: verified and answered without a
  // sofia transaction, its answer kept in `answered` for retransmissions.
  void register_statelessly(msg_t* msg, sip_t* sip, const DigestCredentials& creds);
  // A retransmission of a REGISTER taken: answered again (or dropped while
  // its answer is on the way); false for a new request.
  bool answered_again(msg_t* msg, const sip_t* sip);
  // Sends `a` in answer to `msg` (taken over), with a To tag made from `key`,
  // over `via` (null: the transport sofia is delivering `msg` from, or the
  // request's Via).
  void send_answer(msg_t* msg, const sip_t* sip, const std::string& key,
                   const AnsweredRequests::Answer& a, tport_t* via = nullptr);
  // Applies the bindings `sip` (received over `via`) asks for; the answer to send.
  AnsweredRequests::Answer do_register(tport_t* via, const sip_t* sip, const LineCredentials& line,
                                       const Source& src);
  static constexpr std::size_t kMaxAnswered = 400000;  // 12,500 REGISTER/s for 32 s; ~100 MB
  AnsweredRequests answered{cfg.transaction_timeout.count(), kMaxAnswered};

  void publish_bindings(const std::string& aor);

  // Drops the bindings past their expiry and publishes the AORs changed.
  void expire_bindings();

  // ---- calls ---------------------------------------------------------------

  int on_invite(nta_incoming_t* irq, const sip_t* sip);

  // Runs `next` once the peer trunk list is loaded (kept like credentials).
  void with_trunks(std::function<void()> next);

  void count_line(const std::string& user, int delta);

  // `pickup_channel`: the INVITE's Replaces named that ringing leg (a BLF
  // key's pickup): the dialplan gets it as PICKUP_CHANNEL.
  void start_call(nta_incoming_t* irq, const sip_t* sip, const LineCredentials& line,
                  const TrunkInfo* trunk, const std::string& pickup_channel = {});
  // The core channel of a branch still ringing whose dialog `rp` names
  // (Call-ID, and both tags in either order when given).
  std::string ringing_branch(const sip_replaces_t* rp);

  Call* find_call(std::uint64_t serial);
  // Records that `channel` belongs to `c` (channel_calls); "" is ignored.
  void index_channel(const Call& c, const std::string& channel);
  // The call holding the channel `channel` (its own or a branch's), or null.
  Call* call_of_channel(const std::string& channel);
  // Drops `c`'s channels from channel_calls (the call is being erased).
  void unindex_channels(const Call& c);

  void answer_a(Call& c, int status, const char* phrase);

  void on_decision(std::uint64_t serial, const RouteDecision& d);

  // Rings `req.targets` for `c` as a new round: a line username on each of
  // its registered contacts, a sip: URI as it is. Returns how many branches
  // started; with some, the call is ringing until answer, failure or timeout.
  // `parallel`: the id of a dial joining the ringing round (parallel_dial).
  std::size_t start_branches(Call& call, const DialRequest& req, int parallel = 0);
  void parallel_dial(Call& c, const DialRequest& req, std::function<void(DialResult)> done);

  // Hands the outcome of the current sip.dial back to the dialplan; on a
  // failure the call returns to routing so the script can go on.
  // Ends every dial of the call (the first and its parallel ones).
  void finish_dial(Call& c, const char* status, int code);
  // Ends dial `dial` (Branch::dial) alone; the others ring on.
  void finish_one_dial(Call& c, int dial, const char* status, int code);
  void end_dials(Call& c, const DialResult& r);

  void dial(const std::string& call_id, const DialRequest& req,
            std::function<void(DialResult)> done);

  // SipStack::hangup on the SIP thread. A leg moved to another call (blind
  // transfer) is found by its channel id.
  void hangup(const std::string& call_id, int status, const std::string& channel);
  void cancel_leg(const std::string& channel);

  static void on_ring_timeout(void* magic, su_timer_t*, void* arg);

  // The Impl running on this thread (timer callbacks carry only the call).
  static Impl*& current();

  static int on_b_response(void* magic, nta_outgoing_t* orq, const sip_t* sip);

  void send_ack(Branch& br, const std::string& sdp = {});

  // B's SDP as sent to A: the answer to A's offer, or B's offer when A's
  // INVITE had none. nullopt when it shares no codec with the offer.
  std::optional<std::string> sdp_from_b(Call& c, const sip_t* sip);

  // A's ACK to the 2xx: with a late offer it carries A's answer for B.
  void on_a_ack(Call& c, const sip_t* sip);

  void send_bye(Call& c, nta_leg_t* leg);

  static int on_bye_response(void* magic, nta_outgoing_t* orq, const sip_t* sip);

  // ACK or CANCEL for A's INVITE.
  static int on_a_ack_cancel(void* magic, nta_incoming_t* irq, const sip_t* sip);

  // In-dialog requests from A.
  static int on_a_request(void* magic, nta_leg_t* leg, nta_incoming_t* irq, const sip_t* sip);

  // In-dialog requests from a B leg.
  static int on_b_request(void* magic, nta_leg_t* leg, nta_incoming_t* irq, const sip_t* sip);

  // Frees the call once nothing is in flight; deferred to the loop so no
  // sofia object is destroyed inside its own callback.
  void maybe_finish(Call& c);

  void release(Call& c);

  // ---- calls answered with media in the engine (sip_media_answer.cc) -------

  // call:answer(): an endpoint for A's offer and a 200 OK with its SDP.
  // `early`: 183 with the SDP instead (call:progress()), the call left routing.
  void answer_with_engine(const std::string& call_id, const std::string& channel,
                          std::shared_ptr<sdk::media::MediaEngine> engine, bool early = false);
  // 200 OK to A with the engine's `sdp`: the call is answered.
  void engine_answer_a(Call& c, const std::string& sdp);
  // Answers `offer` with a new engine endpoint attached under `channel`,
  // kept as `c.engine`: the SDP answer, or why not.
  sdk::Result<std::string> engine_answer(Call& c, const std::string& offer, const std::string& channel,
                                         std::shared_ptr<sdk::media::MediaEngine> engine);
  // engine_takeover.cc: the dialplan of blind transfer `t` answers (a
  // parking extension): the transferred party is asked for a new offer
  // (re-INVITE without SDP), answered by the engine, and its dialog moves
  // to `t`, which becomes an engine-answered call; the transferor is told
  // the transfer succeeded and leaves.
  void engine_takeover(Call& t, const std::string& channel, std::shared_ptr<sdk::media::MediaEngine> engine);
  void takeover_offered(std::uint64_t t, std::uint64_t o, int status, const std::string& offer, std::uint32_t cseq,
                        const std::string& channel, std::shared_ptr<sdk::media::MediaEngine> engine);
  // A new offer on an engine leg: answered from its endpoint (codec,
  // address and direction taken from the offer, the endpoint switched).
  // `previous`: our last SDP on that leg (its o= session goes on, one version up).
  sdk::Result<std::string> engine_reanswer(Call& c, const std::string& offer, const std::string& previous = {});
  // The party on `side` of `from` becomes `into`'s caller (its dialog
  // moved, `sdp` the engine's answer it got): its channel in `from` ends,
  // `into`'s carries it on.
  void adopt_party(Call& into, Call& from, MediaLeg side, const std::string& sdp);
  // Attended transfer whose Replaces names a call the dialplan answered
  // (engine_takeover.cc): that call, or null.
  Call* engine_call_by_replaces(const sip_replaces_t* rp);
  // The party of c1 (not on `from`, the transferor's side) takes the
  // transferor's place in the engine-answered call c2.
  void engine_join(Call& c1, MediaLeg from, Call& c2);
  void engine_joined(std::uint64_t s1, std::uint64_t s2, int status, const std::string& offer, std::uint32_t cseq);
  // In-dialog requests of an engine-answered call (re-INVITE, UPDATE, INFO).
  int engine_in_dialog(Call& c, MediaLeg side, nta_incoming_t* irq, const sip_t* sip);
  // The dialplan finished: an engine-answered call bridged to nothing ends.
  bool engine_script_done(Call& c);
  // Two engine-answered calls talk through `mixer` (call:bridge).
  void engine_bridge(const std::string& call_a, const std::string& call_b,
                     std::shared_ptr<sdk::media::Mixer> mixer);
  // On release: the endpoint leaves the engine, a bridged peer is hung up.
  void engine_release(Call& c);
  // Hangs up an answered engine call (BYE to A, or to the callee of an
  // outgoing engine leg).
  void engine_hangup(Call& c);

  // ---- outgoing calls with media in the engine (engine_originate.cc) -------

  void originate_engine(EngineDial d, std::shared_ptr<sdk::media::MediaEngine> engine);
  // A target reached over TLS (registered so, or a sips: / transport=tls URI) gets SRTP.
  bool wants_srtp(const std::string& target) const;
  // 18x of an outgoing engine leg: early media applied and joined, else ringback.
  void engine_progress(Call& c, Branch& br, const sip_t* sip);
  // Its 2xx (already ACKed): the answer applied, the leg attached and joined, up.
  void engine_answered(Call& c, Branch& br, const sip_t* sip);
  sdk::Status engine_apply_answer(Call& c, const sip_t* sip);
  // The ACK from `side` of an engine leg: after a re-INVITE without SDP it
  // carries the answer to our offer, applied to the endpoint.
  void engine_ack(Call& c, MediaLeg side, const sip_t* sip);
  // The transaction of that re-INVITE: its ACK, or its end without one.
  static int on_engine_ack(void* magic, nta_incoming_t* irq, const sip_t* sip);
  // Joins the leg's endpoint with its origin's (a SIP call of this stack) in one mixer.
  void engine_join_origin(Call& c);
  // The leg stops ringing for good: its share of the dial's ringback ends.
  void engine_leg_over(Call& c);
  // ---- music on hold (hold_music.cc) ---------------------------------------

  // The party on side `holder` held (or resumed) the call: the other side
  // hears music of its class until the resume.
  void hold_changed(Call& c, MediaLeg holder, bool held);
  // The call ends: its music stops and the relay's feed ports are freed.
  void end_hold_music(Call& c);
  // Direct media: re-INVITEs the held side toward an engine endpoint playing
  // the music (sendonly); the holder's resume, relayed, moves it back.
  void move_held_to_engine(Call& c, MediaLeg holder, std::shared_ptr<sdk::media::MediaEngine> engine);
  // The held side answered that re-INVITE: the music starts, or the failure is logged.
  void held_moved(std::uint64_t serial, MediaLeg held, std::shared_ptr<sdk::media::Endpoint> endpoint,
                  std::optional<sdk::media::CryptoAttribute> ours, const std::string& cls, int status,
                  const std::string& answer);

  // ---- in-dialog requests: re-INVITE, UPDATE, INFO, OPTIONS, REFER --------

  static std::string body_of(const sip_t* sip);
  static std::string type_of(const sip_t* sip);
  static MediaLeg other_side(MediaLeg l) { return l == MediaLeg::a ? MediaLeg::b : MediaLeg::a; }

  // A request inside a call from side `from` (`br`: the B leg it came on).
  // Offers and INFO go to the other leg and its answer comes back.
  int in_dialog(Call& c, MediaLeg from, Branch* br, nta_incoming_t* irq, const sip_t* sip);
  // An UPDATE from a ringing callee (RFC 3311 early dialog), answered here.
  int early_update(Call& c, Branch& br, nta_incoming_t* irq, const sip_t* sip);

  DialogRequest* send_in_dialog(Call& c, nta_leg_t* leg, sip_method_t method, const std::string& name,
                                const std::string& type, const std::string& body);

  static int on_dialog_response(void* magic, nta_outgoing_t* orq, const sip_t* sip);

  void ack_on(nta_leg_t* leg, std::uint32_t cseq_number, const std::string& sdp = {});

  void dialog_final(DialogRequest& d, const sip_t* sip, int status);

  // The ACK to a relayed re-INVITE that had no SDP carries the answer.
  void relay_ack(Call& c, MediaLeg from, const sip_t* sip);

  void release_dialog(Call& c);

  // ---- blind transfer (REFER) -------------------------------------------

  struct NotifyAfter {
    std::function<void()> fn;
  };

  // NOTIFY (Event: refer) on the REFER's dialog `leg` with the transfer's
  // progress as a sipfrag; `after` runs once it is answered.
  void notify_refer(nta_leg_t* leg, int status, const std::string& phrase, bool final,
                    std::function<void()> after);

  static int on_refer_notify_response(void* magic, nta_outgoing_t* orq, const sip_t* sip);

  // The leg of the party on `side` of an answered call.
  static nta_leg_t* leg_of(Call& c, MediaLeg side);

  // The line username of the party on `side` (empty: a trunk).
  static std::string user_of(Call& c, MediaLeg side);
  // The call core's channel of that side of the call ("" when none).
  static std::string channel_of(Call& c, MediaLeg side);

  static const char* phrase_of(int status);

  // A BYE from the transferor while its transfer runs: answered, and the
  // call waits for the transfer's outcome.
  bool absorbs_bye(Call& c, MediaLeg side);

  // Hangs up an answered call on both sides (but `except`, already gone).
  void end_call(Call& c, nta_leg_t* except = nullptr);

  // Takes the dialog of the party on `side` out of `c`, as a branch whose
  // leg answers to on_b_request; its line stays counted on the branch.
  std::unique_ptr<Branch> take_leg(Call& c, MediaLeg side);

  // The call core's view of a transfer: the party leaving `c` ends, the one
  // taking its place is linked with the party staying.
  void relink_channels(Branch* leaving, const std::string& staying, std::string& arriving, bool end_leaving = true);

  // Puts `br`'s dialog on `side` of `c` in place of the party there, whose
  // leg stays in c.branches (no longer connected) for its BYE; returns it.
  // `end_leaving`: the leaving party's channel ends now (else it stays
  // for the call core to hang up: hangup_departed).
  nta_leg_t* put_leg(Call& c, MediaLeg side, std::unique_ptr<Branch> br, bool end_leaving = true);

  // The Replaces value of a Refer-To URI's headers (RFC 3891), unescaped.
  static std::string replaces_param(const url_t* u);

  // The answered call and side whose dialog (Dialtone's leg) `rp` names:
  // to-tag is Dialtone's tag, from-tag the phone's; the reverse is accepted
  // too, as some phones write the tags as they see them.
  struct Party {
    Call* call = nullptr;
    MediaLeg side = MediaLeg::a;
  };
  std::optional<Party> party_by_replaces(const sip_replaces_t* rp);

  // A REFER from either party of an answered call. Blind (Refer-To without
  // Replaces): a new call (the transfer's) is routed through the dialplan as
  // the referrer and rung without SDP; C's answer is offered to the other
  // party by re-INVITE. With Replaces: an attended transfer.
  int on_refer(Call& c, MediaLeg from, nta_incoming_t* irq, const sip_t* sip);

  // The REFER as the call core sees it (core_transfer.cc): the transferor's
  // leg, the target or the Replaces' Call-ID, and its NOTIFYs.
  LegTransfer refer_report(Call& c, MediaLeg from, const std::string& target, const std::string& replaces,
                           bool engine);
  // The call core refused the REFER: the transferor's final NOTIFY says why.
  void refuse_refer(Call& c, nta_leg_t* leg, const sdk::Error& e);
  // Carries out a REFER on a relayed call here (blind: the transfer's call;
  // with Replaces: attended_transfer).
  void carry_refer_now(Call& c, MediaLeg from, const std::string& target, const std::string& replaces);
  // The transfer's call of a blind transfer by the party on `from` of `c`:
  // routed through the dialplan to `target` as the referrer dialed it (in
  // `context` when given), its answer offered to the other party. Its leg
  // in the call core: `core_channel` (the core's, core_transfer.cc), or a
  // new one when empty.
  void start_transfer_call(Call& c, MediaLeg from, const std::string& target, const std::string& context,
                           const std::string& core_channel);
  // The callee of the core's blind transfer `t` (its leg `brc`) answered and
  // the transferee took its media: it takes the transferor's place in `o`,
  // whose channel stays for the core to hang up (hangup_departed); `t`'s leg
  // comes up for the core.
  void core_transferred(Call& t, Call& o, std::unique_ptr<Branch> brc);
  // SipStack::route_transfer on the SIP thread.
  void route_transfer(const std::string& call_id, const std::string& transferee, const std::string& channel,
                      const std::string& target);
  // SipStack::replace_channel on the SIP thread.
  void replace_channel(const std::string& newcomer, const std::string& replaced,
                       std::function<void(sdk::Status)> done);
  // A REFER on an engine leg: reported to the call core, which carries it
  // out (its dial and bridge); NOTIFYs follow its progress.
  int engine_refer(Call& c, MediaLeg side, nta_incoming_t* irq, const sip_t* sip);
  // The engine leg `channel` leaves the mixer it shares with another call.
  void unbridge_engine(const std::string& channel);

  // C answered the transfer's call `t` with its offer: the party that stays
  // gets it by re-INVITE, C taking the referrer's media side.
  void transfer_answered(Call& t, Branch& brc, const sip_t* sip);

  void drop_transfer_leg(Call& t, Branch& brc, int status);

  // The other party answered the re-INVITE with C's media: C's leg takes
  // the referrer's place.
  void transfer_reinvited(std::uint64_t serial, int status, const std::string& answer);

  // The transfer's call ended without bridging: the referrer hears why and
  // keeps its call, or the other party is hung up when the referrer is gone.
  void transfer_failed(Call& t);

  // The transferred call ended first: its transfer stops.
  void abandon_transfer(std::uint64_t serial);

  // ---- attended transfer (REFER with Replaces, INVITE with Replaces) ------

  // ACKs a 2xx whose offer will not be used: every stream refused (port 0).
  void refuse_offer(nta_leg_t* leg, std::uint32_t cseq, const std::string& offer);

  // The transferor on side `from` of `c1` asks to join its other party to
  // the party of the call whose dialog `value` names (its other call, c2).
  // Third-party call control (RFC 3725): c2's party is asked for an offer by
  // a re-INVITE without SDP, the offer goes to c1's party, whose answer goes
  // back in the ACK; c2's party then takes the transferor's place in c1.
  void attended_transfer(Call& c1, MediaLeg from, const std::string& value);
  // Joins c1's party (not on `from`) with c2's (not on `c2_from`, the
  // transferor's side there): the third-party call control above.
  void start_join(Call& c1, MediaLeg from, Call& c2, MediaLeg c2_from);
  // SipStack::join_parties on the SIP thread.
  void join_parties(const std::string& a, const std::string& b, std::function<void(sdk::Status)> done);
  // A join the call core asked for ends with `status` (>= 300: failed).
  void join_told(Call& c1, int status);
  // joined() for the call core: c2's party talks to c1's; the transferor's
  // legs (`ref` in c1, its leg in c2) stay up for the core, unless the
  // transferor hung up meanwhile.
  void joined_for_core(Call& c1, Call& c2, nta_leg_t* ref, const std::string& joined_user);
  // The call core hangs up a transferor whose party was handed over: only
  // its leg, left among `c`'s branches, gets BYE. False when `channel` is
  // no such leg of `c`.
  bool hangup_departed(Call& c, const std::string& channel);

  // c2's party answered with its offer: c1's party gets it by re-INVITE.
  void join_offered(std::uint64_t s1, std::uint64_t s2, MediaLeg yside, int status,
                    const std::string& offer, std::uint32_t cseq);

  // c1's party answered: the answer goes to c2's party in its ACK, and the
  // two are one call; the transferor is released from both.
  void joined(std::uint64_t s1, std::uint64_t s2, int status, const std::string& answer);

  // The attended transfer stopped: the transferor hears why and keeps its
  // calls; a call it already left, or whose party was re-INVITEd, ends.
  void join_failed(Call& c1, int status, bool c2_touched);

  // Call `gone` ended while being joined to `other`.
  void join_abandoned(std::uint64_t other, std::uint64_t gone);

  // An INVITE with Replaces (RFC 3891) from a line: its sender takes the
  // place of the party whose dialog it names, which gets BYE.
  int on_replacing_invite(nta_incoming_t* irq, const sip_t* sip);

  void replace_party(nta_incoming_t* irq, const sip_t* sip, const LineCredentials& line);
  // An INVITE with Replaces reported to the call core, waiting for it to
  // swap the newcomer in (replace_channel), by the newcomer's channel.
  struct PendingReplace {
    std::uint64_t serial = 0;  // the replaced party's call
    MediaLeg side = MediaLeg::a;
    nta_incoming_t* irq = nullptr;
    std::string offer;         // the newcomer's SDP ("" asks for an offer)
  };
  std::map<std::string, PendingReplace> pending_replaces;
  // The newcomer `nb` (its offer `offer`) takes the place of `side` of `c`:
  // the party that stays is re-INVITEd with its offer; `done` set: for the
  // call core, which hangs the replaced leg up (else BYE here).
  void swap_in(Call& c, MediaLeg side, Branch& nb, nta_incoming_t* irq, const std::string& offer,
               std::function<void(sdk::Status)> done);

  // The other party took the newcomer's media: the newcomer is connected.
  // An INVITE with Replaces that did not take its party's place: its
  // channel ends with `status`.
  void drop_newcomer(Branch& nb, int status);
  void replaced(std::uint64_t serial, MediaLeg side, Branch* nb, DialogRequest* d, int status,
                const std::string& body, const std::function<void(sdk::Status)>& done);

  // ---- session timers (RFC 4028) and reliable provisionals (RFC 3262) -----

  static bool has_feature(const msg_list_t* list, const char* feature);
  SessionTimer& timer_of(Call& c, MediaLeg side) { return side == MediaLeg::a ? c.a_timer : c.b_timer; }
  std::string& sdp_sent_on(Call& c, MediaLeg side);
  std::string& sdp_sent_on(Call& c, nta_leg_t* leg);

  // An INVITE requiring an extension Dialtone lacks gets 420 with
  // Unsupported; a Session-Expires below session_min_se gets 422 with
  // Min-SE. True when the INVITE was answered here.
  bool refuse_invite(nta_incoming_t* irq, const sip_t* sip);

  bool refuse_extensions(nta_incoming_t* irq, const sip_t* sip);
  bool unsupported_required(const sip_t* sip);

  bool too_brief(const sip_t* sip) const;
  void reply_too_brief(nta_incoming_t* irq);

  // The session timer `sip` (an INVITE or UPDATE from the peer of `st`)
  // asks for, RFC 4028 section 9: the refresher the peer named, else the
  // peer when it supports timer, else Dialtone. Without Session-Expires the
  // leg keeps what it had.
  static void timer_from_request(SessionTimer& st, const sip_t* sip);

  // The session timer a peer set in its 2xx to Dialtone's INVITE or UPDATE:
  // refresher=uac (or none) makes Dialtone the refresher.
  static void timer_from_response(SessionTimer& st, const sip_t* sip);

  void caller_extensions(Call& c, const sip_t* sip);

  // Headers of Dialtone's 2xx to a request from the peer of `st`, which
  // was the UAC: refresher=uac names the peer.
  static std::string timer_headers(const SessionTimer& st);

  // Headers of an INVITE or UPDATE Dialtone sends on `leg` (Dialtone is
  // the UAC): every such request refreshes the leg's session.
  std::string timer_request_headers(Call& c, nta_leg_t* leg);

  // The call is answered: B's 2xx may impose a session timer on B's leg;
  // both legs' timers start.
  void session_answered(Call& c, const sip_t* b_ok);

  // RFC 4028 section 10: the refresher refreshes at half the interval; the
  // other side hangs up when no refresh came by the interval minus the
  // smaller of 32 s and a third of it.
  void arm_session_timer(Call& c, MediaLeg side, long delay_ms = -1);

  static void on_session_timer(void*, su_timer_t*, void* arg);

  // A refresh of ours: UPDATE without SDP when the peer allows it, else a
  // re-INVITE offering the SDP last sent on the leg again (RFC 4028 7.4).
  void send_refresh(Call& c, SessionTimer& st);

  static int on_refresh_response(void* magic, nta_outgoing_t* orq, const sip_t* sip);

  // The session of one leg lapsed: both legs are hung up.
  void session_expired(Call& c, SessionTimer& st, const std::string& why);

  // An INVITE or UPDATE from `from` in an answered call refreshes its
  // leg: its Session-Expires is taken (420 for an unknown Require, 422
  // below session_min_se) and an UPDATE without SDP is answered here.
  // Returns 0 when answered here, -1 when the request goes on to the
  // other leg.
  int take_refresh(Call& c, MediaLeg from, nta_incoming_t* irq, const sip_t* sip);

  // A relayed INVITE or UPDATE got a 2xx: the leg it went to is refreshed
  // (its 2xx may change the timer) and so is the leg that sent it.
  void session_refreshed(Call& c, DialogRequest& d, const sip_t* sip);

  void drop_session_timers(Call& c);

  // B's reliable 18x (Require: 100rel, RSeq): PRACKed in B's early dialog,
  // once per RSeq (a retransmission is not PRACKed again).
  void prack(Branch& br, const sip_t* sip);

  static int on_prack_response(void*, nta_outgoing_t* orq, const sip_t* sip);

  // A never PRACKed a reliable 18x (sofia answers it 503): the call ends.
  void rel100_timeout(Call& c);

  // ---- requests to trunks: digest answers and failover (outgoing_auth.cc) --

  // The trunk at `host`[:`port`] (0: none written) as a trunk's host names it.
  const TrunkInfo* trunk_at(const std::string& host, int port) const;
  // The trunk a request of ours goes to: its request URI's host, else its
  // To's (in a dialog, the request URI is the provider's Contact).
  const TrunkInfo* trunk_of_request(const sip_t* request) const;
  // The trunk of a dial target "sip:<number>@<host[:port]>".
  const TrunkInfo* trunk_of_target(const std::string& uri) const;

  // `sip`, a 401 or 407 to our request `orq`, comes from a trunk with
  // credentials: the request goes again, same dialog, CSeq + 1, with the
  // digest answer, to `callback`/`magic`; `orq` is destroyed from the loop.
  // Nothing (and one log line when the credentials are at fault) when it
  // cannot be answered or was answered once already: the challenge is then
  // the request's final answer.
  nta_outgoing_t* answer_challenge(nta_outgoing_t* orq, const sip_t* sip, nta_response_f* callback,
                                   void* magic);
  // Nonce counts of the providers' nonces (RFC 7616 nc), kept small.
  std::unordered_map<std::string, unsigned> trunk_nonce_counts;

  // Whether the route goes on after the dial of `c`'s current round ended
  // with `code`: the failover_codes of the trunk it dialed.
  bool dial_fails_over(const Call& c, int code) const;

  // ---- phones behind NAT (nat.cc) -----------------------------------------

  // Whether the phone whose request `sip` came from `src` is reached at
  // `src` (the line's `nat` option; automatic: its Via names another address).
  static bool behind_nat(NatMode mode, const sip_t* sip, const Source& src);
  const Binding* binding_of(const std::string& aor, const std::string& contact) const;
  // The next hop of an INVITE to `aor`'s `contact`: its registration's
  // source for a phone behind NAT over UDP (noted in `br`), else none.
  std::string nat_next_hop(Branch& br, const std::string& aor, const std::string& contact);
  // The dialog target of a phone: its Contact `m`, or for a phone behind
  // NAT (`received` not empty, no Record-Route) the Contact with the
  // address it sends from (rewrite_contact), so in-dialog requests reach it.
  static const sip_contact_t* reachable_contact(su_home_t* home, const sip_contact_t* m,
                                                const sip_record_route_t* rr,
                                                const std::string& received);

  // ---- Dialtone behind NAT (outside_peers.cc) ------------------------------
  // Toward a peer outside sip.local_net, the external addresses replace the
  // real ones in Via, Contact and anchored SDP; inside peers see the real
  // ones. `peer` is an IP or a host name (host_of_uri).

  // The host of a SIP URI or next hop ("sip:1001@10.0.0.5:5060;transport=tcp").
  static std::string host_of_uri(const std::string& uri);
  bool outside(const std::string& peer) const { return cfg.external.outside(peer); }
  // The Contact of Dialtone as `peer` must see it.
  const sip_contact_t* contact_toward(const std::string& peer);
  // Anchored SDP as `peer` must see it.
  std::string sdp_toward(const std::string& sdp, const std::string& peer) const;
  // The Via for a request to `peer` over `uri`'s transport; empty: sofia's own.
  std::string via_toward(const std::string& peer, const std::string& uri);
  // Where the caller of `c` sent its INVITE from.
  std::string caller_peer(const Call& c) const { return c.a_peer; }
  // The peer (host) and URI of the leg `leg` of `c` (A's, or a branch's).
  std::pair<std::string, std::string> leg_peer(const Call& c, nta_leg_t* leg) const;
  // The peer and URI on `side` of `c` (B: the answered branch's).
  std::pair<std::string, std::string> side_peer(const Call& c, MediaLeg side) const;
  sip_contact_t* external_contact = nullptr;

  // ---- trunk hosts by name (dns_resolver.cc) ------------------------------
  // Requests to a trunk named by host name are resolved by sofia's own
  // RFC 3263 resolver (NAPTR, SRV in priority and weight order with failover
  // to the next target, A/AAAA), asynchronous on this loop and cached with
  // the records' TTL. For incoming requests, each named trunk's addresses
  // (its SRV targets' and its own A/AAAA) are kept here, looked up again
  // when their TTL runs out.

  struct TrunkDns {
    std::string host;
    std::set<std::string> addresses;  // from the last round that found some
    std::set<std::string> found;      // the round in progress
    int outstanding = 0;              // its queries not answered yet
    std::uint32_t ttl = 0;            // its smallest TTL
    std::uint64_t round = 0;
    su_timer_t* timer = nullptr;
    bool failing = false;             // reported as not resolving
  };
  struct DnsQuery {
    Impl* self = nullptr;
    std::string host;
    std::uint64_t round = 0;
  };
  sres_resolver_t* resolver = nullptr;
  std::map<std::string, std::unique_ptr<TrunkDns>> trunk_dns;  // by host name
  mutable std::mutex dns_mutex;
  std::map<std::string, std::vector<std::string>> dns_snapshot;  // for other threads

  // Follows the trunk list: a lookup for each new host name, none kept for
  // names no longer used.
  void sync_trunk_dns();
  void resolve(TrunkDns& d);
  void query(TrunkDns& d, std::uint16_t type, const std::string& name);
  static void on_dns_answer(sres_context_t* context, sres_query_t* q, sres_record_t** answers);
  void dns_round_done(TrunkDns& d);
  static void on_dns_timer(void*, su_timer_t*, void* arg);
  void close_dns();
  // A request from `src` comes from trunk `t`: its address, or one its
  // host name resolves to (and its port when it names one).
  bool from_trunk(const TrunkInfo& t, const Source& src) const;

  // ---- trunk registrations (outbound REGISTER) ----------------------------

  struct OutboundReg {
    TrunkRegistration trunk;
    nta_leg_t* leg = nullptr;
    nta_outgoing_t* orq = nullptr;
    su_timer_t* timer = nullptr;
    std::string state = "pending";
    int failures = 0;
    int auth_tries = 0;  // challenges answered since the last final answer
    unsigned nonce_count = 0;
  };
  std::map<std::string, std::unique_ptr<OutboundReg>> regs;
  mutable std::mutex regs_mutex;
  std::map<std::string, std::string> reg_states;  // snapshot for other threads

  static bool same_registration(const TrunkRegistration& a, const TrunkRegistration& b);

  void load_registrations();

  void sync_registrations(const std::vector<TrunkRegistration>& list);

  void drop_registration(OutboundReg& r);

  void set_reg_state(OutboundReg& r, const std::string& state);

  std::string registrar_uri(const OutboundReg& r) const { return "sip:" + r.trunk.host; }

  void send_register(OutboundReg& r, const std::string& authorization, bool proxy);

  static void on_register_timer(void*, su_timer_t*, void* arg);

  static int on_register_response(void* magic, nta_outgoing_t* orq, const sip_t* sip);

  void on_register_final(OutboundReg& r, const sip_t* sip, int status);

  void registration_failed(OutboundReg& r, int status, const std::string& detail);

  void close_registrations();

  // ---- TCP and TLS connections -------------------------------------------

  std::atomic<int> tls_bound_port{0};
  std::atomic<std::size_t> tcp_open{0};
  // The connection each TCP/TLS registration came over, by Binding::received:
  // the phone is called over it, and the reference keeps sofia from closing
  // it as idle.
  std::unordered_map<std::string, tport_t*> held;
  ConnectionScanner scanner;
  std::vector<int> conn_ports;  // local ports of the TCP and TLS listeners
  su_timer_t* conn_timer = nullptr;
  unsigned conn_ticks = 0;
  bool over_limit = false;

  static bool stream_transport(const std::string& received);

  // Adds the TLS listener when asked for. A certificate folder that cannot
  // serve leaves TLS off with one error line; UDP and TCP keep serving.
  void open_tls();

  // The periodic check closing idle TCP/TLS connections and holding them
  // under tcp_max_connections. Sofia's own idle timer (TPTAG_IDLE) only
  // starts once a connection has carried a message, so a connection that
  // never sends one (a stalled TLS handshake, a silent flood) would stay.
  void limit_connections(bool tcp);

  int bound_port_of(const char* proto);

  void hold_connection(tport_t* via, const Source& src);

  // The live connection a REGISTER came over (`received`), or null.
  tport_t* connection_of(const std::string& received);

  tport_t* connection_for(const std::string& aor, const std::string& contact);

  static std::string peer_of(const std::string& received);

  // Four times a second, so a burst of connections is cut back well before
  // the process runs out of descriptors; less often when the scan itself
  // grows costly (thousands of connections), keeping it near 5 % of a core.
  static void on_connections(void* magic, su_timer_t* t, void* arg);

  void check_connections();

  void close_connections();

  // ---- qualify and out-of-dialog requests ------------------------------

  // One OPTIONS or NOTIFY outside any dialog, with its own deadline.
  struct OutRequest {
    Impl* self = nullptr;
    std::uint64_t id = 0;
    nta_leg_t* leg = nullptr;
    nta_outgoing_t* orq = nullptr;
    std::int64_t sent_ms = 0;
    std::int64_t deadline_ms = 0;
    bool finished = false;
    bool own_leg = true;  // made for this request, destroyed with it
    std::function<void(int status, int rtt_ms)> done;
  };
  std::unordered_map<std::uint64_t, std::unique_ptr<OutRequest>> out_requests;
  std::uint64_t next_out = 1;
  bool closing = false;  // probes cut short by stop() change no state

  // "udp:1.2.3.4:5060" (Binding::received) -> the next hop URI, so the
  // request reaches a phone behind NAT where its REGISTER came from.
  static std::string route_of(const std::string& received);

  static int on_out_leg_request(void*, nta_leg_t*, nta_incoming_t*, const sip_t*) { return 481; }

  // Sends `method` to `uri` through `received`; `done(status, rtt_ms)` runs
  // once on the SIP thread (408 when the deadline passes first, 503 when it
  // could not be sent). With a `body` of `content_type`; on the caller's
  // `leg` (its Call-ID, From tag and next CSeq; the caller keeps it) instead
  // of a new one.
  void send_request(sip_method_t method, const char* method_name, const std::string& uri,
                    const std::string& received, const std::string& to_user,
                    const std::string& headers, std::chrono::milliseconds timeout,
                    std::function<void(int, int)> done, const std::string& content_type = {},
                    const std::string& body = {}, nta_leg_t* leg = nullptr);

  void finish_request(OutRequest& r, int status);

  static int on_out_response(void* magic, nta_outgoing_t* orq, const sip_t* sip);

  // Requests past their deadline fail with 408 (checked on each sweep).
  void expire_requests();

  // On stop: pending requests fail now, so nobody waits for them.
  void drop_requests();

  void qualify_sync(const std::string& aor);

  // Probes the contacts due: any final answer but a local 408/503 (timeout,
  // transport failure) counts as reachable.
  void qualify_tick();

  // ---- trunk qualify -------------------------------------------------------
  // Trunks are probed like registered contacts, under the AOR
  // "trunk:<name>": peer trunks at their address, registering trunks at their
  // registrar. A trunk found unreachable is not rung (its dial fails at once
  // with 503, so an outgoing route goes on to its next trunk) until it
  // answers a probe again.

  std::set<std::string> qualified_trunks;
  // host[:port] as dialed (sip:<number>@<host[:port]>) -> (AOR, contact).
  std::map<std::string, std::pair<std::string, std::string>> trunk_hosts;

  void sync_trunk_qualify();

  // True when `uri` (sip:<number>@<host[:port]>) goes to a trunk that stopped
  // answering its probes.
  bool trunk_unreachable(const std::string& uri) const;

  // The contacts a NOTIFY for `t` goes to: those registered from the
  // device's IP (the AOR named first if it is among them), or the AOR's
  // when no IP is given. One per source address.
  std::vector<std::pair<std::string, Binding>> notify_targets(const SipStack::NotifyTarget& t);

  void notify(const SipStack::NotifyTarget& t, std::function<void(SipStack::NotifyResult)> done);
};

}  // namespace dialtone::plugins::backend::sip
