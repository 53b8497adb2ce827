-- Seed 5.20.3, "IVR with a schedule": the minimal menu only during opening
-- hours. In XiVO the schedule is set on the incoming call (Call management →
-- Incoming calls → Schedules); here too: give the incall a schedule
-- (PUT /1.1/incalls/{id}/schedules/{schedule_id}) whose closed destination
-- plays the "closed" sound, and its destination an extension routed to this
-- script. lib/incalls.lua checks the schedule before the destination, so a
-- closed company never reaches the menu.
--
-- The same check from Lua, for a menu reached another way (a user's number):
local ivr_minimal = require("ivr_minimal")
local schedules = require("schedules")

local SCHEDULE_ID = 1  -- confd /1.1/schedules id of the opening hours

return function(call)
  local schedule = config.schedule(SCHEDULE_ID)
  local state, destination = schedules.state(schedule, dialtone.now(), call.id)
  if state == "closed" then
    return require("destinations").route(call, destination, call.context, 1, "the IVR's closed schedule")
        or schedules.closed
  end
  return ivr_minimal(call)
end
