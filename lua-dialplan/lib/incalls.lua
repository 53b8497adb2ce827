-- Incoming calls from trunks: the DID (exact number or pattern with X, Z,
-- N, [..], "." and "!") selects an incall of the trunk's context, whose
-- destination receives the call.
--
-- config.incalls(context) gives { id, exten, destination = {type, ...},
--   caller_id_mode, caller_id_name, preprocess_subroutine }.
local patterns = require("patterns")
local callerid = require("callerid")
local subroutines = require("subroutines")

local M = {}

-- Set by calls.lua: routes an extension in a context.
M.route = nil
M.users = nil
M.groups = nil

-- The incall for `did`: an exact DID first, then the most specific pattern.
function M.find(incalls, did)
  local best
  for _, incall in ipairs(incalls or {}) do
    local exten = incall.exten
    if exten == did then return incall end
    if patterns.is_pattern(exten) and patterns.extension_matches(exten, did)
        and (not best or patterns.specificity(exten) < patterns.specificity(best.exten)) then
      best = incall
    end
  end
  return best
end

function M.call(call, did, context)
  local incall = M.find(config.incalls(context), did)
  if not incall then
    dialtone.log("info", string.format("call %s: no incall for DID %s in %s", tostring(call.id), did,
                                       tostring(context)))
    return { action = "reject", code = 404, status = 404, reason = "Not Found" }
  end
  call.caller_name = callerid.incall_name(call.caller_name, incall.caller_id_mode,
                                          incall.caller_id_name)
  call.vars.XIVO_INCALL_ID = tostring(incall.id)
  call.vars.XIVO_DSTNUM = did
  subroutines.run("did", incall.preprocess_subroutine, call)

  local d = incall.destination or { type = "none" }
  if d.type == "user" then
    local user = config.user(tonumber(d.user_id) or 0)
    if not user then return { action = "reject", code = 404, status = 404, reason = "Not Found" } end
    return M.users.call(call, user, 0)
  end
  if d.type == "group" then
    local group = config.group(tonumber(d.group_id) or 0)
    if not group then return { action = "reject", code = 404, status = 404, reason = "Not Found" } end
    return M.groups.call(call, group)
  end
  if d.type == "extension" then
    return M.route(call, tostring(d.exten), d.context or context, 0)
  end
  if d.type == "hangup" then
    return { action = "reject", code = 603, status = 603, reason = "Decline" }
  end
  dialtone.log("info", string.format("call %s: incall %s has destination '%s', which this dialplan does not serve",
                                     tostring(call.id), tostring(incall.id), tostring(d.type)))
  return { action = "reject", code = 404, status = 404, reason = "Not Found" }
end

return M
