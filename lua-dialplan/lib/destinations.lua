-- Destinations as confd stores them (XiVO's dialactions): where an incall
-- sends its calls, where a group or a user sends the calls it did not take
-- (fallbacks), where a closed schedule sends them.
--
--   { type = "user", user_id, ring_time }      rings the user (its forwards, DND...)
--   { type = "group", group_id, ring_time }    rings the group
--   { type = "extension", exten, context }     routes the number as if dialed
--   { type = "outcall", outcall_id, exten }    dials exten through that route's trunks
--   { type = "hangup", cause }                 normal (603), busy (486), congestion (503)
--   { type = "none" }                          nothing: the caller's default applies
--   voicemail, ivr, conference, sound, queue, application, custom:
--     served by a handler a media application (or the dialplan author) sets in
--     M.handlers[type]; with none, one log line names the destination and the
--     caller gets M.unserved (480).
-- A call its incall records (lib/recordings.lua) is answered and recorded
-- before a voicemail, conference, sound or IVR handler runs.
local recordings = require("recordings")

local M = {}

-- Set by calls.lua (they require each other).
M.users = nil
M.groups = nil
M.outcalls = nil
M.dispatch = nil

-- type -> function(call, destination, context, depth) returning a decision.
M.handlers = {}
-- The same for { type = "application", application = <name> }, by name
-- (fax_to_mail: lib/faxes.lua).
M.applications = {}

local hangup_codes = {
  normal = { 603, "Decline" },
  busy = { 486, "Busy Here" },
  congestion = { 503, "Service Unavailable" },
}

-- What each type needs that is not in this dialplan yet, for the log line.
local needs = {
  voicemail = "the voicemail application",
  conference = "the conference application",
  sound = "the sound playback application",
  queue = "call center queues",
  application = "the application it names",
  custom = "a Lua handler (custom destinations are Asterisk commands elsewhere)",
}

-- The decision refusing a call with a SIP status and reason phrase
-- (`status` too, the name older scripts read); every module refuses this way.
function M.reject(code, reason)
  return { action = "reject", code = code, status = code, reason = reason }
end
local reject = M.reject

-- What a caller gets for a destination nothing serves.
M.unserved = reject(480, "Temporarily Unavailable")

-- True when `d` sends the call somewhere (not nil, not "none").
function M.is_set(d)
  return type(d) == "table" and type(d.type) == "string" and d.type ~= "none" and d.type ~= ""
end

-- Short text naming `d`, for log lines.
function M.describe(d)
  if not M.is_set(d) then return "none" end
  local id = d.user_id or d.group_id or d.voicemail_id or d.ivr_id or d.conference_id or d.queue_id
      or d.outcall_id or d.exten or d.application or d.filename or d.cause or d.command
  return d.type .. (id and (" " .. tostring(id)) or "")
end

-- Sends `call` to destination `d`; `what` names who chose it (for the log).
-- Returns the decision, or nil when `d` is none (the caller decides then).
function M.route(call, d, context, depth, what)
  if not M.is_set(d) then return nil end
  depth = depth or 0
  local t = d.type
  local handler = M.handlers[t]
  if t == "application" then handler = M.applications[d.application or ""] or handler end
  if handler then
    recordings.before_destination(call, t)
    return handler(call, d, context, depth)
  end
  if t == "user" or t == "group" then
    -- config.user / config.group; d.user_id / d.group_id
    local target = config[t](tonumber(d[t .. "_id"]) or 0)
    if not target then
      dialtone.log("warn", string.format("call %s: %s sends to %s %s, which does not exist or is disabled",
                                         tostring(call.id), what or "a destination", t, tostring(d[t .. "_id"])))
      return reject(404, "Not Found")
    end
    local ring = tonumber(d.ring_time)
    if t == "user" then
      if ring and ring > 0 then target.ring_seconds = ring end
      return M.users.call(call, target, depth)
    end
    if ring and ring > 0 then target.timeout = ring end
    return M.groups.call(call, target, depth)
  end
  if t == "extension" then
    return M.dispatch(call, tostring(d.exten or ""), d.context or context, depth + 1)
  end
  if t == "outcall" then
    for _, route in ipairs(config.outcalls() or {}) do
      if tonumber(route.id) == tonumber(d.outcall_id) then
        local exten = tostring(d.exten or "")
        return M.outcalls.dial(call, route, {}, exten, nil)
      end
    end
    dialtone.log("warn", string.format("call %s: %s sends to outcall %s, which does not exist or is disabled",
                                       tostring(call.id), what or "a destination", tostring(d.outcall_id)))
    return reject(404, "Not Found")
  end
  if t == "hangup" then
    local c = hangup_codes[d.cause or "normal"] or hangup_codes.normal
    return reject(c[1], c[2])
  end
  dialtone.log("warn", string.format(
    "call %s: %s sends to %s, which needs %s, not available on this server; the caller gets %d %s",
    tostring(call.id), what or "a destination", M.describe(d), needs[t] or "a handler in destinations.handlers",
    M.unserved.code, M.unserved.reason))
  return M.unserved
end

return M
