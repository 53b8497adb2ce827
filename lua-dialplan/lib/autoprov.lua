-- Autoprov (XiVO 5.27.2): phones in autoprov mode register with provd's
-- guest line (context "xivo-initconfig") and may only dial a line's 6-digit
-- provisioning code, which gives that line to the phone (found by its IP)
-- and makes it re-fetch its files. From any phone, *48378 followed by the
-- password (default 9486, "xivo") puts the phone back in autoprov mode.
--
-- The dialplan has no prompt: the password is dialed with the code, as
-- *483789486. Both end the call without answering it: 480 with the reason
-- "Provisioned" or "Reset to autoprov" on success, 403/404 otherwise.
--
-- Host functions (backend.sip, running off the dialplan thread):
--   provisioning.associate(code, ip) -> true | nil, reason
--   provisioning.reset(ip)           -> true | nil, reason
local destinations = require("destinations")
local featurecodes = require("featurecodes")

local M = {}

M.context = "xivo-initconfig"
M.reset_password = "9486"

local reject = destinations.reject

local function source_ip(call)
  return (call.vars and call.vars.SIP_SOURCE_IP) or ""
end

local function reset(call, password)
  if password ~= M.reset_password then
    return reject(403, "Wrong password")
  end
  local ok, why = provisioning.reset(source_ip(call))
  if not ok then
    dialtone.log("warn", string.format("call %s: reset to autoprov from %s failed: %s",
                                       tostring(call.id), source_ip(call), tostring(why)))
    return reject(404, "Device not found")
  end
  return reject(480, "Reset to autoprov")
end

-- The decision for `call` when it is an autoprov call or the reset code;
-- nil to let the normal dialplan route it.
function M.route(call)
  local number = call.called_number or call.callee or ""
  -- XiVO's `autoprov` feature code (confd /1.1/extensions/features).
  local password = featurecodes.rest("autoprov", number)
  if password then
    return reset(call, password)
  end
  if call.context ~= M.context then return nil end
  if not number:match("^[1-9]%d%d%d%d%d$") then
    return reject(403, "Only provisioning codes can be dialed")
  end
  local ok, why = provisioning.associate(number, source_ip(call))
  if not ok then
    dialtone.log("warn", string.format("call %s: provisioning code %s from %s refused: %s",
                                       tostring(call.id), number, source_ip(call), tostring(why)))
    return reject(404, "Provisioning code not found")
  end
  return reject(480, "Provisioned")
end

return M
