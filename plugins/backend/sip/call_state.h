// A call as the SIP thread holds it: the caller's dialog, its branches
// (callee legs, a newcomer's dialog), in-dialog requests in flight, session
// timers and the transfer in progress. Private to the plugin; the stack's
// state around them is SipStack::Impl (stack_impl.h).
#pragma once

#include "plugins/backend/sip/sofia_wrappers.h"

#include "plugins/backend/sip/rtp_relay.h"
#include "plugins/backend/sip/sip_stack.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dialtone::plugins::backend::sip {

struct Call;
struct EngineMedia;  // engine_media.h: a call answered with media in the engine

struct Branch {
  Call* call = nullptr;
  std::string target;
  nta_leg_t* leg = nullptr;
  nta_outgoing_t* orq = nullptr;
  int status = 0;
  bool final = false;
  bool acked = false;
  bool counted = false;  // `target` is in the active-line counts
  bool ack_waits = false;  // late offer: the ACK carries A's answer, sent when A ACKs
  // Where the INVITE went (host, and the URI or hop it went to): what this
  // leg is told when Dialtone is behind NAT (outside_peers.cc).
  std::string peer, peer_uri;
  int round = 0;         // which sip.dial of the call rang it
  int dial = 0;          // which of the round's parallel dials (0: the call's dial_done)
  std::uint32_t invite_cseq = 0;
  std::uint32_t rseq = 0;  // the last reliable 18x PRACKed (RFC 3262)
  std::string channel;   // the leg's id in the call core; empty once ended
  // The channel is the call core's, one per dialed target: the target's
  // branches (one per contact) share it, and it ends with the last of them.
  bool shared_channel = false;
  bool cancelled = false;  // the call core cancelled it (another target won, time ran out)
  std::string nat_received;  // a phone behind NAT: where its REGISTER came from
  std::string sip_call_id;   // the Call-ID of the INVITE: BLF watchers pick up with it (Replaces)
  std::string phone_tag;     // the rung phone's tag, from its first 18x
  bool ids_told = false;     // the call core has the dialog's Call-ID and tags
};

// An in-dialog request sent on one leg: relayed from the other leg's `irq`
// (re-INVITE, UPDATE, INFO), or the stack's own (a transfer's re-INVITE),
// which `on_final` completes instead.
struct DialogRequest {
  std::uint64_t serial = 0;  // the call
  MediaLeg from = MediaLeg::a;  // the side the request came from
  sip_method_t method = sip_method_unknown;
  nta_incoming_t* irq = nullptr;
  nta_outgoing_t* orq = nullptr;
  nta_leg_t* to_leg = nullptr;
  bool offer = false;      // the request carried an SDP offer
  bool hold = false;       // that offer held the call: music once it is answered
  bool finished = false;
  // raw: the stack's own request whose answer it handles itself (no SDP
  // rewriting, no ACK); `cseq` is the final response's, for that ACK.
  bool raw = false;
  std::uint32_t cseq = 0;
  std::function<void(int status, const std::string& body)> on_final;
};

// A session timer (RFC 4028) on one leg of an answered call: Dialtone
// refreshes the leg at half the interval, or hangs up when the peer, the
// refresher, lets the session lapse.
struct SessionTimer {
  Call* call = nullptr;
  MediaLeg side = MediaLeg::a;
  int interval = 0;           // seconds; 0: no session timer on this leg
  bool we_refresh = false;
  bool peer_timer = false;    // the peer supports "timer": answers carry Require: timer
  bool peer_update = false;   // the peer allows UPDATE: refreshes use it
  su_timer_t* timer = nullptr;
  nta_outgoing_t* refresh = nullptr;  // our refresh in flight
  bool refresh_invite = false;
};

// A REFER accepted (202) and reported to the call core, which has not
// finished with it yet.
struct ReferWaiting {
  MediaLeg from = MediaLeg::a;
  std::string target, replaces;
};

struct Call {
  std::uint64_t serial = 0;
  std::string id;
  enum class State { authenticating, routing, ringing, answered, ending } state = State::authenticating;
  nta_leg_t* a_leg = nullptr;
  nta_incoming_t* a_irq = nullptr;
  // Where the caller's INVITE came from (IP, and as a URI with its
  // transport): what A is told when Dialtone is behind NAT.
  std::string a_peer, a_peer_uri;
  std::vector<std::unique_ptr<Branch>> branches;
  Branch* winner = nullptr;
  su_timer_t* ring_timer = nullptr;
  std::string sdp;
  std::string content_type;
  std::string from_display;
  std::string from_user;
  std::string called;
  int pending_byes = 0;
  int ended_status = 0;
  bool relayed_ringing = false;
  bool finishing = false;
  std::string caller_username;  // counted in the active-line counts
  std::string caller_number;
  // The dial in progress for the dialplan (sip.dial), by round.
  int round = 0;
  std::function<void(DialResult)> dial_done;
  // Dials of the call core made while the first still rings (local legs
  // ringing SIP targets side by side from this caller: a ring-all group
  // through its members' own dialplans). Their branches join the round
  // (Branch::dial); each dial ends on its own, the first answer ends all.
  struct ParallelDial {
    int id = 0;
    std::function<void(DialResult)> done;
  };
  std::vector<ParallelDial> parallel_dials;
  int last_dial = 0;
  std::chrono::steady_clock::time_point ring_until;  // the ring timer's deadline
  std::unique_ptr<CallMedia> media;  // the SDP rewriting and relay ports
  // In-dialog requests in flight, and whether one carries an offer (a second
  // offer meanwhile gets 491, RFC 3261 14.1).
  std::vector<std::unique_ptr<DialogRequest>> dialog;
  bool offer_pending = false;
  // Late-offer re-INVITE: the leg to ACK once the other side's ACK brings the answer.
  nta_leg_t* ack_leg = nullptr;
  std::uint32_t ack_cseq = 0;
  MediaLeg ack_from = MediaLeg::a;
  // Session timers per leg, the last SDP sent on each leg (a re-INVITE
  // refresh offers it again), and whether 18x go to A reliably.
  SessionTimer a_timer;
  SessionTimer b_timer;
  std::string a_sdp_sent;
  std::string b_sdp_sent;
  bool a_rel100 = false;
  std::string context;       // the caller's
  std::string caller_name;
  // The caller asked for privacy (Privacy: id from a trunk): phones are
  // shown "Anonymous"; trunks get the identity with Privacy: id.
  bool caller_hidden = false;
  int trunks_down = 0;       // trunk targets of the last dial skipped as unreachable
  // Blind transfer: on the transferred call, the transfer's call and the
  // leg that sent REFER (on side `referrer_side`); on the transfer's call,
  // the call it serves.
  std::uint64_t transfer = 0;
  nta_leg_t* referrer = nullptr;
  MediaLeg referrer_side = MediaLeg::b;
  bool referrer_gone = false;
  // Attended transfer: the transferor's other call while the two are being
  // joined (on both calls; `join_notify` on the one that got the REFER), and
  // on the call giving its party, that party's offer waiting for its ACK.
  std::uint64_t joined_with = 0;
  bool join_notify = false;
  std::uint32_t join_cseq = 0;
  std::string join_offer;
  MediaLeg join_side = MediaLeg::a;
  // The call core joins the parties (ChannelDriver::join): told the outcome
  // instead of the transferor's NOTIFYs, the transferor's legs left to it.
  std::function<void(sdk::Status)> join_done;
  std::uint64_t transfer_of = 0;
  bool transfer_done = false;
  // The transfer's call routes the call core's leg (`channel`) of a blind
  // transfer (OriginateRequest::transfer_of): that leg comes up for the
  // core, which tells the transferor and hangs it up.
  bool core_transfer = false;
  std::optional<ReferWaiting> refer_waiting;
  std::string channel;  // A's id in the call core; empty once ended
  bool a_held = false, b_held = false;  // the side's last offer held the call
  bool awaits_route = false;  // counted in Impl::awaiting_route
  int offer_refused = 0;  // A's RTP/SAVP offer cannot cross the relay (no common codec): a dial gets this status
  std::string a_offer;  // A's INVITE SDP as it came (an answer from the media engine takes it)
  // Answered by the dialplan (call:answer): A's media ends in the engine.
  std::shared_ptr<EngineMedia> engine;
  // An outgoing engine leg (engine_originate.cc): no A side, one target.
  bool originated = false;
  // Music on hold sent through the relay toward each side (a held party);
  // with direct media, the engine endpoint that side was moved to.
  std::shared_ptr<sdk::media::Endpoint> hold_music[2];
  // Direct media: o= versions added to the SDP relayed toward each side, one
  // per offer of our own that side saw (music on hold), so its next SDP from
  // the other party is never taken for one it already had.
  std::uint64_t sdp_raised[2] = {0, 0};
  // An engine leg's re-INVITE without SDP was answered with our offer: the
  // ACK from that side brings the answer (RFC 3264 late offer).
  std::optional<MediaLeg> engine_ack_awaits;
  nta_incoming_t* engine_ack_irq = nullptr;  // that re-INVITE, kept for its ACK
};

}  // namespace dialtone::plugins::backend::sip
