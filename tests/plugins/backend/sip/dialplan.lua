-- The test dialplan: the shipped lua-dialplan (lib/calls.lua), with a
-- global user subroutine shortening the default 30 s ring time to 2 s so
-- that timeouts stay short (a user's own ring time is kept).
local calls = require("calls")
local subroutines = require("subroutines")

subroutines.define("xivo-subrgbl-user", function(call)
  if call.vars.XIVO_RINGSECONDS == "30" then call.vars.XIVO_RINGSECONDS = "2" end
end)

-- 7<exten>: rings local/<exten>@default, so that the dialplan runs again
-- for <exten> as a local leg (a group behind it rings its members).
function route_call(call)
  local exten = (call.callee or ""):match("^7(%d%d%d%d)$")
  if exten then
    calls.prepare(call)
    local outcome = call:dial{ "local/" .. exten .. "@default", timeout = 15 }
    if outcome.status == "answered" or outcome.status == "cancel" then return { action = "done" } end
    return { action = "reject", code = outcome.code }
  end
  return calls.route(call)
end
