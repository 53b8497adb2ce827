-- Test dialplan of voicemail: the shipped libraries (calls, features with
-- *98 and *99<box>, voicemails) and two numbers leaving a message in 1001.
local calls = require("calls")
local features = require("features")

function route_call(call)
  calls.prepare(call)
  local n = call.callee or ""
  if n == "8001" or n == "8002" then
    call:voicemail("1001", n == "8002" and "busy" or "unavail")
    return { action = "done" }
  end
  local decision = features.route(call)
  if decision then return decision end
  return calls.route(call)
end
