-- The call API test's dialplan: no SIP anywhere. What each extension does is
-- the dialplan a plugin author would write; the test drives the legs.
local function methods(call)
  if getmetatable(call) == nil then setmetatable(call, { __index = channel }) end
  return call
end

local function settle(outcome)
  if outcome.status == "answered" then return { action = "done" } end
  return { action = "reject", code = outcome.code }
end

local routes = {
  -- 2000: rings dave (through a local leg when dialed as local/2000@default)
  ["2000"] = function(call) return settle(call:dial{ "test/dave", timeout = 5 }) end,
  -- 3000: dials itself through local legs: the depth limit stops it.
  ["3000"] = function(call) return settle(call:dial{ "local/3000@default", timeout = 5 }) end,
}

-- Every call of the test: `targets` in call.vars.TARGETS ("test/bob,test/carol").
function route_call(call)
  methods(call)
  local route = routes[call.called_number]
  if route then return route(call) end
  local targets = { timeout = tonumber(call.vars.TIMEOUT) or 5 }
  for t in (call.vars.TARGETS or ""):gmatch("[^,]+") do targets[#targets + 1] = t end
  call:setvar("FROM_DIALPLAN", "yes")
  local outcome = call:dial(targets)
  return { action = "outcome", status = outcome.status, cause = outcome.cause, code = outcome.code,
           target = outcome.target or "", var = call:getvar("FROM_DIALPLAN") or "" }
end

-- A wrong argument is a Lua error naming the function.
function wrong_dial(call)
  methods(call)
  return call:dial("test/bob")
end

function dtmf(call, digits)
  methods(call)
  return call:send_dtmf(digits)
end

function play(call, file)
  methods(call)
  return call:play(file)
end
