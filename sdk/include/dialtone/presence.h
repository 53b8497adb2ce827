// The kernel's presence model: what a phone's BLF key, a PIDF watcher or a
// message-waiting lamp shows. It follows the call core's channel events
// (calls.channel.*) for every backend, the configuration (which lines own an
// extension, a user's forwards and services) and the mailbox counts the
// voicemail application reports. Backends serve it on their wire (SIP:
// SUBSCRIBE/NOTIFY for dialog, presence and message-summary).
//
// @code
//   auto presence = host.services().find<dialtone::sdk::PresenceService>();  // null: none
//   // What a key "1002" on alice's phone watches (extension, feature code...):
//   auto r = presence->resolve("alice", "1002");        // r->kind == extension
//   auto watch = presence->watch(*r, [](const dialtone::sdk::PresenceState& s) {
//     // any thread, keep it short: post to your own thread and return
//     for (auto& d : s.dialogs) use(d.state, d.remote_number);
//   });
//   auto now = presence->state(*r);                      // the state at once
//   // The voicemail application, when a message arrives:
//   presence->set_mwi("1001@default", 1, 0);
//   // `watch` stops the callbacks when destroyed.
// @endcode
//
// Threads: every method is thread-safe and never waits on I/O. Callbacks of
// one watch run one at a time and in the order of the changes, on the
// presence service's threads (bus delivery, configuration watch, the caller
// of set_mwi); none runs after its Watch is destroyed. Do not destroy a
// Watch from inside its own callback.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dialtone/result.h"

namespace dialtone::sdk {

// XiVO's online call recording code (features.conf `automixmon`, not a confd
// feature extension): pressed during a call, it starts or stops recording it;
// a BLF key on it is lit while a call of the key's user is recorded that way.
inline constexpr std::string_view kOnlineRecordingCode = "*3";

// The bus topics the media engine publishes when an online recording starts
// and stops; the body names the channels of the call:
// {"call_id": "...", "recorded": "<channel>", "channels": ["<channel>", ...], "by": "<channel>"}
inline constexpr std::string_view kOnlineRecordingStarted = "calls.recording.online.started";
inline constexpr std::string_view kOnlineRecordingStopped = "calls.recording.online.stopped";

// RFC 4235 dialog states, as phones show them: trying (the watched party
// dials), early (ringing), confirmed (talking), terminated (just ended).
enum class DialogState { trying, early, confirmed, terminated };

inline const char* to_string(DialogState s) {
  switch (s) {
    case DialogState::trying: return "trying";
    case DialogState::early: return "early";
    case DialogState::confirmed: return "confirmed";
    case DialogState::terminated: return "terminated";
  }
  return "terminated";
}

// One call leg of a watched extension (or, for a feature, one synthetic
// confirmed dialog while the feature is on).
struct PresenceDialog {
  std::string id;          // stable while the leg lives (the call core's channel id)
  std::string call_id;     // the leg's protocol id (SIP Call-ID); empty when none
  std::string local_tag, remote_tag;  // when the backend gives them
  bool initiator = false;  // the watched party placed the call
  DialogState state = DialogState::trying;
  std::string local_number;   // the watched side, as the call names it
  std::string remote_number, remote_name;  // the other party
  std::string endpoint;    // "<backend>/<endpoint>" of the leg ("sip/alice")
  std::int64_t started_ms = 0;
};

// What a subscription watches.
struct PresenceResource {
  enum class Kind {
    extension,  // the legs of the lines owning exten@context (a group's: its members' lines)
    feature,    // a user's forward or service: on or off
    mailbox,    // a voicemail box's message counts
  };
  Kind kind = Kind::extension;
  std::string exten, context;  // extension: "1002", "default"
  std::int64_t user_id = 0;    // feature: whose; extension: its main user (0: none)
  // feature: dnd, incallfilter, forward_unconditional, forward_noanswer,
  // forward_busy, bsfilter (a boss-secretary filter member: `argument`),
  // paging (the paging group numbered `argument`: on while a page to it runs),
  // onlinerec (a call of the user is recorded online: kOnlineRecordingCode).
  std::string feature;
  std::string argument;  // forward: the destination the key names ("": any)
  std::string mailbox;   // mailbox: "1001@default"

  // One string per resource ("ext:1002@default", "feat:12:dnd:", "mwi:1001@default").
  std::string key() const {
    switch (kind) {
      case Kind::extension: return "ext:" + exten + "@" + context;
      case Kind::feature: return "feat:" + std::to_string(user_id) + ":" + feature + ":" + argument;
      case Kind::mailbox: return "mwi:" + mailbox;
    }
    return {};
  }
};

struct PresenceState {
  std::vector<PresenceDialog> dialogs;  // extension and feature resources
  bool feature_on = false;              // feature
  bool dnd = false;                     // extension: its main user's do-not-disturb
  // extension: one of its lines has a registered contact (the registrar's
  // sip.registration.<line> events on the bus); PIDF shows `closed` without.
  bool registered = false;
  int new_messages = 0, old_messages = 0;  // mailbox
  // Grows with every change of this resource (NOTIFY version counters are
  // the subscriber's own; this only orders the callbacks).
  std::uint64_t version = 0;
  bool operator==(const PresenceState& o) const;
};

class PresenceService {
 public:
  static constexpr std::string_view kServiceName = "kernel.presence";
  static constexpr int kServiceVersion = 1;
  virtual ~PresenceService() = default;

  // What `target` (the user part a phone subscribes to: "1002", "*25",
  // "*211002") means for the watcher whose line username is `watcher_line`,
  // in that line's context. Feature codes (*21, *22, *23 with or without a
  // destination, *25) name the watcher's own user's forward or DND;
  // *27 its incoming call filtering; *37<member id> a boss-secretary filter
  // member of a filter the watcher's user belongs to (lit while that member
  // has it on).
  // not_found: no such extension in the line's context, no such line, or a
  // feature code for a line without user.
  virtual Result<PresenceResource> resolve(std::string_view watcher_line, std::string_view target) const = 0;
  // The mailbox of a line: its first extension "<exten>@<context>";
  // not_found when the line has no extension.
  virtual Result<PresenceResource> mailbox_of(std::string_view line) const = 0;

  class Watch {
   public:
    virtual ~Watch() = default;
  };
  // `on_change` runs after every change of `resource` (not for the state at
  // the time of the call: read state()).
  virtual std::unique_ptr<Watch> watch(const PresenceResource& resource,
                                       std::function<void(const PresenceState&)> on_change) = 0;
  virtual PresenceState state(const PresenceResource& resource) const = 0;

  // Message counts of `mailbox` ("1001@default"), from the voicemail
  // application: watchers of the box are told when they change.
  virtual void set_mwi(const std::string& mailbox, int new_messages, int old_messages) = 0;
};

inline bool PresenceState::operator==(const PresenceState& o) const {
  if (feature_on != o.feature_on || dnd != o.dnd || registered != o.registered || new_messages != o.new_messages ||
      old_messages != o.old_messages || dialogs.size() != o.dialogs.size())
    return false;
  for (std::size_t i = 0; i < dialogs.size(); ++i) {
    auto& a = dialogs[i];
    auto& b = o.dialogs[i];
    if (a.id != b.id || a.state != b.state || a.remote_number != b.remote_number ||
        a.remote_name != b.remote_name || a.initiator != b.initiator || a.call_id != b.call_id)
      return false;
  }
  return true;
}

}  // namespace dialtone::sdk
