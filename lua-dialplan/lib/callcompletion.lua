-- Call completion (seed 5.3): a user whose call to another user was busy
-- or not answered dials *40 within 30 s; once the callee has been in a call
-- and is free again (and the caller is free too), the caller's phone rings
-- (30 s), and when the caller answers the callee is dialed on its behalf.
-- *40 while a request waits cancels it. The requests and their timers live
-- in the kernel (the `completion` module, on the call core and the presence
-- service), so every dialplan state sees them (docs/admin/call-completion.md).
--
-- As in XiVO: a busy or no-answer forward still offers completion toward
-- the user first called; an unconditional forward, a closed schedule or a
-- call permission refusal does not (nothing rang); the callee's
-- simultaneous-calls limit does not; calls from trunks and to groups do not.
local M = {}

-- The caller's user id, or nil for a call completion does not apply to.
local function caller_of(call)
  if (call.origin or "intern") ~= "intern" or call["local"] then return nil end
  return tonumber(call.vars and call.vars.XIVO_USERID or "")
end

-- A new call from a user to a user's extension: an older offer is gone.
function M.forget(call)
  local uid = caller_of(call)
  if uid and completion then completion.withdraw(uid) end
end

-- The call to `user` (as config.user_by_exten gives it) ended with dial
-- `status`; `limited` when the callee's simultaneous-calls limit refused it.
function M.offer(call, user, status, limited)
  local uid = caller_of(call)
  if not (uid and completion) then return end
  if limited then
    completion.withdraw(uid)
  elseif status == "busy" then
    completion.offer(uid, user.exten, user.context, "busy")
  elseif status == "noanswer" or status == "cancel" then
    completion.offer(uid, user.exten, user.context, "noanswer")
  end
end

-- *40 from `uid`: "activated", "cancelled" or "unavailable".
function M.toggle(uid)
  if not completion then return "unavailable" end
  return completion.toggle(uid)
end

return M
