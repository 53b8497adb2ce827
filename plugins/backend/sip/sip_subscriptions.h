// SUBSCRIBE/NOTIFY (RFC 6665) for the dialog (RFC 4235), presence (RFC
// 3863) and message-summary (RFC 3842) event packages, served from the
// kernel's presence service. A subscription is one dialog of its own:
// authenticated like REGISTER when it starts, refreshed in its dialog,
// ended by Expires: 0 or by its expiry with a terminated NOTIFY.
//
// Threads: everything here runs on the SIP thread. Presence changes arrive
// on the presence service's threads and are posted to the SIP thread's
// inbox; NOTIFYs go out one at a time per subscription, in order, each
// state the presence service reported (so a quick ring-then-answer shows
// both), without any wait on the SIP thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <dialtone/presence.h>

#include "plugins/backend/sip/sip_stack.h"
#include "plugins/backend/sip/sofia_wrappers.h"

namespace dialtone::plugins::backend::sip {

struct LineCredentials;

class Subscriptions {
 public:
  enum class Package { dialog, presence, message_summary };

  explicit Subscriptions(SipStack::Impl& stack) : s_(stack) {}
  ~Subscriptions();

  // A SUBSCRIBE outside any dialog (the front door let it in); returns 0.
  int on_subscribe(nta_incoming_t* irq, const sip_t* sip);
  // The stack stops: subscriptions are dropped without NOTIFY; their rows
  // stay in the store, and the next start deactivates them (deactivate()).
  void close();
  // Sends NOTIFY terminated;reason=deactivated in each dialog of an earlier
  // run: the phones subscribe again at once.
  void deactivate(std::vector<SavedSubscription> subs);
  // Any thread.
  std::size_t count() const { return count_.load(); }
  std::size_t count_of(const std::string& line) const;
  // Whether `line` holds a message-summary subscription (its lamp is told
  // there, not by unsolicited NOTIFYs).
  bool has_message_summary(const std::string& line) const { return mwi_lines_.count(line) != 0; }
  // NOTIFYs sent and answered 2xx since start (any thread).
  std::uint64_t notifies_sent() const { return sent_.load(); }
  std::uint64_t notifies_answered() const { return answered_.load(); }

 private:
  struct Sub {
    Subscriptions* owner = nullptr;
    std::uint64_t id = 0;
    Package package = Package::dialog;
    std::string line;     // the subscriber's line username
    std::string entity;   // sip:<user>@<host>, as subscribed
    sdk::PresenceResource resource;
    nta_leg_t* leg = nullptr;
    nta_outgoing_t* orq = nullptr;        // the NOTIFY in flight
    std::int64_t expires_at_ms = 0;       // monotonic
    std::uint64_t version = 0;            // dialog-info version of the next NOTIFY
    // States waiting for the NOTIFY in flight (at most kMaxQueued): a vector,
    // empty and without a buffer most of the time (a std::deque allocates 544
    // bytes even empty, per subscription).
    std::vector<sdk::PresenceState> queue;
    sdk::PresenceState last;              // the last state queued or sent
    bool terminating = false;             // the next NOTIFY is the last
    std::string reason;                   // of Subscription-State: terminated
    std::unique_ptr<sdk::PresenceService::Watch> watch;
    // Its row in the store (the dialog as SavedSubscription has it is written
    // once, at the start): Call-ID and Dialtone's tag; empty for a fetch.
    std::string call_id, local_tag;
  };

  void start(nta_incoming_t* irq, const sip_t* sip, const LineCredentials& line, Package package,
             long expires);
  static int on_dialog_request(void* magic, nta_leg_t* leg, nta_incoming_t* irq, const sip_t* sip);
  int refresh(Sub& sub, nta_incoming_t* irq, const sip_t* sip);
  void changed(std::uint64_t id, const sdk::PresenceState& state);
  sdk::PresenceState current(const Sub& sub);
  void push(Sub& sub, const sdk::PresenceState& state);
  void send_next(Sub& sub);
  static int on_notify_response(void* magic, nta_outgoing_t* orq, const sip_t* sip);
  static int on_deactivated(void* magic, nta_outgoing_t* orq, const sip_t* sip);
  // The last NOTIFY says terminated (reason), then the subscription goes.
  void terminate(Sub& sub, const std::string& reason);
  // Frees the subscription from the loop, outside sofia's callbacks.
  void erase(std::uint64_t id);
  static void on_timer(void*, su_timer_t*, void* arg);
  void expire();
  // The expiry granted to a SUBSCRIBE (RFC 6665 4.1.2.1: shortened to
  // subscribe.expires_max, the default when absent), or nullopt after
  // answering 423 when it asks for less than subscribe.expires_min.
  std::optional<long> granted_expires(nta_incoming_t* irq, const sip_t* sip) const;

  SipStack::Impl& s_;
  std::unordered_map<std::uint64_t, std::unique_ptr<Sub>> subs_;
  std::unordered_map<std::string, std::size_t> per_line_;
  std::unordered_map<std::string, std::size_t> mwi_lines_;  // message-summary subscriptions per line
  std::uint64_t next_id_ = 1;
  su_timer_t* timer_ = nullptr;
  std::atomic<std::size_t> count_{0};  // read by other threads
  std::atomic<std::uint64_t> sent_{0}, answered_{0};
  // Dialogs of an earlier run, while their last NOTIFY is in flight.
  std::unordered_map<nta_outgoing_t*, nta_leg_t*> deactivating_;
};

}  // namespace dialtone::plugins::backend::sip
