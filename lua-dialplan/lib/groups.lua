-- Calls to a group (seed 5.16 and the group settings of 5.1.1): its members'
-- lines are rung by the group's ring strategy until one answers or the
-- group's ring time runs out; what the group did not take goes to its
-- fallback destination for the reason (noanswer, busy, congestion, fail).
--
-- The group table comes from config.group_by_exten / config.group:
--   id, name, label, ring_strategy, timeout (the group's ring time; nil or 0:
--   M.default_timeout), user_timeout (user reachability timeout: how long a
--   member rings at a time; nil or 0: the whole ring time), retry_delay
--   (seconds before retrying: between two rounds of "all", between two
--   members otherwise), ring_in_use (call a member already in line),
--   music_on_hold, schedule_id, fallbacks = {noanswer_destination, ...},
--   preprocess_subroutine, call_record (every call it takes is recorded:
--   lib/recordings.lua), exten, context,
--   members = { { user_id, firstname, lastname, penalty, lines = { <SIP usernames> } }, ... }
--   (enabled users, in the group's member order)
--
-- Strategies, as the Asterisk queue strategies XiVO groups use:
--   all                    every member at once (ringall)
--   linear                 one member at a time, in member order
--   random                 one at a time, in a random order each call
--   weight_random          one at a time, randomly, a member with a higher
--                          penalty less often first (Asterisk: a random
--                          number below (1 + penalty) * 1000, lowest first)
--   least_recent           the member that answered least recently first
--   fewest_calls           the member that answered fewest calls first
--   memorized_round_robin  starting after the member that answered last
-- What the last three remember (channel.group_memory, kept by the call
-- core) lives in memory and restarts with the process, as Asterisk's queue
-- statistics do.
--
-- Waiting music: a group with `music_on_hold` set plays that class to its
-- callers while the members ring, instead of the ring tone (XiVO's group
-- On-Hold Music; Asterisk's Dial m): the caller is answered with its media
-- in the engine, hears the class (call:moh) and the call's variable
-- DIAL_MUSIC tells the backend not to replace it with ringback. Without the media engine the caller
-- hears the phones ring, and the log says why.
--
-- Members are rung as `local/<exten>@<context>` legs when M.ring_members_locally
-- is set (each member's own dialplan runs: its forwards, DND and ring time,
-- as Asterisk's Local channels in queues), otherwise on their SIP lines.
local subroutines = require("subroutines")
local schedules = require("schedules")
local destinations = require("destinations")
local recordings = require("recordings")

local M = {}

-- Group ring time when the group has none.
M.default_timeout = 30
-- Ring members through their own dialplan (local/<exten>@<context>).
M.ring_members_locally = false

-- What the caller gets, per reason, when the group has no fallback for it.
M.final = {
  busy = { action = "reject", code = 486, status = 486, reason = "Busy Here" },
  noanswer = { action = "reject", code = 480, status = 480, reason = "No Answer" },
  congestion = { action = "reject", code = 503, status = 503, reason = "Service Unavailable" },
  fail = { action = "reject", code = 480, status = 480, reason = "Temporarily Unavailable" },
}

local function copy(list)
  local out = {}
  for i, v in ipairs(list) do out[i] = v end
  return out
end

local function shuffle(list)
  for i = #list, 2, -1 do
    local j = math.random(i)
    list[i], list[j] = list[j], list[i]
  end
  return list
end

-- Orders `members` for a one-at-a-time strategy.
function M.order(strategy, group, members)
  local list = copy(members)
  if strategy == "random" then return shuffle(list) end
  if strategy == "linear" then return list end
  if strategy == "weight_random" then
    local metric = {}
    for _, m in ipairs(list) do metric[m] = math.random(0, (1 + (tonumber(m.penalty) or 0)) * 1000 - 1) end
    table.sort(list, function(a, b) return metric[a] < metric[b] end)
    return list
  end
  local memory = channel.group_memory(group.id) or {}
  local known = memory.members or {}
  local function stat(m, key) return (known[tostring(m.user_id)] or {})[key] or 0 end
  local position = {}
  for i, m in ipairs(list) do position[m] = i end
  if strategy == "least_recent" or strategy == "fewest_calls" then
    local key = strategy == "least_recent" and "last_answered_ms" or "answered"
    table.sort(list, function(a, b)
      local sa, sb = stat(a, key), stat(b, key)
      if sa ~= sb then return sa < sb end
      return position[a] < position[b]
    end)
    return list
  end
  if strategy == "memorized_round_robin" then
    local last = memory.last_member
    for i, m in ipairs(list) do
      if tostring(m.user_id) == last then
        local rotated = {}
        for k = 1, #list do rotated[k] = list[(i + k - 1) % #list + 1] end
        return rotated
      end
    end
    return list
  end
  dialtone.log("warn", string.format("group %s: unknown ring strategy '%s'; ringing in member order",
                                     tostring(group.name), tostring(strategy)))
  return list
end

local function in_call(lines)
  local interfaces = {}
  for i, l in ipairs(lines) do interfaces[i] = "sip/" .. l end
  return channel.active_calls(interfaces) > 0
end

-- The interfaces that ring `members`.
local function interfaces(members)
  local out = {}
  for _, m in ipairs(members) do
    local user = M.ring_members_locally and config.user(m.user_id) or nil
    if user and user.exten and user.exten ~= "" then
      out[#out + 1] = "local/" .. user.exten .. "@" .. (user.context or "default")
    else
      for _, l in ipairs(m.lines or {}) do out[#out + 1] = "sip/" .. l end
    end
  end
  return out
end

local function dial(call, members, seconds)
  local targets = interfaces(members)
  targets.timeout = seconds
  targets.caller_number = call.caller_number
  targets.caller_name = call.caller_name
  return call:dial(targets)
end

-- The member whose interface answered.
local function member_of(members, outcome)
  for _, m in ipairs(members) do
    for _, i in ipairs(interfaces({ m })) do
      if i == outcome.target then return m end
    end
  end
  return nil
end

local function seconds_left(deadline) return math.ceil((deadline - dialtone.now()) / 1000) end

-- Waits the retry delay, never past the deadline.
local function pause(group, deadline)
  local delay = math.min(tonumber(group.retry_delay) or 0, seconds_left(deadline))
  if delay > 0 then dialtone.sleep(delay * 1000) end
end

-- The reason a group gives up: no answer when a member rang, else busy
-- when one was, else congestion, else fail (nobody reachable).
local function reason_of(statuses, rang)
  if rang then return "noanswer" end
  if statuses.busy then return "busy" end
  if statuses.congestion then return "congestion" end
  return "fail"
end

-- Where the caller goes when the group gives up for `reason`.
local function give_up(call, group, reason, depth)
  call.vars.XIVO_DIALSTATUS = reason == "fail" and "CHANUNAVAIL" or reason:upper()
  call.dial_status = reason
  local fallbacks = group.fallbacks or {}
  local d = fallbacks[reason .. "_destination"]
  if destinations.is_set(d) then
    local what = string.format("group %s's %s fallback", tostring(group.name), reason)
    dialtone.log("info", string.format("call %s: %s sends it to %s", tostring(call.id), what, destinations.describe(d)))
    local decision = destinations.route(call, d, group.context or call.context, (depth or 0) + 1, what)
    if decision then return decision end
  end
  return M.final[reason]
end

-- Rings `members` (one at a time or all together) until one answers or
-- `deadline` passes. Returns the outcome that ended it, or nil and the
-- reason the group gives up.
local function ring(call, group, members, strategy, deadline)
  local member_time = tonumber(group.user_timeout) or 0
  local statuses, rang = {}, false
  local function attempt(list)
    local left = seconds_left(deadline)
    if left <= 0 then return nil end
    local seconds = member_time > 0 and math.min(member_time, left) or left
    local outcome = dial(call, list, seconds)
    statuses[outcome.status] = true
    if outcome.status == "noanswer" then rang = true end
    return outcome
  end
  while true do
    local rang_this_round = false
    local order = strategy == "all" and { members } or M.order(strategy, group, members)
    for _, entry in ipairs(order) do
      local list = strategy == "all" and entry or { entry }
      if group.ring_in_use == false then
        local free = {}
        for _, m in ipairs(list) do
          if in_call(m.lines) then statuses.busy = true else free[#free + 1] = m end
        end
        list = free
      end
      if #list > 0 then
        local outcome = attempt(list)
        if not outcome then return nil, reason_of(statuses, rang) end
        if outcome.status == "answered" or outcome.status == "cancel" then return outcome end
        -- Only a member that rang delays the next try: one that could not
        -- be rung is skipped at once, as Asterisk's ring_one does.
        if outcome.status == "noanswer" then
          rang_this_round = true
          pause(group, deadline)
        end
      end
    end
    -- Nobody could even be rung this round (unavailable, busy, refused):
    -- another round would only spin until the ring time ends.
    if not rang_this_round then return nil, reason_of(statuses, rang) end
  end
end

-- Rings `group` for `call`; returns the decision for the caller.
-- Answers the caller for the group's waiting music and asks dials for it;
-- true when the music replaces the ring tone.
local function waiting_music(call, group)
  local class = group.music_on_hold
  if type(class) ~= "string" or class == "" then return false end
  if channel and getmetatable(call) == nil then setmetatable(call, { __index = channel }) end
  if not (call.channel and call.moh and call.answer and call:answer()) then
    dialtone.log("info", string.format("call %s: group %s's waiting music '%s' needs the media engine; "
                                       .. "the caller hears the ring tone", tostring(call.id), tostring(group.name), class))
    return false
  end
  if not call:moh(class) then
    dialtone.log("info", string.format("call %s: group %s's waiting music '%s' has no files; the caller hears "
                                       .. "the ring tone", tostring(call.id), tostring(group.name), class))
    return false
  end
  call:setvar("DIAL_MUSIC", class)
  return true
end

function M.call(call, group, depth)
  local vars = call.vars
  local closed = schedules.check(call, "group", group, group.context or call.context, depth)
  if closed then return closed end
  vars.XIVO_DSTID = tostring(group.id)
  vars.XIVO_GROUPNAME = group.name or ""
  vars.XIVO_GROUPOPTIONS = vars.XIVO_GROUPOPTIONS or ""
  subroutines.run("group", group.preprocess_subroutine, call)

  local timeout = tonumber(group.timeout) or 0
  if timeout <= 0 then timeout = M.default_timeout end

  local members = {}
  for _, m in ipairs(group.members or {}) do
    if #(m.lines or {}) > 0 then members[#members + 1] = m end
  end
  if #members == 0 then
    dialtone.log("info", string.format("call %s: group %s has no member with a line", tostring(call.id),
                                       tostring(group.name)))
    return give_up(call, group, "fail", depth)
  end

  local strategy = group.ring_strategy or "all"
  -- Recorded calls (the group's call_record, lib/recordings.lua): the caller
  -- is answered first, the member who answers is recorded with it.
  local record = recordings.wanted(call, nil, group) and recordings.prepare(call)
  local music = waiting_music(call, group)
  local outcome, reason = ring(call, group, members, strategy, dialtone.now() + timeout * 1000)
  if music then
    call:setvar("DIAL_MUSIC", nil)
    if not outcome or outcome.status ~= "answered" then call:stop_playing() end
  end
  if outcome then
    call.dial_status = outcome.status
    vars.XIVO_DIALSTATUS = outcome.status
    local member = member_of(members, outcome)
    if outcome.status == "answered" and member then channel.group_answered(group.id, member.user_id) end
    if outcome.status == "answered" and record then recordings.start(call) end
    return { action = "done" }
  end
  dialtone.log("info", string.format("call %s: group %s gives up (%s)", tostring(call.id), tostring(group.name), reason))
  return give_up(call, group, reason, depth)
end

return M
