// The headers that make a phone answer an INVITE on its own (paging,
// intercom), chosen by the phone's vendor as its REGISTER's User-Agent
// names it. Asked for with the dialing channel's variable AUTOANSWER=yes.
//
// @code
//   auto_answer_headers("Yealink SIP-T46S 66.86.0.15", "10.0.0.1")
//     // "Call-Info: <sip:10.0.0.1>;answer-after=0"
// @endcode
#pragma once

#include <string>
#include <string_view>

namespace dialtone::plugins::backend::sip {

// The channel variable that asks for auto-answer ("yes", "1" or "true").
inline constexpr std::string_view kAutoAnswerVariable = "AUTOANSWER";

bool auto_answer_requested(std::string_view value);

// Header lines ("Name: value", joined by CRLF, no trailing CRLF) for a
// phone registered with `user_agent`; `host` is Dialtone's SIP host (the
// Call-Info URI). Unknown or empty user agents get every common form.
std::string auto_answer_headers(std::string_view user_agent, std::string_view host);

}  // namespace dialtone::plugins::backend::sip
