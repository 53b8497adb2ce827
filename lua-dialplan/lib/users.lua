-- Calls to a user: DND, forwards (unconditional, busy, no answer), the
-- simultaneous calls limit and the ring time, as XiVO's user dialplan.
--
-- The user table comes from config.user_by_exten / config.user:
--   id, uuid, firstname, lastname, exten, context, lines (SIP usernames),
--   ring_seconds, simultaneous_calls, dnd, incallfilter, mobile_phone_number,
--   outgoing_caller_id, forward_{unconditional,busy,noanswer}_{enabled,destination},
--   call_record (every call to or from the user is recorded: lib/recordings.lua)
--   online_call_record (*3 records the call in progress: lib/recordings.lua)
--   email (confd's), voicemail_email (the address of its enabled voicemail)
--   schedule_id (lib/schedules.lua), fallbacks = {busy_destination,
--   noanswer_destination, congestion_destination, fail_destination}: where
--   a call nothing forwards goes, per reason (lib/destinations.lua)
local subroutines = require("subroutines")
local schedules = require("schedules")
local destinations = require("destinations")
local bsfilter = require("bsfilter")
local voicemails = require("voicemails")
local recordings = require("recordings")
local callcompletion = require("callcompletion")

local M = {}

-- Ring time used when the user has 0 (no limit is not offered).
M.default_ring_seconds = 30

-- Set by calls.lua: routes a forward destination like a dialed number.
M.route = nil

local function forward(call, user, kind, depth)
  local destination = user["forward_" .. kind .. "_destination"]
  call.vars.XIVO_FWD_TYPE = "USER_" .. kind:upper()
  call.vars.XIVO_FWD_REFERER = "user:" .. tostring(user.id)
  subroutines.run_forward("user", call)
  dialtone.log("debug", string.format("call %s: user %s forwards (%s) to %s", tostring(call.id),
                                      tostring(user.id), kind, destination))
  return M.route(call, destination, user.context, depth + 1)
end

local function forward_enabled(user, kind)
  local d = user["forward_" .. kind .. "_destination"]
  return user["forward_" .. kind .. "_enabled"] and type(d) == "string" and d ~= ""
end

-- What the caller gets when the user cannot be reached and nothing forwards.
M.final = {
  busy = { action = "reject", code = 486, status = 486, reason = "Busy Here" },
  noanswer = { action = "reject", code = 480, status = 480, reason = "No Answer" },
  unavailable = { action = "reject", code = 480, status = 480, reason = "Temporarily Unavailable" },
}

-- The fallback reason of a dial status (XiVO's dialactions).
local fallback_of = { busy = "busy", noanswer = "noanswer", congestion = "congestion", unavailable = "fail" }

local function fallback(call, user, status, depth)
  local reason = fallback_of[status] or "fail"
  local d = (user.fallbacks or {})[reason .. "_destination"]
  if not destinations.is_set(d) then return nil end
  local what = string.format("user %s's %s fallback", tostring(user.id), reason)
  dialtone.log("info", string.format("call %s: %s sends it to %s", tostring(call.id), what, destinations.describe(d)))
  return destinations.route(call, d, user.context, depth + 1, what)
end

-- Rings `user` for `call`; returns the decision for the caller.
function M.call(call, user, depth)
  depth = depth or 0
  local closed = schedules.check(call, "user", user, user.context, depth)
  if closed then return closed end
  if forward_enabled(user, "unconditional") then return forward(call, user, "unconditional", depth) end
  -- A boss whose secretaries filter the call (lib/bsfilter.lua).
  local filtered = bsfilter.call(call, user, depth)
  if filtered then return filtered end
  if user.incallfilter then
    -- XiVO's "incoming call filtering" is Asterisk's call screening (Dial
    -- option p): the caller records a name the callee hears before taking
    -- the call. That needs the media applications.
    dialtone.log("info", string.format("call %s: user %s has incoming call filtering on, which needs call "
                                       .. "screening prompts (media applications); the user is rung without screening",
                                       tostring(call.id), tostring(user.id)))
  end

  local vars = call.vars
  local lines = user.lines or {}
  local interfaces = {}
  for i, l in ipairs(lines) do interfaces[i] = "SIP/" .. l end
  vars.XIVO_DSTID = tostring(user.id)
  vars.XIVO_DST_FIRSTNAME = user.firstname or ""
  vars.XIVO_DST_LASTNAME = user.lastname or ""
  vars.XIVO_INTERFACE = table.concat(interfaces, "&")
  vars.XIVO_MOBILEPHONENUMBER = user.mobile_phone_number or ""
  vars.XIVO_RINGSECONDS = tostring(user.ring_seconds ~= nil and user.ring_seconds > 0
                                   and user.ring_seconds or M.default_ring_seconds)
  vars.XIVO_SIMULTCALLS = tostring(user.simultaneous_calls or 5)
  vars.XIVO_CALLOPTIONS = vars.XIVO_CALLOPTIONS or ""
  subroutines.run("user", nil, call)

  -- The subroutine may have changed the interfaces or the ring time.
  local targets = {}
  for l in (vars.XIVO_INTERFACE or ""):gmatch("SIP/([^&]+)") do targets[#targets + 1] = l end
  local ring = tonumber(vars.XIVO_RINGSECONDS) or M.default_ring_seconds

  local outcome
  if user.dnd then
    outcome = { status = "busy", code = 486 }
  elseif #targets == 0 then
    outcome = { status = "unavailable", code = 480 }
  else
    local interfaces = {}
    for i, l in ipairs(targets) do interfaces[i] = "sip/" .. l end
    if channel.active_calls(interfaces) >= (tonumber(vars.XIVO_SIMULTCALLS) or 5) then
      outcome = { status = "busy", code = 486, limited = true }
    else
      interfaces.timeout = ring
      interfaces.caller_number = call.caller_number
      interfaces.caller_name = call.caller_name
      local record = recordings.wanted(call, user) and recordings.prepare(call)
      -- A recorded call is recorded whole; *3 is for the others.
      local online = not record and recordings.online_wanted(call, user)
      if online and not recordings.prepare(call) then online = nil end
      outcome = call:dial(interfaces)
      if record and outcome.status == "answered" then recordings.start(call) end
      if online and outcome.status == "answered" then recordings.allow_online(call, online, outcome) end
    end
  end
  call.dial_status = outcome.status
  vars.XIVO_DIALSTATUS = outcome.status
  -- *40 may ask to be called back (lib/callcompletion.lua): the user first
  -- called, not one a forward reached.
  if depth == 0 then callcompletion.offer(call, user, outcome.status, outcome.limited) end

  if outcome.status == "answered" or outcome.status == "cancel" then
    return { action = "done" }
  end
  if outcome.status == "busy" and forward_enabled(user, "busy") then
    return forward(call, user, "busy", depth)
  end
  if (outcome.status == "noanswer" or outcome.status == "unavailable" or outcome.status == "congestion")
      and forward_enabled(user, "noanswer") then
    return forward(call, user, "noanswer", depth)
  end
  return fallback(call, user, outcome.status, depth)
      or voicemails.unanswered(call, user, outcome.status)
      or M.final[outcome.status] or M.final.unavailable
end

return M
