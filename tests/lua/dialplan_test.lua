-- Entry points for tests/lua/dialplan_test.cc: thin wrappers over the
-- shipped lua-dialplan/lib modules.
local patterns = require("patterns")
local callerid = require("callerid")
local outcalls = require("outcalls")
local incalls = require("incalls")

function rewrite(re, target, number)
  return patterns.rewrite(re, target, number)
end

function normalize(number)
  return callerid.normalize(number)
end

function matches(pattern, number)
  return patterns.extension_matches(pattern, number)
end

function outgoing_cid(name, number, user_cid, internal, pattern_cid)
  local user = nil
  if user_cid ~= "" then user = { outgoing_caller_id = user_cid } end
  local pattern = { caller_id = pattern_cid ~= "" and pattern_cid or nil }
  local r = callerid.outgoing({ name = name, number = number }, user,
                              { internal_caller_id = internal }, pattern)
  return r.name or "", r.number or "", r.anonymous
end

-- Route name, number sent, trunk hosts in order; nil when no route.
function route_out(number)
  local route, _, dialed = outcalls.find(config.outcalls(), number)
  if not route then return nil end
  local hosts = {}
  for _, t in ipairs(route.trunks) do hosts[#hosts + 1] = t.host end
  return route.name, dialed, table.concat(hosts, ",")
end

function find_incall(context, did)
  local incall = incalls.find(config.incalls(context), did)
  return incall and incall.id or nil
end

function user_of(exten, context)
  local u = config.user_by_exten(exten, context)
  if not u then return nil end
  return u.firstname, table.concat(u.lines, ","), u.ring_seconds, u.dnd
end

-- Caller-ID name of an incoming call after the reverse lookup.
function reverse_name(name, number)
  return callerid.reverse_name(name, number, "default")
end

local features = require("features")

-- Code and reason of a feature code dialed by user `user_id` from a line
-- (origin "intern") or a trunk; nil when the dialplan routes it normally.
function feature(user_id, number, origin)
  local d = features.route({ id = "feature-test", called_number = number, origin = origin or "intern",
                             vars = { XIVO_USERID = user_id } })
  if not d then return nil end
  return d.code, d.reason
end

-- Destination of the unconditional forward the dialplan follows for a call
-- to `exten`, nil when none.
function user_forward(exten, context)
  local u = config.user_by_exten(exten, context)
  if not u or not u.forward_unconditional_enabled then return nil end
  return u.forward_unconditional_destination
end

local groups = require("groups")

-- Name, strategy and "user_id:line+line" of each member of the group at
-- `exten` in `context`; nil when none.
function group_of(exten, context)
  local g = config.group_by_exten(exten, context)
  if not g then return nil end
  local members = {}
  for _, m in ipairs(g.members) do
    members[#members + 1] = tostring(m.user_id) .. ":" .. table.concat(m.lines, "+")
  end
  return g.name, g.ring_strategy, table.concat(members, ",")
end

function group_answer(exten, user_id)
  local g = config.group_by_exten(exten, "default")
  channel.group_answered(g.id, tonumber(user_id))
end

-- The user ids in the order `strategy` would ring the group at `exten`.
function group_order(exten, strategy)
  local g = config.group_by_exten(exten, "default")
  local ids = {}
  for _, m in ipairs(groups.order(strategy, g, g.members)) do ids[#ids + 1] = tostring(m.user_id) end
  return table.concat(ids, ",")
end

local callpermissions = require("callpermissions")

-- Whether `user_id` may call `number`, and the denying rule's name.
function may_call(user_id, number)
  local ok, rule = callpermissions.allowed(tonumber(user_id), number)
  return ok, rule and rule.name or nil
end

-- Whose permissions apply to a call: the forwarder, else the calling user.
function permission_subject(origin, user_id, referer)
  local vars = { XIVO_USERID = user_id, XIVO_FWD_REFERER = referer ~= "" and referer or nil }
  return callpermissions.subject({ origin = origin, vars = vars })
end
