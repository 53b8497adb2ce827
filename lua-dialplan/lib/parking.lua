-- Parking (seed 5.25): a call dialing a parking lot's extension (700 by
-- default) is answered, parked in the lot's next free slot (701-750 by
-- default; slots rotate: the search starts after the last one taken), told
-- its slot number, and hears the lot's music on hold. Dialing a slot takes
-- the call out: the two talk. When the lot's `timeout` runs out, the call
-- goes to the lot's `timeout_destination` (confd), or else back to whoever
-- parked it when that was another phone; with neither, Dialtone hangs up.
--
-- A lot as config.parkinglots() gives it: { id, name, slots_start,
-- slots_end, timeout (seconds, 0: none), music_on_hold, timeout_destination,
-- extensions = {{exten, context}} }. A lot without an extension is reached
-- on M.default_exten in every context (the default lot XiVO ships).
--
-- Errors: every slot taken -> `pbx-parkingfailed` then hang-up; an empty
-- slot dialed -> `pbx-invalidpark` then hang-up; without the media engine
-- the call is refused with 480 and a log line says why.
local destinations = require("destinations")

local M = {}

M.default_exten = "700"
M.prompts = { full = "pbx-parkingfailed", empty = "pbx-invalidpark" }
-- How long the parker's phone rings when a parked call comes back (the
-- parked call dials it, its media in the engine).
M.callback_ring_seconds = 30

local reject = destinations.reject

local function digits(n)
  local out = {}
  for d in tostring(n):gmatch("%d") do out[#out + 1] = "digits/" .. d end
  return out
end

local function answered(call, what)
  if channel and getmetatable(call) == nil then setmetatable(call, { __index = channel }) end
  if call.channel and call.park and call.moh and call:answer() then return true end
  dialtone.log("warn", string.format("call %s: %s needs the media engine (load plugin media.engine); refused with 480",
                                     tostring(call.id), what))
  return false
end

local function serves(lot, context)
  if #(lot.extensions or {}) == 0 then return true end
  for _, x in ipairs(lot.extensions) do
    if x.context == context then return true end
  end
  return false
end

-- What `number` dialed in `context` is: "park" and the lot (its extension),
-- "slot", the lot and the slot number, or nil.
function M.find(number, context)
  if not (config and config.parkinglots) or not number:match("^%d+$") then return nil end
  local lots = config.parkinglots()
  for _, lot in ipairs(lots) do
    for _, x in ipairs(lot.extensions or {}) do
      if x.exten == number and x.context == context then return "park", lot end
    end
  end
  if number == M.default_exten and not config.user_by_exten(number, context) then
    for _, lot in ipairs(lots) do
      if #(lot.extensions or {}) == 0 then return "park", lot end
    end
  end
  local n = tonumber(number)
  for _, lot in ipairs(lots) do
    if n >= tonumber(lot.slots_start) and n <= tonumber(lot.slots_end) and serves(lot, context) then
      return "slot", lot, n
    end
  end
  return nil
end

-- Where a call whose time ran out goes.
local function timed_out(call, lot, parker_endpoint, depth)
  call:stop_playing()
  local d = lot.timeout_destination
  if destinations.is_set(d) then
    dialtone.log("info", string.format("call %s: parked too long in lot %s; sent to %s", tostring(call.id),
                                       tostring(lot.id), destinations.describe(d)))
    return destinations.route(call, d, call.context, (depth or 0) + 1, "parking lot " .. lot.id .. "'s timeout destination")
  end
  if parker_endpoint and parker_endpoint ~= "" then
    dialtone.log("info", string.format("call %s: parked too long in lot %s; back to %s", tostring(call.id),
                                       tostring(lot.id), parker_endpoint))
    local outcome = call:dial{ parker_endpoint, timeout = M.callback_ring_seconds }
    if outcome.status == "answered" then return { action = "done" } end
    dialtone.log("info", string.format("call %s: %s did not take its parked call back (%s); hung up",
                                       tostring(call.id), parker_endpoint, tostring(outcome.status)))
    return { action = "done" }
  end
  dialtone.log("info", string.format("call %s: parked too long in lot %s, which has no timeout_destination and "
                                     .. "nobody else parked it; hung up", tostring(call.id), tostring(lot.id)))
  return { action = "done" }
end

-- Parks `call` in `lot`: it hears its slot, then music until someone takes
-- it, its time runs out or it hangs up. `parker_endpoint`: the line that
-- parked it when that was another phone ("sip/<username>").
function M.park(call, lot, parker_endpoint, depth)
  if not answered(call, "parking") then return reject(480, "Parking needs the media engine") end
  local slot, why = call:park{
    id = tostring(lot.id), context = call.context, slots_start = lot.slots_start, slots_end = lot.slots_end,
    timeout = lot.timeout or 0, parker_endpoint = parker_endpoint,
  }
  if not slot then
    dialtone.log("info", string.format("call %s: parking lot %s refused it: %s", tostring(call.id), tostring(lot.id),
                                       tostring(why)))
    call:play(M.prompts.full)
    return { action = "done" }
  end
  dialtone.log("info", string.format("call %s: parked in slot %d of lot %s", tostring(call.id), slot, tostring(lot.id)))
  call:play(digits(slot))
  call:moh(lot.music_on_hold or "default")
  local outcome = call:wait_parked()
  if outcome == "timeout" then
    -- Parked by an attended transfer: the call core names the transferor.
    if not parker_endpoint or parker_endpoint == "" then parker_endpoint = call:getvar("PARKER_ENDPOINT") end
    return timed_out(call, lot, parker_endpoint, depth)
  end
  return { action = "done" }
end

-- Takes the call parked in `slot` of `lot`.
function M.retrieve(call, lot, slot)
  if not (channel and call.channel and call.unpark) then return reject(480, "Parking needs the call core") end
  if getmetatable(call) == nil then setmetatable(call, { __index = channel }) end
  local ok, why = call:unpark(tostring(lot.id), slot)
  if ok then
    dialtone.log("info", string.format("call %s: took the call parked in slot %d", tostring(call.id), slot))
    return { action = "done" }
  end
  dialtone.log("info", string.format("call %s: slot %d of parking lot %s: %s", tostring(call.id), slot,
                                     tostring(lot.id), tostring(why)))
  if answered(call, "the empty slot prompt") then
    call:play(M.prompts.empty)
    return { action = "done" }
  end
  return reject(404, "Slot Empty")
end

-- The decision for `number` dialed in `context` when it is a parking
-- extension or slot; nil otherwise.
function M.route(call, number, context, depth)
  local kind, lot, slot = M.find(number, context)
  if kind == "park" then
    -- A blind transfer to the lot: whoever transferred is the parker.
    local parker = call.vars and call.vars.XIVO_TRANSFER == "blind" and call.caller
    return M.park(call, lot, parker and parker ~= "" and ("sip/" .. parker) or nil, depth)
  end
  if kind == "slot" then return M.retrieve(call, lot, slot) end
  return nil
end

return M
