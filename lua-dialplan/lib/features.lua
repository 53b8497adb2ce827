-- User feature codes dialed from a line (XiVO's extensions, raw_config
-- exten_*): forwards and do-not-disturb of the calling user.
--
--   *21<number>  unconditional forward to <number> (on)
--   *21          unconditional forward off when on; back on to the saved
--                destination when off (484 when there is none)
--   *22, *23     the same for the no-answer and busy forwards
--   *25          DND on when off, off when on
--   *20          every forward off
--   *26          recording of all the user's calls (call_record_enabled) on
--                when off, off when on (lib/recordings.lua records them)
--   *27          incoming call filtering (call screening) on when off, off
--                when on; screening itself needs the media applications
--                (lib/users.lua)
--   *37<member>  the boss-secretary filter on or off for that filter member
--                (lib/bsfilter.lua; 480 "Call filter enabled|disabled")
--   *55          echo test: an announcement, then the caller hears itself until #
--   *90          the caller's voicemail on when off, off when on
--   *90<exten>   the same for the voicemail of the user of <exten> (XiVO's
--                enablevmslt): another user's box asks its password first
--   *98          consults the caller's own voicemail (lib/voicemails.lua)
--   *99<box>     consults voicemail <box> of the caller's context
--   *8, *8<exten>  group and directed pickup (lib/pickup.lua)
--   *9           records a sound (XiVO's recsnd): a prompt (a digit skips
--                it) and a beep, then
--                what the caller says until # or the hang-up lands in the
--                sound store as recordings/<caller number>-<epoch>.wav
--                (confd /1.1/sounds/recordings), played back after #
--   *11<number>  pages paging group <number> (lib/paging.lua)
--   *40          call completion: asks to be called back once the user
--                last called busy or unanswered is free again; cancels a
--                waiting request (lib/callcompletion.lua)
--
-- The change is saved in confd_users by api.confd (config.set_forward,
-- config.toggle_dnd) and announced as a user edit, so provd and every cache
-- see it. With the media engine loaded, the call is answered and a prompt
-- says the result ("call forward unconditional ... activated", "do not
-- disturb ... de-activated"; an error prompt when the code cannot apply),
-- then Dialtone hangs up. Without it the call ends unanswered with a status
-- whose reason tells the result: 480 "Forward enabled", "Forward disabled",
-- "DND enabled", "DND disabled", "Forwards disabled", "Call screening
-- enabled|disabled"; 484 when *2x alone has no destination to go back to,
-- 403 for a line without user, 500 when the change could not be saved.
local bsfilter = require("bsfilter")
local voicemails = require("voicemails")
local pickup = require("pickup")
local paging = require("paging")
local callcompletion = require("callcompletion")
local destinations = require("destinations")
local featurecodes = require("featurecodes")
local applications = require("applications")

local M = {}

-- The XiVO feature (confd /1.1/extensions/features, lib/featurecodes.lua)
-- whose code dials each feature here; the codes themselves are confd's.
M.features = {
  fwd_unconditional = "fwdunc",
  fwd_noanswer = "fwdrna",
  fwd_busy = "fwdbusy",
  dnd = "enablednd",
  fwd_disable_all = "fwdundoall",
  incallfilter = "incallfilter",
  callrecord = "callrecord",
  bsfilter = "bsfilter",
  voicemail = "vmusermsg",
  voicemail_box = "vmboxmsgslt",
  callcompletion = "cctoggle",
  enablevm = "enablevm",
  enablevmslt = "enablevmslt",
  vmuserslt = "vmuserslt",
  vmboxslt = "vmboxslt",
  phonestatus = "phonestatus",
  recsnd = "recsnd",
  groupmembertoggle = "groupmembertoggle",
  groupmemberjoin = "groupmemberjoin",
  groupmemberleave = "groupmemberleave",
}
-- XiVO's echo test (xivo-extrafeatures), no feature extension of its own.
M.echo_code = "*55"

-- The prompts (asterisk-core-sounds names) of each result.
M.prompts = {
  unconditional = "call-fwd-unconditional",
  noanswer = "call-fwd-no-ans",
  busy = "call-fwd-on-busy",
  all = "call-forwarding",
  dnd = "do-not-disturb",
  on = "activated",
  off = "de-activated",
  error = "feature-not-avail-line",
  failed = "beeperr",
  echo_intro = "demo-echotest",
  echo_done = "demo-echodone",
  joined = "agent-loginok",
  left = "agent-loggedoff",
  -- XiVO plays its own record-message-after-beep; asterisk-core-sounds has
  -- vm-intro ("... after the tone. When done, hang up or press the pound key").
  recsnd_intro = "vm-intro",
  beep = "beep",
}

-- The longest sound *9 records (XiVO's Record has no limit; a forgotten
-- call must not fill the disk).
M.recsnd_max_seconds = 600

local forward_kinds = {
  fwd_unconditional = "unconditional",
  fwd_noanswer = "noanswer",
  fwd_busy = "busy",
}

local reject = destinations.reject

-- Answers and plays `prompts`, then the call ends (Dialtone hangs up); when
-- the call cannot be answered with media (no media engine), the old answer:
-- a refusal with `code` and `reason`.
local function announce(call, prompts, code, reason)
  if channel then voicemails.attach(call) end
  -- call.play: the media engine registered its verbs (media.engine loaded).
  if call.channel and call.play and call:answer() then
    call:play(prompts)
    return { action = "done" }
  end
  return reject(code, reason)
end

-- *98 (the caller's own box) and *99<box> (a box of the caller's context):
-- the consultation menus of lib/voicemails.lua.
local function consult(call, box)
  if channel then voicemails.attach(call) end
  if not (voicemail and call.channel and call.answer and call.play) then
    return reject(480, "Voicemail needs app.voicemail and the media engine")
  end
  call:voicemail_main(box)
  return { action = "done" }
end

-- *55: XiVO's echo test. A digit skips the announcement; # ends the echo.
local function echo_test(call)
  if channel then voicemails.attach(call) end
  if not (call.channel and call.echo and call:answer()) then return reject(480, "Echo test needs the media engine") end
  -- A caller who hangs up during the announcement never reaches the echo:
  -- starting it then would put an Echo application in the CEL of a channel
  -- the call core may already have ended (or not, depending on timing).
  local _, why = call:read_digits{ max = 1, timeout = 1, prompt = M.prompts.echo_intro }
  if why == "hangup" then
    dialtone.log("info", string.format("call %s: hung up during the echo test's announcement", tostring(call.id)))
    return { action = "done" }
  end
  if applications.run(call, "Echo", "", call.echo, call) then call:play(M.prompts.echo_done) end
  return { action = "done" }
end

local function saved(call, what, ok, why)
  if ok == nil then
    dialtone.log("warn", string.format("call %s: %s not saved: %s", tostring(call.id), what, tostring(why)))
    return false
  end
  return true
end

local function forward(call, uid, kind, destination)
  local state, why
  if destination ~= "" then
    state, why = config.set_forward(uid, kind, true, destination)
  else
    local user = config.user(uid)
    if not user then return announce(call, { M.prompts.error }, 403, "Feature codes need a user") end
    if user["forward_" .. kind .. "_enabled"] then
      state, why = config.set_forward(uid, kind, false, nil)
    else
      local stored = user["forward_" .. kind .. "_destination"]
      if type(stored) ~= "string" or stored == "" then
        return announce(call, { M.prompts[kind], M.prompts.error }, 484, "Forward destination needed")
      end
      state, why = config.set_forward(uid, kind, true, nil)
    end
  end
  if not saved(call, kind .. " forward", state, why) then
    return announce(call, { M.prompts.failed }, 500, "Feature not saved")
  end
  dialtone.log("info", string.format("user %s: %s forward %s%s", tostring(uid), kind,
                                     state.enabled and "on to " or "off", state.enabled and state.destination or ""))
  return announce(call, { M.prompts[kind], state.enabled and M.prompts.on or M.prompts.off }, 480,
                  state.enabled and "Forward enabled" or "Forward disabled")
end

-- *96<exten>: leave a message to the user of <exten>; *97<box>: in
-- voicemail box <box> of the caller's context.
local function leave_message(call, name, target)
  local box = target
  if name == "vmuserslt" then
    local user = config.user_by_exten(target, call.context)
    box = user and voicemail and voicemail.of_user(user.id)
    if not box then return announce(call, { voicemails.prompts.nobox }, 404, "No voicemail") end
  end
  if channel then voicemails.attach(call) end
  if not (voicemail and call.channel and call.answer and call.play) then
    return reject(480, "Voicemail needs app.voicemail and the media engine")
  end
  call:voicemail(box, "unavail")
  return { action = "done" }
end

-- *9: XiVO's recsnd. The sound is <sounds.store>/recordings/<caller
-- number>-<epoch>.wav, written whole or not at all by the engine; XiVO keeps
-- what was said when the caller hangs up (Record's k option), and so does
-- Dialtone. After #, a second's pause and the sound played back.
local function record_sound(call)
  if channel then voicemails.attach(call) end
  if not (call.channel and call.record and call:answer()) then
    return reject(480, "Sound recording needs the media engine")
  end
  -- A digit skips the announcement (as for *55); the beep always plays.
  local _, why = call:read_digits{ max = 1, timeout = 1, prompt = M.prompts.recsnd_intro }
  if why == "hangup" then return { action = "done" } end
  local ok, pwhy = call:play(M.prompts.beep)
  if ok == false and pwhy == "hangup" then return { action = "done" } end
  local who = tostring(call.caller_number or ""):gsub("[^%w_-]", "")
  local name = string.format("recordings/%s-%d", who ~= "" and who or "unknown", os.time())
  dialtone.log("info", string.format("call %s: recording sound %s", tostring(call.id), name))
  local recorded, file = call:record{ sound = name, max_seconds = M.recsnd_max_seconds }
  if not recorded and file == "hangup" then return { action = "done" } end
  if not recorded then
    dialtone.log("error", string.format("call %s: sound %s not recorded: %s", tostring(call.id), name, tostring(file)))
    call:play(M.prompts.failed)
    return { action = "done" }
  end
  if not file then  -- hung up: the engine keeps what was said
    dialtone.log("info", string.format("call %s: sound %s recorded until the hang-up", tostring(call.id), name))
    return { action = "done" }
  end
  dialtone.log("info", string.format("call %s: sound recorded to %s", tostring(call.id), file))
  dialtone.sleep(1000)  -- XiVO's Wait(1)
  call:play(file)
  return { action = "done" }
end

-- *10: says the caller's forwards and do-not-disturb, each activated or
-- de-activated (a forward that is on with its destination's digits).
local function phone_status(call, uid)
  local user = config.user(uid)
  if not user then return announce(call, { M.prompts.error }, 403, "Feature codes need a user") end
  local prompts, on = {}, {}
  for _, kind in ipairs({ "unconditional", "noanswer", "busy" }) do
    local enabled = user["forward_" .. kind .. "_enabled"]
    prompts[#prompts + 1] = M.prompts[kind]
    prompts[#prompts + 1] = enabled and M.prompts.on or M.prompts.off
    if enabled then
      on[#on + 1] = kind
      for d in tostring(user["forward_" .. kind .. "_destination"] or ""):gmatch("%d") do
        prompts[#prompts + 1] = "digits/" .. d
      end
    end
  end
  prompts[#prompts + 1] = M.prompts.dnd
  prompts[#prompts + 1] = user.dnd and M.prompts.on or M.prompts.off
  if user.dnd then on[#on + 1] = "dnd" end
  return announce(call, prompts, 480, "Phone status: " .. (#on > 0 and table.concat(on, ",") or "none"))
end

-- *90: the caller's voicemail on or off.
local function toggle_voicemail(call, uid)
  local enabled, why = config.toggle_voicemail(uid)
  if enabled == nil and tostring(why):match("^not_found") then
    return announce(call, { voicemails.prompts.nobox }, 404, "No voicemail")
  end
  if not saved(call, "voicemail", enabled, why) then
    return announce(call, { M.prompts.failed }, 500, "Feature not saved")
  end
  return announce(call, { enabled and M.prompts.on or M.prompts.off }, 480,
                  enabled and "Voicemail enabled" or "Voicemail disabled")
end

-- *90<exten>: the voicemail of the user of <exten> in the caller's context,
-- as XiVO's enablevmslt: the caller's own at once; another user's box with a
-- password asks that password first (XiVO's Authenticate), which needs the
-- media engine (480 without it) and app.voicemail to read it (403 without).
local function toggle_voicemail_of(call, uid, exten)
  local user = config.user_by_exten(exten, call.context)
  if not user then return announce(call, { M.prompts.error }, 404, "No such user") end
  if tonumber(user.id) ~= uid then
    if not voicemail then return reject(403, "Voicemail password check needs app.voicemail") end
    local box = voicemail.of_user(user.id)
    local info = box and voicemail.box(box)
    if not info then return announce(call, { voicemails.prompts.nobox }, 404, "No voicemail") end
    if info.password ~= "" then
      if channel then voicemails.attach(call) end
      if not (call.channel and call.read_digits and call:answer()) then
        return reject(480, "Voicemail password needs the media engine")
      end
      if not voicemails.ask_pin(call, info) then
        call:play(voicemails.prompts.goodbye)
        return { action = "done" }
      end
    end
  end
  return toggle_voicemail(call, tonumber(user.id))
end

-- *50<group id> toggles the caller's membership of the group, *51 joins,
-- *52 leaves (XiVO's groupmember* codes).
local group_modes = { groupmembertoggle = nil, groupmemberjoin = true, groupmemberleave = false }
local function group_member(call, uid, name, group)
  local member, why = config.set_group_member(tonumber(group), uid, group_modes[name])
  if member == nil and tostring(why):match("^not_found") then
    return announce(call, { M.prompts.error }, 404, "No such group")
  end
  if not saved(call, "group membership", member, why) then
    return announce(call, { M.prompts.failed }, 500, "Feature not saved")
  end
  dialtone.log("info", string.format("user %s: %s group %s", tostring(uid), member and "in" or "out of", group))
  return announce(call, { member and M.prompts.joined or M.prompts.left }, 480,
                  member and "Group joined" or "Group left")
end

-- Which feature `number` asks for: name, kind, destination; nil if none.
-- A code alone matches only the whole number (*9 does not take *98).
function M.parse(number)
  for name, kind in pairs(forward_kinds) do
    local rest = featurecodes.rest(M.features[name], number)
    if rest and (rest == "" or rest:match("^[%d%*#+]+$")) then return name, kind, rest end
  end
  for _, name in ipairs({ "bsfilter", "voicemail_box", "vmuserslt", "vmboxslt", "enablevmslt", "groupmembertoggle",
                          "groupmemberjoin", "groupmemberleave" }) do
    local rest = featurecodes.rest(M.features[name], number)
    if rest and rest:match("^%d+$") then return name, nil, rest end
  end
  for _, name in ipairs({ "dnd", "incallfilter", "callrecord", "fwd_disable_all", "callcompletion", "voicemail",
                          "enablevm", "phonestatus", "recsnd" }) do
    if featurecodes.rest(M.features[name], number) == "" then return name end
  end
  if number == M.echo_code then return "echo" end
  return nil
end

-- The decision for a feature code dialed from a line; nil to route the
-- call normally.
function M.route(call)
  local picked = pickup.route(call)
  if picked then return picked end
  if (call.origin or "intern") ~= "intern" then return nil end
  local paged = paging.route(call)
  if paged then return paged end
  local number = call.called_number or call.callee or ""
  local name, kind, destination = M.parse(number)
  if not name then return nil end
  if name == "echo" then return echo_test(call) end
  if name == "recsnd" then return record_sound(call) end
  if name == "voicemail_box" then return consult(call, destination) end
  if name == "vmuserslt" or name == "vmboxslt" then return leave_message(call, name, destination) end
  local uid = tonumber(call.vars and call.vars.XIVO_USERID or "")
  if not uid then return announce(call, { M.prompts.error }, 403, "Feature codes need a user") end
  if kind then return forward(call, uid, kind, destination) end
  if name == "bsfilter" then return bsfilter.toggle(call, destination) end
  if name == "enablevm" then return toggle_voicemail(call, uid) end
  if name == "enablevmslt" then return toggle_voicemail_of(call, uid, destination) end
  if name == "phonestatus" then return phone_status(call, uid) end
  if name:match("^groupmember") then return group_member(call, uid, name, destination) end
  if name == "voicemail" then
    local box = voicemail and voicemail.of_user(uid)
    if not box then return announce(call, { voicemails.prompts.nobox }, 404, "No voicemail") end
    return consult(call, box)
  end
  if name == "incallfilter" then
    local enabled, why = config.toggle_incallfilter(uid)
    if not saved(call, "call screening", enabled, why) then
      return announce(call, { M.prompts.failed }, 500, "Feature not saved")
    end
    return announce(call, { enabled and M.prompts.on or M.prompts.off }, 480,
                    enabled and "Call screening enabled" or "Call screening disabled")
  end
  if name == "callrecord" then
    local enabled, why = config.toggle_callrecord(uid)
    if not saved(call, "call recording", enabled, why) then
      return announce(call, { M.prompts.failed }, 500, "Feature not saved")
    end
    dialtone.log("info", string.format("user %s: call recording %s", tostring(uid), enabled and "on" or "off"))
    return announce(call, { enabled and M.prompts.on or M.prompts.off }, 480,
                    enabled and "Call recording enabled" or "Call recording disabled")
  end
  if name == "callcompletion" then
    local result = callcompletion.toggle(uid)
    dialtone.log("info", string.format("user %s: call completion %s", tostring(uid), result))
    if result == "activated" then
      return announce(call, { M.prompts.on }, 480, "Call completion activated")
    elseif result == "cancelled" then
      return announce(call, { M.prompts.off }, 480, "Call completion cancelled")
    end
    return announce(call, { M.prompts.error }, 404, "No call completion offer")
  end
  if name == "dnd" then
    local enabled, why = config.toggle_dnd(uid)
    if not saved(call, "DND", enabled, why) then return announce(call, { M.prompts.failed }, 500, "Feature not saved") end
    return announce(call, { M.prompts.dnd, enabled and M.prompts.on or M.prompts.off }, 480,
                    enabled and "DND enabled" or "DND disabled")
  end
  local state, why = config.set_forward(uid, "all", false, nil)
  if not saved(call, "forwards", state, why) then
    return announce(call, { M.prompts.failed }, 500, "Feature not saved")
  end
  return announce(call, { M.prompts.all, M.prompts.off }, 480, "Forwards disabled")
end

return M
