-- Incoming calls from trunks: the DID (exact number or pattern with X, Z,
-- N, [..], "." and "!") selects an incall of the trunk's context, whose
-- destination receives the call.
--
-- config.incalls(context) gives { id, exten, destination = {type, ...},
--   caller_id_mode, caller_id_name, preprocess_subroutine, schedule_id,
--   fax_detect, fax_detect_timeout, fax_detect_email, call_record }.
-- Before the destination: the incall's call permissions (matching the
-- caller's number, seed 5.5.2), its schedule (lib/schedules.lua), its
-- preprocess subroutine and its fax detection (lib/faxes.lua); the
-- destination is any type lib/destinations.lua serves. With call_record
-- (or the subroutine xivocc-incall-recording) the call is recorded once a
-- user or a group member answers it (lib/recordings.lua).
local patterns = require("patterns")
local callerid = require("callerid")
local subroutines = require("subroutines")
local schedules = require("schedules")
local destinations = require("destinations")
local callpermissions = require("callpermissions")
local faxes = require("faxes")
local recordings = require("recordings")

local M = {}

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
  local refused = callpermissions.check_incoming(call, incall)
  if refused then return refused end
  local closed = schedules.check(call, "incall", { id = incall.id, name = did, schedule_id = incall.schedule_id },
                                 context, 0)
  if closed then return closed end
  if incall.call_record then recordings.request(call) end
  subroutines.run("did", incall.preprocess_subroutine, call)
  local fax = faxes.detect(call, incall)
  if fax then return fax end

  local d = incall.destination or { type = "none" }
  local what = "incall " .. tostring(incall.id) .. " (DID " .. did .. ")"
  local decision = destinations.route(call, d, context, 0, what)
  if decision then return decision end
  dialtone.log("info", string.format("call %s: %s has no destination; the call is declined", tostring(call.id), what))
  return { action = "reject", code = 603, status = 603, reason = "Decline" }
end

return M
