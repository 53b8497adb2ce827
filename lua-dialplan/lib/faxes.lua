-- Fax reception (seed 5.14): an incall whose destination is the application
-- fax_to_mail, { type = "application", application = "fax_to_mail",
-- email = "fax@example.com" }, answers and receives the fax with
-- call:receive_fax (plugins app.fax and media.engine); the document (PDF) is
-- mailed to `email` through fax.smtp_host, or kept in fax.spool_dir when the
-- destination has no address or the relay is down. A caller that is no fax
-- machine is let go after fax.detect_timeout, with one log line. The call's
-- CEL has the application ReceiveFax around it.
--
-- Fax detection (seed 5.14.2): an incall with fax_detect (confd's
-- fax_detect_enabled; XiVO's faxdetectenable) is answered and listened to
-- for fax_detect_timeout seconds (XiVO's faxdetecttimeout, default 4) while
-- the caller hears the ring tone; a fax machine's calling tone (CNG) sends
-- the call to fax reception for fax_detect_email (faxdetectemail), anything
-- else goes on to the incall's destination. An incall without
-- fax_detect_email whose destination is a user mails the fax to that user
-- (M.user_email: its voicemail's address, XiVO's XIVO_USEREMAIL, else its
-- own); with no address at all the fax stays in fax.spool_dir. Without the media engine and app.fax the call goes to its
-- destination undetected, with one log line.
local destinations = require("destinations")
local applications = require("applications")

local M = {}

-- Where every received fax is also saved (nil: only mailed, or kept in
-- fax.spool_dir when there is no address), as XiVO's file backends.
M.directory = nil

local function answered(call)
  if channel and getmetatable(call) == nil then setmetatable(call, { __index = channel }) end
  return call.channel ~= nil and call.receive_fax ~= nil and call:answer() and true or false
end

-- Receives the fax of `call` for `d` (the destination); the call is done then.
function M.receive(call, d)
  if not answered(call) then
    dialtone.log("warn", string.format(
      "call %s: the fax destination needs the app.fax and media.engine plugins; refused with 480", tostring(call.id)))
    return destinations.reject(480, "Fax reception needs app.fax")
  end
  local email = d.email
  if email == nil and type(d.actionarg1) == "string" then email = d.actionarg1 end
  -- CEL: Asterisk's ReceiveFax, its argument the document's address.
  local ok, result = applications.run(call, "ReceiveFax", email, call.receive_fax, call,
                                      { email = email, directory = M.directory })
  if ok then
    dialtone.log("info", string.format("call %s: fax of %d page(s) received from %s", tostring(call.id), result,
                                       tostring(call.caller_number)))
  end
  return { action = "done" }
end

-- Where a fax for `user` (config.user) is mailed: its voicemail's address
-- (XiVO's XIVO_USEREMAIL, which its fax detection used), else its own; nil
-- when it has neither.
function M.user_email(user)
  if not user then return nil end
  for _, key in ipairs({ "voicemail_email", "email" }) do
    local address = user[key]
    if type(address) == "string" and address ~= "" then return address end
  end
  return nil
end

-- The address a fax detected on `incall` is mailed to (see above), or nil.
function M.detect_email(incall)
  if incall.fax_detect_email and incall.fax_detect_email ~= "" then return incall.fax_detect_email end
  local d = incall.destination
  if type(d) == "table" and d.type == "user" and config and config.user then
    return M.user_email(config.user(tonumber(d.user_id) or 0))
  end
  return nil
end

-- Listens for a fax on `incall`'s call (see above): the decision of a fax
-- received (or of a caller gone), or nil for the incall's destination.
function M.detect(call, incall)
  if not incall.fax_detect then return nil end
  if not answered(call) or call.detect_fax == nil then
    dialtone.log("warn", string.format(
      "call %s: fax detection on incall %s needs the media.engine and app.fax plugins; the call goes to its "
      .. "destination undetected", tostring(call.id), tostring(incall.id)))
    return nil
  end
  call:playtones("ring")
  local fax, how = call:detect_fax{ timeout = incall.fax_detect_timeout or 4 }
  if how == "hangup" then return { action = "done" } end
  call:stop_playing()
  if not fax then return nil end
  local email = M.detect_email(incall)
  dialtone.log("info", string.format("call %s: fax detected (%s) on incall %s (DID %s); receiving it for %s",
                                     tostring(call.id), tostring(how), tostring(incall.id), tostring(incall.exten),
                                     tostring(email or "the fax spool")))
  return M.receive(call, { email = email })
end

destinations.applications.fax_to_mail = M.receive

return M
