-- Seed 5.20.4, "IVR with submenu": choice 3 of the main menu opens a
-- submenu (XiVO's dp-ivr-submenu context) whose choice 3 goes back to the
-- main menu. Same conventions as ivr_minimal.lua.
local ivr = require("ivr")

local DESTINATION_CONTEXT = "default"
local SOUNDS = "/var/lib/dialtone/sounds/ivr/"

local function to(exten)
  return { type = "extension", exten = exten, context = DESTINATION_CONTEXT }
end

local submenu = {
  prompt = SOUNDS .. "ivr-example-submenu-choices",
  timeout = 5,
  max_tries = 3,
  invalid = SOUNDS .. "ivr-example-invalid-choice",
  error = SOUNDS .. "ivr-example-error",
  back = "3",
  choices = {
    ["1"] = to("8000"),
    ["2"] = to("8001"),
  },
}

return function(call)
  return ivr.menu(call, {
    greeting = SOUNDS .. "ivr-example-welcome-sound",
    prompt = SOUNDS .. "ivr-example-choices",
    timeout = 5,
    max_tries = 3,
    invalid = SOUNDS .. "ivr-example-invalid-choice",
    error = SOUNDS .. "ivr-example-error",
    choices = {
      ["1"] = to("8000"),
      ["2"] = to("8833"),
      ["3"] = { menu = submenu },
      ["4"] = "repeat",
    },
  })
end
