// The B2BUA: an INVITE becomes a call routed by the dialplan, whose dial
// rings B branches; answers, ACK, CANCEL, BYE and the release of a call.
#include "plugins/backend/sip/auto_answer.h"
#include "plugins/backend/sip/stack_impl.h"
#include "plugins/backend/sip/engine_media.h"

namespace dialtone::plugins::backend::sip {

int SipStack::Impl::on_invite(nta_incoming_t* irq, const sip_t* sip) {
  if (!sip->sip_from || !sip->sip_to || !sip->sip_request) return 400;
  if (refuse_invite(irq, sip)) return 0;
  Source src = source_of(irq);
  with_trunks([this, irq, sip, src] {
    // A peer trunk is recognized by its address and needs no digest.
    for (auto& t : trunks) {
      if (!from_trunk(t, src)) continue;
      LineCredentials line;
      line.username = t.name;
      line.context = t.context;
      start_call(irq, sip, line, &t);
      return;
    }
    authenticate(irq, sip, true, "INVITE",
                 [this, sip](nta_incoming_t* irq, const LineCredentials& line) {
                   start_call(irq, sip, line, nullptr);
                 });
  });
  return 0;
}

void SipStack::Impl::with_trunks(std::function<void()> next) {
  auto now = mono_ms();
  if (trunks_fetched_ms >= 0 && now - trunks_fetched_ms < cfg.credential_cache.count() * 1000) {
    next();
    return;
  }
  trunk_waiters.push_back(std::move(next));
  if (trunk_waiters.size() > 1) return;
  std::weak_ptr<Inbox> weak = inbox;
  backend.find_trunks([this, weak](std::vector<TrunkInfo> list, bool ok) {
    if (auto in = weak.lock())
      in->post([this, list = std::move(list), ok] {
        if (ok) {
          trunks = list;
          trunks_fetched_ms = mono_ms();
          trunks_known = true;
          sync_trunk_qualify();
        }
        auto waiters = std::move(trunk_waiters);
        trunk_waiters.clear();
        for (auto& w : waiters) w();
      });
  });
}

void SipStack::Impl::count_line(const std::string& user, int delta) {
  if (user.empty()) return;
  std::lock_guard<std::mutex> lock(lines_mutex);
  auto& n = line_calls[user];
  n += delta;
  if (n <= 0) line_calls.erase(user);
}

void SipStack::Impl::start_call(nta_incoming_t* irq, const sip_t* sip, const LineCredentials& line,
                                const TrunkInfo* trunk, const std::string& pickup_channel) {
  auto call = std::make_unique<Call>();
  Call* c = call.get();
  c->serial = next_call++;
  c->id = random_token(16);
  c->a_irq = irq;
  c->from_display = str(sip->sip_from->a_display);
  c->from_user = str(sip->sip_from->a_url->url_user);
  c->called = str(sip->sip_request->rq_url->url_user);
  if (trunk) {
    // Seed 5.19.7: a trusted trunk's asserted identity names the caller;
    // Privacy hides the caller from the phones whatever the trust.
    HeaderList headers;
    for (const sip_unknown_t* u = sip->sip_unknown; u; u = u->un_next)
      headers.emplace_back(str(u->un_name), str(u->un_value));
    // Privacy is one of sofia's own headers (the identity ones are not).
    if (sip->sip_privacy && sip->sip_privacy->priv_values)
      for (auto* v = sip->sip_privacy->priv_values; *v; ++v) headers.emplace_back("Privacy", *v);
    c->caller_hidden = caller_hidden(headers);
    if (trunk->trust_id)
      if (auto asserted = asserted_caller(headers)) {
        c->from_user = asserted->number;
        if (!asserted->name.empty()) c->from_display = asserted->name;
      }
  }
  caller_extensions(*c, sip);
  c->t38_capable = line.t38 || (trunk && trunk->t38);
  if (sip->sip_payload && sip->sip_payload->pl_data)
    c->sdp.assign(sip->sip_payload->pl_data, sip->sip_payload->pl_len);
  if (sip->sip_content_type) c->content_type = str(sip->sip_content_type->c_type);
  c->media = std::make_unique<CallMedia>(relay.get(), cfg.media,
                                         line.direct_media.value_or(cfg.media.direct_media),
                                         c->id, &log);
  if (!c->sdp.empty()) {
    auto offer = c->media->offer(MediaLeg::a, c->sdp);
    // An SRTP offer (RTP/SAVP) the relay cannot carry (no codec in common)
    // the media engine may still answer: the call goes to the dialplan, and
    // only a dial refuses it.
    bool srtp_only = !offer && offer.error().code == sdk::ErrorCode::unsupported &&
                     c->sdp.find("RTP/SAVP") != std::string::npos;
    if (srtp_only) {
      c->offer_refused = media_error_status(offer.error());
      c->a_offer = std::move(c->sdp);
      c->sdp.clear();
    } else if (!offer) {
      int st = media_error_status(offer.error());
      log.info("sip: call " + c->id + " refused with " + std::to_string(st) + ": " +
               offer.error().message);
      // No free relay ports is overload too: the caller is told when to retry.
      std::string retry = std::to_string(cfg.retry_after.count());
      nta_incoming_treply(irq, st, sip_status_phrase(st),
                          TAG_IF(st == 503, SIPTAG_RETRY_AFTER_STR(retry.c_str())), TAG_END());
      nta_incoming_destroy(irq);
      return;
    } else {
      c->a_offer = std::move(c->sdp);
      c->sdp = *offer;
    }
  }

  c->a_leg = nta_leg_tcreate(agent, &Impl::on_a_request, c, SIPTAG_CALL_ID(sip->sip_call_id),
                             SIPTAG_FROM(sip->sip_to), SIPTAG_TO(sip->sip_from), TAG_END());
  if (!c->a_leg) {
    reply(irq, SIP_500_INTERNAL_SERVER_ERROR);
    return;
  }
  nta_leg_tag(c->a_leg, nullptr);
  {
    // A phone behind NAT is reached where its INVITE came from; a trunk's
    // Contact is taken as it is.
    Home h;
    Source src = source_of(irq);
    c->a_peer = src.ip;
    c->a_peer_uri = "sip:" + src.ip + (src.transport == "udp" ? "" : ";transport=" + src.transport);
    std::string received = !trunk && behind_nat(line.nat, sip, src) ? src.text() : "";
    nta_leg_server_route(c->a_leg, sip->sip_record_route,
                         reachable_contact(h.get(), sip->sip_contact, sip->sip_record_route, received));
  }
  nta_incoming_tag(irq, nta_leg_get_tag(c->a_leg));
  nta_incoming_bind(irq, &Impl::on_a_ack_cancel, c);
  nta_incoming_treply(irq, SIP_100_TRYING, TAG_END());

  CallInfo info;
  info.id = c->id;
  info.caller_username = line.username;
  info.caller_number = line.caller_number.empty() ? c->from_user : line.caller_number;
  info.caller_name = line.caller_name.empty() ? c->from_display : line.caller_name;
  if (info.caller_name.size() >= 2 && info.caller_name.front() == '"' && info.caller_name.back() == '"')
    info.caller_name = info.caller_name.substr(1, info.caller_name.size() - 2);
  info.called_number = c->called;
  info.context = line.context;
  info.origin = trunk ? "extern" : "intern";
  info.variables = {{"XIVO_SRCNUM", info.caller_number},
                    {"XIVO_DSTNUM", info.called_number},
                    {"XIVO_CONTEXT", info.context},
                    {"XIVO_CALLORIGIN", info.origin},
                    {"XIVO_USERID", line.user_id},
                    {"XIVO_LINEID", line.line_id},
                    {"SIP_SOURCE_IP", source_of(irq).ip}};
  if (trunk) info.variables["XIVO_TRUNKID"] = trunk->id;
  if (!pickup_channel.empty()) info.variables["PICKUP_CHANNEL"] = pickup_channel;
  c->caller_number = info.caller_number;
  c->caller_name = info.caller_name;
  c->context = info.context;
  if (!trunk) {
    c->caller_username = line.username;
    count_line(c->caller_username, 1);
  }
  c->state = Call::State::routing;
  c->awaits_route = true;
  ++awaiting_route;
  call_ids[c->id] = c->serial;
  calls.emplace(c->serial, std::move(call));
  call_count = calls.size();
  c->channel = backend.leg_created(LegInfo{c->id, {}, true, trunk ? trunk->name : line.username,
                                           info.caller_number, info.caller_name, c->called,
                                           sip->sip_call_id ? str(sip->sip_call_id->i_id) : std::string()});
  index_channel(*c, c->channel);
  info.channel = c->channel;

  std::weak_ptr<Inbox> weak = inbox;
  auto serial = c->serial;
  backend.route_call(info, [this, weak, serial](RouteDecision d) {
    if (auto in = weak.lock()) in->post([this, serial, d = std::move(d)] { on_decision(serial, d); });
  });
}

std::string SipStack::Impl::ringing_branch(const sip_replaces_t* rp) {
  std::string call_id = str(rp->rp_call_id);
  std::string to = str(rp->rp_to_tag), from = str(rp->rp_from_tag);
  for (auto& [serial, c] : calls) {
    if (c->state != Call::State::ringing) continue;
    for (auto& b : c->branches) {
      if (b->sip_call_id != call_id || b->final || b->cancelled || b->channel.empty()) continue;
      const char* ours_c = nta_leg_get_tag(b->leg);
      std::string ours = ours_c ? ours_c : "";
      bool tags = (to.empty() && from.empty()) || (to == ours && from == b->phone_tag) ||
                  (from == ours && to == b->phone_tag);
      if (tags) return b->channel;
    }
  }
  return {};
}

Call* SipStack::Impl::find_call(std::uint64_t serial) {
  auto it = calls.find(serial);
  return it == calls.end() ? nullptr : it->second.get();
}

namespace {
bool holds_channel(const Call& c, const std::string& channel) {
  if (c.channel == channel) return true;
  for (auto& b : c.branches)
    if (b->channel == channel) return true;
  return false;
}
}  // namespace

void SipStack::Impl::index_channel(const Call& c, const std::string& channel) {
  if (!channel.empty()) channel_calls[channel] = c.serial;
}

Call* SipStack::Impl::call_of_channel(const std::string& channel) {
  if (channel.empty()) return nullptr;
  auto it = channel_calls.find(channel);
  if (it == channel_calls.end()) return nullptr;  // never created here, or its call is gone
  if (Call* c = find_call(it->second); c && holds_channel(*c, channel)) return c;
  // The channel moved to another call (a transfer) without being indexed
  // there: find it once the long way and remember where it is.
  for (auto& [serial, c] : calls)
    if (holds_channel(*c, channel)) {
      it->second = serial;
      return c.get();
    }
  channel_calls.erase(it);
  return nullptr;
}

void SipStack::Impl::unindex_channels(const Call& c) {
  if (!c.channel.empty()) channel_calls.erase(c.channel);
  for (auto& b : c.branches)
    if (!b->channel.empty()) channel_calls.erase(b->channel);
}

void SipStack::Impl::answer_a(Call& c, int status, const char* phrase) {
  if (c.a_irq && nta_incoming_status(c.a_irq) < 200) {
    nta_incoming_treply(c.a_irq, status, phrase, TAG_END());
  }
  if (c.ended_status == 0) {
    c.ended_status = status;
    backend.call_event(c.id, "ended", status);
  }
}

void SipStack::Impl::on_decision(std::uint64_t serial, const RouteDecision& d) {
  Call* c = find_call(serial);
  if (!c) return;
  routed(*c);
  if (c->state == Call::State::ringing && c->dial_done) {
    // The call core ended the dial first (its ring timer, or a target of
    // another backend answered or failed) and the dialplan moved on while
    // the branches still ring: they are cancelled and the decision applies.
    for (auto& b : c->branches)
      if (!b->final && b->orq) nta_outgoing_cancel(b->orq);
    finish_dial(*c, "cancelled", 487);
  }
  if (c->engine && engine_script_done(*c)) return;
  if (c->state != Call::State::routing) {
    maybe_finish(*c);
    return;
  }
  if (d.action == RouteDecision::Action::reject) {
    int status = d.status >= 400 && d.status <= 699 ? d.status : 404;
    const char* phrase = d.reason.empty() ? sip_status_phrase(status) : d.reason.c_str();
    answer_a(*c, status, phrase ? phrase : "Rejected");
    c->state = Call::State::ending;
    maybe_finish(*c);
    return;
  }
  if (d.action == RouteDecision::Action::done) {
    // "done" while nothing was dialed: the script settled nothing.
    answer_a(*c, SIP_500_INTERNAL_SERVER_ERROR);
    c->state = Call::State::ending;
    maybe_finish(*c);
    return;
  }
  DialRequest req;
  req.targets = d.targets;
  req.timeout_seconds = d.timeout_seconds;
  if (c->offer_refused) {
    log.info("sip: call " + c->id + ": its RTP/SAVP offer cannot be relayed to a callee; refused with " +
             std::to_string(c->offer_refused));
    answer_a(*c, c->offer_refused, sip_status_phrase(c->offer_refused));
    c->state = Call::State::ending;
    maybe_finish(*c);
    return;
  }
  if (start_branches(*c, req) == 0) {
    answer_a(*c, SIP_480_TEMPORARILY_UNAVAILABLE);
    c->state = Call::State::ending;
    maybe_finish(*c);
  }
}

std::size_t SipStack::Impl::start_branches(Call& call, const DialRequest& req, int parallel) {
  Call* c = &call;
  if (!parallel) {
    ++c->round;
    c->trunks_down = 0;
  }
  std::string number = req.caller_number.empty() ? c->from_user : req.caller_number;
  std::string display = c->from_display;
  if (!req.caller_name.empty()) {
    std::string name = req.caller_name;
    name.erase(std::remove(name.begin(), name.end(), '"'), name.end());
    display = "\"" + name + "\"";
  }
  std::string from = "<sip:" + number + "@" + cfg.host + ">";
  if (!display.empty()) from = display + " " + from;
  // RFC 3325: a hidden caller's number goes only in P-Asserted-Identity,
  // and only to trunks; a phone sees "Anonymous".
  bool hidden = req.anonymous || c->caller_hidden;
  if (hidden) from = "\"Anonymous\" <sip:anonymous@anonymous.invalid>";
  std::string name = display;
  name.erase(std::remove(name.begin(), name.end(), '"'), name.end());
  std::size_t started = 0;
  for (std::size_t ti = 0; ti < req.targets.size(); ++ti) {
    const std::string& target = req.targets[ti];
    const std::string core_channel = ti < req.target_channels.size() ? req.target_channels[ti] : std::string();
    bool line = target.rfind("sip:", 0) != 0;
    // What a trunk's sendrpid asks for; a hidden caller is asserted to any trunk.
    const TrunkInfo* trunk = line ? nullptr : trunk_of_target(target);
    SendIdentity send = trunk ? trunk->send_identity : SendIdentity::none;
    std::string extra;
    if (hidden && !line) {
      extra = identity_headers(send == SendIdentity::rpid ? send : SendIdentity::pai, "", number, cfg.host, true);
    } else if (!hidden) {
      extra = identity_headers(send, name, number, cfg.host, false);
    }
    std::vector<std::string> uris, agents;
    if (line) {
      auto it = locations.find(target);
      if (it == locations.end()) continue;
      // A contact that stopped answering OPTIONS is not rung.
      for (auto& b : it->second)
        if (!qualify.unreachable(target, b.contact)) {
          uris.push_back(b.contact);
          agents.push_back(b.user_agent);
        }
    } else if (trunk_unreachable(target)) {
      ++c->trunks_down;
    } else {
      uris.push_back(target);
    }
    for (std::size_t ui = 0; ui < uris.size(); ++ui) {
      const std::string& uri = uris[ui];
      std::string headers = extra;
      if (req.auto_answer) {
        if (!headers.empty()) headers += "\r\n";
        headers += auto_answer_headers(ui < agents.size() ? agents[ui] : std::string(), cfg.host);
      }
      auto branch = std::make_unique<Branch>();
      Branch* br = branch.get();
      br->call = c;
      br->target = target;
      br->round = c->round;
      br->dial = parallel;
      std::string to = line ? "<sip:" + target + "@" + cfg.host + ">" : "<" + target + ">";
      std::string call_id = random_token(20) + "@dialtone";
      br->leg = nta_leg_tcreate(agent, &Impl::on_b_request, br, SIPTAG_FROM_STR(from.c_str()),
                                SIPTAG_TO_STR(to.c_str()), SIPTAG_CALL_ID_STR(call_id.c_str()),
                                TAG_END());
      if (!br->leg) continue;
      br->sip_call_id = call_id;
      nta_leg_tag(br->leg, nullptr);
      tport_t* via = line ? connection_for(target, uri) : nullptr;
      std::string hop = line ? nat_next_hop(*br, target, uri) : std::string();
      // Behind NAT, an outside peer is told the external addresses.
      std::string peer = host_of_uri(hop.empty() ? uri : hop);
      std::string sdp = sdp_toward(c->sdp, peer);
      std::string user_via = via_toward(peer, hop.empty() ? uri : hop);
      br->peer = peer;
      br->peer_uri = hop.empty() ? uri : hop;
      br->orq = nta_outgoing_tcreate(
          br->leg, &Impl::on_b_response, br, hop.empty() ? nullptr : URL_STRING_MAKE(hop.c_str()),
          SIP_METHOD_INVITE,
          URL_STRING_MAKE(uri.c_str()), TAG_IF(via, NTATAG_TPORT(via)),
          SIPTAG_CONTACT(contact_toward(peer)), TAG_IF(!user_via.empty(), NTATAG_USER_VIA(1)),
          TAG_IF(!user_via.empty(), SIPTAG_VIA_STR(user_via.c_str())),
          SIPTAG_USER_AGENT_STR(cfg.user_agent.c_str()),
          SIPTAG_SUPPORTED_STR(kSupported), SIPTAG_ALLOW_STR(kAllow),
          TAG_IF(!headers.empty(), SIPTAG_HEADER_STR(headers.c_str())),
          TAG_IF(!c->content_type.empty(), SIPTAG_CONTENT_TYPE_STR(c->content_type.c_str())),
          TAG_IF(!sdp.empty(), SIPTAG_PAYLOAD_STR(sdp.c_str())), TAG_END());
      if (!br->orq) {
        nta_leg_destroy(br->leg);
        continue;
      }
      if (line) {
        br->counted = true;
        count_line(target, 1);
      }
      c->branches.push_back(std::move(branch));
      ++started;
      if (!core_channel.empty()) {
        br->channel = core_channel;
        br->shared_channel = true;
      } else {
        br->channel = backend.leg_created(
            LegInfo{c->id, c->channel, false, target, number,
                    req.caller_name.empty() ? c->caller_name : req.caller_name, target, call_id});
      }
      index_channel(*c, br->channel);
    }
  }
  if (started == 0) return 0;
  c->state = Call::State::ringing;
  int timeout = req.timeout_seconds > 0 ? req.timeout_seconds : 30;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(timeout);
  // A parallel dial rings until the later of its own end and the round's.
  if (parallel && until <= c->ring_until) return started;
  c->ring_until = until;
  if (!c->ring_timer) c->ring_timer = su_timer_create(su_root_task(root), timeout * 1000);
  su_timer_set_interval(c->ring_timer, &Impl::on_ring_timeout, c, timeout * 1000);
  return started;
}

void SipStack::Impl::parallel_dial(Call& c, const DialRequest& req, std::function<void(DialResult)> done) {
  if (c.offer_refused) return done(DialResult{"unavailable", c.offer_refused});
  int id = ++c.last_dial;
  c.parallel_dials.push_back(Call::ParallelDial{id, std::move(done)});
  log.info("sip: call " + c.id + ": another dial rings beside the first");
  if (start_branches(c, req, id) == 0) finish_one_dial(c, id, "unavailable", c.trunks_down ? 503 : 480);
}

void SipStack::Impl::end_dials(Call& c, const DialResult& r) {
  auto done = std::move(c.dial_done);
  c.dial_done = nullptr;
  auto more = std::move(c.parallel_dials);
  c.parallel_dials.clear();
  if (done) done(r);
  for (auto& p : more)
    if (p.done) p.done(r);
}

void SipStack::Impl::finish_dial(Call& c, const char* status, int code) {
  if (!c.dial_done && c.parallel_dials.empty()) return;
  if (c.state == Call::State::ringing) c.state = Call::State::routing;
  if (c.ring_timer) su_timer_reset(c.ring_timer);
  end_dials(c, DialResult{status, code, dial_fails_over(c, code)});
}

void SipStack::Impl::finish_one_dial(Call& c, int dial, const char* status, int code) {
  if (c.parallel_dials.empty()) return finish_dial(c, status, code);
  std::function<void(DialResult)> done;
  if (dial == 0) {
    // The first parallel dial takes the first's place.
    auto next = std::move(c.parallel_dials.front());
    c.parallel_dials.erase(c.parallel_dials.begin());
    done = std::move(c.dial_done);
    c.dial_done = std::move(next.done);
    for (auto& b : c.branches)
      if (b->dial == next.id) b->dial = 0;
  } else {
    auto it = std::find_if(c.parallel_dials.begin(), c.parallel_dials.end(),
                           [dial](const auto& p) { return p.id == dial; });
    if (it == c.parallel_dials.end()) return;
    done = std::move(it->done);
    c.parallel_dials.erase(it);
  }
  if (done) done(DialResult{status, code, dial_fails_over(c, code)});
}

void SipStack::Impl::dial(const std::string& call_id, const DialRequest& req,
                          std::function<void(DialResult)> done) {
  auto id = call_ids.find(call_id);
  Call* c = id == call_ids.end() ? nullptr : find_call(id->second);
  if (c && c->state == Call::State::ringing && c->dial_done) {
    // The call core ended the previous dial and cancelled its branches
    // (their 487s are on their way): this dial follows it, e.g. a forward.
    bool superseded = std::all_of(c->branches.begin(), c->branches.end(), [c](const auto& b) {
      return b->round != c->round || b->final || b->cancelled;
    });
    if (!superseded) {
      // Another dial of this call still rings (a local leg beside SIP
      // targets, or two local legs): this one rings beside it.
      parallel_dial(*c, req, std::move(done));
      return;
    }
    finish_dial(*c, "cancelled", 487);
  }
  if (!c || c->state != Call::State::routing || c->dial_done) {
    done(DialResult{"cancelled", 0});
    return;
  }
  c->dial_done = std::move(done);
  routed(*c);
  if (c->offer_refused) {
    log.info("sip: call " + c->id + ": its RTP/SAVP offer cannot be relayed to a callee (" +
             std::to_string(c->offer_refused) + ")");
    finish_dial(*c, "unavailable", c->offer_refused);
    return;
  }
  if (start_branches(*c, req) == 0) finish_dial(*c, "unavailable", c->trunks_down ? 503 : 480);
}

void SipStack::Impl::hangup(const std::string& call_id, int status, const std::string& channel) {
  auto id = call_ids.find(call_id);
  Call* c = id == call_ids.end() ? nullptr : find_call(id->second);
  for (auto it = calls.begin(); !c && !channel.empty() && it != calls.end(); ++it) {
    Call& other = *it->second;
    bool has = other.channel == channel;
    for (auto& b : other.branches) has = has || b->channel == channel;
    if (has) c = &other;
  }
  if (!c) return;
  if (!channel.empty() && hangup_departed(*c, channel)) return;
  // A leg the call no longer holds (a transferor that hung up first): its end was told already.
  if (!channel.empty() && !holds_channel(*c, channel) && !(c->engine && c->engine->channel == channel)) return;
  if (c->state == Call::State::answered) {
    c->state = Call::State::ending;
    send_bye(*c, c->a_leg);
    if (c->winner) send_bye(*c, c->winner->leg);
    backend.call_event(c->id, "ended", 200);
    c->ended_status = 200;
  } else if (c->state == Call::State::routing || c->state == Call::State::ringing) {
    c->state = Call::State::ending;
    for (auto& b : c->branches)
      if (!b->final && b->orq) nta_outgoing_cancel(b->orq);
    int st = status >= 400 && status <= 699 ? status : 480;
    const char* phrase = sip_status_phrase(st);
    answer_a(*c, st, phrase ? phrase : "Hung Up");
    end_dials(*c, DialResult{"cancelled", st});
  }
  maybe_finish(*c);
}

bool SipStack::Impl::hangup_departed(Call& c, const std::string& channel) {
  if (c.channel == channel || (c.winner && c.winner->channel == channel)) return false;
  for (auto& b : c.branches) {
    if (b.get() == c.winner || b->channel != channel || !b->final || b->status >= 300) continue;
    send_bye(c, b->leg);
    backend.leg_event(b->channel, LegState::ended, 200, {});
    b->channel.clear();
    return true;
  }
  return false;
}

void SipStack::Impl::cancel_leg(const std::string& channel) {
  Call* call = call_of_channel(channel);
  if (!call) return;
  for (auto& b : call->branches) {
    if (b->channel != channel) continue;
    if (!b->final && b->orq) {
      b->cancelled = true;
      nta_outgoing_cancel(b->orq);
    } else if (call->originated && call->winner == b.get()) {
      // Answered while the call core ended the dial: nobody wants it now.
      engine_hangup(*call);
    }
  }
}

void SipStack::Impl::on_ring_timeout(void* magic, su_timer_t*, void* arg) {
  auto* c = static_cast<Call*>(arg);
  if (c->state != Call::State::ringing) return;
  if (c->ring_timer) su_timer_reset(c->ring_timer);
  for (auto& b : c->branches)
    if (!b->final && b->orq) nta_outgoing_cancel(b->orq);
  if (c->dial_done) {
    current()->finish_dial(*c, "noanswer", 408);
    return;
  }
  c->state = Call::State::ending;
  current()->answer_a(*c, SIP_480_TEMPORARILY_UNAVAILABLE);
  current()->maybe_finish(*c);
}

SipStack::Impl*& SipStack::Impl::current() {
  static thread_local Impl* impl = nullptr;
  return impl;
}

int SipStack::Impl::on_b_response(void* magic, nta_outgoing_t* orq, const sip_t* sip) {
  auto* br = static_cast<Branch*>(magic);
  Impl* self = current();
  Call& c = *br->call;
  int status = sip ? static_cast<int>(sip->sip_status->st_status) : nta_outgoing_status(orq);
  if (status > 100 && status < 300 && !br->channel.empty() && !br->ids_told && sip && sip->sip_to &&
      sip->sip_to->a_tag) {
    // What a BLF key needs to pick the call up with Replaces, and an
    // attended transfer to find the leg its Replaces names: the dialog as
    // the rung phone sees it (its tag local, ours remote), from its first
    // 18x, or its 2xx when it answers at once.
    br->ids_told = true;
    br->phone_tag = sip->sip_to->a_tag;
    const char* ours = nta_leg_get_tag(br->leg);
    self->backend.leg_ids(br->channel, br->sip_call_id, sip->sip_to->a_tag, ours ? ours : "");
  }
  if (status < 200) {
    if (status > 100 && sip && sip->sip_rseq) self->prack(*br, sip);
    if (status > 100 && !br->channel.empty()) self->backend.leg_event(br->channel, LegState::ringing, status, {});
    if (status > 100 && c.originated) {
      self->engine_progress(c, *br, sip);
      return 0;
    }
    if (status > 100 && c.state == Call::State::ringing && c.a_irq) {
      std::optional<std::string> body;
      if (sip && sip->sip_payload && sip->sip_payload->pl_len > 0) body = self->sdp_from_b(c, sip);
      bool has_sdp = body && !body->empty();
      if (!c.relayed_ringing || has_sdp) {
        const char* phrase = sip->sip_status->st_phrase;
        // Reliably (RSeq, Require: 100rel) when A asked for it (sofia
        // holds a 2xx until A PRACKs an 18x that carried SDP); otherwise,
        // or if sofia cannot, the plain reply below.
        if (!c.a_rel100 ||
            !nta_reliable_treply(
                c.a_irq, nullptr, nullptr, status, phrase, SIPTAG_CONTACT(self->contact_toward(self->caller_peer(c))),
                TAG_IF(has_sdp && sip->sip_content_type, SIPTAG_CONTENT_TYPE(sip->sip_content_type)),
                TAG_IF(has_sdp, SIPTAG_PAYLOAD_STR(has_sdp ? body->c_str() : "")), TAG_END()))
        nta_incoming_treply(
            c.a_irq, status, phrase, SIPTAG_CONTACT(self->contact_toward(self->caller_peer(c))),
            TAG_IF(has_sdp && sip->sip_content_type, SIPTAG_CONTENT_TYPE(sip->sip_content_type)),
            TAG_IF(has_sdp, SIPTAG_PAYLOAD_STR(has_sdp ? body->c_str() : "")), TAG_END());
        if (!c.relayed_ringing) self->backend.call_event(c.id, "ringing", status);
        if (!c.relayed_ringing) self->backend.leg_event(c.channel, LegState::ringing, status, {});
        c.relayed_ringing = true;
      }
    }
    return 0;
  }
  if (status < 300 && sip) {
    if (!br->acked) {
      br->acked = true;
      br->invite_cseq = sip->sip_cseq ? sip->sip_cseq->cs_seq : 0;
      if (sip->sip_to && sip->sip_to->a_tag) nta_leg_rtag(br->leg, sip->sip_to->a_tag);
      Home h;
      nta_leg_client_route(br->leg, sip->sip_record_route,
                           reachable_contact(h.get(), sip->sip_contact, sip->sip_record_route,
                                             br->nat_received));
      // B offered (A's INVITE had no SDP): the ACK waits for A's answer.
      br->ack_waits = c.sdp.empty() && sip->sip_payload && sip->sip_payload->pl_len > 0 &&
                      c.state == Call::State::ringing && br->round == c.round;
    }
    if (!br->ack_waits) self->send_ack(*br);
    if (br->final) return 0;  // a retransmitted 2xx: ACK again only
    br->final = true;
    br->status = status;
    if (c.originated && br->cancelled) {
      // The 2xx crossed our CANCEL (the dial ended meanwhile): ACKed, now BYE.
      self->log.info("sip: leg " + br->channel + " to " + br->target + " answered after it was cancelled; hung up");
      self->send_bye(c, br->leg);
      c.state = Call::State::ending;
      c.ended_status = 487;
      self->engine_leg_over(c);
      self->maybe_finish(c);
      return 0;
    }
    if (c.state == Call::State::ringing && br->round == c.round) {
      c.state = Call::State::answered;
      c.winner = br;
      if (c.ring_timer) su_timer_reset(c.ring_timer);
      for (auto& other : c.branches)
        if (other.get() != br && !other->final && other->orq) nta_outgoing_cancel(other->orq);
      if (c.originated) {
        self->engine_answered(c, *br, sip);
        return 0;
      }
      if (c.transfer_of) {
        self->finish_dial(c, "answered", 200);
        self->transfer_answered(c, *br, sip);
        return 0;
      }
      std::optional<std::string> body;
      if (sip->sip_payload && sip->sip_payload->pl_len > 0) {
        body = self->sdp_from_b(c, sip);
        if (!body) {
          // No codec in common with B's SDP: nothing to connect.
          br->ack_waits = false;
          self->send_ack(*br);
          self->send_bye(c, br->leg);
          c.state = Call::State::ending;
          self->answer_a(c, SIP_488_NOT_ACCEPTABLE);
          self->maybe_finish(c);
          return 0;
        }
      }
      bool has_sdp = body && !body->empty();
      std::string timer = self->timer_headers(c.a_timer);
      nta_incoming_treply(
          c.a_irq, SIP_200_OK, SIPTAG_CONTACT(self->contact_toward(self->caller_peer(c))),
          SIPTAG_ALLOW_STR(kAllow), SIPTAG_SUPPORTED_STR(kSupported),
          TAG_IF(!timer.empty(), SIPTAG_HEADER_STR(timer.c_str())),
          TAG_IF(has_sdp && sip->sip_content_type, SIPTAG_CONTENT_TYPE(sip->sip_content_type)),
          TAG_IF(has_sdp, SIPTAG_PAYLOAD_STR(has_sdp ? body->c_str() : "")), TAG_END());
      if (has_sdp) c.a_sdp_sent = *body;
      std::string().swap(c.a_offer);  // only a dialplan answer needs it; none now
      self->session_answered(c, sip);
      self->backend.call_event(c.id, "answered", 200);
      self->backend.leg_event(br->channel, LegState::up, 200, c.channel);
      self->backend.leg_event(c.channel, LegState::up, 200, br->channel);
      self->finish_dial(c, "answered", 200);
    } else {
      // Answered after the call was settled (cancel race): hang it up.
      self->send_bye(c, br->leg);
    }
    return 0;
  }
  // A branch still wanted answers its trunk's challenge.
  if (c.state == Call::State::ringing && br->round == c.round)
    if (auto* again = self->answer_challenge(orq, sip, &Impl::on_b_response, br)) {
      br->orq = again;
      return 0;
    }
  br->final = true;
  br->status = status;
  if (c.originated && std::none_of(c.branches.begin(), c.branches.end(), [](const auto& b) { return !b->final; }))
    self->engine_leg_over(c);  // the ringback stops before the dial's outcome is known
  if (!br->channel.empty()) {
    // A target's channel ends with its last branch, never under its winner.
    bool others = br->shared_channel &&
                  std::any_of(c.branches.begin(), c.branches.end(), [br, &c](const auto& b) {
                    return b.get() != br && b->channel == br->channel && (!b->final || c.winner == b.get());
                  });
    // The last branch of the call core's dial: finish_dial below ends its
    // channels through the driver, with the dial's outcome and the trunk's
    // failover word set first.
    int round = br->round;
    int dial = br->dial;
    bool last_of_dial = br->shared_channel && c.dial_done && c.state == Call::State::ringing &&
                        round == c.round &&
                        std::none_of(c.branches.begin(), c.branches.end(), [round, dial](const auto& b) {
                          return b->round == round && b->dial == dial && !b->final;
                        });
    if (!others && !last_of_dial) self->backend.leg_event(br->channel, LegState::ended, status, {});
    br->channel.clear();
  }
  if (br->counted) {
    self->count_line(br->target, -1);
    br->counted = false;
  }
  if (c.state == Call::State::ringing && br->round == c.round) {
    int round = c.round;
    int dial = br->dial;  // its dial ends once none of its branches rings
    bool open = std::any_of(c.branches.begin(), c.branches.end(), [round, dial](const auto& b) {
      return b->round == round && b->dial == dial && !b->final;
    });
    if (!open) {
      bool busy = std::any_of(c.branches.begin(), c.branches.end(), [round, dial](const auto& b) {
        return b->round == round && b->dial == dial && (b->status == 486 || b->status == 600);
      });
      if (c.originated) {
        c.state = Call::State::ending;
        c.ended_status = busy ? 486 : status;
        self->log.info("sip: call " + c.id + " to " + c.called + " not answered: " + std::to_string(status));
        self->maybe_finish(c);
        return 0;
      }
      if (c.dial_done) {
        self->finish_one_dial(c, dial, busy ? "busy" : "unavailable", busy ? 486 : status);
        self->maybe_finish(c);
        return 0;
      }
      c.state = Call::State::ending;
      if (busy) self->answer_a(c, SIP_486_BUSY_HERE);
      else if (status == 603) self->answer_a(c, SIP_603_DECLINE);
      else self->answer_a(c, SIP_480_TEMPORARILY_UNAVAILABLE);
    }
  }
  self->maybe_finish(c);
  return 0;
}

void SipStack::Impl::send_ack(Branch& br, const std::string& sdp) {
  Home h;
  sip_cseq_t* cseq = sip_cseq_create(h.get(), br.invite_cseq, SIP_METHOD_ACK);
  std::string via = via_toward(br.peer, br.peer_uri);
  nta_outgoing_t* ack = nta_outgoing_tcreate(
      br.leg, nullptr, nullptr, nullptr, SIP_METHOD_ACK, nullptr, SIPTAG_CSEQ(cseq),
      TAG_IF(!via.empty(), NTATAG_USER_VIA(1)), TAG_IF(!via.empty(), SIPTAG_VIA_STR(via.c_str())),
      TAG_IF(!sdp.empty(), SIPTAG_CONTENT_TYPE_STR("application/sdp")),
      TAG_IF(!sdp.empty(), SIPTAG_PAYLOAD_STR(sdp.c_str())), TAG_END());
  if (ack) nta_outgoing_destroy(ack);
}

std::optional<std::string> SipStack::Impl::sdp_from_b(Call& c, const sip_t* sip) {
  std::string text(sip->sip_payload->pl_data, sip->sip_payload->pl_len);
  auto r = c.sdp.empty() ? c.media->offer(MediaLeg::b, text) : c.media->answer(MediaLeg::b, text);
  if (r) return sdp_toward(*r, caller_peer(c));
  log.warn("sip: call " + c.id + ": SDP from the callee not relayed: " + r.error().message);
  return std::nullopt;
}

void SipStack::Impl::on_a_ack(Call& c, const sip_t* sip) {
  if (c.a_irq && c.state == Call::State::answered) {
    // A's INVITE transaction ends with this ACK. Kept until the call
    // ended, each answered call left a live transaction that sofia's
    // timer walks at every tick. Destroyed from the loop: this may run
    // inside the transaction's own ACK callback.
    auto serial = c.serial;
    later([this, serial] {
      Call* call = find_call(serial);
      if (!call || !call->a_irq || nta_incoming_status(call->a_irq) < 200) return;
      nta_incoming_destroy(call->a_irq);
      call->a_irq = nullptr;
    });
  }
  Branch* br = c.winner;
  if (!br || !br->ack_waits) return;
  br->ack_waits = false;
  std::string answer;
  if (sip && sip->sip_payload && sip->sip_payload->pl_len > 0) {
    auto r = c.media->answer(MediaLeg::a,
                             std::string(sip->sip_payload->pl_data, sip->sip_payload->pl_len));
    if (r) answer = sdp_toward(*r, br->peer);
    else log.warn("sip: call " + c.id + ": SDP answer in ACK not relayed: " + r.error().message);
  }
  send_ack(*br, answer);
  if (!answer.empty()) c.b_sdp_sent = answer;
}

void SipStack::Impl::send_bye(Call& c, nta_leg_t* leg) {
  if (!leg) return;  // an outgoing engine leg has no A side
  auto [peer, uri] = leg_peer(c, leg);
  std::string via = via_toward(peer, uri);
  nta_outgoing_t* bye = nta_outgoing_tcreate(leg, &Impl::on_bye_response, &c, nullptr,
                                             SIP_METHOD_BYE, nullptr,
                                             TAG_IF(!via.empty(), NTATAG_USER_VIA(1)),
                                             TAG_IF(!via.empty(), SIPTAG_VIA_STR(via.c_str())), TAG_END());
  if (bye) ++c.pending_byes;
}

int SipStack::Impl::on_bye_response(void* magic, nta_outgoing_t* orq, const sip_t* sip) {
  auto* c = static_cast<Call*>(magic);
  int status = sip ? static_cast<int>(sip->sip_status->st_status) : nta_outgoing_status(orq);
  if (status < 200) return 0;
  if (current()->answer_challenge(orq, sip, &Impl::on_bye_response, c)) return 0;
  nta_outgoing_destroy(orq);
  --c->pending_byes;
  current()->maybe_finish(*c);
  return 0;
}

int SipStack::Impl::on_a_ack_cancel(void* magic, nta_incoming_t* irq, const sip_t* sip) {
  auto* c = static_cast<Call*>(magic);
  Impl* self = current();
  if (!sip && nta_incoming_status(irq) < 200) self->rel100_timeout(*c);
  if (sip && sip->sip_request && sip->sip_request->rq_method == sip_method_ack) self->on_a_ack(*c, sip);
  if (sip && sip->sip_request && sip->sip_request->rq_method == sip_method_cancel) {
    if (c->state == Call::State::routing || c->state == Call::State::ringing) {
      c->state = Call::State::ending;
      for (auto& b : c->branches)
        if (!b->final && b->orq) nta_outgoing_cancel(b->orq);
      self->answer_a(*c, SIP_487_REQUEST_TERMINATED);
      self->end_dials(*c, DialResult{"cancelled", 487});
      self->maybe_finish(*c);
    }
  }
  return 0;
}

int SipStack::Impl::on_a_request(void* magic, nta_leg_t* leg, nta_incoming_t* irq,
                                 const sip_t* sip) {
  auto* c = static_cast<Call*>(magic);
  Impl* self = current();
  switch (sip->sip_request->rq_method) {
    case sip_method_ack:
      self->on_a_ack(*c, sip);
      self->relay_ack(*c, MediaLeg::a, sip);
      nta_incoming_destroy(irq);  // an ACK's transaction is never answered: kept otherwise
      return 0;
    case sip_method_bye:
      if (c->state == Call::State::answered && self->absorbs_bye(*c, MediaLeg::a)) return 200;
      if (c->state == Call::State::answered) {
        c->state = Call::State::ending;
        if (c->winner) self->send_bye(*c, c->winner->leg);
        self->backend.call_event(c->id, "ended", 200);
        c->ended_status = 200;
      }
      self->maybe_finish(*c);
      return 200;
    default:
      if (c->engine) return self->engine_in_dialog(*c, MediaLeg::a, irq, sip);
      return self->in_dialog(*c, MediaLeg::a, nullptr, irq, sip);
  }
}

int SipStack::Impl::on_b_request(void* magic, nta_leg_t* leg, nta_incoming_t* irq,
                                 const sip_t* sip) {
  auto* br = static_cast<Branch*>(magic);
  Call& c = *br->call;
  Impl* self = current();
  switch (sip->sip_request->rq_method) {
    case sip_method_ack:
      if (c.winner == br) self->relay_ack(c, MediaLeg::b, sip);
      nta_incoming_destroy(irq);  // an ACK's transaction is never answered: kept otherwise
      return 0;
    case sip_method_bye:
      if (c.state == Call::State::answered && c.winner == br && self->absorbs_bye(c, MediaLeg::b)) {
        // The referrer hangs up once it has handed the call over: A waits for C.
        return 200;
      }
      if (c.winner != br && !br->channel.empty() && br->channel != c.channel &&
          !(c.winner && c.winner->channel == br->channel)) {
        // A transferor whose party was handed over hangs up before the call core does.
        self->backend.leg_event(br->channel, LegState::ended, 200, {});
        br->channel.clear();
      }
      if (c.state == Call::State::answered && c.winner == br) {
        c.state = Call::State::ending;
        self->send_bye(c, c.a_leg);
        self->backend.call_event(c.id, "ended", 200);
        c.ended_status = 200;
      }
      self->maybe_finish(c);
      return 200;
    default:
      if (c.originated) return self->engine_in_dialog(c, MediaLeg::b, irq, sip);
      return self->in_dialog(c, MediaLeg::b, br, irq, sip);
  }
}

void SipStack::Impl::maybe_finish(Call& c) {
  if (c.state != Call::State::ending || c.finishing) return;
  for (auto& b : c.branches)
    if (!b->final) return;
  if (c.pending_byes > 0) return;
  c.finishing = true;
  auto serial = c.serial;
  later([this, serial] {
    auto it = calls.find(serial);
    if (it == calls.end()) return;
    release(*it->second);
    unindex_channels(*it->second);
    calls.erase(it);
    call_count = calls.size();
  });
}

void SipStack::Impl::release(Call& c) {
  routed(c);
  end_hold_music(c);
  if (c.engine) engine_release(c);
  if (c.engine_ack_irq) nta_incoming_destroy(c.engine_ack_irq);
  c.engine_ack_irq = nullptr;
  for (auto& b : c.branches)
    if (!b->channel.empty()) backend.leg_event(b->channel, LegState::ended, c.ended_status, {});
  if (!c.channel.empty()) backend.leg_event(c.channel, LegState::ended, c.ended_status, {});
  release_dialog(c);
  end_dials(c, DialResult{"cancelled", 0});
  call_ids.erase(c.id);
  count_line(c.caller_username, -1);
  c.caller_username.clear();
  if (c.ring_timer) su_timer_destroy(c.ring_timer);
  c.ring_timer = nullptr;
  drop_session_timers(c);
  for (auto& b : c.branches) {
    if (b->counted) count_line(b->target, -1);
    b->counted = false;
    if (b->orq) nta_outgoing_destroy(b->orq);
    if (b->leg) nta_leg_destroy(b->leg);
    b->orq = nullptr;
    b->leg = nullptr;
  }
  if (c.a_irq) {
    if (nta_incoming_status(c.a_irq) < 200) nta_incoming_treply(c.a_irq, SIP_500_INTERNAL_SERVER_ERROR, TAG_END());
    nta_incoming_destroy(c.a_irq);
  }
  c.a_irq = nullptr;
  if (c.a_leg) nta_leg_destroy(c.a_leg);
  c.a_leg = nullptr;
  c.media.reset();  // the relay ports go back to the pool
}

}  // namespace dialtone::plugins::backend::sip
