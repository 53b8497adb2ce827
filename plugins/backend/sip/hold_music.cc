// Music on hold for a party put on hold (RFC 6337: its peer re-offers
// sendonly or inactive media). The hold re-INVITE still reaches the held
// phone, so it shows the call as held; what it hears comes from the media
// engine until the resume:
// - a relayed call: an engine endpoint plays the class into a feed port of
//   the call's relay session, which sends it from the port the held phone
//   already talks to (no re-INVITE toward it, NAT latching kept), in place of
//   what the holder sends;
// - a call bridged in the engine (two callers answered by the dialplan): the
//   held party's endpoint plays the music over the mixer's audio.
// The class is the backend's choice (SipPlugin::hold_music_class).
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
  auto feed = c.media->start_feed(to);
  if (!feed) {
    log.info("sip: call " + c.id + " held without music on hold: " + feed.error().message);
    return;
  }
  auto codec = sm::codec_from_name(feed->encoding);
  if (!codec || *codec == sm::Codec::opus) {
    c.media->end_feed(to);
    log.info("sip: call " + c.id + " held without music on hold: the engine does not encode " + feed->encoding);
    return;
  }
  sm::EndpointConfig cfg;
  cfg.formats = {{*codec, static_cast<std::uint8_t>(feed->payload_type)}};
  cfg.telephone_event_pt = 0;
  cfg.detect_inband_dtmf = false;
  cfg.latch = false;  // it only sends, to the relay
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

void SipStack::Impl::end_hold_music(Call& c) {
  for (int l = 0; l < 2; ++l) {
    if (!c.hold_music[l]) continue;
    c.hold_music[l].reset();
    if (c.media) c.media->end_feed(static_cast<MediaLeg>(l));
  }
}

}  // namespace dialtone::plugins::backend::sip
