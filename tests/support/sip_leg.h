// A call leg as backend.sip declares it to the call core (1001, Alice,
// calling 1002), for the call core's tests and its benchmark. Header-only.
//
// @code
//   #include "tests/support/sip_leg.h"
//   auto a = core.create_channel(dialtone::testing::sip_leg(sdk::ChannelDirection::inbound, "alice"));
// @endcode
#pragma once

#include <string>
#include <utility>

#include <dialtone/calls.h>

namespace dialtone::testing {

inline sdk::ChannelSpec sip_leg(sdk::ChannelDirection dir, std::string endpoint, std::string call_id = {}) {
  sdk::ChannelSpec s;
  s.backend = "sip";
  s.endpoint = std::move(endpoint);
  s.direction = dir;
  s.call_id = std::move(call_id);
  s.caller_number = "1001";
  s.caller_name = "Alice";
  s.callee_number = "1002";
  s.protocol_id = "abc@host";
  s.backend_ref = "stack-call-1";
  return s;
}

}  // namespace dialtone::testing
