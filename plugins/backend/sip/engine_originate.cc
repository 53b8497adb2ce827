// Outgoing SIP calls whose media ends in the media engine: the call core
// dials a SIP target for a channel that is not a SIP caller still being
// routed (a call the dialplan answered, a DAHDI span's call, an API
// originate). The INVITE offers an engine endpoint (PCMU, PCMA, G.722,
// telephone-event; SDES SRTP toward a phone registered over TLS or a sips:
// URI); early media or the 2xx answer is applied to it; the leg is attached
// to the engine under its channel id and, when the dialing channel is a SIP
// call of this stack, both endpoints are joined in one mixer. Failures end
// the leg with their SIP status (the call core maps it to Q.850).
#include "plugins/backend/sip/stack_impl.h"

#include <dialtone/text.h>
#include "plugins/backend/sip/engine_media.h"

#include <cstring>

namespace dialtone::plugins::backend::sip {

namespace sm = sdk::media;

namespace {

constexpr std::uint8_t kTelephoneEvent = 101;

// The formats offered, in the engine's preference order: the G.711 pair and
// G.722, with their static payload types (RFC 3551).
std::vector<sm::PayloadFormat> offered_formats(const std::vector<sm::Codec>& supported) {
  std::vector<sm::PayloadFormat> out;
  for (auto c : supported) {
    if (c == sm::Codec::pcmu) out.push_back({c, 0});
    if (c == sm::Codec::pcma) out.push_back({c, 8});
    if (c == sm::Codec::g722) out.push_back({c, 9});
  }
  return out;
}

std::string offer_sdp(const std::string& address, int port, const std::vector<sm::PayloadFormat>& formats,
                      const std::optional<sm::CryptoAttribute>& crypto) {
  std::string family = address.find(':') != std::string::npos ? "IP6" : "IP4";
  std::string session = std::to_string(std::hash<std::string>{}(random_token(12)) % 1000000000u);
  std::string s = "v=0\r\no=dialtone " + session + " " + session + " IN " + family + " " + address +
                  "\r\ns=dialtone\r\nc=IN " + family + " " + address + "\r\nt=0 0\r\nm=audio " +
                  std::to_string(port) + (crypto ? " RTP/SAVP" : " RTP/AVP");
  for (auto& f : formats) s += " " + std::to_string(f.payload_type);
  s += " " + std::to_string(kTelephoneEvent) + "\r\n";
  for (auto& f : formats) s += "a=rtpmap:" + std::to_string(f.payload_type) + " " + sm::rtpmap(f.codec) + "\r\n";
  s += "a=rtpmap:" + std::to_string(kTelephoneEvent) + " telephone-event/8000\r\na=fmtp:" +
       std::to_string(kTelephoneEvent) + " 0-16\r\n";
  if (crypto) s += "a=crypto:" + crypto->to_sdp() + "\r\n";
  s += "a=ptime:20\r\na=sendrecv\r\n";
  return s;
}

// What the answer to our offer keeps; an error says why it cannot be used.
// `crypto`: our SDES key of the offer (an answered call's own, when it offers again).
sdk::Result<sm::EndpointConfig> answer_config(const std::string& text,
                                              const std::optional<sm::CryptoAttribute>& crypto) {
  auto sdp = parse_sdp(text);
  if (!sdp) return sdk::Error::invalid("bad SDP: " + sdp.error().message);
  const SdpMedia* audio = sdp->audio();
  if (!audio) return sdk::Error::unsupported("the answer refused the audio stream (port 0 or none)");
  bool srtp = crypto.has_value();
  if (audio->proto != (srtp ? "RTP/SAVP" : "RTP/AVP"))
    return sdk::Error::unsupported("the answer's audio profile is " + audio->proto + ", the offer's " +
                                   (srtp ? "RTP/SAVP" : "RTP/AVP"));
  sm::EndpointConfig cfg;
  cfg.telephone_event_pt = 0;
  for (const auto& pt : audio->formats) {
    std::string enc = sdk::text::to_lower(audio->encoding(pt));
    int number = std::atoi(pt.c_str());
    if (enc.rfind("telephone-event/8000", 0) == 0) {
      if (!cfg.telephone_event_pt) cfg.telephone_event_pt = static_cast<std::uint8_t>(number);
      continue;
    }
    auto codec = sm::codec_from_name(enc);
    if (!codec || *codec == sm::Codec::opus) continue;
    cfg.formats.push_back({*codec, static_cast<std::uint8_t>(number)});
  }
  if (cfg.formats.empty()) return sdk::Error::unsupported("no codec of the answer is one offered (PCMU, PCMA, G722)");
  std::string ip = sdp->connection(*audio);
  if (ip.empty() || audio->port <= 0) return sdk::Error::invalid("the answer gives no address for its audio");
  cfg.remote = (ip.find(':') != std::string::npos ? "[" + ip + "]" : ip) + ":" + std::to_string(audio->port);
  if (srtp) {
    for (auto& key : sdes_keys(*audio))
      if (key.suite == crypto->suite) {
        cfg.srtp_remote = key;
        break;
      }
    if (!cfg.srtp_remote)
      return sdk::Error::unsupported("the RTP/SAVP answer has no a=crypto line of the offered suite " +
                                     crypto->suite);
    cfg.srtp_local = crypto;
  }
  return cfg;
}

}  // namespace

void SipStack::originate_engine(EngineDial dial, std::shared_ptr<sm::MediaEngine> engine) {
  auto impl = impl_;
  impl->later([impl, dial = std::move(dial), engine = std::move(engine)]() mutable {
    impl->originate_engine(std::move(dial), std::move(engine));
  });
}

void SipStack::end_engine_leg(const std::string& channel) {
  auto impl = impl_;
  impl->later([impl, channel] {
    // Called for every SIP channel the call core unbridges: a lookup, not a
    // walk over every call.
    Call* call = impl->call_of_channel(channel);
    if (!call) return;
    bool leg = call->originated && call->winner && call->winner->channel == channel;
    bool caller = !call->originated && call->engine && call->engine->script_done && call->channel == channel;
    if (leg || caller) impl->engine_hangup(*call);
  });
}

bool SipStack::Impl::wants_srtp(const std::string& target) const {
  auto tls = [](const std::string& s) {
    return s.rfind("sips:", 0) == 0 || sdk::text::to_lower(s).find("transport=tls") != std::string::npos;
  };
  if (target.rfind("sip", 0) == 0 && target.find(':') != std::string::npos) return tls(target);
  auto it = locations.find(target);
  if (it == locations.end()) return false;
  for (auto& b : it->second)
    if (tls(b.contact) || b.received.rfind("tls:", 0) == 0) return true;
  return false;
}

void SipStack::Impl::originate_engine(EngineDial d, std::shared_ptr<sm::MediaEngine> engine) {
  auto fail = [&](int status, const std::string& why) {
    log.warn("sip: leg " + d.channel + " to " + d.target + " not rung (" + std::to_string(status) + "): " + why);
    if (d.ringback) d.ringback->leg_ended();
    backend.leg_event(d.channel, LegState::ended, status, {});
  };
  auto formats = offered_formats(engine->codecs());
  if (formats.empty()) return fail(488, "the media engine has none of PCMU, PCMA, G722");
  sm::EndpointConfig offer;
  offer.formats = formats;
  offer.telephone_event_pt = kTelephoneEvent;
  auto ep = engine->create_endpoint(offer);
  if (!ep) return fail(503, "no media endpoint: " + ep.error().message);

  auto media = std::make_shared<EngineMedia>();
  media->engine = engine;
  media->endpoint = *ep;
  media->origin = d.origin;
  media->join = d.join;
  media->ringback = d.ringback;
  media->connected = false;
  // Attached from the INVITE on: early media and digits are the leg's
  // before the answer too.
  media->channel = d.channel;
  if (!media->channel.empty()) {
    engine->attach_channel(media->channel, media->endpoint);
    media->attached = true;
  }
  if (wants_srtp(d.target)) media->offered_crypto = engine->new_crypto();
  std::string address = (*ep)->local_address();
  if (address == "0.0.0.0" || address == "::" || address.empty()) address = cfg.host;

  auto call = std::make_unique<Call>();
  Call* c = call.get();
  c->serial = next_call++;
  c->id = random_token(16);
  c->originated = true;
  c->from_user = d.caller_number.empty() ? "anonymous" : d.caller_number;
  c->caller_number = d.caller_number;
  c->caller_name = d.caller_name;
  c->called = d.target;
  c->sdp = offer_sdp(address, (*ep)->local_port(), formats, media->offered_crypto);
  c->b_sdp_sent = c->sdp;
  c->content_type = "application/sdp";
  // A caller who asked for privacy stays hidden on the legs dialed for it.
  if (auto it = call_ids.find(d.origin_call); it != call_ids.end())
    if (Call* origin = find_call(it->second)) c->caller_hidden = origin->caller_hidden;
  c->engine = media;
  c->state = Call::State::routing;
  call_ids[c->id] = c->serial;
  calls.emplace(c->serial, std::move(call));
  call_count = calls.size();

  DialRequest req;
  req.targets = {d.target};
  req.target_channels = {d.channel};
  req.caller_number = d.caller_number;
  req.caller_name = d.caller_name;
  req.anonymous = d.anonymous;
  req.auto_answer = d.auto_answer;
  // The call core's timer decides when a dial stops ringing (its outcome is
  // "noanswer"); the stack's own is only there should the core never cancel.
  req.timeout_seconds = d.timeout_seconds + 5;
  if (start_branches(*c, req) == 0) {
    bool trunk = c->trunks_down > 0;
    c->state = Call::State::ending;
    c->ended_status = trunk ? 503 : 480;
    log.warn("sip: leg " + d.channel + " to " + d.target + " not rung (" + std::to_string(c->ended_status) +
             "): " + (trunk ? "its trunk does not answer OPTIONS" : "no reachable registered contact"));
    engine_leg_over(*c);
    backend.leg_event(d.channel, LegState::ended, c->ended_status, {});
    maybe_finish(*c);
  }
}

void SipStack::Impl::engine_leg_over(Call& c) {
  if (!c.engine || !c.engine->ringback) return;
  auto rb = std::move(c.engine->ringback);
  c.engine->ringback.reset();
  rb->leg_ended();
}

sdk::Status SipStack::Impl::engine_apply_answer(Call& c, const sip_t* sip) {
  std::string body = body_of(sip);
  if (body.empty()) {
    if (c.engine->answer_applied) return {};
    return sdk::Error::unsupported("the answer carries no SDP");
  }
  auto cfg = answer_config(body, c.engine->offered_crypto);
  if (!cfg) return cfg.error();
  c.engine->endpoint->apply_answer(std::move(*cfg));
  c.engine->answer_applied = true;
  return {};
}

int SipStack::Impl::on_engine_ack(void* magic, nta_incoming_t* irq, const sip_t* sip) {
  auto* c = static_cast<Call*>(magic);
  Impl* self = current();
  bool ack = sip && sip->sip_request && sip->sip_request->rq_method == sip_method_ack;
  if (sip && !ack) return 0;
  if (ack && c->engine_ack_awaits) self->engine_ack(*c, *c->engine_ack_awaits, sip);
  c->engine_ack_awaits.reset();
  if (c->engine_ack_irq == irq) {
    // Not destroyed inside its own callback: on the loop's next turn.
    c->engine_ack_irq = nullptr;
    self->later([irq] { nta_incoming_destroy(irq); });
  }
  return 0;
}

void SipStack::Impl::engine_ack(Call& c, MediaLeg side, const sip_t* sip) {
  if (!c.engine || c.engine_ack_awaits != side) return;
  c.engine_ack_awaits.reset();
  std::string body = body_of(sip);
  if (body.empty()) {
    log.warn("sip: call " + c.id + ": the ACK to our offer carries no answer; the media stays as it was");
    return;
  }
  auto& m = *c.engine;
  auto cfg = answer_config(body, m.local_crypto ? m.local_crypto : m.offered_crypto);
  if (!cfg) {
    log.warn("sip: call " + c.id + ": the answer in the ACK is not used: " + cfg.error().message);
    return;
  }
  m.endpoint->apply_answer(std::move(*cfg));
}

void SipStack::Impl::engine_progress(Call& c, Branch& br, const sip_t* sip) {
  if (c.state != Call::State::ringing || br.round != c.round) return;
  if (sip && sip->sip_payload && sip->sip_payload->pl_len > 0) {
    // Early media (183 with SDP): the callee's tones or announcements reach
    // the caller instead of our ringback.
    if (auto s = engine_apply_answer(c, sip); !s) {
      log.info("sip: leg " + br.channel + " to " + br.target + ": early media not used: " + s.error().message);
    } else {
      if (c.engine->ringback) c.engine->ringback->stop();
      if (c.engine->join) engine_join_origin(c);
      return;
    }
  }
  if (c.engine->ringback) c.engine->ringback->start();
}

void SipStack::Impl::engine_answered(Call& c, Branch& br, const sip_t* sip) {
  if (auto s = engine_apply_answer(c, sip); !s) {
    // The 2xx was ACKed already: the dialog ends with a BYE and the leg
    // with 488, which the dial reports (Q.850 by RFC 3398).
    log.warn("sip: leg " + br.channel + " to " + br.target + " answered but hung up: " + s.error().message +
             " (the offer was " + (c.engine->offered_crypto ? "RTP/SAVP" : "RTP/AVP") + " PCMU, PCMA, G722)");
    send_bye(c, br.leg);
    c.state = Call::State::ending;
    c.ended_status = 488;
    engine_leg_over(c);
    if (!br.channel.empty()) backend.leg_event(br.channel, LegState::ended, 488, {});
    br.channel.clear();
    maybe_finish(c);
    return;
  }
  auto& m = *c.engine;
  if (m.ringback) m.ringback->stop();
  m.ringback.reset();
  if (m.channel != br.channel) {
    if (m.attached) m.engine->detach_channel(m.channel);
    m.channel = br.channel;
    m.attached = !m.channel.empty();
    if (m.attached) m.engine->attach_channel(m.channel, m.endpoint);
  }
  if (m.join) engine_join_origin(c);
  m.connected = true;
  c.state = Call::State::answered;
  // Session timers (RFC 4028) on the callee's leg, as on relayed calls.
  timer_from_response(c.b_timer, sip);
  arm_session_timer(c, MediaLeg::b);
  backend.call_event(c.id, "answered", 200);
  // The call core links the leg to the channel that dialed.
  backend.leg_event(br.channel, LegState::up, 200, {});
}

void SipStack::Impl::engine_join_origin(Call& c) {
  auto& m = *c.engine;
  if (m.peer) return;
  Call* origin = nullptr;
  for (auto& [serial, other] : calls)
    if (other.get() != &c && other->engine && other->engine->channel == m.origin &&
        other->state == Call::State::answered) {
      origin = other.get();
      break;
    }
  if (!origin) return;
  auto& om = *origin->engine;
  // Another leg's early media had the caller: it moves to this one.
  if (om.mixer) om.mixer->remove(om.endpoint);
  if (om.peer)
    if (Call* before = find_call(om.peer); before && before->engine) {
      before->engine->peer = 0;
      before->engine->mixer.reset();
    }
  om.endpoint->stop_playing();
  auto mixer = m.engine->create_mixer();
  mixer->add(om.endpoint);
  mixer->add(m.endpoint);
  om.mixer = mixer;
  om.peer = c.serial;
  m.mixer = std::move(mixer);
  m.peer = origin->serial;
}

}  // namespace dialtone::plugins::backend::sip
