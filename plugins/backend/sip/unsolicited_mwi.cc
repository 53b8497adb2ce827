// Unsolicited message-summary NOTIFYs to registered lines (see the header).
#include "plugins/backend/sip/unsolicited_mwi.h"

#include "plugins/backend/sip/event_bodies.h"
#include "plugins/backend/sip/stack_impl.h"

namespace dialtone::plugins::backend::sip {

void UnsolicitedMwi::bindings_changed(const std::string& aor, const std::vector<Binding>& bindings) {
  auto presence = s_.backend.presence();
  auto box = presence && !bindings.empty() ? presence->mailbox_of(aor)
                                           : sdk::Result<sdk::PresenceResource>(sdk::Error::not_found(""));
  auto it = lines_.find(aor);
  if (!box) {  // unregistered, or a line without extension: no lamp
    if (it != lines_.end()) {
      drop(it->second);
      lines_.erase(it);
    }
    return;
  }
  Line& line = lines_[aor];
  if (line.mailbox != box->mailbox) {
    // A new line, or its extension changed: watch first, then read (a
    // change in between is told twice at worst, never missed).
    line.mailbox = box->mailbox;
    std::weak_ptr<Inbox> inbox = s_.inbox;
    line.watch = presence->watch(*box, [inbox, this, aor, mailbox = box->mailbox](const sdk::PresenceState& state) {
      if (auto in = inbox.lock()) in->post([this, aor, mailbox, state] { changed(aor, mailbox, state); });
    });
  }
  std::set<std::string> now;
  std::vector<Binding> fresh;
  for (auto& b : bindings) {
    std::string key = b.contact + " " + b.call_id;
    now.insert(key);
    if (!line.known.count(key)) fresh.push_back(b);
  }
  line.known = std::move(now);
  if (fresh.empty()) return;  // a refresh or a removal
  auto state = presence->state(*box);
  // A phone that registers learns of the messages there; one whose lamp was
  // lit learns it went out meanwhile. An empty box never lit needs nothing.
  if (state.new_messages > 0 || state.old_messages > 0 || line.lit) send(aor, line, state, fresh);
}

void UnsolicitedMwi::changed(const std::string& aor, const std::string& mailbox, const sdk::PresenceState& state) {
  auto it = lines_.find(aor);
  if (it == lines_.end() || it->second.mailbox != mailbox) return;  // gone, or watching another box since
  auto loc = s_.locations.find(aor);
  if (loc == s_.locations.end()) return;
  send(aor, it->second, state, loc->second);
}

void UnsolicitedMwi::send(const std::string& aor, Line& line, const sdk::PresenceState& state,
                          const std::vector<Binding>& to) {
  if (!s_.cfg.mwi_unsolicited || s_.closing) return;
  // The phone's own subscription tells it.
  if (s_.subscriptions->has_message_summary(aor)) return;
  if (!line.leg) {
    std::string from = "<sip:" + s_.cfg.user_agent + "@" + s_.cfg.host + ">";
    std::string uri = "<sip:" + aor + "@" + s_.cfg.host + ">";
    std::string call_id = random_token(20) + "@dialtone";
    line.leg = nta_leg_tcreate(s_.agent, &SipStack::Impl::on_out_leg_request, nullptr, SIPTAG_FROM_STR(from.c_str()),
                               SIPTAG_TO_STR(uri.c_str()), SIPTAG_CALL_ID_STR(call_id.c_str()), TAG_END());
    if (!line.leg) {
      s_.log.warn("sip: no dialog for the message-waiting NOTIFY to " + aor + " (out of memory?)");
      return;
    }
    nta_leg_tag(line.leg, nullptr);
  }
  line.lit = state.new_messages > 0;
  const std::string body = message_summary(state, "sip:" + aor + "@" + s_.cfg.host);
  for (auto& b : to) {
    std::string where = aor + " at " + b.contact;
    auto* log = &s_.log;
    // Where the phone is reached: its Contact, or where its REGISTER came
    // from when it is behind NAT or registered over TCP/TLS.
    std::string via = b.behind_nat || SipStack::Impl::stream_transport(b.received) ? b.received : std::string();
    s_.send_request(sip_method_notify, "NOTIFY", b.contact, via, aor,
                    "Event: message-summary\r\nSubscription-State: terminated;reason=noresource",
                    s_.cfg.notify_timeout,
                    [log, where](int status, int) {
                      if (status / 100 != 2)
                        log->info("sip: unsolicited message-summary NOTIFY to " + where + " answered " +
                                  std::to_string(status) +
                                  " (a phone that wants a subscription instead SUBSCRIBEs to message-summary)");
                    },
                    "application/simple-message-summary", body, line.leg);
  }
}

void UnsolicitedMwi::drop(Line& line) {
  line.watch.reset();
  // NOTIFYs in flight finish without it: a transaction keeps its own
  // request, not the leg it was made from.
  if (line.leg) nta_leg_destroy(line.leg);
  line.leg = nullptr;
}

void UnsolicitedMwi::close() {
  for (auto& [_, line] : lines_) drop(line);
  lines_.clear();
}

}  // namespace dialtone::plugins::backend::sip
