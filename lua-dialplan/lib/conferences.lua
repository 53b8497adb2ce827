-- Conference rooms (seed 5.7): a call to a room's extension, or an incall
-- whose destination is { type = "conference", conference_id }, joins it.
--
-- A room as config.conference_by_exten / config.conference give it:
--   { id, name, exten, context, pin, admin_pin, max_users (0: no limit),
--     announce_join_leave, music_on_hold, preprocess_subroutine }
--
-- The call is answered with its media in the engine. With a `pin`, the
-- caller is asked for it (`conf-getpin`, up to M.pin_tries times, digits
-- then # or a pause); the `admin_pin` makes it an organizer. A wrong PIN
-- plays `conf-invalidpin`; after the last try Dialtone hangs up. Then
-- call:conference puts it in the room (the engine's mixer: each hears the
-- others, music when alone, DTMF 1 mute, organizer DTMF 2 mutes the others,
-- # leaves); a full room plays `conf-full` and hangs up. Without the media
-- engine the call is refused with 480 and the log says why.
local applications = require("applications")
local destinations = require("destinations")

local M = {}

M.pin_tries = 3
M.prompts = { pin = "conf-getpin", bad_pin = "conf-invalidpin", full = "conf-full" }

local reject = destinations.reject

-- True once `call` is answered with its media in the engine.
local function answered(call)
  if channel and getmetatable(call) == nil then setmetatable(call, { __index = channel }) end
  return call.channel ~= nil and call.conference ~= nil and call.answer ~= nil and call:answer() and true or false
end

-- nil: refused (or hung up); else true when the organizer PIN was typed.
local function ask_pin(call, room)
  local prompt = M.prompts.pin
  for try = 1, M.pin_tries do
    local typed, why = call:read_digits{ max = 80, timeout = 10, terminator = "#", prompt = prompt }
    if why == "hangup" then return nil end
    if room.admin_pin and typed == tostring(room.admin_pin) then return true end
    if typed == tostring(room.pin) then return false end
    dialtone.log("info", string.format("call %s: wrong PIN for conference room %s (try %d of %d)",
                                       tostring(call.id), tostring(room.id), try, M.pin_tries))
    -- The next question starts with the error, and digits typed over it count.
    prompt = { M.prompts.bad_pin, M.prompts.pin }
  end
  call:play(M.prompts.bad_pin)
  return nil
end

-- Joins `room`; returns the decision that ends the call.
function M.join(call, room)
  if not answered(call) then
    dialtone.log("warn", string.format(
      "call %s: conference room %s needs the media engine (load plugin media.engine); refused with 480",
      tostring(call.id), tostring(room.id)))
    return reject(480, "Conference needs the media engine")
  end
  local admin = false
  if room.pin and room.pin ~= "" then
    admin = ask_pin(call, room)
    if admin == nil then return { action = "done" } end
  end
  -- Asterisk's ConfBridge, the room its argument (CEL APP_START / APP_END).
  local ok, why = applications.run(call, "ConfBridge", room.id, call.conference, call, {
    room = tostring(room.id),
    max_participants = tonumber(room.max_users) or 0,
    music_on_hold = room.music_on_hold or "default",
    quiet = room.announce_join_leave == false,
    admin = admin,
  })
  if not ok and why == "full" then
    dialtone.log("info", string.format("call %s: conference room %s is full (%s participants)",
                                       tostring(call.id), tostring(room.id), tostring(room.max_users)))
    call:play(M.prompts.full)
  end
  return { action = "done" }
end

destinations.handlers.conference = function(call, d)
  local room = config.conference(tonumber(d.conference_id) or 0)
  if not room then
    dialtone.log("warn", string.format("call %s: destination conference %s does not exist",
                                       tostring(call.id), tostring(d.conference_id)))
    return reject(404, "Not Found")
  end
  return M.join(call, room)
end

-- { type = "sound", filename }: answers, plays the file (a sound name or a
-- path), then Dialtone hangs up.
destinations.handlers.sound = function(call, d)
  if not answered(call) then
    dialtone.log("warn", string.format(
      "call %s: sound destination %s needs the media engine (load plugin media.engine); refused with 480",
      tostring(call.id), tostring(d.filename)))
    return reject(480, "Sound needs the media engine")
  end
  applications.run(call, "Playback", d.filename, call.play, call, tostring(d.filename or ""))
  return { action = "done" }
end

return M
