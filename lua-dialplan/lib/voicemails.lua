-- Voicemail (XiVO's voicemail application, Asterisk's VoiceMail and
-- VoiceMailMain) on top of the media verbs and the `voicemail` module of
-- app.voicemail (spool, message-waiting counts, e-mail):
--
--   call:voicemail(box, greeting)   the caller hears the box's greeting
--                                   ("unavail" or "busy": the user's own
--                                   recording, else vm-theperson <digits>
--                                   vm-isunavail|vm-isonphone), vm-intro and a
--                                   beep, and leaves a message (# or hang-up
--                                   ends it); vm-msgsaved when it is filed
--   call:voicemail_main(box, opts)  consultation: PIN, the counts, then
--                                   1 listen (5 repeat, 4 previous, 6 next,
--                                   7 delete, 8 forward to a box, 9 save to a
--                                   folder 0-4), 2 change folder,
--                                   0 greetings (1 unavail, 2 busy, 3 name,
--                                   4 temporary), # goodbye
--
-- `box` is "<number>" (in the call's context) or "<number>@<context>".
-- The PIN is asked when the box has one and its `ask_password` is on, or
-- when `opts.ask_password` forces it (consultation from outside, seed
-- 5.35.5); a box without password is open to *99<box> from its context,
-- which the log says each time (seed's warning).
local applications = require("applications")

local M = {}

M.prompts = {
  theperson = "vm-theperson", unavail = "vm-isunavail", busy = "vm-isonphone", intro = "vm-intro",
  beep = "beep", saved = "vm-msgsaved", sorry = "vm-sorry", goodbye = "vm-goodbye",
  password = "vm-password", incorrect = "vm-incorrect", nobox = "vm-incorrect-mailbox", login = "vm-login",
  youhave = "vm-youhave", messages = "vm-messages", nomore = "vm-nomore", instructions = "vm-instructions",
  msginstruct = "vm-msginstruct", deleted = "vm-deleted", savefolder = "vm-savefolder",
  savedto = "vm-savedto", changeto = "vm-changeto", forward = "vm-extension", forwarded = "vm-msgforwarded",
  options = "vm-options", rec_unavail = "vm-rec-unv", rec_busy = "vm-rec-busy", rec_name = "vm-rec-name",
  rec_temp = "vm-rec-temp", from = "vm-from", first = "vm-first", next = "vm-next", last = "vm-last",
  full = "vm-mailboxfull",
}

-- The folders, as the digits of the save and change-folder menus name them.
M.folders = { [0] = "INBOX", "Old", "Work", "Family", "Friends" }
M.max_message_seconds = 180
M.max_greeting_seconds = 60
-- Seconds of silence that end a message, as Asterisk's maxsilence.
M.silence_seconds = 10

local function mailbox(call, box)
  box = tostring(box or "")
  if box:find("@", 1, true) then return box end
  return box .. "@" .. (call.context and call.context ~= "" and call.context or "default")
end

local function digits_of(number)
  local out = {}
  for d in tostring(number):gmatch("%d") do out[#out + 1] = "digits/" .. d end
  return out
end

local function concat(...)
  local out = {}
  for _, list in ipairs({ ... }) do
    for _, v in ipairs(list) do out[#out + 1] = v end
  end
  return out
end

local function count_prompts(n)
  if n <= 20 then return { "digits/" .. n } end
  return digits_of(n)
end

local function up(call)
  return call.channel ~= nil
end

-- Leaves a message in `box`; true once filed.
function M.leave(call, box, greeting)
  if not voicemail then
    dialtone.log("warn", "call " .. tostring(call.id) .. ": voicemail needs the app.voicemail plugin (conf.d)")
    return false, "no voicemail application"
  end
  local mb = mailbox(call, box)
  local info = voicemail.box(mb)
  if not info then
    dialtone.log("warn", "call " .. tostring(call.id) .. ": no voicemail " .. mb .. " (or it is disabled)")
    return false, "no such box"
  end
  if not call:answer() then return false, "not answered" end
  -- The box's limits (confd max_messages, option maxsecs): a full box
  -- takes no message (Asterisk's vm-mailboxfull).
  local max = tonumber(info.max_messages)
  if max then
    local new, old = voicemail.counts(mb)
    if (tonumber(new) or 0) + (tonumber(old) or 0) >= max then
      dialtone.log("info", string.format("call %s: voicemail %s is full (%d messages); no message left",
                                         tostring(call.id), mb, max))
      call:play({ M.prompts.full, M.prompts.goodbye })
      return false, "full"
    end
  end
  local seconds = tonumber(info.max_message_seconds) or M.max_message_seconds
  greeting = (greeting == "busy") and "busy" or "unavail"
  local g = voicemail.greeting(mb, "temp") or voicemail.greeting(mb, greeting)
  local ok = true
  if g then
    ok = call:play({ g, M.prompts.intro, M.prompts.beep })
  else
    local name = voicemail.greeting(mb, "greet")
    local who = name and { name } or concat({ M.prompts.theperson }, digits_of(info.number))
    ok = call:play(concat(who, { M.prompts[greeting], M.prompts.intro, M.prompts.beep }))
  end
  if ok == false and not up(call) then return false, "hangup" end
  local file, why = voicemail.recording_file(mb)
  if not file then
    call:play({ M.prompts.sorry, M.prompts.goodbye })
    return false, why
  end
  local recorded, rwhy = call:record{ file = file, max_seconds = seconds, silence = M.silence_seconds }
  if not recorded then
    dialtone.log("error", "call " .. tostring(call.id) .. ": message for " .. mb .. " not recorded: " .. tostring(rwhy))
    call:play({ M.prompts.sorry, M.prompts.goodbye })
    return false, rwhy
  end
  local callerid = string.format('"%s" <%s>', call.caller_name or "", call.caller_number or "")
  local filed, id = voicemail.deliver(mb, file, callerid)
  if not filed then
    call:play({ M.prompts.sorry, M.prompts.goodbye })
    return false, id
  end
  call:play({ M.prompts.saved, M.prompts.goodbye })
  return true, id
end

-- Asks the PIN of box `info` (3 tries); true when it matched.
function M.ask_pin(call, info)
  for _ = 1, 3 do
    local pin, why = call:read_digits{ max = 16, timeout = 10, terminator = "#", prompt = M.prompts.password }
    if why == "hangup" then return false end
    if pin == info.password then return true end
    call:play(M.prompts.incorrect)
  end
  -- Repeated failures are worth an admin's eye (someone guessing PINs).
  dialtone.log("warn", string.format("call %s: wrong PIN 3 times for voicemail %s@%s from %s", tostring(call.id),
                                     info.number, info.context, tostring(call.caller_number)))
  return false
end

-- Records greeting `kind` of `mb` after `prompt`.
local function record_greeting(call, mb, kind, prompt)
  call:play({ prompt, M.prompts.beep })
  local file = voicemail.recording_file(mb)
  if not file then return call:play(M.prompts.sorry) end
  local ok = call:record{ file = file, max_seconds = M.max_greeting_seconds, silence = 3 }
  if ok and voicemail.save_greeting(mb, kind, file) then return call:play(M.prompts.saved) end
  call:play(M.prompts.sorry)
end

local function greetings_menu(call, mb)
  local d = call:read_digits{ max = 1, timeout = 10, prompt = M.prompts.options }
  if d == "1" then record_greeting(call, mb, "unavail", M.prompts.rec_unavail)
  elseif d == "2" then record_greeting(call, mb, "busy", M.prompts.rec_busy)
  elseif d == "3" then record_greeting(call, mb, "greet", M.prompts.rec_name)
  elseif d == "4" then record_greeting(call, mb, "temp", M.prompts.rec_temp) end
end

-- Plays the messages of `folder` with the message menu; returns on # or the end.
local function listen(call, mb, folder)
  local list = voicemail.messages(mb, folder)
  if #list == 0 then return call:play({ M.prompts.nomore }) end
  local i = 1
  while i >= 1 and i <= #list and up(call) do
    local m = list[i]
    call:play({ i == 1 and M.prompts.first or (i == #list and M.prompts.last or M.prompts.next), M.prompts.messages })
    local ok = call:play(m.file)
    if ok == false and not up(call) then return end
    -- A new message once heard is old (Asterisk files it in Old).
    if folder == "INBOX" then
      local moved, id = voicemail.move(mb, "INBOX", m.id, "Old")
      if moved then m.folder, m.id = "Old", id end
    end
    local d, why = call:read_digits{ max = 1, timeout = 10, prompt = M.prompts.msginstruct }
    if why == "hangup" or d == "#" or why == "terminator" then return end
    if d == "5" then
      -- again
    elseif d == "4" then
      i = math.max(1, i - 1)
    elseif d == "7" then
      voicemail.remove(mb, m.folder, m.id)
      call:play(M.prompts.deleted)
      i = i + 1
    elseif d == "9" then
      local f = call:read_digits{ max = 1, timeout = 10, prompt = M.prompts.savefolder }
      local to = M.folders[tonumber(f) or -1]
      if to and to ~= m.folder and voicemail.move(mb, m.folder, m.id, to) then
        call:play({ M.prompts.savedto, "vm-" .. to })
      end
      i = i + 1
    elseif d == "8" then
      local to = call:read_digits{ max = 16, timeout = 10, terminator = "#", prompt = M.prompts.forward }
      if to ~= "" and voicemail.forward(mb, m.folder, m.id, mailbox(call, to)) then
        call:play(M.prompts.forwarded)
      else
        call:play(M.prompts.nobox)
      end
    else
      i = i + 1
    end
  end
  if up(call) then call:play(M.prompts.nomore) end
end

-- Consults `box` (nil: asked). Ends with goodbye; true when the PIN matched.
function M.main(call, box, opts)
  opts = opts or {}
  if not voicemail then
    dialtone.log("warn", "call " .. tostring(call.id) .. ": voicemail needs the app.voicemail plugin (conf.d)")
    return false
  end
  if not call:answer() then return false end
  if not box or box == "" then
    box = call:read_digits{ max = 16, timeout = 10, terminator = "#", prompt = M.prompts.login }
  end
  local mb = mailbox(call, box)
  local info = voicemail.box(mb)
  if not info then
    call:play({ M.prompts.nobox, M.prompts.goodbye })
    return false
  end
  if info.password == "" then
    dialtone.log("warn", string.format("call %s: voicemail %s has no password: anyone in context %s can consult "
      .. "it (*99%s); set a password on the voicemail", tostring(call.id), mb, info.context, info.number))
  elseif info.ask_password or opts.ask_password then
    if not M.ask_pin(call, info) then
      call:play(M.prompts.goodbye)
      return false
    end
  end
  local folder = "INBOX"
  while up(call) do
    local new, old = voicemail.counts(mb)
    call:play(concat({ M.prompts.youhave }, count_prompts(folder == "INBOX" and new or #voicemail.messages(mb, folder)),
                     { "vm-" .. folder, M.prompts.messages }))
    local d, why = call:read_digits{ max = 1, timeout = 10, prompt = M.prompts.instructions }
    if why == "hangup" then return true end
    if d == "1" then
      listen(call, mb, folder)
    elseif d == "2" then
      local f = call:read_digits{ max = 1, timeout = 10, prompt = M.prompts.changeto }
      folder = M.folders[tonumber(f) or -1] or folder
    elseif d == "0" then
      greetings_menu(call, mb)
    elseif d == "#" or why == "timeout" then
      break
    end
    local _ = old
  end
  call:play(M.prompts.goodbye)
  return true
end

-- A call `user` did not take (dial status busy, noanswer, unavailable,
-- congestion) and no fallback claimed: with the user's voicemail enabled and
-- the media verbs loaded, the caller leaves a message after the busy or
-- unavailable greeting (XiVO's "Enable voicemail"). nil otherwise.
function M.unanswered(call, user, status)
  if not (voicemail and channel and channel.play and call.channel and user and user.id) then return nil end
  local box = voicemail.of_user(user.id)
  if not box then return nil end
  M.attach(call)
  call:voicemail(box, status == "busy" and "busy" or "unavail")
  return { action = "done" }
end

-- `fn` as the application `name` of CEL (APP_START / APP_END around it,
-- appdata the box), so that call logs can tell a call that ended in a
-- voicemail from one a person answered.
local function application(name, fn)
  return function(call, box, ...)
    return applications.run(call, name, box and mailbox(call, box) or "", fn, call, box, ...)
  end
end

-- The methods a call gets: the `channel` module's (the call core and the
-- media verbs), then these Lua applications.
M.methods = { voicemail = application("VoiceMail", M.leave), voicemail_main = application("VoiceMailMain", M.main) }
M.call_metatable = {
  __index = function(_, k)
    local v = channel and channel[k]
    if v ~= nil then return v end
    return M.methods[k]
  end,
}

-- Gives `call` its methods (call:dial, call:play ..., call:voicemail).
function M.attach(call)
  local mt = getmetatable(call)
  if mt == nil or (mt.__index == channel) then setmetatable(call, M.call_metatable) end
  -- The calling user's prompt language (confd's users.language, e.g.
  -- fr_FR): the media verbs play their sounds in it.
  if call.language == nil and config and config.user then
    local uid = tonumber(call.vars and call.vars.XIVO_USERID or "")
    local user = uid and config.user(uid)
    if user and user.language then call.language = user.language end
  end
  return call
end

return M
