// The decision a dialplan function returns for a call (docs/lua-dialplan.md,
// "route_call(call) -> decision"), read once for every channel driver:
//
// @code
//   auto d = dialtone::sdk::read_decision(results);   // the function's results
//   if (!d) ...                                       // no table: no decision
//   else if (d->action == "reject") refuse(d->code.value_or(404), d->reason);
//   else if (d->action == "dial") ring(d->targets, d->timeout_seconds.value_or(30));
// @endcode
//
// { action = "done" }                                    settled by call:dial
// { action = "reject", code = 486, reason = "Busy Here",
//   cause = 17 }                                         `status` is taken for `code`
// { action = "dial", targets = {"bob"}, timeout = 30 }   `targets` may be one string
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <dialtone/lua.h>
#include <dialtone/lua_fields.h>

namespace dialtone::sdk {

struct DialplanDecision {
  std::string action;                   // "done", "reject", "dial", or what the script wrote
  std::vector<std::string> targets;     // dial
  std::optional<int> timeout_seconds;   // dial
  std::optional<int> code;              // reject: SIP status (`code`, else `status`)
  std::optional<int> cause;             // reject: Q.850 cause, when the script has it
  std::string reason;                   // reject: SIP reason phrase
};

namespace detail {
inline std::optional<int> decision_int(const LuaTable& t, const char* key) {
  auto s = text_field(t, key);
  if (s.empty()) return std::nullopt;
  try {
    return std::stoi(s);
  } catch (...) {
    return std::nullopt;
  }
}
}  // namespace detail

// The decision in the first of a dialplan function's results; nullopt when
// that is not a table.
inline std::optional<DialplanDecision> read_decision(const LuaValues& results) {
  const LuaTable* t = results.empty() ? nullptr : results.front().as_table();
  if (!t) return std::nullopt;
  DialplanDecision d;
  d.action = text_field(*t, "action");
  d.targets = strings_field(*t, "targets");
  d.timeout_seconds = detail::decision_int(*t, "timeout");
  d.code = detail::decision_int(*t, "code");
  if (!d.code) d.code = detail::decision_int(*t, "status");
  d.cause = detail::decision_int(*t, "cause");
  d.reason = text_field(*t, "reason");
  return d;
}

}  // namespace dialtone::sdk
