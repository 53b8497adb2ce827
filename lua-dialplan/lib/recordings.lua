-- Automatic call recording (seed 5.33.4, *26 "call recording"): every call
-- made to or by a user whose `call_record` is on (confd's
-- call_record_enabled, turned over by *26) is recorded, both parties mixed,
-- by the media engine into its recordings.path as
-- <yyyymmdd-HHMMSS>-<call id>.wav (GET /1.0/recordings lists them).
--
-- Recording needs the call's media in the engine: the caller is answered
-- before the callee is rung (the caller hears the ring tone from Dialtone),
-- as XiVO turns direct media off for recorded calls. Without the media
-- engine the call goes through unrecorded and the log says so.
--
-- Incalls and groups (confd's call_record_enabled on /1.1/incalls and
-- /1.1/groups) record every call they take: M.request marks the call, and
-- the user or group member who answers it is recorded with the caller; a
-- marked call that Dialtone answers itself (a voicemail, a conference, a
-- sound, an IVR: M.answered_types, lib/destinations.lua) is recorded from
-- then on, what the caller says and hears. The XiVO CC preprocess
-- subroutine of an incall, xivocc-incall-recording (seed 6.6), does the
-- same. A call is recorded to one file, whatever it goes through.
--
-- Online call recording (seed 5.33.4, *3): a user whose online_call_record
-- is on (confd's online_call_record_enabled) presses *3 during a call to
-- start recording it and *3 again to stop; each start is a new file there.
local subroutines = require("subroutines")

local M = {}

-- XiVO's automixmon code (features.conf, not a confd feature extension).
M.online_code = "*3"

-- Marks `call` to be recorded whoever answers it (an incall's call_record).
function M.request(call)
  call.record_requested = true
end

subroutines.define("xivocc-incall-recording", M.request)

-- Whether a call to `user` or `group` (nil: not to one) is recorded: asked
-- for on the call (M.request), the callee's, the group's or the calling
-- user's call_record.
function M.wanted(call, user, group)
  if call.record_requested then return true end
  if user and user.call_record then return true end
  if group and group.call_record then return true end
  local uid = tonumber(call.vars and call.vars.XIVO_USERID or "")
  local caller = uid and config.user(uid)
  return caller ~= nil and caller.call_record == true
end

-- The channels whose party may press *3 in a call to `user` (nil: not to a
-- user): "caller", "callee", both or neither, as a set.
function M.online_wanted(call, user)
  local uid = tonumber(call.vars and call.vars.XIVO_USERID or "")
  local caller = uid and config.user(uid)
  local by = {}
  if caller ~= nil and caller.online_call_record == true then by.caller = true end
  if user and user.online_call_record then by.callee = true end
  return next(by) and by or nil
end

-- Answers the caller with its media in the engine; false (and a log line)
-- when it cannot be, and the call goes on unrecorded.
function M.prepare(call)
  if channel and getmetatable(call) == nil then setmetatable(call, { __index = channel }) end
  if call.channel and call.record_call and call.answer and call:answer() then return true end
  dialtone.log("warn", string.format(
    "call %s: call recording needs the media engine (load plugin media.engine); the call is not recorded",
    tostring(call.id)))
  return false
end

-- Starts the recording of an answered call (bridged, or answered by
-- Dialtone); returns the file name. A call already recorded keeps its file.
function M.start(call)
  if call.recording_file then return call.recording_file end
  local ok, file = call:record_call()
  if not ok then
    dialtone.log("warn", string.format("call %s: not recorded: %s", tostring(call.id), tostring(file)))
    return nil
  end
  call.recording_file = file
  return file
end

-- Destination types Dialtone answers itself, recorded from the answer on
-- when the call is marked (M.request).
M.answered_types = { voicemail = true, conference = true, sound = true, ivr = true }

-- Before `call` goes to a destination of type `t`: a marked call that
-- Dialtone is about to answer is answered and recorded now.
function M.before_destination(call, t)
  if not call.record_requested or not M.answered_types[t] or call.recording_file then return end
  if M.prepare(call) then M.start(call) end
end

-- Once `call:dial` answered (`outcome`): the parties `by` (online_wanted)
-- may now start and stop the recording with *3.
function M.allow_online(call, by, outcome)
  local channels = {}
  if by.caller then channels[#channels + 1] = call.channel end
  if by.callee and outcome.channel then channels[#channels + 1] = outcome.channel end
  local ok, err = call:allow_online_recording{ by = channels, code = M.online_code }
  if not ok then
    dialtone.log("warn", string.format("call %s: no online recording: %s", tostring(call.id), tostring(err)))
  end
end

return M
