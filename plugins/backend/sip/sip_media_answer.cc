// Calls the dialplan answers itself (call:answer()): the caller's media ends
// in the media engine instead of going on to a callee. The 200 OK carries an
// engine endpoint's SDP (PCMU, PCMA, G.722, Opus when offered, RFC 4733
// telephone-event, SDES SRTP for RTP/SAVP offers); the channel is attached
// to the engine so that media verbs (call:play, call:read_digits ...) find
// its endpoint; BYE either way, or the end of the script, frees it.
#include "plugins/backend/sip/stack_impl.h"

#include <dialtone/text.h>
#include "plugins/backend/sip/engine_media.h"
#include "plugins/backend/sip/t38_sdp.h"

#include <cstring>
#include <sstream>

namespace dialtone::plugins::backend::sip {

namespace sm = sdk::media;

namespace {

struct Negotiated {
  sm::EndpointConfig config;
  std::string proto = "RTP/AVP";
  std::vector<std::pair<int, std::string>> rtpmaps;  // pt, encoding (answer order)
  int telephone_event = -1;
  std::string fmtp_lines;                             // a=fmtp of the kept formats
};

// What the engine answers to `offer`'s first audio stream; an error names why
// nothing can be kept (488).
sdk::Result<Negotiated> negotiate(const Sdp& offer, const std::vector<sm::Codec>& supported) {
  const SdpMedia* audio = offer.audio();
  if (!audio) return sdk::Error::unsupported("the offer has no active audio stream");
  Negotiated n;
  bool srtp = audio->proto == "RTP/SAVP";
  if (!srtp && audio->proto != "RTP/AVP")
    return sdk::Error::unsupported("audio profile " + audio->proto + " (RTP/AVP and RTP/SAVP are answered)");
  n.proto = audio->proto;
  for (const auto& pt : audio->formats) {
    std::string enc = audio->encoding(pt);
    int number = std::atoi(pt.c_str());
    if (sdk::text::to_lower(enc).rfind("telephone-event/8000", 0) == 0) {
      if (n.telephone_event < 0) n.telephone_event = number;
      continue;
    }
    auto codec = sm::codec_from_name(enc);
    if (!codec || std::find(supported.begin(), supported.end(), *codec) == supported.end()) continue;
    // G.711 and G.722 have one clock; Opus must say 48000/2.
    if (*codec == sm::Codec::opus && sdk::text::to_lower(enc) != "opus/48000/2") continue;
    n.config.formats.push_back({*codec, static_cast<std::uint8_t>(number)});
    n.rtpmaps.emplace_back(number, sm::rtpmap(*codec));
    for (const auto& line : audio->lines)
      if (line.rfind("a=fmtp:" + pt + " ", 0) == 0) n.fmtp_lines += line + "\r\n";
  }
  if (n.config.formats.empty()) return sdk::Error::unsupported("no codec of the offer is PCMU, PCMA, G722 or Opus");
  n.config.telephone_event_pt = n.telephone_event >= 0 ? static_cast<std::uint8_t>(n.telephone_event) : 0;
  std::string ip = offer.connection(*audio);
  n.config.remote = (ip.find(':') != std::string::npos ? "[" + ip + "]" : ip) + ":" + std::to_string(audio->port);
  if (srtp) {
    auto keys = sdes_keys(*audio);
    if (!keys.empty()) n.config.srtp_remote = keys.front();
    if (!n.config.srtp_remote)
      return sdk::Error::unsupported("RTP/SAVP offer without an a=crypto line of a supported suite "
                                     "(AES_CM_128_HMAC_SHA1_80 or _32)");
  }
  return n;
}

// The answer: our endpoint for the audio stream, every other stream refused.
std::string answer_sdp(const Sdp& offer, const Negotiated& n, const std::string& address, int port,
                       const std::optional<sm::CryptoAttribute>& crypto) {
  std::string family = address.find(':') != std::string::npos ? "IP6" : "IP4";
  std::string session = std::to_string(std::hash<std::string>{}(random_token(12)) % 1000000000u);
  std::string s = "v=0\r\no=dialtone " + session + " " + session + " IN " + family + " " + address +
                  "\r\ns=dialtone\r\nc=IN " + family + " " + address + "\r\nt=0 0\r\n";
  const SdpMedia* audio = offer.audio();
  for (const auto& m : offer.media) {
    if (&m != audio) {
      s += "m=" + m.type + " 0 " + m.proto + " " + (m.formats.empty() ? "0" : m.formats.front()) + "\r\n";
      continue;
    }
    s += "m=audio " + std::to_string(port) + " " + n.proto;
    for (auto& [pt, enc] : n.rtpmaps) s += " " + std::to_string(pt);
    if (n.telephone_event >= 0) s += " " + std::to_string(n.telephone_event);
    s += "\r\n";
    for (auto& [pt, enc] : n.rtpmaps) s += "a=rtpmap:" + std::to_string(pt) + " " + enc + "\r\n";
    s += n.fmtp_lines;
    if (n.telephone_event >= 0)
      s += "a=rtpmap:" + std::to_string(n.telephone_event) + " telephone-event/8000\r\na=fmtp:" +
           std::to_string(n.telephone_event) + " 0-16\r\n";
    if (crypto) s += "a=crypto:" + crypto->to_sdp() + "\r\n";
    s += "a=ptime:20\r\na=sendrecv\r\n";
  }
  return s;
}

// The answer to a move to T.38: our endpoint's port for the image stream,
// every other stream (the audio of the offer) refused.
std::string t38_answer_sdp(const Sdp& offer, const SdpMedia* image, const sm::T38Options& answer,
                           const std::string& address, int port) {
  std::string family = address.find(':') != std::string::npos ? "IP6" : "IP4";
  std::string s = "v=0\r\no=dialtone 1 1 IN " + family + " " + address + "\r\ns=dialtone\r\nc=IN " + family + " " +
                  address + "\r\nt=0 0\r\n";
  for (const auto& m : offer.media)
    s += &m == image ? t38_answer_lines(answer, port)
                     : "m=" + m.type + " 0 " + m.proto + " " + (m.formats.empty() ? "0" : m.formats.front()) + "\r\n";
  return s;
}

}  // namespace

sdk::Result<std::string> SipStack::Impl::engine_answer(Call& c, const std::string& offer_text, const std::string& channel,
                                                       std::shared_ptr<sm::MediaEngine> engine) {
  auto offer = parse_sdp(offer_text);
  if (!offer) return sdk::Error::invalid("bad SDP offer: " + offer.error().message);
  auto n = negotiate(*offer, engine->codecs());
  if (!n) return n.error();
  if (n->config.srtp_remote)
    n->config.srtp_local = engine->new_crypto(n->config.srtp_remote->tag, n->config.srtp_remote->suite);
  auto crypto = n->config.srtp_local;
  auto ep = engine->create_endpoint(n->config);
  if (!ep) return sdk::Error::unavailable("no media endpoint: " + ep.error().message);
  std::string address = (*ep)->local_address();
  if (address == "0.0.0.0" || address == "::" || address.empty()) address = cfg.host;
  auto media = std::make_shared<EngineMedia>();
  media->engine = engine;
  media->endpoint = *ep;
  media->channel = channel;
  media->local_crypto = crypto;
  c.engine = media;
  if (!channel.empty()) engine->attach_channel(channel, media->endpoint);
  return answer_sdp(*offer, *n, address, (*ep)->local_port(), crypto);
}

void SipStack::answer(const std::string& call_id, const std::string& channel,
                      std::shared_ptr<sm::MediaEngine> engine) {
  auto impl = impl_;
  impl->later([impl, call_id, channel, engine = std::move(engine)]() mutable {
    impl->answer_with_engine(call_id, channel, std::move(engine));
  });
}

void SipStack::early_media(const std::string& call_id, const std::string& channel,
                           std::shared_ptr<sm::MediaEngine> engine) {
  auto impl = impl_;
  impl->later([impl, call_id, channel, engine = std::move(engine)]() mutable {
    impl->answer_with_engine(call_id, channel, std::move(engine), true);
  });
}

void SipStack::bridge_engine(const std::string& call_a, const std::string& call_b,
                             std::shared_ptr<sm::Mixer> mixer) {
  auto impl = impl_;
  impl->later([impl, call_a, call_b, mixer = std::move(mixer)]() mutable {
    impl->engine_bridge(call_a, call_b, std::move(mixer));
  });
}

void SipStack::Impl::answer_with_engine(const std::string& call_id, const std::string& channel,
                                        std::shared_ptr<sm::MediaEngine> engine, bool early) {
  auto id = call_ids.find(call_id);
  Call* c = id == call_ids.end() ? nullptr : find_call(id->second);
  if (!c || c->state == Call::State::ending) return;  // gone: the core wakes call:answer()
  if (c->state == Call::State::answered) return;      // up already
  // A blind transfer's call (no INVITE of its own): the transferred party
  // is taken into the engine (engine_takeover.cc).
  if (c->transfer_of && !c->a_leg && !c->a_irq) return engine_takeover(*c, channel.empty() ? c->channel : channel, engine);
  if (c->state == Call::State::ringing && c->dial_done &&
      std::all_of(c->branches.begin(), c->branches.end(),
                  [c](const auto& b) { return b->round != c->round || b->final || b->cancelled; })) {
    // The call core gave the dial up and cancelled every branch (a pickup
    // takes the caller): their 487s are on their way, the caller is ours.
    finish_dial(*c, "cancelled", 487);
  }
  auto refuse = [&](int status, const std::string& why) {
    log.warn("sip: call " + c->id + ": cannot answer with the media engine, refused with " +
             std::to_string(status) + ": " + why);
    c->state = Call::State::ending;
    answer_a(*c, status, sip_status_phrase(status));
    maybe_finish(*c);
  };
  if (c->state != Call::State::routing || !c->a_irq || nta_incoming_status(c->a_irq) >= 200)
    return refuse(500, "the call is ringing a callee");
  if (c->engine && c->engine->early) {
    // Early media already flows from this endpoint: again, nothing to send;
    // the answer is the 200 OK with the SDP of the 183.
    if (early) return backend.leg_event(c->engine->channel, LegState::ringing, 183, {});
    return engine_answer_a(*c, c->a_sdp_sent);
  }
  if (c->a_offer.empty())
    return refuse(488, "the INVITE carried no SDP offer (late offer is not answered by the media engine)");
  auto offer = parse_sdp(c->a_offer);
  if (!offer) return refuse(488, "bad SDP offer: " + offer.error().message);
  auto n = negotiate(*offer, engine->codecs());
  if (!n) return refuse(488, n.error().message);
  if (n->config.srtp_remote)
    n->config.srtp_local = engine->new_crypto(n->config.srtp_remote->tag, n->config.srtp_remote->suite);
  auto crypto = n->config.srtp_local;
  auto ep = engine->create_endpoint(n->config);
  if (!ep) return refuse(503, "no media endpoint: " + ep.error().message);
  std::string address = (*ep)->local_address();
  if (address == "0.0.0.0" || address == "::" || address.empty()) address = cfg.host;
  std::string sdp = answer_sdp(*offer, *n, address, (*ep)->local_port(), crypto);

  auto media = std::make_shared<EngineMedia>();
  media->engine = engine;
  media->endpoint = *ep;
  media->channel = channel.empty() ? c->channel : channel;
  media->local_crypto = crypto;
  c->engine = media;
  // Attached before the answer is reported: the script's next verb finds it.
  if (!media->channel.empty()) engine->attach_channel(media->channel, media->endpoint);
  // A caller that offered T.38 beside its audio can be moved to it.
  if (t38_stream(*offer)) c->t38_capable = true;
  listen_for_fax(*c);
  if (early) {
    // RFC 3960's gateway model: the SDP of the 183 is the answer, the
    // 200 OK repeats it.
    media->early = true;
    nta_incoming_treply(c->a_irq, SIP_183_SESSION_PROGRESS, SIPTAG_CONTACT(contact_toward(caller_peer(*c))),
                        SIPTAG_ALLOW_STR(kAllow), SIPTAG_SUPPORTED_STR(kSupported),
                        SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(sdp.c_str()), TAG_END());
    c->a_sdp_sent = sdp;
    backend.leg_event(media->channel, LegState::ringing, 183, {});
    return;
  }
  engine_answer_a(*c, sdp);
}

void SipStack::Impl::engine_answer_a(Call& c0, const std::string& sdp) {
  Call* c = &c0;
  if (c->engine) c->engine->early = false;
  std::string timer = timer_headers(c->a_timer);
  nta_incoming_treply(c->a_irq, SIP_200_OK, SIPTAG_CONTACT(contact_toward(caller_peer(*c))),
                      SIPTAG_ALLOW_STR(kAllow), SIPTAG_SUPPORTED_STR(kSupported),
                      TAG_IF(!timer.empty(), SIPTAG_HEADER_STR(timer.c_str())),
                      SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(sdp.c_str()), TAG_END());
  c->a_sdp_sent = sdp;
  arm_session_timer(*c, MediaLeg::a);
  c->state = Call::State::answered;
  routed(*c);  // an answered script (an IVR) no longer counts as a call waiting for its route
  backend.call_event(c->id, "answered", 200);
  backend.leg_event(c->channel, LegState::up, 200, {});
}

int SipStack::Impl::engine_in_dialog(Call& c, MediaLeg side, nta_incoming_t* irq, const sip_t* sip) {
  auto method = sip->sip_request->rq_method;
  if (c.state != Call::State::answered) return 481;
  // The party's address as it sees us: A's source, or the callee's next hop.
  std::string peer = side == MediaLeg::a ? caller_peer(c) : c.winner ? c.winner->peer : std::string();
  if (method == sip_method_options) {
    nta_incoming_treply(irq, SIP_200_OK, SIPTAG_ALLOW_STR(kAllow), SIPTAG_ACCEPT_STR("application/sdp"),
                        SIPTAG_CONTACT(contact), TAG_END());
    nta_incoming_destroy(irq);
    return 0;
  }
  if (method == sip_method_info) {
    // SIP INFO DTMF (application/dtmf-relay "Signal=5"): phones that send
    // digits neither in RTP nor in the audio.
    std::string body = body_of(sip);
    auto at = body.find("Signal=");
    if (type_of(sip) == "application/dtmf-relay" && at != std::string::npos) {
      auto v = body.find_first_not_of(" \t", at + 7);
      char digit = v == std::string::npos ? 0 : body[v];
      if (std::strchr("0123456789*#ABCD", digit) && digit)
        backend.leg_dtmf(c.engine->channel, digit);
    }
    return 200;
  }
  if (method == sip_method_refer) return engine_refer(c, side, irq, sip);
  if (method != sip_method_invite && method != sip_method_update) return 501;
  // Session timers (RFC 4028) as on relayed legs: Require and Session-Expires
  // checked, the interval taken; an UPDATE without SDP is answered there.
  if (int answered = take_refresh(c, side, irq, sip); answered >= 0) return answered;
  if (c.offer_pending) return 491;
  // A new offer (hold, a moved phone, another codec): answered by our
  // endpoint, which takes the peer's address and codec. Without SDP (a
  // re-INVITE asking for an offer) the endpoint's last SDP is offered.
  std::string body = body_of(sip);
  bool& was_held = side == MediaLeg::a ? c.a_held : c.b_held;
  std::string& ours = side == MediaLeg::a ? c.a_sdp_sent : c.b_sdp_sent;
  const std::string& channel = side == MediaLeg::a ? c.channel : c.engine->channel;
  if (!body.empty()) {
    auto answer = engine_reanswer(c, body, ours);
    if (!answer) {
      log.info("sip: call " + c.id + ": new offer on a leg answered by the media engine refused with 488: " +
               answer.error().message);
      return 488;
    }
    ours = *answer;
    bool held = body.find("a=sendonly") != std::string::npos || body.find("a=inactive") != std::string::npos;
    if (held != was_held) {
      was_held = held;
      backend.leg_held(channel, held);
      hold_changed(c, MediaLeg::a, held);
    }
  }
  bool sdp = !body.empty() || method == sip_method_invite;
  std::string timer = timer_headers(timer_of(c, side));
  nta_incoming_treply(irq, SIP_200_OK, SIPTAG_CONTACT(contact_toward(peer)), SIPTAG_ALLOW_STR(kAllow),
                      SIPTAG_SUPPORTED_STR(kSupported), TAG_IF(!timer.empty(), SIPTAG_HEADER_STR(timer.c_str())),
                      TAG_IF(sdp, SIPTAG_CONTENT_TYPE_STR("application/sdp")),
                      TAG_IF(sdp, SIPTAG_PAYLOAD_STR(ours.c_str())), TAG_END());
  if (method == sip_method_invite && body.empty()) {
    // A re-INVITE without SDP got our offer: its ACK, which sofia hands to
    // the transaction, brings the answer (on_engine_ack).
    if (c.engine_ack_irq) nta_incoming_destroy(c.engine_ack_irq);
    c.engine_ack_irq = irq;
    c.engine_ack_awaits = side;
    nta_incoming_bind(irq, &Impl::on_engine_ack, &c);
  } else {
    nta_incoming_destroy(irq);
  }
  arm_session_timer(c, side);
  return 0;
}

sdk::Result<std::string> SipStack::Impl::engine_reanswer(Call& c, const std::string& offer_text,
                                                         const std::string& previous) {
  auto offer = parse_sdp(offer_text);
  if (!offer) return sdk::Error::invalid("bad SDP offer: " + offer.error().message);
  auto& m = *c.engine;
  if (const SdpMedia* image = t38_stream(*offer)) {
    // A fax gateway moves the call to T.38: the endpoint's port carries
    // UDPTL from now on (a running call:receive_fax goes on over it).
    auto peer = t38_offer(*offer, *image);
    auto answer = t38_answer(peer);
    peer.version = answer.version;
    peer.max_bitrate = answer.max_bitrate;
    if (!m.endpoint->use_t38(peer)) return sdk::Error::unsupported("T.38: this media engine has no T.38");
    c.t38_offered = true;  // moved by the caller: Dialtone offers it no more
    std::string address = m.endpoint->local_address();
    if (address == "0.0.0.0" || address == "::" || address.empty()) address = cfg.host;
    std::string sdp = t38_answer_sdp(*offer, image, answer, address, m.endpoint->local_port());
    same_session(sdp, previous);
    log.info("sip: call " + c.id + ": moved to T.38 (UDPTL to " + peer.remote + ", " +
             std::to_string(answer.max_bitrate) + " bit/s, " + (peer.redundancy ? "redundancy" : "no error correction") +
             ")");
    return sdp;
  }
  auto n = negotiate(*offer, m.engine->codecs());
  if (!n) return n.error();
  std::optional<sm::CryptoAttribute> crypto = m.local_crypto ? m.local_crypto : m.offered_crypto;
  if (n->config.srtp_remote.has_value() != crypto.has_value())
    return sdk::Error::unsupported(crypto ? "an RTP/AVP offer on a call protected with SRTP"
                                          : "an RTP/SAVP offer on a call without SRTP");
  n->config.srtp_local = crypto;
  // A held party's address (0.0.0.0, port 0) is not where to send: keep the last.
  if (auto addr = audio_address(*offer); !addr || addr->rtp_port <= 0 || addr->ip == "0.0.0.0")
    n->config.remote.clear();
  std::string address = m.endpoint->local_address();
  if (address == "0.0.0.0" || address == "::" || address.empty()) address = cfg.host;
  std::string sdp = answer_sdp(*offer, *n, address, m.endpoint->local_port(), crypto);
  // The answer mirrors the offer's direction (RFC 3264 6.1).
  const SdpMedia* audio = offer->audio();
  auto has = [&](const char* line) {
    return audio && std::find(audio->lines.begin(), audio->lines.end(), line) != audio->lines.end();
  };
  const char* direction = has("a=sendonly") ? "a=recvonly" : has("a=inactive") ? "a=inactive"
                          : has("a=recvonly") ? "a=sendonly" : nullptr;
  if (!direction && offer_text.find("a=sendonly") != std::string::npos) direction = "a=recvonly";
  if (!direction && offer_text.find("a=inactive") != std::string::npos) direction = "a=inactive";
  if (direction)
    if (auto at = sdp.find("a=sendrecv"); at != std::string::npos) sdp.replace(at, 10, direction);
  same_session(sdp, previous);
  m.endpoint->apply_answer(std::move(n->config));
  return sdp;
}

bool SipStack::Impl::engine_script_done(Call& c) {
  routed(c);
  if (c.state != Call::State::answered || c.engine->peer != 0) return false;
  // Linked by the call core to another backend's leg (a span's call): the
  // call goes on until either side hangs up (calls.channel.unbridged).
  if (backend.leg_linked(c.channel)) {
    c.engine->script_done = true;
    return false;
  }
  // The dialplan ended with the caller talking to the engine alone: as an
  // Asterisk dialplan that runs out of priorities, the call is hung up.
  engine_hangup(c);
  return true;
}

void SipStack::Impl::engine_hangup(Call& c) {
  if (c.state != Call::State::answered) return;
  c.state = Call::State::ending;
  send_bye(c, c.originated ? (c.winner ? c.winner->leg : nullptr) : c.a_leg);
  backend.call_event(c.id, "ended", 200);
  c.ended_status = 200;
  maybe_finish(c);
}

void SipStack::Impl::engine_bridge(const std::string& call_a, const std::string& call_b,
                                   std::shared_ptr<sm::Mixer> mixer) {
  auto find = [&](const std::string& id) -> Call* {
    auto it = call_ids.find(id);
    Call* c = it == call_ids.end() ? nullptr : find_call(it->second);
    return c && c->engine && c->state == Call::State::answered ? c : nullptr;
  };
  Call* a = find(call_a);
  Call* b = find(call_b);
  if (!a || !b) {
    // One ended meanwhile: the other hears nothing more from the mixer.
    if (a) mixer->remove(a->engine->endpoint);
    if (b) mixer->remove(b->engine->endpoint);
    return;
  }
  a->engine->mixer = mixer;
  b->engine->mixer = mixer;
  a->engine->peer = b->serial;
  b->engine->peer = a->serial;
}

void SipStack::Impl::engine_release(Call& c) {
  drop_t38(c);
  engine_leg_over(c);
  auto media = std::move(c.engine);
  c.engine.reset();
  if (media->mixer) media->mixer->remove(media->endpoint);
  if (!media->channel.empty() && (!c.originated || media->attached)) media->engine->detach_channel(media->channel);
  if (media->peer)
    if (Call* peer = find_call(media->peer); peer && peer->engine && peer->engine->peer == c.serial) {
      peer->engine->peer = 0;
      if (peer->engine->mixer) peer->engine->mixer->remove(peer->engine->endpoint);
      peer->engine->mixer.reset();
      // The bridge ends with either party, as a B2BUA call does; a leg that
      // only gave early media leaves the caller to its dialplan.
      if (media->connected) engine_hangup(*peer);
    }
}

}  // namespace dialtone::plugins::backend::sip
