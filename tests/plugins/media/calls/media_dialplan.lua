-- Test dialplan of the media verbs: each number answers the call with its
-- media in the engine and reports what it got back as DTMF (call:send_dtmf),
-- which the test's RTP peer decodes, so that every check is on the audio.
local calls = require("calls")
local features = require("features")

local routes = {}

-- The end of each route: the test sends one digit once it heard what it
-- checks ("D": digits of a flood still arriving do not end the call), so no
-- sleep decides whether the last digits or tones get out.
local function wait_for_test(call)
  call:read_digits{ max = 64, timeout = 60, terminator = "D" }
end

-- 801: a prompt while reading 3 digits, which are sent back, then busy tone.
routes["801"] = function(call)
  call:answer()
  local digits = call:read_digits{ max = 3, timeout = 30, prompt = "beep" }
  call:send_dtmf(digits)
  call:playtones("busy")
  wait_for_test(call)
end

-- 802 / 803: a sound that does not exist / a corrupt WAV: play says false ("0"
-- sent back) and the info tone is heard instead of silence.
routes["802"] = function(call)
  call:answer()
  local ok = call:play("no-such-sound-anywhere")
  call:send_dtmf(ok and "1" or "0")
  wait_for_test(call)
end
routes["803"] = function(call)
  call:answer()
  local ok = call:play(call.vars.CORRUPT_WAV or "/tmp/dialtone-corrupt.wav")
  call:send_dtmf(ok and "1" or "0")
  wait_for_test(call)
end

-- 804: waits for the caller's digits until it hangs up (read_digits then
-- returns "hangup"); the test checks the endpoint is freed.
routes["804"] = function(call)
  call:answer()
  call:read_digits{ max = 5, timeout = 60 }
end

-- 805: a terminator; digits after max are ignored (a flood).
routes["805"] = function(call)
  call:answer()
  local digits, why = call:read_digits{ max = 4, timeout = 30, terminator = "#" }
  call:send_dtmf(digits .. (why == "terminator" and "*" or "A"))
  wait_for_test(call)
end

-- 806: records what the caller says until 1 s of silence, then plays it back.
routes["806"] = function(call)
  call:answer()
  local file = "/tmp/dialtone-media-test-" .. call.channel .. ".wav"
  local ok = call:record{ file = file, max_seconds = 20, silence = 1 }
  call:send_dtmf(ok and "1" or "0")
  call:read_digits{ max = 1, timeout = 60 }  -- the test listens
  call:play(file)
  call:send_dtmf("2")
  wait_for_test(call)
end

-- 807: music on hold for 2 s.
routes["807"] = function(call)
  call:answer()
  call:moh("default", 2)
  call:send_dtmf("7")
  wait_for_test(call)
end

-- 809: answers and waits for "D", then hangs up; the test bridges two such
-- calls through the call core (call:bridge does the same) meanwhile.
routes["809"] = function(call)
  call:answer()
  wait_for_test(call)
  call:hangup()
end

-- 810: the echo alone, until the caller hangs up (a softphone test).
routes["810"] = function(call)
  call:answer()
  call:echo()
end

-- 811: an IVR menu (lib/ivr.lua, the seed's 5.20 shape): 1 sends back "1";
-- 2 opens a submenu whose 1 sends back "21" and whose 3 goes back; 4 repeats;
-- two wrong or missing answers play the error prompt and hang up. 812: the
-- same menu, timing out after 1 s.
local ivr = require("ivr")
local function report(digits)
  return function(call)
    call:send_dtmf(digits)
    wait_for_test(call)
    return { action = "done" }
  end
end
local function menu(timeout)
  return {
    prompt = "beep",
    timeout = timeout,
    max_tries = 2,
    invalid = "",
    error = "beep",
    choices = {
      ["1"] = report("1"),
      ["2"] = { menu = { prompt = "beep", timeout = 20, back = "3", choices = { ["1"] = report("21") } } },
      ["4"] = "repeat",
    },
  }
end
routes["811"] = function(call) return ivr.menu(call, menu(20)) end
routes["812"] = function(call) return ivr.menu(call, menu(1)) end

function route_call(call)
  calls.prepare(call)
  local route = routes[call.callee or ""]
  if route then
    route(call)
    return { action = "done" }
  end
  local decision = features.route(call)
  if decision then return decision end
  return calls.route(call)
end
