// Unsolicited message-waiting NOTIFYs (RFC 3842 bodies without a
// subscription, as Asterisk sends them to phones provisioned not to
// subscribe): a registered line whose phones hold no message-summary
// subscription gets its mailbox's counts in an out-of-dialog NOTIFY to each
// of its contacts at every change of the counts, and to a contact that
// newly registers (a new Contact or a new Call-ID: a phone that booted)
// when a message is there or its lamp was lit. Refreshes send nothing. A
// line with its own subscription gets the counts there instead.
//
// Like Asterisk's per-peer MWI dialog, a line's NOTIFYs share one Call-ID
// and From tag with a growing CSeq, so a phone can order them.
//
// Threads: everything runs on the SIP thread; the presence service's
// callbacks are posted to it through the stack's inbox.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <dialtone/presence.h>

#include "plugins/backend/sip/sip_stack.h"
#include "plugins/backend/sip/sofia_wrappers.h"

namespace dialtone::plugins::backend::sip {

class UnsolicitedMwi {
 public:
  explicit UnsolicitedMwi(SipStack::Impl& stack) : s_(stack) {}
  ~UnsolicitedMwi() { close(); }

  // `aor`'s bindings are now `bindings` (empty: unregistered).
  void bindings_changed(const std::string& aor, const std::vector<Binding>& bindings);
  // The stack stops: watches and dialogs go, nothing more is sent.
  void close();

 private:
  struct Line {
    std::string mailbox;  // "1001@default": what the watch watches
    std::unique_ptr<sdk::PresenceService::Watch> watch;
    nta_leg_t* leg = nullptr;       // the line's one NOTIFY dialog (Call-ID, From tag)
    std::set<std::string> known;    // "<contact> <call-id>" of the bindings seen
    bool lit = false;               // the last NOTIFY said Messages-Waiting: yes
  };
  void changed(const std::string& aor, const std::string& mailbox, const sdk::PresenceState& state);
  // NOTIFY `state` to `to`, bindings of `aor`.
  void send(const std::string& aor, Line& line, const sdk::PresenceState& state,
            const std::vector<Binding>& to);
  void drop(Line& line);

  SipStack::Impl& s_;
  std::map<std::string, Line> lines_;  // registered lines with a mailbox, by AOR
};

}  // namespace dialtone::plugins::backend::sip
