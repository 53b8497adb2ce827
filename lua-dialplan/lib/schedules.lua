-- Schedules (seed 5.29): opening hours of a user, group, incall or outcall.
-- A call to an object whose schedule is closed goes to the schedule's
-- closed destination (or the exceptional period's own) instead.
--
-- config.schedule(id) gives { id, name, timezone, enabled, open_periods,
--   exceptional_periods, closed_destination }; a period is
--   { hours_start = "08:00", hours_end = "18:00", week_days = {1..7},
--     month_days = {1..31}, months = {1..12}, destination (exceptional only) }
-- with every list optional (absent: every day / month). week_days: 1 is
-- Monday. hours_end may be "24:00"; an end before the start spans midnight.
--
-- State, as XiVO computes it: inside an exceptional period -> closed, to
-- that period's destination (or the closed destination); else inside an
-- open period -> open; else closed. A disabled schedule is always open.
-- The time is dialtone.now() in the schedule's time zone (config.localtime;
-- none: the server's).
local destinations = require("destinations")

local M = {}

-- What a caller gets when the schedule is closed and sends nowhere.
M.closed = { action = "reject", code = 480, status = 480, reason = "Closed" }

local function minutes(hhmm)
  local h, m = tostring(hhmm or ""):match("^(%d%d?):(%d%d)$")
  if not h then return nil end
  return tonumber(h) * 60 + tonumber(m)
end

local function listed(list, value)
  if type(list) ~= "table" or #list == 0 then return true end
  for _, v in ipairs(list) do
    if tonumber(v) == value then return true end
  end
  return false
end

-- True when civil time `t` ({month, day, wday, hour, min}) is inside `period`.
function M.contains(period, t)
  if not (listed(period.months, t.month) and listed(period.month_days, t.day)
          and listed(period.week_days, t.wday)) then
    return false
  end
  local now = t.hour * 60 + t.min
  local from = minutes(period.hours_start) or 0
  local to = minutes(period.hours_end) or 24 * 60
  if from == to then return true end
  if from < to then return now >= from and now < to end
  return now >= from or now < to
end

-- Civil time of `ms` for `schedule`; UTC (and a log line) when its zone is
-- unknown here.
function M.localtime(schedule, ms, call_id)
  local t, why = config.localtime(ms, schedule.timezone or "")
  if t then return t end
  dialtone.log("warn", string.format("call %s: schedule '%s': %s; its hours are read in UTC",
                                     tostring(call_id), tostring(schedule.name), tostring(why)))
  local u = os.date("!*t", ms // 1000)
  return { year = u.year, month = u.month, day = u.day, hour = u.hour, min = u.min,
           wday = (u.wday + 5) % 7 + 1 }
end

-- "open", or "closed" and the destination to send the call to (may be nil).
function M.state(schedule, ms, call_id)
  if not schedule or schedule.enabled == false then return "open" end
  local t = M.localtime(schedule, ms or dialtone.now(), call_id)
  for _, p in ipairs(schedule.exceptional_periods or {}) do
    if M.contains(p, t) then
      local d = destinations.is_set(p.destination) and p.destination or schedule.closed_destination
      return "closed", d
    end
  end
  for _, p in ipairs(schedule.open_periods or {}) do
    if M.contains(p, t) then return "open" end
  end
  return "closed", schedule.closed_destination
end

-- nil when `object` (a user, group, incall or outcall table with
-- schedule_id) is open now; else the decision for the call: its closed
-- destination, or M.closed. `kind` names the object in the log.
function M.check(call, kind, object, context, depth)
  local id = object and object.schedule_id
  if not id then return nil end
  local schedule = config.schedule(id)
  if not schedule then return nil end
  local state, destination = M.state(schedule, dialtone.now(), call.id)
  call.vars.XIVO_SCHEDULE_STATUS = state
  if state == "open" then return nil end
  local what = string.format("%s %s's closed schedule '%s'", kind, tostring(object.name or object.id),
                             tostring(schedule.name))
  dialtone.log("info", string.format("call %s: %s sends it to %s", tostring(call.id), what,
                                     destinations.describe(destination)))
  return destinations.route(call, destination, context, (depth or 0) + 1, what) or M.closed
end

return M
