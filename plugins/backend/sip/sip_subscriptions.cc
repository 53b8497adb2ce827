// SUBSCRIBE/NOTIFY for BLF keys, presence watchers and MWI lamps (see
// sip_subscriptions.h): the subscription dialogs, their refresh and expiry,
// and the NOTIFYs carrying what the kernel's presence service reports.
#include "plugins/backend/sip/stack_impl.h"

#include "plugins/backend/sip/event_bodies.h"

namespace dialtone::plugins::backend::sip {
namespace {

constexpr const char* kAllowEvents = "dialog, presence, message-summary";

const char* event_name(Subscriptions::Package p) {
  switch (p) {
    case Subscriptions::Package::dialog: return "dialog";
    case Subscriptions::Package::presence: return "presence";
    case Subscriptions::Package::message_summary: return "message-summary";
  }
  return "dialog";
}

const char* content_type(Subscriptions::Package p) {
  switch (p) {
    case Subscriptions::Package::dialog: return "application/dialog-info+xml";
    case Subscriptions::Package::presence: return "application/pidf+xml";
    case Subscriptions::Package::message_summary: return "application/simple-message-summary";
  }
  return "application/dialog-info+xml";
}

std::optional<Subscriptions::Package> package_of(const sip_t* sip) {
  if (!sip->sip_event || !sip->sip_event->o_type) return std::nullopt;
  std::string e = sip->sip_event->o_type;
  if (e == "dialog") return Subscriptions::Package::dialog;
  if (e == "presence") return Subscriptions::Package::presence;
  if (e == "message-summary") return Subscriptions::Package::message_summary;
  return std::nullopt;
}

// More states than this waiting behind a slow phone: the oldest are
// dropped (the phone still gets the latest, which is what it shows).
constexpr std::size_t kMaxQueued = 16;

constexpr const char* kDeactivated = "terminated;reason=deactivated";

std::int64_t unix_s() { return static_cast<std::int64_t>(::time(nullptr)); }

// The dialog as the store keeps it: enough to send one more NOTIFY in it
// after a restart.
SavedSubscription saved_of(const sip_t* sip, nta_leg_t* leg, const sip_contact_t* target, const char* event,
                           const std::string& line, long expires) {
  SavedSubscription s;
  s.call_id = str(sip->sip_call_id->i_id);
  s.local_tag = str(nta_leg_get_tag(leg));
  s.local_uri = "<" + url_string(sip->sip_to->a_url) + ">";
  s.remote = "<" + url_string(sip->sip_from->a_url) + ">";
  if (sip->sip_from->a_tag) s.remote += ";tag=" + str(sip->sip_from->a_tag);
  s.target = target ? "<" + url_string(target->m_url) + ">" : std::string();
  for (auto* rr = sip->sip_record_route; rr; rr = rr->r_next)
    s.route += (s.route.empty() ? "<" : ", <") + url_string(rr->r_url) + ">";
  s.event = event;
  s.line = line;
  s.expires_at = unix_s() + expires;
  return s;
}

}  // namespace

std::size_t SipStack::subscriptions() const { return impl_->subscriptions->count(); }

std::pair<std::uint64_t, std::uint64_t> SipStack::notifies() const {
  return {impl_->subscriptions->notifies_sent(), impl_->subscriptions->notifies_answered()};
}

Subscriptions::~Subscriptions() { close(); }

std::size_t Subscriptions::count_of(const std::string& line) const {
  auto it = per_line_.find(line);
  return it == per_line_.end() ? 0 : it->second;
}

std::optional<long> Subscriptions::granted_expires(nta_incoming_t* irq, const sip_t* sip) const {
  long requested = sip->sip_expires ? static_cast<long>(sip->sip_expires->ex_delta) : -1;
  if (requested > 0 && requested < s_.cfg.subscribe_expires_min) {
    std::string min = std::to_string(s_.cfg.subscribe_expires_min);
    nta_incoming_treply(irq, SIP_423_INTERVAL_TOO_BRIEF, SIPTAG_MIN_EXPIRES_STR(min.c_str()), TAG_END());
    nta_incoming_destroy(irq);
    return std::nullopt;
  }
  if (requested < 0) requested = s_.cfg.subscribe_expires_default;
  return std::min<long>(requested, s_.cfg.subscribe_expires_max);
}

int Subscriptions::on_subscribe(nta_incoming_t* irq, const sip_t* sip) {
  auto package = package_of(sip);
  if (!package) {
    nta_incoming_treply(irq, SIP_489_BAD_EVENT, SIPTAG_ALLOW_EVENTS_STR(kAllowEvents), TAG_END());
    nta_incoming_destroy(irq);
    return 0;
  }
  auto granted = granted_expires(irq, sip);
  if (!granted) return 0;
  long expires = *granted;
  return s_.authenticate(irq, sip, false, "SUBSCRIBE",
                         [this, sip, p = *package, expires](nta_incoming_t* irq, const LineCredentials& line) {
                           start(irq, sip, line, p, expires);
                         });
}

void Subscriptions::start(nta_incoming_t* irq, const sip_t* sip, const LineCredentials& line, Package package,
                          long expires) {
  auto presence = s_.backend.presence();
  if (!presence) {
    s_.reply(irq, 503, "Presence service unavailable");
    return;
  }
  std::string target = str(sip->sip_to->a_url->url_user);
  sdk::PresenceResource resource;
  if (package == Package::message_summary) {
    // A line reads its own mailbox only: its username or its extension.
    auto own = presence->mailbox_of(line.username);
    if (!own) {
      s_.reply(irq, 404, "No mailbox for this line");
      return;
    }
    auto named = target == line.username ? own : presence->resolve(line.username, target);
    if (!named || (named->kind == sdk::PresenceResource::Kind::extension &&
                   named->exten + "@" + named->context != own->mailbox) ||
        (named->kind == sdk::PresenceResource::Kind::mailbox && named->mailbox != own->mailbox) ||
        named->kind == sdk::PresenceResource::Kind::feature) {
      s_.reply(irq, 403, "Mailbox of another line");
      return;
    }
    resource = *own;
  } else {
    auto r = presence->resolve(line.username, target);
    if (!r) {
      s_.log.info("sip: SUBSCRIBE (" + std::string(event_name(package)) + ") from " + line.username + " to " +
                  target + ": " + r.error().message);
      s_.reply(irq, 404, "No such extension");
      return;
    }
    resource = *r;
  }
  if (count_of(line.username) >= s_.cfg.subscribe_max_per_line) {
    s_.log.warn("sip: line " + line.username + " holds " + std::to_string(count_of(line.username)) +
                " subscriptions, the most allowed (subscribe.max_per_line): SUBSCRIBE to " + target +
                " refused");
    s_.reply(irq, 403, "Too many subscriptions");
    return;
  }

  auto sub = std::make_unique<Sub>();
  Sub& x = *sub;
  x.owner = this;
  x.id = next_id_++;
  x.package = package;
  x.line = line.username;
  x.resource = resource;
  x.entity = "sip:" + target + "@" + s_.cfg.host;
  x.leg = nta_leg_tcreate(s_.agent, &Subscriptions::on_dialog_request, &x, SIPTAG_CALL_ID(sip->sip_call_id),
                          SIPTAG_FROM(sip->sip_to), SIPTAG_TO(sip->sip_from), TAG_END());
  if (!x.leg) {
    s_.reply(irq, SIP_500_INTERNAL_SERVER_ERROR);
    return;
  }
  nta_leg_tag(x.leg, nullptr);
  {
    // A phone behind NAT gets its NOTIFYs where its SUBSCRIBE came from.
    Home h;
    Source src = source_of(irq);
    std::string received = SipStack::Impl::behind_nat(line.nat, sip, src) ? src.text() : "";
    const sip_contact_t* target =
        SipStack::Impl::reachable_contact(h.get(), sip->sip_contact, sip->sip_record_route, received);
    nta_leg_server_route(x.leg, sip->sip_record_route, target);
    if (expires > 0) {
      // A fetch (Expires: 0) is not kept.
      auto saved = saved_of(sip, x.leg, target, event_name(package), line.username, expires);
      x.call_id = saved.call_id;
      x.local_tag = saved.local_tag;
      s_.backend.subscription_saved(saved);
    }
  }
  nta_incoming_tag(irq, nta_leg_get_tag(x.leg));
  std::string exp = std::to_string(expires);
  nta_incoming_treply(irq, SIP_202_ACCEPTED, SIPTAG_CONTACT(s_.contact), SIPTAG_EXPIRES_STR(exp.c_str()), TAG_END());
  nta_incoming_destroy(irq);

  auto id = x.id;
  subs_.emplace(id, std::move(sub));
  ++per_line_[x.line];
  if (package == Package::message_summary) ++mwi_lines_[x.line];
  count_ = subs_.size();
  if (!timer_) {
    timer_ = su_timer_create(su_root_task(s_.root), 1000);
    if (timer_) su_timer_set_for_ever(timer_, &Subscriptions::on_timer, this);
  }
  // Watch first, then read: a change in between is told twice at worst
  // (push drops a repeat), never missed.
  std::weak_ptr<Inbox> inbox = s_.inbox;
  x.watch = presence->watch(resource, [inbox, this, id](const sdk::PresenceState& state) {
    if (auto in = inbox.lock()) in->post([this, id, state] { changed(id, state); });
  });
  if (expires == 0) {
    // A fetch (RFC 6665 4.4.3): the state once, then the subscription ends.
    x.terminating = true;
    x.reason = "timeout";
  }
  x.expires_at_ms = mono_ms() + expires * 1000;
  // The first NOTIFY always goes, even with nothing to tell yet.
  x.last = presence->state(resource);
  x.queue.push_back(x.last);
  send_next(x);
}

int Subscriptions::on_dialog_request(void* magic, nta_leg_t*, nta_incoming_t* irq, const sip_t* sip) {
  auto* sub = static_cast<Sub*>(magic);
  if (!sip || !sip->sip_request) return 400;
  if (sip->sip_request->rq_method != sip_method_subscribe) return 405;
  return sub->owner->refresh(*sub, irq, sip);
}

// In the subscription's dialog: its tags and Call-ID identify the phone
// that was authenticated when it started.
int Subscriptions::refresh(Sub& sub, nta_incoming_t* irq, const sip_t* sip) {
  if (sub.terminating) return 481;
  auto package = package_of(sip);
  if (!package || *package != sub.package) {
    nta_incoming_treply(irq, SIP_489_BAD_EVENT, SIPTAG_ALLOW_EVENTS_STR(event_name(sub.package)), TAG_END());
    nta_incoming_destroy(irq);
    return 0;
  }
  auto granted = granted_expires(irq, sip);
  if (!granted) return 0;
  long expires = *granted;
  std::string exp = std::to_string(expires);
  nta_incoming_treply(irq, SIP_200_OK, SIPTAG_CONTACT(s_.contact), SIPTAG_EXPIRES_STR(exp.c_str()), TAG_END());
  nta_incoming_destroy(irq);
  if (expires == 0) {
    terminate(sub, "");
    return 0;
  }
  sub.expires_at_ms = mono_ms() + expires * 1000;
  if (!sub.call_id.empty()) s_.backend.subscription_refreshed(sub.call_id, sub.local_tag, unix_s() + expires);
  // RFC 6665 4.2.1.2: a refresh is answered with the current state.
  sub.last = current(sub);
  sub.queue.push_back(sub.last);
  send_next(sub);
  return 0;
}

sdk::PresenceState Subscriptions::current(const Sub& sub) {
  auto presence = s_.backend.presence();
  return presence ? presence->state(sub.resource) : sub.last;
}

void Subscriptions::changed(std::uint64_t id, const sdk::PresenceState& state) {
  auto it = subs_.find(id);
  if (it == subs_.end() || it->second->terminating) return;
  push(*it->second, state);
}

void Subscriptions::push(Sub& sub, const sdk::PresenceState& state) {
  if (state == sub.last) return;
  sub.last = state;
  if (sub.queue.size() >= kMaxQueued) sub.queue.erase(sub.queue.begin());
  sub.queue.push_back(state);
  send_next(sub);
}

void Subscriptions::send_next(Sub& sub) {
  if (sub.orq || sub.queue.empty()) return;
  auto state = std::move(sub.queue.front());
  sub.queue.erase(sub.queue.begin());
  // Most subscriptions wait with nothing queued: hold no buffer then.
  if (sub.queue.empty()) sub.queue.shrink_to_fit();
  std::string body;
  switch (sub.package) {
    case Package::dialog: {
      DialogInfoParams p;
      p.entity = sub.entity;
      p.domain = s_.cfg.host;
      p.version = sub.version++;
      p.pickup_code = s_.cfg.pickup_code;
      body = dialog_info_xml(state, p);
      break;
    }
    case Package::presence: body = pidf_xml(state, sub.entity); break;
    case Package::message_summary: body = message_summary(state, "sip:" + sub.line + "@" + s_.cfg.host); break;
  }
  bool last = sub.terminating && sub.queue.empty();
  std::string subscription_state;
  if (last) {
    subscription_state = "terminated" + (sub.reason.empty() ? std::string() : ";reason=" + sub.reason);
  } else {
    long left = std::max<long>(0, static_cast<long>((sub.expires_at_ms - mono_ms() + 999) / 1000));
    subscription_state = "active;expires=" + std::to_string(left);
  }
  sub.orq = nta_outgoing_tcreate(sub.leg, &Subscriptions::on_notify_response, &sub, nullptr, SIP_METHOD_NOTIFY,
                                 nullptr, SIPTAG_EVENT_STR(event_name(sub.package)),
                                 SIPTAG_SUBSCRIPTION_STATE_STR(subscription_state.c_str()),
                                 SIPTAG_CONTACT(s_.contact), SIPTAG_USER_AGENT_STR(s_.cfg.user_agent.c_str()),
                                 SIPTAG_CONTENT_TYPE_STR(content_type(sub.package)),
                                 SIPTAG_PAYLOAD_STR(body.c_str()), TAG_END());
  if (sub.orq) ++sent_;
  if (!sub.orq) {
    s_.log.warn("sip: NOTIFY (" + std::string(event_name(sub.package)) + ") to " + sub.line +
                " could not be sent: subscription dropped");
    erase(sub.id);
  }
}

int Subscriptions::on_notify_response(void* magic, nta_outgoing_t* orq, const sip_t* sip) {
  auto* sub = static_cast<Sub*>(magic);
  int status = sip && sip->sip_status ? static_cast<int>(sip->sip_status->st_status) : nta_outgoing_status(orq);
  if (status < 200) return 0;
  auto* self = sub->owner;
  sub->orq = nullptr;
  self->s_.later([orq] { nta_outgoing_destroy(orq); });
  if (status >= 300) {
    // 481: the phone forgot the subscription; 408/503: it is gone. It
    // subscribes again when it comes back (RFC 6665 4.2.2).
    if (!sub->terminating)
      self->s_.log.info("sip: " + std::string(event_name(sub->package)) + " subscription of " + sub->line +
                        " to " + sub->entity + " ended: its NOTIFY got " + std::to_string(status));
    self->erase(sub->id);
    return 0;
  }
  ++self->answered_;
  if (sub->terminating && sub->queue.empty()) {
    self->erase(sub->id);
    return 0;
  }
  self->send_next(*sub);
  return 0;
}

void Subscriptions::terminate(Sub& sub, const std::string& reason) {
  if (sub.terminating) return;
  sub.terminating = true;
  sub.reason = reason;
  sub.watch.reset();
  // The last NOTIFY carries the state as it is now (a call that ended
  // is no longer listed).
  sub.queue.clear();
  sub.last = current(sub);
  sub.queue.push_back(sub.last);
  send_next(sub);
}

void Subscriptions::erase(std::uint64_t id) {
  auto it = subs_.find(id);
  if (it == subs_.end()) return;
  std::shared_ptr<Sub> sub(std::move(it->second));
  subs_.erase(it);
  count_ = subs_.size();
  if (auto pl = per_line_.find(sub->line); pl != per_line_.end() && --pl->second == 0) per_line_.erase(pl);
  if (sub->package == Package::message_summary)
    if (auto ml = mwi_lines_.find(sub->line); ml != mwi_lines_.end() && --ml->second == 0) mwi_lines_.erase(ml);
  if (!sub->call_id.empty()) s_.backend.subscription_gone(sub->call_id, sub->local_tag);
  sub->watch.reset();
  sub->terminating = true;  // a request still reaching its leg gets 481
  // Never inside this NOTIFY's own callback: that one clears orq first.
  if (sub->orq) nta_outgoing_destroy(sub->orq);
  sub->orq = nullptr;
  // The leg (whose callback may be running) goes from the loop, and the
  // subscription it points to with it.
  s_.later([sub] {
    if (sub->leg) nta_leg_destroy(sub->leg);
    sub->leg = nullptr;
  });
}

void Subscriptions::on_timer(void*, su_timer_t*, void* arg) { static_cast<Subscriptions*>(arg)->expire(); }

void Subscriptions::expire() {
  auto now = mono_ms();
  std::vector<Sub*> due;
  for (auto& [_, sub] : subs_)
    if (!sub->terminating && sub->expires_at_ms <= now) due.push_back(sub.get());
  for (auto* sub : due) terminate(*sub, "timeout");
}

void Subscriptions::deactivate(std::vector<SavedSubscription> subs) {
  std::size_t sent = 0;
  // Above any CSeq the earlier run's leg used in the dialog (sofia starts a
  // leg near (NTP seconds / 2) mod 2^27 and counts one per request).
  const std::string cseq = std::to_string(0x40000000LL + (unix_s() & 0x0fffffffLL));
  for (auto& row : subs) {
    Home h;
    std::string local = row.local_uri + ";tag=" + row.local_tag;
    nta_leg_t* leg = nta_leg_tcreate(s_.agent, nullptr, nullptr, SIPTAG_CALL_ID_STR(row.call_id.c_str()),
                                     SIPTAG_FROM_STR(local.c_str()), SIPTAG_TO_STR(row.remote.c_str()),
                                     SIPTAG_CSEQ_STR(cseq.c_str()), TAG_END());
    if (!leg) continue;
    sip_record_route_t* rr = row.route.empty() ? nullptr : sip_record_route_make(h.get(), row.route.c_str());
    sip_contact_t* target = sip_contact_make(h.get(), row.target.c_str());
    nta_leg_server_route(leg, rr, target);
    nta_outgoing_t* orq = nta_outgoing_tcreate(
        leg, &Subscriptions::on_deactivated, this, nullptr,
        SIP_METHOD_NOTIFY, nullptr, SIPTAG_EVENT_STR(row.event.c_str()), SIPTAG_SUBSCRIPTION_STATE_STR(kDeactivated),
        SIPTAG_CONTACT(s_.contact), SIPTAG_USER_AGENT_STR(s_.cfg.user_agent.c_str()), TAG_END());
    if (!orq) {
      nta_leg_destroy(leg);
      continue;
    }
    deactivating_[orq] = leg;
    ++sent;
  }
  if (!subs.empty())
    s_.log.info("sip: " + std::to_string(sent) + " of " + std::to_string(subs.size()) +
                " subscriptions held before the restart told to subscribe again (NOTIFY " + kDeactivated + ")");
}

int Subscriptions::on_deactivated(void* magic, nta_outgoing_t* orq, const sip_t* sip) {
  int status = sip && sip->sip_status ? static_cast<int>(sip->sip_status->st_status) : nta_outgoing_status(orq);
  if (status < 200) return 0;
  auto* self = static_cast<Subscriptions*>(magic);
  auto it = self->deactivating_.find(orq);
  if (it == self->deactivating_.end()) return 0;
  nta_leg_t* leg = it->second;
  self->deactivating_.erase(it);
  self->s_.later([orq, leg] {
    nta_outgoing_destroy(orq);
    nta_leg_destroy(leg);
  });
  return 0;
}

void Subscriptions::close() {
  if (timer_) su_timer_destroy(timer_);
  timer_ = nullptr;
  for (auto& [orq, leg] : deactivating_) {
    nta_outgoing_destroy(orq);
    nta_leg_destroy(leg);
  }
  deactivating_.clear();
  for (auto& [_, sub] : subs_) {
    sub->watch.reset();
    if (sub->orq) nta_outgoing_destroy(sub->orq);
    if (sub->leg) nta_leg_destroy(sub->leg);
  }
  subs_.clear();
  per_line_.clear();
  mwi_lines_.clear();
  count_ = 0;
}

}  // namespace dialtone::plugins::backend::sip
