// Phones behind NAT: the per-line `nat` option and whether a registration
// is reached at the address it came from. Plain C++ (no sofia types).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dialtone::plugins::backend::sip {

// How a line's phone is reached (XiVO/Asterisk's `nat` values accepted):
//   automatic: at the address its requests come from when that differs
//              from the address its Via names, i.e. a NAT rewrote it
//              (auto_force_rport, the default);
//   source:    always at that address (force_rport, yes);
//   contact:   always at its Contact (no).
enum class NatMode { automatic, source, contact };

// The endpoint option value; nothing when unknown. Asterisk lists such as
// "force_rport,comedia" are read by their signalling part (media latching
// is always on in the relay).
std::optional<NatMode> parse_nat_mode(std::string_view value);

// Whether a phone whose request's top Via names `sent_host`:`sent_port` (0:
// the default port) and which came from `source_ip`:`source_port` is
// reached at the source. The Via, not the Contact: a registration made for
// another device (third-party) has a Contact of its own.
bool reach_at_source(NatMode mode, const std::string& sent_host, int sent_port,
                     const std::string& source_ip, int source_port);

}  // namespace dialtone::plugins::backend::sip
