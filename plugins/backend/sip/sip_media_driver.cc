// The channel driver's media side: answering a SIP caller with its media in
// the media engine, sending it DTMF, and bridging two such callers through
// an engine mixer (the dialplan joined two legs it set up separately).
#include <dialtone/services.h>

#include "plugins/backend/sip/sip_channel_driver.h"

namespace dialtone::plugins::backend::sip {

namespace {
sdk::Error no_engine() {
  return sdk::Error::unavailable("sip: answering needs the media engine: load the media.engine plugin "
                                 "(plugins.d) so the call's media can end in Dialtone");
}
}  // namespace

sdk::Status SipChannelDriver::engine_caller(const sdk::Channel& channel, const char* refusal,
                                            void (SipStack::*act)(const std::string&, const std::string&,
                                                                  std::shared_ptr<sdk::media::MediaEngine>)) {
  if (channel.direction != sdk::ChannelDirection::inbound) return sdk::Error::unsupported(refusal);
  if (channel.state == sdk::ChannelState::up) return {};
  auto engine = engine_ ? engine_() : nullptr;
  if (!engine) return no_engine();
  return with_stack([&](SipStack& stack) {
    (stack.*act)(channel.backend_ref, channel.id, std::move(engine));
    return sdk::Status{};
  });
}

sdk::Status SipChannelDriver::answer(const sdk::Channel& channel) {
  return engine_caller(channel, "sip: only a caller's leg is answered (a callee's answers itself)", &SipStack::answer);
}

sdk::Status SipChannelDriver::progress(const sdk::Channel& channel) {
  return engine_caller(channel, "sip: only a caller's leg gets early media (a callee sends its own)",
                       &SipStack::early_media);
}

sdk::Status SipChannelDriver::send_dtmf(const sdk::Channel& channel, const std::string& digits) {
  auto engine = engine_ ? engine_() : nullptr;
  auto ep = engine ? engine->channel_endpoint(channel.id) : nullptr;
  if (!ep)
    return sdk::Error::unsupported("sip: DTMF is sent on calls answered by Dialtone (call:answer()); "
                                   "channel " + channel.id + " relays its media");
  // RFC 4733 events when the phone offered telephone-event, else in-band tones.
  ep->send_dtmf(digits);
  return {};
}

sdk::Status SipChannelDriver::bridge(const sdk::Channel& a, const sdk::Channel& b, sdk::MediaPath) {
  auto engine = engine_ ? engine_() : nullptr;
  if (!engine) return no_engine();
  auto ea = engine->channel_endpoint(a.id);
  auto eb = engine->channel_endpoint(b.id);
  if (!ea || !eb)
    return sdk::Error::unsupported("sip: call:bridge joins two calls answered by Dialtone (call:answer() "
                                   "on both first); channel " + (ea ? b.id : a.id) + " is not");
  // Two members: the mixer transcodes between their codecs, each hears the
  // other. What played to either (a parked call's music) stops: they talk now.
  ea->stop_playing();
  eb->stop_playing();
  auto mixer = engine->create_mixer();
  mixer->add(ea);
  mixer->add(eb);
  return with_stack([&](SipStack& stack) {
    stack.bridge_engine(a.backend_ref, b.backend_ref, mixer);
    return sdk::Status{};
  });
}

}  // namespace dialtone::plugins::backend::sip
