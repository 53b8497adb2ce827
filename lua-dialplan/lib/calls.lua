-- Basic call routing for the SIP backend.
--
-- backend.sip calls the global function `route_call(call)` (option
-- dialplan.function) for every authenticated INVITE. `call` holds:
--   id, caller (SIP username), caller_number, caller_name, callee (dialed
--   number, also called_number), context, vars (XIVO_SRCNUM, XIVO_DSTNUM,
--   XIVO_CONTEXT, XIVO_CALLORIGIN, XIVO_USERID, XIVO_LINEID).
-- It returns one decision:
--   { action = "dial", targets = { "<sip username>", ... }, timeout = <s> }
--   { action = "reject", code = <SIP status>, reason = "<text>" }
--
-- extensions.lua wires it with:
--   local calls = require("calls")
--   function route_call(call) return calls.route(call) end
local M = {}

-- Seconds a dialed line rings before the caller gets 480.
M.ring_timeout = 30

function M.route(call)
  local number = call.callee
  if number == nil or number == "" then
    return { action = "reject", code = 484, reason = "Address Incomplete" }
  end
  local lines = sip.find_line(number, call.context or "default")
  if lines == nil or #lines == 0 then
    return { action = "reject", code = 404, reason = "Not Found" }
  end
  return { action = "dial", targets = lines, timeout = M.ring_timeout }
end

return M
