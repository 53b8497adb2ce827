// Blind transfer (REFER, RFC 3515): the transfer's call, NOTIFY progress,
// and moving legs between calls.
#include "plugins/backend/sip/stack_impl.h"

#include <dialtone/text.h>

namespace dialtone::plugins::backend::sip {

void SipStack::Impl::notify_refer(nta_leg_t* leg, int status, const std::string& phrase,
                                  bool final, std::function<void()> after) {
  if (!leg) {
    if (after) after();
    return;
  }
  std::string frag = "SIP/2.0 " + std::to_string(status) + " " + phrase + "\r\n";
  std::string state = final ? "terminated;reason=noresource" : "active;expires=60";
  auto* a = new NotifyAfter{std::move(after)};
  nta_outgoing_t* n = nta_outgoing_tcreate(
      leg, &Impl::on_refer_notify_response, a, nullptr, SIP_METHOD_NOTIFY, nullptr,
      SIPTAG_EVENT_STR("refer"), SIPTAG_SUBSCRIPTION_STATE_STR(state.c_str()),
      SIPTAG_CONTACT(contact), SIPTAG_CONTENT_TYPE_STR("message/sipfrag;version=2.0"),
      SIPTAG_PAYLOAD_STR(frag.c_str()), TAG_END());
  if (!n) {
    auto fn = std::move(a->fn);
    delete a;
    if (fn) fn();
  }
}

int SipStack::Impl::on_refer_notify_response(void* magic, nta_outgoing_t* orq, const sip_t* sip) {
  int status = sip && sip->sip_status ? static_cast<int>(sip->sip_status->st_status)
                                      : nta_outgoing_status(orq);
  if (status < 200) return 0;
  auto* a = static_cast<NotifyAfter*>(magic);
  nta_outgoing_destroy(orq);
  auto fn = std::move(a->fn);
  delete a;
  if (fn) fn();
  return 0;
}

nta_leg_t* SipStack::Impl::leg_of(Call& c, MediaLeg side) {
  if (side == MediaLeg::a) return c.a_leg;
  return c.winner ? c.winner->leg : nullptr;
}

std::string SipStack::Impl::channel_of(Call& c, MediaLeg side) {
  if (side == MediaLeg::a) return c.channel;
  return c.winner ? c.winner->channel : std::string();
}

std::string SipStack::Impl::user_of(Call& c, MediaLeg side) {
  if (side == MediaLeg::a) return c.caller_username;
  if (!c.winner || c.winner->target.rfind("sip:", 0) == 0) return {};
  return c.winner->target;
}

const char* SipStack::Impl::phrase_of(int status) {
  const char* p = sip_status_phrase(status);
  return p ? p : "Failed";
}

bool SipStack::Impl::absorbs_bye(Call& c, MediaLeg side) {
  // A blind REFER the call core carries out may not have reached this
  // stack's transfer call yet.
  bool blind_waits = c.refer_waiting && c.refer_waiting->replaces.empty();
  if ((!c.transfer && !c.joined_with && !blind_waits) || c.referrer_side != side) return false;
  c.referrer_gone = true;
  return true;
}

void SipStack::Impl::end_call(Call& c, nta_leg_t* except) {
  if (c.state == Call::State::answered) {
    c.state = Call::State::ending;
    if (c.a_leg && c.a_leg != except) send_bye(c, c.a_leg);
    if (c.winner && c.winner->leg && c.winner->leg != except) send_bye(c, c.winner->leg);
    if (c.ended_status == 0) {
      c.ended_status = 200;
      backend.call_event(c.id, "ended", 200);
    }
  }
  maybe_finish(c);
}

std::unique_ptr<Branch> SipStack::Impl::take_leg(Call& c, MediaLeg side) {
  if (side == MediaLeg::b) {
    auto it = std::find_if(c.branches.begin(), c.branches.end(),
                           [&](const auto& b) { return b.get() == c.winner; });
    if (it == c.branches.end()) return nullptr;
    auto owned = std::move(*it);
    c.branches.erase(it);
    c.winner = nullptr;
    return owned;
  }
  auto br = std::make_unique<Branch>();
  br->call = &c;
  br->leg = c.a_leg;
  br->target = c.caller_username;
  br->counted = !c.caller_username.empty();
  br->final = true;
  br->acked = true;
  br->status = 200;
  br->channel = std::move(c.channel);  // the channel follows its party
  c.channel.clear();
  c.a_leg = nullptr;
  c.caller_username.clear();
  nta_leg_bind(br->leg, &Impl::on_b_request, br.get());
  return br;
}

void SipStack::Impl::relink_channels(Branch* leaving, const std::string& staying,
                                     std::string& arriving, bool end_leaving) {
  if (end_leaving && leaving && !leaving->channel.empty()) {
    backend.leg_event(leaving->channel, LegState::ended, 200, {});
    channel_calls.erase(leaving->channel);
    leaving->channel.clear();
  }
  if (!arriving.empty() && !staying.empty()) {
    backend.leg_event(arriving, LegState::up, 200, staying);
    backend.leg_event(staying, LegState::up, 200, arriving);
  }
}

nta_leg_t* SipStack::Impl::put_leg(Call& c, MediaLeg side, std::unique_ptr<Branch> br, bool end_leaving) {
  br->call = &c;
  br->round = c.round;
  br->final = true;
  if (side == MediaLeg::b) {
    Branch* old = c.winner;
    if (old && old->counted) {
      count_line(old->target, -1);
      old->counted = false;
    }
    c.winner = br.get();
    index_channel(c, br->channel);
    relink_channels(old, c.channel, br->channel, end_leaving);
    c.branches.push_back(std::move(br));
    return old ? old->leg : nullptr;
  }
  auto old = take_leg(c, MediaLeg::a);
  if (old->counted) {
    count_line(old->target, -1);
    old->counted = false;
  }
  c.channel = std::move(br->channel);
  br->channel.clear();
  index_channel(c, c.channel);
  relink_channels(old.get(), c.winner ? c.winner->channel : std::string(), c.channel, end_leaving);
  nta_leg_t* old_leg = old->leg;
  c.branches.push_back(std::move(old));
  // The newcomer is A now: its leg answers to on_a_request and its line
  // count moves to the caller's.
  c.a_leg = br->leg;
  br->leg = nullptr;
  nta_leg_bind(c.a_leg, &Impl::on_a_request, &c);
  if (br->orq) nta_outgoing_destroy(br->orq);
  br->orq = nullptr;
  if (br->counted) c.caller_username = br->target;
  br->counted = false;
  return old_leg;
}

std::string SipStack::Impl::replaces_param(const url_t* u) {
  if (!u->url_headers) return {};
  std::string h = u->url_headers;
  std::size_t pos = 0;
  while (pos < h.size()) {
    auto end = h.find('&', pos);
    if (end == std::string::npos) end = h.size();
    std::string item = h.substr(pos, end - pos);
    auto eq = item.find('=');
    if (eq != std::string::npos && sdk::text::iequals(item.substr(0, eq), "replaces")) {
      std::string v = item.substr(eq + 1);
      std::vector<char> buf(v.size() + 1, '\0');
      url_unescape(buf.data(), v.c_str());
      return buf.data();
    }
    pos = end + 1;
  }
  return {};
}

auto SipStack::Impl::party_by_replaces(const sip_replaces_t* rp) -> std::optional<Party> {
  if (!rp || !rp->rp_call_id) return std::nullopt;
  nta_leg_t* leg = nta_leg_by_replaces(agent, rp);
  Home h;
  if (!leg && rp->rp_to_tag && rp->rp_from_tag) {
    sip_replaces_t* swapped = sip_replaces_format(h.get(), "%s;to-tag=%s;from-tag=%s", rp->rp_call_id,
                                                  rp->rp_from_tag, rp->rp_to_tag);
    if (swapped) leg = nta_leg_by_replaces(agent, swapped);
  }
  if (!leg) return std::nullopt;
  Party p;
  if (auto* c = static_cast<Call*>(nta_leg_magic(leg, &Impl::on_a_request))) {
    p = Party{c, MediaLeg::a};
  } else if (auto* br = static_cast<Branch*>(nta_leg_magic(leg, &Impl::on_b_request))) {
    if (br->call->winner != br) return std::nullopt;
    p = Party{br->call, MediaLeg::b};
  } else {
    return std::nullopt;
  }
  if (p.call->state != Call::State::answered || !p.call->winner || !p.call->a_leg) return std::nullopt;
  return p;
}

int SipStack::Impl::on_refer(Call& c, MediaLeg from, nta_incoming_t* irq, const sip_t* sip) {
  if (!sip->sip_refer_to || !sip->sip_refer_to->r_url->url_user) return 400;
  if (c.transfer || c.joined_with || c.offer_pending || c.refer_waiting) return 491;
  const url_t* u = sip->sip_refer_to->r_url;
  std::string replaces = replaces_param(u);
  std::string target = str(u->url_user);
  nta_incoming_treply(irq, SIP_202_ACCEPTED, SIPTAG_CONTACT(contact), TAG_END());
  nta_incoming_destroy(irq);
  // The call core carries it out (join_parties, route_transfer,
  // replace_channel); only without a core is it carried out here. Its
  // progress goes to the transferor's leg.
  c.refer_waiting = ReferWaiting{from, target, replaces};
  c.referrer = leg_of(c, from);
  c.referrer_side = from;
  c.referrer_gone = false;
  auto s = backend.leg_transfer_requested(refer_report(c, from, target, replaces, false));
  if (s) return 0;
  c.refer_waiting.reset();
  c.referrer = nullptr;
  if (s.error().code == sdk::ErrorCode::unsupported) {
    carry_refer_now(c, from, target, replaces);
    return 0;
  }
  refuse_refer(c, leg_of(c, from), s.error());
  return 0;
}

void SipStack::Impl::carry_refer_now(Call& c, MediaLeg from, const std::string& target,
                                     const std::string& replaces) {
  if (!replaces.empty()) {
    attended_transfer(c, from, replaces);
    return;
  }
  c.referrer = leg_of(c, from);
  c.referrer_side = from;
  c.referrer_gone = false;
  notify_refer(c.referrer, 100, "Trying", false, nullptr);
  start_transfer_call(c, from, target, {}, {});
}

void SipStack::Impl::start_transfer_call(Call& c, MediaLeg from, const std::string& target,
                                         const std::string& context, const std::string& core_channel) {
  MediaLeg rest = other_side(from);
  std::string referrer = user_of(c, from);
  if (referrer.empty() && from == MediaLeg::b) referrer = c.winner->target;

  // C sees the party it gets as the caller.
  std::string number = c.caller_number;
  std::string name = c.caller_name;
  std::string rest_user = user_of(c, rest);
  if (rest == MediaLeg::b) {
    // A line's username, or the user part of a trunk's sip: URI (the number dialed).
    number = c.winner->target;
    if (number.rfind("sip:", 0) == 0) number = number.substr(4, number.find('@') - 4);
    name.clear();
  }
  auto call = std::make_unique<Call>();
  Call* t = call.get();
  t->serial = next_call++;
  t->id = core_channel.empty() ? random_token(16) : core_channel;  // the core knows its leg by its id
  t->from_display = rest == MediaLeg::a ? c.from_display : std::string();
  t->from_user = number;
  t->called = target;
  t->caller_number = number;
  t->caller_name = name;
  t->context = c.context;
  // The transfer's call never anchors: the transferred call's media session carries C.
  t->media = std::make_unique<CallMedia>(relay.get(), cfg.media, true, t->id, &log);
  t->transfer_of = c.serial;
  t->core_transfer = !core_channel.empty();
  t->state = Call::State::routing;
  c.transfer = t->serial;
  call_ids[t->id] = t->serial;
  calls.emplace(t->serial, std::move(call));
  call_count = calls.size();
  log.info("sip: call " + c.id + ": " + (referrer.empty() ? std::string("the caller") : referrer) +
           " transfers " + (rest == MediaLeg::a ? "the caller" : "the callee") + " to " + target);

  // The call core's leg of the transfer's dialing: the dialplan dials from
  // it (call:dial), and the legs it rings join the transferred call.
  t->channel = !core_channel.empty() ? core_channel
                                     : backend.leg_created(LegInfo{t->id, c.channel, true,
                                                                   referrer.empty() ? number : referrer, number,
                                                                   name, target, {}});
  index_channel(*t, t->channel);
  CallInfo info;
  info.id = t->id;
  info.channel = t->channel;
  info.caller_number = number;
  info.caller_name = name;
  info.called_number = target;
  info.context = c.context;
  info.origin = "intern";
  info.variables = {{"XIVO_SRCNUM", info.caller_number},
                    {"XIVO_DSTNUM", target},
                    {"XIVO_CALLORIGIN", "intern"},
                    {"XIVO_TRANSFER", "blind"}};
  std::weak_ptr<Inbox> weak = inbox;
  auto serial = t->serial;
  auto route = [this, weak, serial, context](CallInfo info) {
    if (!context.empty()) info.context = context;
    info.variables["XIVO_CONTEXT"] = info.context;
    Call* t = find_call(serial);
    if (t) {
      t->from_user = info.caller_number;
      t->caller_number = info.caller_number;
      t->caller_name = info.caller_name;
      if (!info.caller_name.empty()) t->from_display = "\"" + info.caller_name + "\"";
    }
    info.variables["XIVO_SRCNUM"] = info.caller_number;
    backend.route_call(info, [this, weak, serial](RouteDecision d) {
      if (auto in = weak.lock()) in->post([this, serial, d = std::move(d)] { on_decision(serial, d); });
    });
  };
  // Routed as the referrer: its context and its user.
  auto as_referrer = [this, route, referrer](CallInfo info) {
    if (referrer.empty() || referrer.rfind("sip:", 0) == 0) {
      route(info);
      return;
    }
    with_credentials(referrer, [info, route, referrer](const std::optional<LineCredentials>& l,
                                                       bool) mutable {
      if (l) {
        info.context = l->context;
        info.caller_username = referrer;
        info.variables["XIVO_USERID"] = l->user_id;
        info.variables["XIVO_LINEID"] = l->line_id;
      }
      route(info);
    });
  };
  if (rest != MediaLeg::b || rest_user.empty()) {
    as_referrer(info);
    return;
  }
  // The callee stays: C is shown its line's number and name.
  with_credentials(rest_user, [info, as_referrer](const std::optional<LineCredentials>& l,
                                                  bool) mutable {
    if (l && !l->caller_number.empty()) info.caller_number = l->caller_number;
    if (l && !l->caller_name.empty()) info.caller_name = l->caller_name;
    as_referrer(info);
  });
}

void SipStack::Impl::transfer_answered(Call& t, Branch& brc, const sip_t* sip) {
  Call* o = find_call(t.transfer_of);
  std::string offer = body_of(sip);
  std::optional<std::string> to_rest;
  if (o && o->state == Call::State::answered && o->transfer == t.serial && !offer.empty()) {
    auto r = o->media->offer(o->referrer_side, offer);
    if (r) to_rest = *r;
    else log.warn("sip: call " + o->id + ": transfer target's SDP not usable: " + r.error().message);
  }
  DialogRequest* d = to_rest ? send_in_dialog(*o, leg_of(*o, other_side(o->referrer_side)),
                                              sip_method_invite, "INVITE", "application/sdp", *to_rest)
                             : nullptr;
  if (!d) {
    drop_transfer_leg(t, brc, 488);
    return;
  }
  d->from = o->referrer_side;
  d->offer = true;
  o->offer_pending = true;
  auto serial = t.serial;
  d->on_final = [this, serial](int status, const std::string& answer) {
    transfer_reinvited(serial, status, answer);
  };
}

void SipStack::Impl::drop_transfer_leg(Call& t, Branch& brc, int status) {
  if (brc.ack_waits) {
    brc.ack_waits = false;
    send_ack(brc);
  }
  send_bye(t, brc.leg);
  t.state = Call::State::ending;
  if (t.ended_status == 0) {
    t.ended_status = status;
    backend.call_event(t.id, "ended", status);
  }
  maybe_finish(t);
}

void SipStack::Impl::transfer_reinvited(std::uint64_t serial, int status,
                                        const std::string& answer) {
  Call* t = find_call(serial);
  if (!t || !t->winner) return;
  Branch& brc = *t->winner;
  Call* o = find_call(t->transfer_of);
  if (!o || o->transfer != serial || status >= 300 || answer.empty()) {
    drop_transfer_leg(*t, brc, status >= 300 ? status : 488);
    return;
  }
  brc.ack_waits = false;
  send_ack(brc, answer);
  std::string target = brc.target;
  auto it = std::find_if(t->branches.begin(), t->branches.end(),
                         [&](const auto& b) { return b.get() == &brc; });
  std::unique_ptr<Branch> owned = std::move(*it);
  t->branches.erase(it);
  t->winner = nullptr;
  if (t->core_transfer) return core_transferred(*t, *o, std::move(owned));
  nta_leg_t* ref = o->referrer;
  // Reported while the transferor's channel is open: put_leg ends it.
  backend.leg_transferred(channel_of(*o, o->referrer_side), false, t->called, owned->channel);
  nta_leg_t* old = put_leg(*o, o->referrer_side, std::move(owned));
  o->transfer = 0;
  o->referrer = nullptr;
  t->transfer_done = true;
  t->state = Call::State::ending;
  maybe_finish(*t);
  log.info("sip: call " + o->id + ": transferred to " + target);
  backend.call_event(o->id, "transferred", 200);
  bool gone = o->referrer_gone;
  o->referrer_gone = false;
  if (gone || !old) return;
  auto oserial = o->serial;
  notify_refer(ref, 200, "OK", true, [this, oserial, old] {
    Call* c = find_call(oserial);
    if (c && !c->finishing) send_bye(*c, old);
  });
}

void SipStack::Impl::transfer_failed(Call& t) {
  Call* o = find_call(t.transfer_of);
  if (!o || o->transfer != t.serial) return;
  o->transfer = 0;
  if (t.core_transfer) return;  // its leg ends: the call core tells the transferor
  int st = t.ended_status >= 300 ? t.ended_status : 480;
  nta_leg_t* ref = o->referrer;
  o->referrer = nullptr;
  log.info("sip: call " + o->id + ": transfer failed with " + std::to_string(st));
  if (o->referrer_gone && o->state == Call::State::answered) {
    o->referrer_gone = false;
    end_call(*o, ref);
    return;
  }
  notify_refer(ref, st, phrase_of(st), true, nullptr);
}

void SipStack::Impl::abandon_transfer(std::uint64_t serial) {
  Call* t = find_call(serial);
  if (!t || t->state == Call::State::ending) return;
  t->transfer_of = 0;
  if (t->state == Call::State::answered && t->winner) {
    drop_transfer_leg(*t, *t->winner, 487);
    return;
  }
  for (auto& b : t->branches)
    if (!b->final && b->orq) nta_outgoing_cancel(b->orq);
  t->state = Call::State::ending;
  end_dials(*t, DialResult{"cancelled", 487});
  maybe_finish(*t);
}

}  // namespace dialtone::plugins::backend::sip
