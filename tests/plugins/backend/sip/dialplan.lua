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
-- 8<exten><exten>: rings both as local legs at once, each dialing its user's
-- SIP line from the same caller.
function route_call(call)
  local exten = (call.callee or ""):match("^7(%d%d%d%d)$")
  local first, second = (call.callee or ""):match("^8(%d%d%d%d)(%d%d%d%d)$")
  if exten or first then
    calls.prepare(call)
    local targets = exten and { "local/" .. exten .. "@default" }
                    or { "local/" .. first .. "@default", "local/" .. second .. "@default" }
    targets.timeout = 15
    local outcome = call:dial(targets)
    if outcome.status == "answered" or outcome.status == "cancel" then return { action = "done" } end
    return { action = "reject", code = outcome.code }
  end
  -- xfer-<user>-<exten>: rings <user>'s line; once it answered, the script
  -- transfers the caller to <exten> (call:transfer) and leaves.
  local user, target = (call.callee or ""):match("^xfer%-(%a+)%-(%d+)$")
  if user then
    calls.prepare(call)
    local outcome = call:dial{ "sip/" .. user, timeout = 15 }
    if outcome.status ~= "answered" then return { action = "reject", code = outcome.code } end
    dialtone.sleep(300)
    local ok, err = call:transfer(target)
    if not ok then dialtone.log("warn", "call:transfer: " .. tostring(err)) end
    return { action = "done" }
  end
  return calls.route(call)
end
