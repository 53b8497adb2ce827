-- Test dialplan of voicemail: the shipped libraries (calls, features with
-- *98 and *99<box>, voicemails) and two numbers leaving a message in 1001;
-- numbers of 555 and four digits are DIDs the incalls of from-extern take.
local calls = require("calls")
local features = require("features")
local incalls = require("incalls")

function route_call(call)
  calls.prepare(call)
  if (call.called_number or ""):match("^555%d%d%d%d$") then
    call.origin = "extern"
    return incalls.call(call, call.called_number, "from-extern")
  end
  local n = call.callee or ""
  if n == "8001" or n == "8002" then
    call:voicemail("1001", n == "8002" and "busy" or "unavail")
    return { action = "done" }
  end
  local decision = features.route(call)
  if decision then return decision end
  return calls.route(call)
end
