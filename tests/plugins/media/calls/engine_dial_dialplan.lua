-- Test dialplan of dials from calls whose media ends in the engine: the
-- caller is answered first, then a SIP phone is rung with an offer from the
-- engine. A failed dial is reported to the caller's RTP peer as DTMF (the
-- SIP status, e.g. "488"), so every check is on what a phone receives.
local calls = require("calls")

local routes = {}

local function wait_for_test(call)
  call:read_digits{ max = 64, timeout = 60, terminator = "D" }
end

local function answer_and_dial(call, timeout)
  call:answer()
  local o = call:dial{ "sip/bob", timeout = timeout }
  if o.status ~= "answered" then
    dialtone.log("info", "dial from " .. call.channel .. ": " .. o.status .. " " .. tostring(o.code))
    call:send_dtmf(tostring(o.code))
    wait_for_test(call)
  end
end

-- 820: answered, then bob rings for up to 20 s.
routes["820"] = function(call) answer_and_dial(call, 20) end
-- 821: bob rings for 2 s only (a phone that never answers).
routes["821"] = function(call) answer_and_dial(call, 2) end

function route_call(call)
  calls.prepare(call)
  local route = routes[call.callee or ""]
  if route then
    route(call)
    return { action = "done" }
  end
  return calls.route(call)
end
