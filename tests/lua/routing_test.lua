-- The routing tests' dialplan: the shipped lua-dialplan/lib (calls.route)
-- with the caller's typed digits played by the test, plus a few probes.
local calls = require("calls")
local features = require("features")
local callpermissions = require("callpermissions")
local groups = require("groups")
local schedules = require("schedules")

-- The test plays a caller who types call.vars.TYPED when asked for a call
-- permission password; without TYPED the dialplan has no prompt at all.
local function typed(call) return call.vars.TYPED end

function route_call(call)
  callpermissions.ask_password = call.vars and call.vars.TYPED and typed or nil
  return features.route(call) or calls.route(call)
end

-- The user ids in the order `strategy` would ring group `group_id`.
function group_order(group_id, strategy)
  local g = config.group(tonumber(group_id))
  local ids = {}
  for _, m in ipairs(groups.order(strategy, g, g.members)) do ids[#ids + 1] = tostring(m.user_id) end
  return table.concat(ids, ",")
end

-- State of schedule `id` at dialtone.now(), and where a closed one sends.
function schedule_state(id)
  local state, d = schedules.state(config.schedule(tonumber(id)), dialtone.now(), "probe")
  return state, d and d.type or "none"
end

-- Civil time dialtone.now() shows in `zone`: "wday HH:MM".
function local_time(zone)
  local t = config.localtime(dialtone.now(), zone)
  if not t then return nil end
  return string.format("%d %02d:%02d", t.wday, t.hour, t.min)
end
