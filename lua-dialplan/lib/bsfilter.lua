-- Boss-secretary filter (seed 5.2): calls to a boss go to the boss and the
-- secretaries by the filter's strategy. The filter applies when at least one
-- of its secretaries has turned it on (*37<member id>, from the boss or the
-- secretary), to calls of its `source` (internal, external, all), and not to
-- calls from the boss's own secretaries, which reach the boss directly.
--
-- config.callfilter_of_boss(user_id) gives { id, name, strategy, source,
--   caller_id_mode, caller_id_name, surrogates_timeout, fallbacks,
--   bosses = {{member_id, user_id, timeout, active}}, secretaries = {...} }.
--
-- Strategies (confd's names, the seed's words):
--   all-recipients-then-linear-surrogates  the boss rings first, then the secretaries one by one
--   all-recipients-then-all-surrogates     the boss rings first, then the secretaries together
--   linear-surrogates-then-all-recipients  the secretaries one by one, then the boss
--   all-surrogates-then-all-recipients     the secretaries together, then the boss
--   all                                    the boss and the secretaries together
-- One by one starts from the last secretary of the list, as the seed says
-- ("the first secretary called is the last in the list").
-- Ring times as XiVO's (the filter's "Ringing time", seed 5.2.3): the boss
-- rings for its member timeout, each secretary (or all of them together,
-- and "all" the boss with them) for surrogates_timeout. None (or 0) is
-- "Unlimited": that step rings until someone answers or the caller hangs
-- up, and the steps after it never come. The caller ID the secretaries see
-- follows caller_id_mode / caller_id_name, so they know which boss was
-- called. Unanswered: the filter's noanswer fallback, else 480.
local callerid = require("callerid")
local destinations = require("destinations")

local M = {}

-- The dial timeout of a ring time: "unlimited" for none or 0 (call:dial).
M.unlimited = "unlimited"
local function ring_time(seconds)
  seconds = tonumber(seconds)
  if seconds and seconds > 0 then return seconds end
  return M.unlimited
end
M.noanswer = { action = "reject", code = 480, status = 480, reason = "No Answer" }

local function lines_of(user_id)
  local u = config.user(user_id)
  local out = {}
  for _, l in ipairs(u and u.lines or {}) do out[#out + 1] = "sip/" .. l end
  return out, u
end

local function dial(call, targets, seconds, name)
  local list = {}
  for _, t in ipairs(targets) do list[#list + 1] = t end
  list.timeout = seconds
  list.caller_number = call.caller_number
  list.caller_name = name or call.caller_name
  return call:dial(list)
end

local function applies_to(filter, call)
  if filter.source == "internal" then return call.origin ~= "extern" end
  if filter.source == "external" then return call.origin == "extern" end
  return true
end

-- The decision for a call to boss `user` through its filter; nil when no
-- filter applies (the boss is rung as any user).
function M.call(call, user, depth)
  local filter = config.callfilter_of_boss(user.id)
  if not filter or not applies_to(filter, call) then return nil end
  local caller = tonumber(call.vars.XIVO_USERID or "")
  local secretaries = {}
  for _, s in ipairs(filter.secretaries or {}) do
    if caller and tonumber(s.user_id) == caller then return nil end
    if s.active then
      local targets = lines_of(s.user_id)
      if #targets > 0 then secretaries[#secretaries + 1] = targets end
    end
  end
  if #secretaries == 0 then return nil end

  local boss_targets = lines_of(user.id)
  local boss_timeout = M.unlimited
  for _, b in ipairs(filter.bosses or {}) do
    if tonumber(b.user_id) == tonumber(user.id) then boss_timeout = ring_time(b.timeout) end
  end
  local secretary_timeout = ring_time(filter.surrogates_timeout)
  local shown = callerid.incall_name(call.caller_name, filter.caller_id_mode, filter.caller_id_name)
  call.vars.XIVO_CALLFILTER = "1"
  call.vars.XIVO_CALLFILTER_MODE = filter.strategy

  local function all_secretaries()
    local t = {}
    for _, s in ipairs(secretaries) do
      for _, i in ipairs(s) do t[#t + 1] = i end
    end
    return t
  end
  local steps = {}
  local function boss() steps[#steps + 1] = { boss_targets, boss_timeout } end
  local function together() steps[#steps + 1] = { all_secretaries(), secretary_timeout, shown } end
  local function one_by_one()
    for i = #secretaries, 1, -1 do steps[#steps + 1] = { secretaries[i], secretary_timeout, shown } end
  end
  local s = filter.strategy
  if s == "all" then
    local t = all_secretaries()
    for _, i in ipairs(boss_targets) do t[#t + 1] = i end
    steps[1] = { t, secretary_timeout, shown }
  elseif s == "all-recipients-then-all-surrogates" then boss(); together()
  elseif s == "linear-surrogates-then-all-recipients" then one_by_one(); boss()
  elseif s == "all-surrogates-then-all-recipients" then together(); boss()
  else boss(); one_by_one() end

  dialtone.log("debug", string.format("call %s: boss %s filtered by '%s' (%s)", tostring(call.id), tostring(user.id),
                                      tostring(filter.name), tostring(s)))
  for _, step in ipairs(steps) do
    if #step[1] > 0 then
      local outcome = dial(call, step[1], step[2], step[3])
      call.dial_status = outcome.status
      call.vars.XIVO_DIALSTATUS = outcome.status
      if outcome.status == "answered" or outcome.status == "cancel" then return { action = "done" } end
    end
  end
  local d = (filter.fallbacks or {}).noanswer_destination
  local what = string.format("call filter '%s''s noanswer fallback", tostring(filter.name))
  return destinations.route(call, d, user.context, (depth or 0) + 1, what) or M.noanswer
end

local reject = destinations.reject

-- *37<member id> from a user's line: turns the filter on or off for that
-- member; ends with 480 "Call filter enabled|disabled" (no prompt), 403 for
-- a user outside the filter, 404 for an unknown member.
function M.toggle(call, member_id)
  local uid = tonumber(call.vars and call.vars.XIVO_USERID or "")
  if not uid then return reject(403, "Feature codes need a user") end
  local active, why = config.toggle_callfilter(tonumber(member_id), uid)
  if active == nil then
    dialtone.log("info", string.format("call %s: *37%s refused: %s", tostring(call.id), tostring(member_id),
                                       tostring(why)))
    if tostring(why):match("^forbidden") then return reject(403, "Not in this call filter") end
    if tostring(why):match("^not_found") then return reject(404, "No such call filter member") end
    return reject(500, "Feature not saved")
  end
  dialtone.log("info", string.format("user %s: call filter member %s %s", tostring(uid), tostring(member_id),
                                     active and "on" or "off"))
  return reject(480, active and "Call filter enabled" or "Call filter disabled")
end

return M
