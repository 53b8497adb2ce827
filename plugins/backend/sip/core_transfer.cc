// REFERs reported to the call core, which carries them out: its own dial
// through the dialplan and bridge when a leg's media ends in the media
// engine; for parties bridged here, SIP to SIP through the relay, an
// attended transfer has this stack join them (join_parties,
// attended_transfer.cc) and the core tells the transferor and hangs its
// legs up, while a blind one is handed back (carry_refer). The REFER is
// answered 202 here; the transferor's NOTIFYs follow the core's progress.
#include "plugins/backend/sip/stack_impl.h"
#include "plugins/backend/sip/engine_media.h"

#include <dialtone/calls.h>

namespace dialtone::plugins::backend::sip {

LegTransfer SipStack::Impl::refer_report(Call& c, MediaLeg from, const std::string& target,
                                         const std::string& replaces, bool engine) {
  LegTransfer t;
  t.leg_id = engine && from == MediaLeg::b && c.engine ? c.engine->channel : channel_of(c, from);
  t.attended = !replaces.empty();
  t.exten = target;
  t.user = user_of(c, from);
  t.engine = engine;
  if (!replaces.empty()) {
    Home h;
    if (sip_replaces_t* rp = sip_replaces_make(h.get(), replaces.c_str()); rp && rp->rp_call_id)
      t.replaces = rp->rp_call_id;
  }
  // The core's progress reaches the transferor's dialog on the SIP thread,
  // in the order given (the last one, final, before the core's hang-up).
  std::weak_ptr<Inbox> weak = inbox;
  auto serial = c.serial;
  t.progress = [this, weak, serial](int status, bool final) {
    if (auto in = weak.lock())
      in->post([this, serial, status, final] {
        Call* c = find_call(serial);
        if (!c || !c->referrer) return;
        nta_leg_t* leg = c->referrer;
        if (final) c->referrer = nullptr;
        notify_refer(leg, status, phrase_of(status), final, nullptr);
      });
  };
  return t;
}

void SipStack::Impl::refuse_refer(Call& c, nta_leg_t* leg, const sdk::Error& e) {
  int status = sdk::transfer_refusal_status(e);
  log.info("sip: call " + c.id + ": transfer refused with " + std::to_string(status) + ": " + e.message);
  notify_refer(leg, status, phrase_of(status), true, nullptr);
}

void SipStack::carry_refer(const std::string& channel) {
  auto impl = impl_;
  impl->later([impl, channel] { impl->carry_refer(channel); });
}

void SipStack::Impl::carry_refer(const std::string& channel) {
  // The transferor's leg: a caller's channel, or a callee's (the call core's).
  for (auto& [serial, call] : calls) {
    Call& c = *call;
    if (!c.refer_waiting || channel_of(c, c.refer_waiting->from) != channel) continue;
    ReferWaiting r = std::move(*c.refer_waiting);
    c.refer_waiting.reset();
    c.referrer = nullptr;  // carry_refer_now takes the transferor's leg again
    if (c.state != Call::State::answered || !leg_of(c, r.from)) return;  // gone meanwhile: no one to tell
    carry_refer_now(c, r.from, r.target, r.replaces);
    return;
  }
}

int SipStack::Impl::engine_refer(Call& c, MediaLeg side, nta_incoming_t* irq, const sip_t* sip) {
  if (!sip->sip_refer_to || !sip->sip_refer_to->r_url->url_user) return 400;
  if (c.referrer || c.offer_pending) return 491;
  nta_leg_t* leg = leg_of(c, side);
  if (!leg) return 481;
  const url_t* u = sip->sip_refer_to->r_url;
  std::string replaces = replaces_param(u);
  std::string target = str(u->url_user);
  nta_incoming_treply(irq, SIP_202_ACCEPTED, SIPTAG_CONTACT(contact), TAG_END());
  nta_incoming_destroy(irq);
  c.referrer = leg;
  c.referrer_side = side;
  log.info("sip: call " + c.id + ": REFER to " + target + (replaces.empty() ? "" : " with Replaces") +
           " on a leg answered by the media engine, carried out by the call core");
  auto s = backend.leg_transfer_requested(refer_report(c, side, target, replaces, true));
  if (!s) {
    c.referrer = nullptr;
    refuse_refer(c, leg, s.error());
  }
  return 0;
}

void SipStack::unbridge_engine(const std::string& channel) {
  auto impl = impl_;
  impl->later([impl, channel] { impl->unbridge_engine(channel); });
}

void SipStack::Impl::unbridge_engine(const std::string& channel) {
  for (auto& [serial, call] : calls) {
    Call& c = *call;
    if (!c.engine || (c.engine->channel != channel && c.channel != channel)) continue;
    auto& m = *c.engine;
    if (m.mixer) m.mixer->remove(m.endpoint);
    m.mixer.reset();
    if (Call* peer = m.peer ? find_call(m.peer) : nullptr; peer && peer->engine && peer->engine->peer == c.serial) {
      if (peer->engine->mixer) peer->engine->mixer->remove(peer->engine->endpoint);
      peer->engine->mixer.reset();
      peer->engine->peer = 0;
    }
    m.peer = 0;
    return;
  }
}

}  // namespace dialtone::plugins::backend::sip
