-- Call routing: the XiVO dialplan in Lua.
--
-- The global `route_call(call)` runs for every call a backend takes in
-- (backend.sip: an authenticated INVITE from a line, an INVITE from a
-- trunk) and for every `local/<exten>@<context>` leg the call core dials.
-- `call` holds: id, channel (its channel in the call core), caller (line
-- username or trunk name), caller_number, caller_name, called_number (also
-- callee), context, origin ("intern" from a line, "extern" from a trunk),
-- vars (XIVO_* variables, see below). Its methods are the call core's
-- (`channel` module): call:dial{...}, call:answer(), call:hangup(cause) ...
--
-- The script dials with call:dial{...}, which returns once the call is
-- answered, cancelled or failed, so a failure can be forwarded; it returns
-- one decision for what is left:
--   { action = "done" }                      -- answered or caller gone
--   { action = "reject", code = <SIP status>, reason = "<text>" }
--   { action = "dial", targets = {...}, timeout = <s> }   -- ring, no fallback
local subroutines = require("subroutines")
local callerid = require("callerid")
local users = require("users")
local incalls = require("incalls")
local outcalls = require("outcalls")
local groups = require("groups")
local callpermissions = require("callpermissions")
local destinations = require("destinations")
local schedules = require("schedules")
local voicemails = require("voicemails")
local conferences = require("conferences")
require("faxes")
require("ivr")  -- serves { type = "ivr", ivr_id } destinations (confd /1.1/ivr)
local parking = require("parking")
local callcompletion = require("callcompletion")

local M = {}

-- Forwards followed before a call is refused as a loop.
M.max_forwards = 5
-- Normalize caller numbers of calls from trunks (5.4.1 default rules).
M.normalize_incoming = true
-- Directory profile used to name callers from trunks (dird.reverse); nil
-- turns the reverse lookup off.
M.reverse_profile = "default"

-- A voicemail destination (an incall, a fallback or a schedule sending to
-- confd voicemail `voicemail_id`): the caller leaves a message after the
-- box's unavailable greeting, or its busy one when `greeting` is "busy".
destinations.handlers.voicemail = function(call, d)
  local box = voicemail and channel and voicemail.by_id(d.voicemail_id or 0)
  if not box then
    dialtone.log("warn", string.format("call %s: a destination sends to voicemail %s, which needs the app.voicemail "
      .. "plugin, the media engine and an enabled voicemail of that id", tostring(call.id), tostring(d.voicemail_id)))
    return destinations.unserved
  end
  voicemails.attach(call)
  call:voicemail(box, d.greeting == "busy" and "busy" or "unavail")
  return { action = "done" }
end

local reject = destinations.reject

-- The interfaces of SIP line usernames, as the call core names them.
function M.interfaces(lines)
  local out = {}
  for i, l in ipairs(lines or {}) do out[i] = "sip/" .. l end
  return out
end

-- Fills the XIVO_* variables every subroutine can read, and gives `call`
-- its methods (call:dial{...}).
function M.prepare(call)
  voicemails.attach(call)
  call.vars = call.vars or {}
  local v = call.vars
  call.called_number = call.called_number or call.callee
  call.origin = call.origin or v.XIVO_CALLORIGIN or "intern"
  v.XIVO_CALLORIGIN = call.origin
  v.XIVO_SRCNUM = call.caller_number or ""
  v.XIVO_DSTNUM = call.called_number or ""
  v.XIVO_CONTEXT = call.context or ""
  v.XIVO_CALLOPTIONS = v.XIVO_CALLOPTIONS or ""
end

-- Routes `number` dialed in `context` (a dialed number or a forward).
function M.dispatch(call, number, context, depth)
  depth = depth or 0
  if depth > M.max_forwards then
    dialtone.log("warn", string.format("call %s: more than %d forwards; refused as a loop",
                                       tostring(call.id), M.max_forwards))
    return reject(482, "Loop Detected")
  end
  if number == nil or number == "" then return reject(484, "Address Incomplete") end
  local user = config.user_by_exten(number, context)
  if user then
    if depth == 0 then callcompletion.forget(call) end
    local refused = callpermissions.check(call, number)
    if refused then return refused end
    return users.call(call, user, depth)
  end
  local group = config.group_by_exten(number, context)
  if group then return groups.call(call, group, depth) end
  local room = config.conference_by_exten(number, context)
  if room then return conferences.join(call, room) end
  local parked = parking.route(call, number, context, depth)
  if parked then return parked end
  local route, pattern, dialed = outcalls.find(config.outcalls(context), number)
  if route then
    local refused = callpermissions.check(call, number, route.id)
    if refused then return refused end
    local closed = schedules.check(call, "outcall", route, context, depth)
    if closed then return closed end
    local caller = nil
    local uid = tonumber(call.vars.XIVO_USERID)
    if uid then caller = config.user(uid) end
    return outcalls.dial(call, route, pattern, dialed, caller)
  end
  return reject(404, "Not Found")
end

users.route = M.dispatch
destinations.dispatch = M.dispatch
destinations.users = users
destinations.groups = groups
destinations.outcalls = outcalls

function M.route(call)
  M.prepare(call)
  local number = call.called_number
  if number == nil or number == "" then return reject(484, "Address Incomplete") end
  if call.origin == "extern" then
    if M.normalize_incoming then
      call.caller_number = callerid.normalize(call.caller_number)
      call.vars.XIVO_SRCNUM = call.caller_number
    end
    if M.reverse_profile then
      call.caller_name = callerid.reverse_name(call.caller_name, call.caller_number, M.reverse_profile)
    end
    return incalls.call(call, number, call.context)
  end
  return M.dispatch(call, number, call.context, 0)
end

return M
