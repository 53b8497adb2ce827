// Bodies of the NOTIFYs backend.sip sends for subscriptions, built from the
// kernel's presence state: dialog-info (RFC 4235) for BLF keys, PIDF (RFC
// 3863) for presence watchers, message-summary (RFC 3842) for MWI lamps.
// Pure functions, no sofia: unit-tested on their own.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <dialtone/presence.h>
#include <dialtone/text.h>

namespace dialtone::plugins::backend::sip {

// Bodies escape values with the SDK's one XML escaper.
using sdk::text::xml_escape;

struct DialogInfoParams {
  std::string entity;     // "sip:1002@pbx": the resource the phone subscribed to
  std::string domain;     // host written in identities and targets
  std::uint64_t version = 0;  // the subscription's own counter, from 0
  // Directed pickup code written as the remote target of a ringing
  // dialog the watched party receives ("*8" -> sip:*81002@pbx): Snom's
  // key dials it when pressed during ringing, as Asterisk does. confd's
  // `pickup` feature code; empty: the caller's own target.
  std::string pickup_code = "*8";
};

// application/dialog-info+xml, state="full": every dialog of the resource.
std::string dialog_info_xml(const sdk::PresenceState& s, const DialogInfoParams& p);

// application/pidf+xml for `entity`: open unless do-not-disturb; an
// on-the-phone activity (RPID, RFC 4480) while a dialog is active.
std::string pidf_xml(const sdk::PresenceState& s, const std::string& entity);

// application/simple-message-summary.
std::string message_summary(const sdk::PresenceState& s, const std::string& account);

}  // namespace dialtone::plugins::backend::sip
