// Parses one datagram the way the SIP stack does (sofia's message parser,
// then the digest parser on any Authorization headers). Shared by the
// libFuzzer target and the malformed-corpus test.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dialtone::plugins::backend::sip {

// Returns 1 when sofia accepted the bytes as a complete SIP message.
int parse_network_bytes(const std::uint8_t* data, std::size_t size);

}  // namespace dialtone::plugins::backend::sip
