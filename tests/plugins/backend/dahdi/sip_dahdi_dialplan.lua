-- A SIP phone and two simulated spans back to back: alice (a SIPp phone)
-- calls 0140001000, which goes out on span 1; the call arrives on span 2
-- (context from-extern), where "the operator" answers with a tone;
-- 0140002000 gets early media: the operator's in-band ringback before the
-- test answers for it. Both
-- scripts keep their call until the test sends "D" (read_digits), so no
-- sleep decides when the call ends.
local calls = require("calls")

function route_call(call)
  calls.prepare(call)
  if call.context == "from-extern" and call.called_number == "140002000" then
    -- The operator's exchange rings the called party: PROGRESS with in-band
    -- information and its ringback (425 Hz, not the 440 Hz of a local ring
    -- tone) until the test answers for it.
    call:progress()
    call:playtones("425/800,0/200")
    call:read_digits{ max = 64, timeout = 60, terminator = "D" }
    return { action = "done" }
  end
  if call.context == "from-extern" then
    dialtone.log("info", "operator answers " .. tostring(call.called_number) .. " from " ..
                 tostring(call.caller_number))
    call:answer()
    call:playtones("dial")
    call:read_digits{ max = 64, timeout = 60, terminator = "D" }
    return { action = "done" }
  end
  if call.called_number == "0140001000" then
    call:answer()
    local o = call:dial{ "dahdi/1/140001000", caller_number = "0612345678" }
    if o.status ~= "answered" then return { action = "reject", code = o.code } end
    call:read_digits{ max = 64, timeout = 60, terminator = "D" }
    -- Still linked to the span's leg: the call would go on past the script.
    call:hangup()
    return { action = "done" }
  end
  if call.called_number == "0140002000" then
    -- Early media (183 with the engine's SDP) while the span progresses;
    -- the answer (200 OK) once it connects, as lib/outcalls.lua does.
    local ok, why = call:progress()
    if not ok then return { action = "reject", code = 500, reason = why } end
    local o = call:dial{ "dahdi/1/140002000" }
    if o.status ~= "answered" then return { action = "reject", code = o.code } end
    call:answer()
    call:read_digits{ max = 64, timeout = 60, terminator = "D" }
    call:hangup()
    return { action = "done" }
  end
  return calls.route(call)
end
