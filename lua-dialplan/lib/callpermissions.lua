-- Call permissions (seed 5.5): rules attached to users that deny, or allow,
-- the extensions a user may call. Checked for calls towards a user's
-- extension and for numbers that go out through an outgoing route; a
-- forwarded call is checked against the forwarder, not the caller.
--
-- config.callpermissions(user_id) gives the user's enabled permissions:
--   { id, name, mode = "allow" | "deny", extensions = { <exten or pattern> },
--     password_protected }
-- A rule applies when one of its extensions matches the number (X, Z, N,
-- [..], "." and "!" patterns as everywhere in the dialplan). An "allow"
-- that applies wins over a "deny", so a "deny all" rule can be opened for a
-- few numbers. A deny with a password would ask for it in XiVO; prompts need
-- media applications this release does not have, so the call is refused and
-- the log says why.
local patterns = require("patterns")

local M = {}

M.denied = { action = "reject", code = 403, status = 403, reason = "Forbidden" }

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

-- True when `user_id` may call `number`; else false and the rule that denies.
function M.allowed(user_id, number)
  if not user_id then return true end
  local deny
  for _, rule in ipairs(config.callpermissions(user_id) or {}) do
    if applies(rule, number) then
      if rule.mode == "allow" then return true end
      deny = deny or rule
    end
  end
  if deny then return false, deny end
  return true
end

-- nil when `call` may go on to `number`; else the decision refusing it.
function M.check(call, number)
  local subject = M.subject(call)
  local ok, rule = M.allowed(subject, number)
  if ok then return nil end
  local why = rule.password_protected
      and " (it asks for a password; password prompts are not available, so the call is refused)" or ""
  dialtone.log("info", string.format("call %s: user %s may not call %s: call permission '%s'%s",
                                     tostring(call.id), tostring(subject), tostring(number),
                                     tostring(rule.name), why))
  call.vars.XIVO_DIALSTATUS = "forbidden"
  return M.denied
end

return M
