-- A span's incoming call routed by DID to a SIP phone: alice (a SIPp phone
-- answered by Dialtone) calls 0140002000 out on span 1; it arrives on span 2
-- (context from-extern), whose incall for 140002000 sends it to the user
-- bob, rung on his SIP line with an offer from the media engine. A call on
-- the FXO line (span 3, from-line) rings bob with the line's caller ID.
local calls = require("calls")

function route_call(call)
  calls.prepare(call)
  if call.called_number == "0140002000" then
    local ok, why = call:answer()
    if not ok then dialtone.log("warn", "alice not answered: " .. tostring(why)) end
    local o = call:dial{ "dahdi/1/140002000", caller_number = "0612345678" }
    if o.status ~= "answered" then
      dialtone.log("warn", "span call not answered: " .. o.status .. " " .. tostring(o.code))
      return { action = "reject", code = o.code }
    end
    return { action = "done" }
  end
  if call.context == "from-line" then
    -- An analog line rings with its caller ID: bob's phone shows it.
    dialtone.log("info", "line call from '" .. tostring(call.caller_number) .. "' '" .. tostring(call.caller_name) .. "'")
    local o = call:dial{ "sip/bob", timeout = 30 }
    if o.status ~= "answered" then return { action = "reject", code = o.code } end
    return { action = "done" }
  end
  local decision = calls.route(call)
  if call.context == "from-extern" then
    dialtone.log("info", "span call to " .. tostring(call.called_number) .. ": " .. tostring(decision.action) ..
                 " " .. tostring(decision.code or ""))
  end
  return decision
end
