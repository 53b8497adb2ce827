// RFC 3842 message-summary: the MWI lamp lights on Messages-Waiting: yes.
#include "plugins/backend/sip/event_bodies.h"

namespace dialtone::plugins::backend::sip {

std::string message_summary(const sdk::PresenceState& s, const std::string& account) {
  std::string b = std::string("Messages-Waiting: ") + (s.new_messages > 0 ? "yes" : "no") + "\r\n";
  b += "Message-Account: " + account + "\r\n";
  b += "Voice-Message: " + std::to_string(s.new_messages) + "/" + std::to_string(s.old_messages) +
       " (0/0)\r\n";
  return b;
}

}  // namespace dialtone::plugins::backend::sip
