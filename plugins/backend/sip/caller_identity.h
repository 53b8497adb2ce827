// Who calls, as the peer asserts it (RFC 3325 P-Asserted-Identity, the
// older Remote-Party-ID draft, RFC 3323 Privacy), and what Dialtone asserts
// to a trunk in return. XiVO's trunk options decide: trustrpid = yes takes
// the asserted identity of an incoming call over its From; sendrpid = pai
// (or yes / rpid) adds the identity to outgoing INVITEs.
//
// Precedence for an incoming call from a trunk (seed 5.19.7):
//   trusted trunk:   P-Asserted-Identity, else Remote-Party-ID;party=calling, else From;
//   untrusted trunk: From only;
//   either:          Privacy: id (or header/user, or RPID privacy=full) hides the caller
//                    from the callee's phone, who is shown "Anonymous".
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dialtone::plugins::backend::sip {

// One header as received: (name, value); repeated headers are repeated.
using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct CallerIdentity {
  std::string number;  // the URI's user part, or a tel: number
  std::string name;    // display name, unquoted; may be empty
};

// The user part of a name-addr / addr-spec value: `"Name" <sip:123@host;x>`
// gives {"123", "Name"}; `<tel:+33123;y>` gives {"+33123", ""}. nullopt when
// no sip:, sips: or tel: URI is found.
std::optional<CallerIdentity> identity_of(std::string_view value);

// The asserted caller from a trusted peer's headers: the first
// P-Asserted-Identity with a name or a sip: URI preferred over a tel: one
// (their number is the same), else the first Remote-Party-ID with
// party=calling (or no party). nullopt when neither is present.
std::optional<CallerIdentity> asserted_caller(const HeaderList& headers);

// True when the caller asked not to be shown: a Privacy header with id,
// header or user, or a Remote-Party-ID with privacy=full / name / uri.
bool caller_hidden(const HeaderList& headers);

// What a trunk's `sendrpid` asks Dialtone to add to its INVITEs.
enum class SendIdentity { none, pai, rpid };
// XiVO's values: no (none), pai, yes / rpid (Remote-Party-ID); nullopt
// for anything else.
std::optional<SendIdentity> parse_send_identity(std::string_view text);

// The identity header(s) toward a trunk, CRLF-separated, without a trailing
// CRLF: for pai, `P-Asserted-Identity: "name" <sip:number@host>` (and
// `Privacy: id` when hidden); for rpid, a Remote-Party-ID with
// party=calling and privacy=off / full. Empty for none.
std::string identity_headers(SendIdentity how, const std::string& name, const std::string& number,
                             const std::string& host, bool hidden);

}  // namespace dialtone::plugins::backend::sip
