-- Seed 5.20.2, "Minimal IVR", in Lua. XiVO's dp-ivr-example context: the
-- welcome sound, the choices read while they play, 5 s to choose, three
-- wrong or missing answers before the error sound and the hang-up.
--
-- Copy to lua-dialplan/lib/ and route a number to it from extensions.lua:
--
--   local ivr_minimal = require("ivr_minimal")
--   function route_call(call)
--     calls.prepare(call)
--     if call.callee == "8899" then return ivr_minimal(call) end
--     ...
--   end
--
-- Sounds: files of sounds.path/<language>/ (upload them there, e.g.
-- ivr-example-welcome-sound.wav) or absolute paths. A missing sound is
-- logged and replaced by the info tone: the menu still works.
local ivr = require("ivr")

-- Where the choices go: numbers of this server, routed as if dialed
-- (XiVO: Goto(${IVR_DESTINATION_CONTEXT},8000,1)).
local DESTINATION_CONTEXT = "default"
local SOUNDS = "/var/lib/dialtone/sounds/ivr/"

return function(call)
  return ivr.menu(call, {
    greeting = SOUNDS .. "ivr-example-welcome-sound",
    prompt = SOUNDS .. "ivr-example-choices",
    timeout = 5,
    max_tries = 3,
    invalid = SOUNDS .. "ivr-example-invalid-choice",
    error = SOUNDS .. "ivr-example-error",
    choices = {
      ["1"] = { type = "extension", exten = "8000", context = DESTINATION_CONTEXT },
      ["2"] = { type = "extension", exten = "8833", context = DESTINATION_CONTEXT },
      ["3"] = { type = "extension", exten = "8547", context = DESTINATION_CONTEXT },
      ["4"] = "repeat",
    },
  })
end
