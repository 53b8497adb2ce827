// Music on hold for a party put on hold (RFC 6337: its peer re-offers
// sendonly or inactive media). The hold re-INVITE still reaches the held
// phone, so it shows the call as held; what it hears comes from the media
// engine until the resume:
// - a relayed call: an engine endpoint plays the class into a feed port of
//   the call's relay session, which sends it from the port the held phone
//   already talks to (no re-INVITE toward it, NAT latching kept), in place of
//   what the holder sends;
// - SRTP relayed end to end: the same, the music protected with the key the
//   held phone decrypts the holder with (CallMedia::start_feed);
// - direct media (the phones send to each other): once the hold is answered,
//   the held phone is re-INVITEd (sendonly) toward an engine endpoint playing
//   the class; the holder's resume, relayed to it, points it back at the
//   holder (its o= version raised past ours, Call::sdp_raised);
// - a call bridged in the engine (two callers answered by the dialplan): the
//   held party's endpoint plays the music over the mixer's audio.
// The class is the backend's choice (SipPlugin::hold_music_class).
#include <sstream>

#include "plugins/backend/sip/engine_media.h"
#include "plugins/backend/sip/stack_impl.h"

namespace dialtone::plugins::backend::sip {

namespace sm = sdk::media;

namespace {
MediaLeg other(MediaLeg leg) { return leg == MediaLeg::a ? MediaLeg::b : MediaLeg::a; }
}  // namespace

void SipStack::Impl::hold_changed(Call& c, MediaLeg holder, bool held) {
  if (c.engine) {
    // Engine-bridged: the peer call's endpoint plays over the mixer.
    Call* peer = c.engine->peer ? find_call(c.engine->peer) : nullptr;
    if (!peer || !peer->engine) return;
    if (held) {
      auto cls = backend.hold_music_class(c.engine->channel, peer->engine->channel);
      log.info("sip: call " + c.id + " holds call " + peer->id + ": music on hold class '" + cls + "'");
      peer->engine->endpoint->play_music(cls);
    } else {
      peer->engine->endpoint->stop_playing();
    }
    return;
  }
  MediaLeg to = other(holder);
  auto& music = c.hold_music[static_cast<int>(to)];
  if (!held) {
    if (!music) return;
    music.reset();  // closes the engine endpoint: nothing more is fed
    if (c.media) c.media->end_feed(to);
    return;
  }
  if (music || !c.media || !c.winner) return;
  auto engine = backend.media_engine();
  if (!engine) {
    log.debug("sip: call " + c.id + " held: no media engine loaded, the held party hears silence");
    return;
  }
  if (c.media->direct()) {
    // After the hold's transaction: its answer relayed, its ACK sent.
    later([this, serial = c.serial, holder, engine] {
      if (Call* call = find_call(serial)) move_held_to_engine(*call, holder, engine);
    });
    return;
  }
  auto feed = c.media->start_feed(to);
  if (!feed) {
    log.info("sip: call " + c.id + " held without music on hold: " + feed.error().message);
    return;
  }
  auto codec = sm::codec_from_name(feed->encoding);
  if (!codec) {
    c.media->end_feed(to);
    log.info("sip: call " + c.id + " held without music on hold: the engine does not encode " + feed->encoding);
    return;
  }
  sm::EndpointConfig cfg;
  cfg.formats = {{*codec, static_cast<std::uint8_t>(feed->payload_type)}};
  cfg.telephone_event_pt = 0;
  cfg.detect_inband_dtmf = false;
  cfg.latch = false;  // it only sends, to the relay
  cfg.srtp_local = feed->srtp_send;
  cfg.srtp_remote = feed->srtp_recv;
  cfg.remote = (feed->address.find(':') != std::string::npos ? "[" + feed->address + "]" : feed->address) + ":" +
               std::to_string(feed->port);
  auto ep = engine->create_endpoint(cfg);
  if (!ep) {
    c.media->end_feed(to);
    log.warn("sip: call " + c.id + " held without music on hold: no media engine endpoint: " + ep.error().message);
    return;
  }
  const std::string& holder_leg = holder == MediaLeg::a ? c.channel : c.winner->channel;
  const std::string& held_leg = holder == MediaLeg::a ? c.winner->channel : c.channel;
  auto cls = backend.hold_music_class(holder_leg, held_leg);
  log.info("sip: call " + c.id + ": " + (holder == MediaLeg::a ? "caller" : "callee") +
           " holds; music on hold class '" + cls + "' to the other party");
  (*ep)->play_music(cls);
  music = std::move(*ep);
}

namespace {

// The first audio codec of `m` the engine plays music in, with its payload type.
std::optional<sm::PayloadFormat> music_format(const SdpMedia& m) {
  for (const auto& pt : m.formats) {
    auto codec = sm::codec_from_name(m.encoding(pt));
    if (codec) return sm::PayloadFormat{*codec, static_cast<std::uint8_t>(std::atoi(pt.c_str()))};
  }
  return std::nullopt;
}

std::string host_port(const std::string& ip, int port) {
  return (ip.find(':') != std::string::npos ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
}

}  // namespace

void SipStack::Impl::move_held_to_engine(Call& c, MediaLeg holder, std::shared_ptr<sm::MediaEngine> engine) {
  MediaLeg held = other(holder);
  bool still_held = holder == MediaLeg::a ? c.a_held : c.b_held;
  nta_leg_t* leg = leg_of(c, held);
  if (!still_held || c.hold_music[static_cast<int>(held)] || c.state != Call::State::answered || !leg) return;
  auto fail = [&](const std::string& why) {
    log.info("sip: call " + c.id + " held without music on hold: direct media: " + why);
  };
  if (c.offer_pending || c.transfer || c.joined_with) return fail("the call is renegotiating its media");
  // The held phone's answer to the hold (relayed to the holder) and the
  // holder's offer as the held phone got it (its o= line goes on).
  auto answer = parse_sdp(sdp_sent_on(c, holder));
  auto offered = parse_sdp(sdp_sent_on(c, held));
  if (!answer || !offered || !answer->audio()) return fail("the hold's SDP cannot be read");
  const SdpMedia& audio = *answer->audio();
  auto format = music_format(audio);
  if (!format) return fail("no codec of the held phone is PCMU, PCMA, G722 or Opus");
  bool srtp = audio.proto == "RTP/SAVP" || audio.proto == "RTP/SAVPF";
  std::optional<sm::CryptoAttribute> ours;
  if (srtp) {
    auto keys = sdes_keys(audio);
    if (keys.empty()) return fail(audio.proto + " without an SDES key of a supported suite");
    ours = engine->new_crypto(1, keys.front().suite);
  }
  std::string origin;
  for (auto& l : offered->session)
    if (l.rfind("o=", 0) == 0) origin = l;
  std::istringstream o(origin.substr(2));
  std::string user, session, version;
  o >> user >> session >> version;
  if (session.empty() || version.empty() || version.find_first_not_of("0123456789") != std::string::npos ||
      version.size() > 18)
    return fail("the held phone's last SDP has no usable o= line");
  sm::EndpointConfig cfg;
  cfg.formats = {*format};
  cfg.telephone_event_pt = 0;
  cfg.detect_inband_dtmf = false;
  cfg.remote = host_port(answer->connection(audio), audio.port);
  auto ep = engine->create_endpoint(cfg);
  if (!ep) return fail("no media engine endpoint: " + ep.error().message);
  // Our offer continues the session the held phone knows (same origin, next version).
  std::string address = (*ep)->local_address();
  std::string family = address.find(':') != std::string::npos ? "IP6" : "IP4";
  std::string pt = std::to_string(format->payload_type);
  std::string sdp = "v=0\r\no=" + user + " " + session + " " + std::to_string(std::stoull(version) + 1) + " IN " +
                    family + " " + address + "\r\ns=-\r\nc=IN " + family + " " + address + "\r\nt=0 0\r\nm=audio " +
                    std::to_string((*ep)->local_port()) + " " + audio.proto + " " + pt + "\r\na=rtpmap:" + pt + " " +
                    sm::rtpmap(format->codec) + "\r\n" + (ours ? "a=crypto:" + ours->to_sdp() + "\r\n" : "") +
                    "a=ptime:20\r\na=sendonly\r\n";
  DialogRequest* d = send_in_dialog(c, leg, sip_method_invite, "INVITE", "application/sdp", sdp);
  if (!d) return fail("the re-INVITE could not be sent");
  ++c.sdp_raised[static_cast<int>(held)];
  d->raw = true;
  d->from = holder;
  c.offer_pending = true;
  const std::string& holder_leg = holder == MediaLeg::a ? c.channel : c.winner->channel;
  const std::string& held_leg = holder == MediaLeg::a ? c.winner->channel : c.channel;
  auto cls = backend.hold_music_class(holder_leg, held_leg);
  d->on_final = [this, serial = c.serial, held, d, endpoint = *ep, ours, cls](int status, const std::string& body) {
    if (status < 300) ack_on(d->to_leg, d->cseq);
    held_moved(serial, held, endpoint, ours, cls, status, body);
  };
}

void SipStack::Impl::held_moved(std::uint64_t serial, MediaLeg held, std::shared_ptr<sm::Endpoint> endpoint,
                                std::optional<sm::CryptoAttribute> ours, const std::string& cls, int status,
                                const std::string& body) {
  Call* c = find_call(serial);
  if (!c || c->state != Call::State::answered) return;
  auto fail = [&](const std::string& why) {
    log.info("sip: call " + c->id + " held without music on hold: direct media: " + why);
  };
  if (status >= 300) return fail("the held phone refused the re-INVITE toward the music (" + std::to_string(status) + ")");
  auto answer = parse_sdp(body);
  const SdpMedia* audio = answer ? answer->audio() : nullptr;
  if (!audio) return fail("the held phone's answer has no audio stream");
  auto format = music_format(*audio);
  if (!format) return fail("the held phone's answer has no codec of the offer");
  sm::EndpointConfig cfg;
  cfg.formats = {*format};
  cfg.telephone_event_pt = 0;
  cfg.detect_inband_dtmf = false;
  cfg.remote = host_port(answer->connection(*audio), audio->port);
  if (ours) {
    for (auto& key : sdes_keys(*audio))
      if (key.suite == ours->suite) cfg.srtp_remote = key;
    if (!cfg.srtp_remote) return fail("the held phone's SRTP answer has no key of the offered suite");
    cfg.srtp_local = ours;
  }
  endpoint->apply_answer(std::move(cfg));
  log.info("sip: call " + c->id + ": the held party moved to the media engine; music on hold class '" + cls + "'");
  endpoint->play_music(cls);
  c->hold_music[static_cast<int>(held)] = std::move(endpoint);
}

void SipStack::Impl::end_hold_music(Call& c) {
  for (int l = 0; l < 2; ++l) {
    if (!c.hold_music[l]) continue;
    c.hold_music[l].reset();
    if (c.media) c.media->end_feed(static_cast<MediaLeg>(l));
  }
}

}  // namespace dialtone::plugins::backend::sip
