-- Call pickup (seed 5.12 directed pickup, 5.17 group pickup), dialed from a
-- line:
--
--   *8<exten>  takes the call ringing on the lines of the user owning
--              <exten> in the caller's context (any user may, as in XiVO)
--   *8         takes the oldest call ringing on the lines of the targets of
--              the pickup groups the caller intercepts in (confd
--              /1.1/callpickups: the user, or one of its groups, is an
--              interceptor; targets are users and the members of groups)
--   a BLF key's INVITE with Replaces naming a ringing dialog: the SIP
--              backend hands the leg over as PICKUP_CHANNEL
--
-- The ringing phones stop (CANCEL), the caller and the picker talk
-- (call:pickup, the call core's). When nothing rings there the call is
-- refused with 480 "Nothing to pick up" and one log line says where
-- nobody rang. Both take XiVO's `pickup` feature code (*8 by default;
-- confd /1.1/extensions/features, lib/featurecodes.lua).
local destinations = require("destinations")
local featurecodes = require("featurecodes")

local M = {}


local reject = destinations.reject

local function take(call, target, what)
  if channel and getmetatable(call) == nil then setmetatable(call, { __index = channel }) end
  if not (call.channel and call.pickup) then
    dialtone.log("warn", string.format("call %s: %s needs the call core (no channel)", tostring(call.id), what))
    return reject(480, "Nothing to pick up")
  end
  local ok, why = call:pickup(target)
  if ok then
    dialtone.log("info", string.format("call %s: picked up %s", tostring(call.id), what))
    return { action = "done" }
  end
  dialtone.log("info", string.format("call %s: nothing picked up (%s): %s", tostring(call.id), what, tostring(why)))
  return reject(480, "Nothing to pick up")
end

local function interfaces_of(user)
  local out = {}
  for i, l in ipairs(user.lines or {}) do out[i] = "sip/" .. l end
  return out
end

-- Which pickup `number` asks for: "group", or "directed" and the extension; nil if none.
function M.parse(number)
  local rest = featurecodes.rest("pickup", number)
  if rest == "" then return "group" end
  if rest and rest:match("^%d+$") then return "directed", rest end
  return nil
end

-- The decision for a pickup dialed from a line, or nil to route the call normally.
function M.route(call)
  local leg = call.vars and call.vars.PICKUP_CHANNEL
  if leg and leg ~= "" then return take(call, leg, "the call a BLF key named (Replaces)") end
  if (call.origin or "intern") ~= "intern" then return nil end
  local kind, exten = M.parse(call.called_number or call.callee or "")
  if kind == "directed" then
    local user = config.user_by_exten(exten, call.context)
    if not user then
      dialtone.log("info", string.format("call %s: directed pickup of %s: no user has that extension in %s",
                                         tostring(call.id), exten, tostring(call.context)))
      return reject(480, "Nothing to pick up")
    end
    return take(call, interfaces_of(user), "the call ringing on " .. exten)
  end
  if kind == "group" then
    local uid = tonumber(call.vars and call.vars.XIVO_USERID or "")
    if not uid then return reject(403, "Feature codes need a user") end
    local lines = config.pickup_interfaces(uid)
    if #lines == 0 then
      dialtone.log("info", string.format("call %s: group pickup: user %d intercepts in no pickup group with targets "
                                         .. "(confd /1.1/callpickups)", tostring(call.id), uid))
      return reject(480, "Nothing to pick up")
    end
    return take(call, lines, "a call of user " .. uid .. "'s pickup groups")
  end
  return nil
end

return M
