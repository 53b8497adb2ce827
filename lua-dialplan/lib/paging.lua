-- Paging (seed 5.24): *11<number> pages the members of paging group
-- <number> (confd /1.1/pagings): their phones answer on their own and hear
-- the caller, who hears nobody unless the group is `duplex`.
--
-- A paging as config.paging gives it:
--   { id, number, name, announce_sound, announce_caller, caller_notification,
--     duplex, ignore_forward, record, timeout, members = {"sip/<line>"...},
--     callers = {user ids} }
--
-- Only the group's callers may page (XiVO: the users of its "Callers"
-- list); the caller's own lines are never paged. The members' lines are
-- dialed directly, so their forwards and DND never apply (XiVO's "ignore
-- forward"). With `record`, what the caller says is kept in the media
-- engine's recordings.path as <date>-<call id>-page.wav. The page ends when the
-- caller hangs up or presses #. A group that does not exist or that the
-- caller may not use plays `M.prompts.denied` (403 without the media engine);
-- a group with no member to page plays it too (404).
local voicemails = require("voicemails")
local featurecodes = require("featurecodes")
local applications = require("applications")

local M = {}

M.prompts = { denied = "vm-incorrect" }

local function reject(code, reason)
  return { action = "reject", code = code, status = code, reason = reason }
end

local function media(call)
  if channel then voicemails.attach(call) end
  return call.channel ~= nil and call.page ~= nil and call.answer ~= nil
end

local function refuse(call, code, reason)
  dialtone.log("info", string.format("call %s: paging refused (%d): %s", tostring(call.id), code, reason))
  if media(call) and call:answer() then
    call:play(M.prompts.denied)
    return { action = "done" }
  end
  return reject(code, reason)
end

-- The paging number dialed, or nil when `number` is not *11<digits>.
function M.parse(number)
  local rest = featurecodes.rest("paging", number)
  if rest and rest:match("^%d+$") then return rest end
  return nil
end

local function contains(list, value)
  for _, v in ipairs(list or {}) do
    if tostring(v) == tostring(value) then return true end
  end
  return false
end

-- The decision for a page dialed from a line, or nil to route the call normally.
function M.route(call)
  if (call.origin or "intern") ~= "intern" then return nil end
  local number = M.parse(call.called_number or call.callee or "")
  if not number then return nil end
  local p = config.paging and config.paging(number)
  if not p then return refuse(call, 404, "No paging group " .. number) end
  local uid = call.vars and call.vars.XIVO_USERID
  if not uid or not contains(p.callers, uid) then
    return refuse(call, 403, string.format("user %s may not page group %s", tostring(uid), number))
  end
  local mine = {}
  local me = config.user(tonumber(uid) or 0)
  for _, l in ipairs(me and me.lines or {}) do mine["sip/" .. l] = true end
  local targets = {}
  for _, i in ipairs(p.members or {}) do
    if not mine[i] then targets[#targets + 1] = i end
  end
  if #targets == 0 then return refuse(call, 404, "paging group " .. number .. " has no member to page") end
  if not media(call) or not call:answer() then
    dialtone.log("warn", string.format(
      "call %s: paging group %s needs the media engine (load plugin media.engine); refused with 480",
      tostring(call.id), number))
    return reject(480, "Paging needs the media engine")
  end
  -- Asterisk's Page, its argument the phones paged (Page(SIP/a&SIP/b)).
  local ok, why = applications.run(call, "Page", table.concat(targets, "&"), call.page, call, {
    targets = targets,
    timeout = p.timeout,
    duplex = p.duplex,
    quiet = p.caller_notification == false,
    announce = p.announce_sound,
    announce_caller = p.announce_caller ~= false,
    record = p.record == true,
  })
  dialtone.log("info", string.format("call %s: paged group %s (%d members): %s %s", tostring(call.id), number,
                                     #targets, tostring(ok), tostring(why)))
  return { action = "done" }
end

return M
