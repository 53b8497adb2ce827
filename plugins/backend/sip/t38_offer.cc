// T.38 started by Dialtone: a caller answered by the media engine that can
// take T.38 (its line's or trunk's `t38pt_udptl` option, XiVO's SIP
// setting, or an m=image udptl t38 stream in its INVITE) is moved to T.38
// as soon as a fax begins on its endpoint: the engine heard a fax machine's
// calling tone (call:detect_fax) or fax reception started
// (call:receive_fax). Dialtone sends the re-INVITE offering T.38 over UDPTL
// with redundancy; the 2xx moves the endpoint to UDPTL (its T.30 goes on as
// a spandsp T.38 terminal), a refusal leaves the fax on G.711.
#include "plugins/backend/sip/stack_impl.h"

#include "plugins/backend/sip/engine_media.h"
#include "plugins/backend/sip/t38_sdp.h"

namespace dialtone::plugins::backend::sip {

namespace sm = sdk::media;

namespace {

// Our offer: version 0, V.17's 14,400 bit/s, local TCF (as T.38 advises
// over UDP), our largest datagram, redundancy.
sm::T38Options our_t38() {
  sm::T38Options o;
  o.version = 0;
  o.max_bitrate = 14400;
  o.transferred_tcf = false;
  o.max_datagram = 400;
  o.redundancy = true;
  return o;
}

}  // namespace

void SipStack::Impl::listen_for_fax(Call& c) {
  if (!c.t38_capable || !c.engine || c.engine->channel.empty() || c.fax_listener) return;
  std::weak_ptr<Inbox> weak = inbox;
  auto serial = c.serial;
  // On the engine's event thread: only the SIP thread touches the call.
  c.fax_listener = c.engine->engine->listen(c.engine->channel, [this, weak, serial](const sm::MediaEvent& e) {
    if (e.type != sm::EventType::fax_tone && e.type != sm::EventType::fax_started) return;
    if (e.type == sm::EventType::fax_tone && e.detail == "t38") return;  // the caller moved it already
    if (auto in = weak.lock())
      in->post([this, serial] {
        if (Call* c = find_call(serial)) offer_t38(*c);
      });
  });
}

void SipStack::Impl::offer_t38(Call& c) {
  if (c.t38_offered || !c.engine || !c.a_leg || c.state != Call::State::answered || c.finishing) return;
  if (c.offer_pending) {
    // An offer of the caller's (a gateway moving the call to T.38 itself) is
    // in flight: its own move wins.
    log.info("sip: call " + c.id + ": fax started while an offer is in flight; not offering T.38");
    return;
  }
  c.t38_offered = true;
  std::string address = c.engine->endpoint->local_address();
  if (address == "0.0.0.0" || address == "::" || address.empty()) address = cfg.host;
  std::string family = address.find(':') != std::string::npos ? "IP6" : "IP4";
  std::string sdp = "v=0\r\no=dialtone 1 1 IN " + family + " " + address + "\r\ns=dialtone\r\nc=IN " + family + " " +
                    address + "\r\nt=0 0\r\n" + t38_answer_lines(our_t38(), c.engine->endpoint->local_port());
  same_session(sdp, c.a_sdp_sent);
  auto [peer, uri] = leg_peer(c, c.a_leg);
  std::string via = via_toward(peer, uri);
  c.t38_orq = nta_outgoing_tcreate(
      c.a_leg, &Impl::on_t38_response, &c, nullptr, sip_method_invite,
      "INVITE", nullptr, SIPTAG_CONTACT(contact_toward(peer)), SIPTAG_USER_AGENT_STR(cfg.user_agent.c_str()),
      TAG_IF(!via.empty(), NTATAG_USER_VIA(1)), TAG_IF(!via.empty(), SIPTAG_VIA_STR(via.c_str())),
      SIPTAG_SUPPORTED_STR(kSupported), SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(sdp.c_str()),
      TAG_END());
  if (!c.t38_orq) {
    log.warn("sip: call " + c.id + ": the re-INVITE offering T.38 could not be sent; the fax goes on over G.711");
    return;
  }
  c.offer_pending = true;
  c.a_sdp_sent = sdp;  // what a session refresh offers again once T.38 is up
  log.info("sip: call " + c.id + ": a fax began; offering T.38 to the caller");
}

int SipStack::Impl::on_t38_response(void* magic, nta_outgoing_t* orq, const sip_t* sip) {
  auto* c = static_cast<Call*>(magic);
  int status = sip && sip->sip_status ? static_cast<int>(sip->sip_status->st_status) : nta_outgoing_status(orq);
  if (status < 200 || c->t38_orq != orq) return 0;
  Impl* self = current();
  if (auto* again = self->answer_challenge(orq, sip, &Impl::on_t38_response, c)) {
    c->t38_orq = again;
    return 0;
  }
  c->t38_orq = nullptr;
  c->offer_pending = false;
  if (status < 300 && sip && sip->sip_cseq && c->a_leg) self->ack_on(c->a_leg, sip->sip_cseq->cs_seq);
  self->later([orq] { nta_outgoing_destroy(orq); });
  if (!c->engine || c->state != Call::State::answered) return 0;
  auto keep_audio = [&](const std::string& why) {
    self->log.info("sip: call " + c->id + ": the caller " + why + "; the fax goes on over G.711");
  };
  if (status >= 300) {
    keep_audio("refused T.38 (" + std::to_string(status) + ")");
    return 0;
  }
  auto answer = parse_sdp(body_of(sip));
  const SdpMedia* image = answer ? t38_stream(*answer) : nullptr;
  if (!image) {
    keep_audio("answered without a T.38 stream");
    return 0;
  }
  auto ours = our_t38();
  auto peer = t38_offer(*answer, *image);
  peer.version = std::min(peer.version, ours.version);
  peer.max_bitrate = std::min(peer.max_bitrate, ours.max_bitrate);
  if (!c->engine->endpoint->use_t38(peer)) {
    keep_audio("took T.38 but this media engine has none");
    return 0;
  }
  self->log.info("sip: call " + c->id + ": moved to T.38 by Dialtone (UDPTL to " + peer.remote + ", " +
                 std::to_string(peer.max_bitrate) + " bit/s, " +
                 (peer.redundancy ? "redundancy" : "no error correction") + ")");
  return 0;
}

void SipStack::Impl::drop_t38(Call& c) {
  if (c.fax_listener && c.engine && !c.engine->channel.empty())
    c.engine->engine->unlisten(c.engine->channel, c.fax_listener);
  c.fax_listener = 0;
  if (c.t38_orq) nta_outgoing_destroy(c.t38_orq);
  c.t38_orq = nullptr;
}

}  // namespace dialtone::plugins::backend::sip
