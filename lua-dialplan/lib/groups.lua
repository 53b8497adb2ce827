-- Calls to a group (seed 5.16): its members' lines are rung by the group's
-- ring strategy until one answers or the group's ring time runs out.
--
-- The group table comes from config.group_by_exten / config.group:
--   id, name, label, ring_strategy, timeout (seconds, nil or 0: M.default_timeout),
--   preprocess_subroutine, exten, context,
--   members = { { user_id, firstname, lastname, lines = { <SIP usernames> } }, ... }
--   (enabled users, in the group's member order)
--
-- Strategies, as Asterisk's queue strategies that XiVO groups use:
--   all                    every member at once (ringall)
--   linear                 one member at a time, in member order
--   random                 one at a time, in a random order each call
--   weight_random          as random (members carry no weights here)
--   least_recent           one at a time, the member that answered least recently first
--   fewest_calls           one at a time, the member that answered fewest calls first
--   memorized_round_robin  one at a time, starting after the member that answered last
-- One at a time means each member rings for M.member_ring_seconds, then the
-- next, round again, until the group's ring time is over. What the last
-- three remember (channel.group_memory, kept by the call core) lives in
-- memory and restarts with the process, as Asterisk's queue statistics do.
--
-- Members are rung as `local/<exten>@<context>` legs when M.ring_members_locally
-- is set (each member's own dialplan runs: its forwards, DND and ring time,
-- as Asterisk's Local channels in queues), otherwise on their SIP lines.
local subroutines = require("subroutines")

local M = {}

-- Group ring time when the group has none.
M.default_timeout = 30
-- How long one member rings in the one-at-a-time strategies (XiVO's
-- per-member ring time defaults to 15 s).
M.member_ring_seconds = 15
-- Members already in a call are not rung (Asterisk's ringinuse = no).
M.skip_busy_members = true
-- Ring members through their own dialplan (local/<exten>@<context>).
M.ring_members_locally = false

M.final = {
  busy = { action = "reject", code = 486, status = 486, reason = "Busy Here" },
  noanswer = { action = "reject", code = 480, status = 480, reason = "No Answer" },
  unavailable = { action = "reject", code = 480, status = 480, reason = "Temporarily Unavailable" },
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
  if strategy == "random" or strategy == "weight_random" then return shuffle(list) end
  if strategy == "linear" then return list end
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

local function answered(call, group, member, outcome)
  call.dial_status = outcome.status
  call.vars.XIVO_DIALSTATUS = outcome.status
  if outcome.status == "answered" and member then
    channel.group_answered(group.id, member.user_id)
  end
  return { action = "done" }
end

-- Rings `group` for `call`; returns the decision for the caller.
function M.call(call, group)
  local vars = call.vars
  vars.XIVO_DSTID = tostring(group.id)
  vars.XIVO_GROUPNAME = group.name or ""
  vars.XIVO_GROUPOPTIONS = vars.XIVO_GROUPOPTIONS or ""
  subroutines.run("group", group.preprocess_subroutine, call)

  local timeout = tonumber(group.timeout) or 0
  if timeout <= 0 then timeout = M.default_timeout end

  local members, busy = {}, 0
  for _, m in ipairs(group.members or {}) do
    local lines = m.lines or {}
    if #lines > 0 then
      if M.skip_busy_members and in_call(lines) then
        busy = busy + 1
      else
        members[#members + 1] = m
      end
    end
  end
  if #members == 0 then
    local outcome = busy > 0 and "busy" or "unavailable"
    vars.XIVO_DIALSTATUS = outcome
    dialtone.log("info", string.format("call %s: group %s has no member free to ring (%d busy)",
                                       tostring(call.id), tostring(group.name), busy))
    return M.final[outcome]
  end

  local strategy = group.ring_strategy or "all"
  if strategy == "all" then
    local outcome = dial(call, members, timeout)
    if outcome.status == "answered" or outcome.status == "cancel" then
      return answered(call, group, member_of(members, outcome), outcome)
    end
    vars.XIVO_DIALSTATUS = outcome.status
    return M.final[outcome.status] or M.final.noanswer
  end

  local order = M.order(strategy, group, members)
  local deadline = dialtone.now() + timeout * 1000
  local last = "unavailable"
  while true do
    local rang = false
    for _, m in ipairs(order) do
      local left = math.ceil((deadline - dialtone.now()) / 1000)
      if left <= 0 then
        vars.XIVO_DIALSTATUS = "noanswer"
        return M.final.noanswer
      end
      if not (M.skip_busy_members and in_call(m.lines)) then
        local outcome = dial(call, { m }, math.min(M.member_ring_seconds, left))
        if outcome.status == "answered" or outcome.status == "cancel" then
          return answered(call, group, m, outcome)
        end
        if outcome.status == "noanswer" then rang = true end
        if last ~= "noanswer" then last = outcome.status end
      end
    end
    -- Nobody could even be rung this round (all unavailable or busy):
    -- another round would only spin until the ring time ends.
    if not rang then
      vars.XIVO_DIALSTATUS = last
      return M.final[last] or M.final.unavailable
    end
  end
end

return M
