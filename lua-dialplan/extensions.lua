-- Dialtone dialplan entry file.
--
-- The kernel calls the global functions below, each call in its own
-- coroutine. See docs/lua-dialplan.md for the entry points, the values they
-- receive and return, and the functions the host provides.

-- Characters a dialed number may contain (digits, *, #, and a leading +).
local function dialable(number)
  return type(number) == "string" and number:match("^%+?[%d%*#]+$") ~= nil
end

-- on_incoming_call(call) -> decision
--
-- `call` carries at least: id, caller_number, caller_name, called_number.
-- Returns one routing decision table:
--   { action = "dial", destination = "<number>", timeout = <seconds> }
--   { action = "reject", status = <SIP status>, reason = "<text>" }
function on_incoming_call(call)
  local number = call.called_number
  if number == nil or number == "" then
    return { action = "reject", status = 484, reason = "Address Incomplete" }
  end
  if not dialable(number) then
    dialtone.log("info", string.format("call %s: '%s' is not a dialable number",
                                       tostring(call.id), number))
    return { action = "reject", status = 404, reason = "Not Found" }
  end
  dialtone.log("debug", string.format("call %s: %s -> %s", tostring(call.id),
                                      tostring(call.caller_number), number))
  return { action = "dial", destination = number, timeout = 30 }
end
