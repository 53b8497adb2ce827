-- Call permissions (seed 5.5): rules that deny, or allow, the numbers a
-- call may reach. A rule applies when one of its extensions matches the
-- number (X, Z, N, [..], "." and "!" patterns as everywhere in the
-- dialplan).
--
-- Outgoing side (a call towards a user's extension or out through a route),
-- in XiVO's order, the first level with a rule that applies decides:
--   1. the rules of the user (the forwarder when a user forwards, seed 5.5.1)
--   2. the rules of the groups the user is a member of
--   3. the rules of the outgoing route the number goes through
-- Within a level an "allow" that applies wins over every "deny", so a
-- "deny all" rule can be opened for a few numbers; else the call is denied,
-- with the password of the level's last rule (at level 1 the user's own
-- call permission password replaces it). No rule applying: allowed.
-- Incoming side: the rules of an incall match the caller's number.
--
-- config.callpermissions(kind, id) gives the enabled rules of a user, group,
-- outcall or incall: { id, name, mode = "allow" | "deny", extensions,
-- password_protected, password }.
--
-- A denial with a password lets the caller through when M.ask_password
-- returns the right digits. The default one answers the call with its media
-- in the engine and asks with `agent-pass` (digits then #), as XiVO's
-- Authenticate does; a wrong password plays `auth-incorrect` and the call is
-- refused. Without the media engine nothing can ask: such a call is refused
-- and the log says why. A dialplan may set its own M.ask_password(call,
-- rule), returning the digits typed or nil and why.
local patterns = require("patterns")

local M = {}

M.denied = { action = "reject", code = 403, status = 403, reason = "Forbidden" }

M.prompts = { password = "agent-pass", wrong = "auth-incorrect" }

-- function(call, rule) -> digits, or nil and why; see above.
M.ask_password = function(call, rule)
  if channel and getmetatable(call) == nil then setmetatable(call, { __index = channel }) end
  if not (call.channel and call.read_digits and call.answer) then
    return nil, "password prompts need the media engine (load plugin media.engine)"
  end
  if not call:answer() then return nil, "the call could not be answered with media" end
  local typed, why = call:read_digits{ max = 40, timeout = 10, terminator = "#", prompt = M.prompts.password }
  if why == "hangup" then return nil, "the caller hung up" end
  return typed
end

-- The user whose permissions apply to `call`: the forwarder when a user
-- forwards, else the calling user; nil for calls from trunks.
function M.subject(call)
  local referer = call.vars.XIVO_FWD_REFERER or ""
  local fwd = referer:match("^user:(%d+)$")
  if fwd then return tonumber(fwd) end
  if call.origin == "extern" then return nil end
  return tonumber(call.vars.XIVO_USERID or "")
end

local function applies(rule, number)
  for _, exten in ipairs(rule.extensions or {}) do
    if exten == number or patterns.extension_matches(exten, number) then return true end
  end
  return false
end

-- XiVO's apply_rules on the rules of one level: nil when none applies to
-- `number`; true when one allows; else false, the last rule applying and
-- its password (replaced by `code` when given).
local function level(rules, number, code)
  local last
  for _, rule in ipairs(rules or {}) do
    if applies(rule, number) then
      if rule.mode == "allow" then return true end
      last = rule
    end
  end
  if not last then return nil end
  local password = last.password_protected and last.password or nil
  if password and code and code ~= "" then password = code end
  return false, last, password
end

-- Whether `number` may be reached: true, or false with the denying rule and
-- the password that would open it (nil: denied outright).
--   user_id: the subject (may be nil); outcall_id: the route (may be nil).
function M.allowed(user_id, number, outcall_id)
  if user_id then
    local user = config.user(user_id)
    local ok, rule, password = level(config.callpermissions("user", user_id), number,
                                     user and user.call_permission_password)
    if ok ~= nil then return ok, rule, password end
    for _, gid in ipairs(user and user.group_ids or {}) do
      ok, rule, password = level(config.callpermissions("group", gid), number)
      if ok ~= nil then return ok, rule, password end
    end
  end
  if outcall_id then
    local ok, rule, password = level(config.callpermissions("outcall", outcall_id), number)
    if ok ~= nil then return ok, rule, password end
  end
  return true
end

local function refuse(call, who, number, rule, why)
  dialtone.log("info", string.format("call %s: %s may not call %s: call permission '%s'%s", tostring(call.id),
                                     who, tostring(number), tostring(rule.name), why or ""))
  call.vars.XIVO_AUTHORIZATION = "DENY"
  call.vars.XIVO_DIALSTATUS = "forbidden"
  return M.denied
end

-- Asks for `password` when the dialplan can; true when the right one came.
-- Also why not, for the log.
local function unlocked(call, rule, password)
  if not M.ask_password then return false, "no password prompt in this dialplan" end
  local typed, why = M.ask_password(call, rule)
  if typed == nil then return false, why or "no password typed" end
  if tostring(typed) == tostring(password) then return true end
  if call.play then call:play(M.prompts.wrong) end
  return false, "wrong password"
end

-- nil when `call` may go on to `number` (through outcall `outcall_id`, may
-- be nil); else the decision refusing it.
function M.check(call, number, outcall_id)
  local subject = M.subject(call)
  local ok, rule, password = M.allowed(subject, number, outcall_id)
  if ok then
    call.vars.XIVO_AUTHORIZATION = "ALLOW"
    return nil
  end
  local who = subject and ("user " .. tostring(subject)) or "the caller"
  if password then
    local ok, why = unlocked(call, rule, password)
    if ok then
      call.vars.XIVO_AUTHORIZATION = "ALLOW"
      return nil
    end
    return refuse(call, who, number, rule, " (it asks for a password: " .. why .. ")")
  end
  return refuse(call, who, number, rule)
end

-- nil when the caller of `call` may reach incall `incall` (its rules match
-- the caller's number); else the decision refusing it.
function M.check_incoming(call, incall)
  local number = call.caller_number or ""
  local ok, rule, password = level(config.callpermissions("incall", incall.id), number)
  if ok ~= false then return nil end
  if password and unlocked(call, rule, password) then return nil end
  return refuse(call, "caller " .. number, "incall " .. tostring(incall.id), rule)
end

return M
