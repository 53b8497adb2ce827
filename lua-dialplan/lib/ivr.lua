-- Interactive voice response menus (seed 5.20): the XiVO examples' dialplan
-- (a greeting, a prompt listing the choices read while it plays, a wait for a
-- digit, a counter of errors, an invalid-choice prompt, an error prompt and
-- hang-up after the last try) as one function over the media verbs.
--
--   local ivr = require("ivr")
--   return ivr.menu(call, {
--     greeting = "ivr-example-welcome-sound",   -- once, not interruptible
--     prompt = "ivr-example-choices",           -- interrupted by a digit
--     timeout = 5,                              -- seconds after the prompt
--     max_tries = 3,                            -- invalid or timed-out answers
--     invalid = "ivr-example-invalid-choice",   -- before trying again
--     error = "ivr-example-error",              -- after the last try; then hang-up
--     choices = {
--       ["1"] = { type = "user", user_id = 12 },          -- a confd destination
--       ["2"] = function(call) ... return decision end,   -- Lua
--       ["3"] = { menu = { prompt = ..., choices = {...} } },  -- a submenu
--       ["4"] = "repeat",                                 -- the prompt again
--     },
--   })
--
-- A choice is a destination as confd stores them (destinations.route: user,
-- group, extension, voicemail ...), a function(call, digits) returning the
-- route decision (nil: back to this menu), a submenu ({ menu = {...} }, whose
-- `back` digit returns here), or "repeat". `on_timeout` / `on_invalid` (same
-- kinds) replace the counting when set, like Asterisk's t and i extensions;
-- `on_abort` replaces the error prompt and hang-up after the last try.
--
-- Menus an administrator made with confd's /1.1/ivr are run the same way
-- when a destination is { type = "ivr", ivr_id } (an incall's, a fallback):
-- M.from_confd maps greeting_sound, menu_sound, invalid_sound, abort_sound,
-- timeout, max_tries, choices and the three destinations onto a menu.
-- The menu answers the call first. It returns the route decision, or
-- { action = "done" } when the caller hung up or the menu hung up on them.
local M = {}

local destinations = require("destinations")
local applications = require("applications")

M.defaults = {
  timeout = 5,
  max_tries = 3,
  invalid = "invalid",          -- asterisk-core-sounds: "That is not a valid choice"
  error = "vm-goodbye",
}

local done = { action = "done" }

local function longest_choice(choices)
  local n = 1
  for key in pairs(choices) do
    if type(key) == "string" and #key > n then n = #key end
  end
  return n
end

-- Plays `sound` (a name or a list); false when the caller hung up.
local function say(call, sound)
  if sound == nil or sound == "" then return true end
  local ok, why = call:play(sound)
  return ok or why ~= "hangup"
end

local run  -- forward: submenus call it

-- What a choice does: a decision to return, or "again" (back to the
-- prompt); nil and "invalid" for a choice of no known kind.
local function take(call, choice, digits, menu, depth)
  if choice == "repeat" then return "again" end
  if type(choice) == "function" then
    local decision = choice(call, digits)
    if decision == nil then return "again" end
    return decision
  end
  if type(choice) == "table" and choice.menu then
    local decision = run(call, choice.menu, depth + 1)
    if decision == "back" then return "again" end
    return decision
  end
  if type(choice) == "table" then
    return destinations.route(call, choice, menu.context or call.context, depth,
                              "IVR choice " .. digits) or "again"
  end
  dialtone.log("warn", string.format("call %s: IVR choice %s is neither a destination, a function, a submenu nor "
                                     .. "\"repeat\"; treated as invalid", tostring(call.id), digits))
  return nil, "invalid"
end

run = function(call, menu, depth)
  local choices = menu.choices or {}
  local timeout = menu.timeout or M.defaults.timeout
  local max_tries = menu.max_tries or M.defaults.max_tries
  local max = longest_choice(choices)
  if menu.back then max = math.max(max, #menu.back) end
  if not say(call, menu.greeting) then return done end
  local tries = 0
  while true do
    -- The prompt while the caller types, as Asterisk's BackGround (CEL APP_START / APP_END).
    local prompt = type(menu.prompt) == "table" and table.concat(menu.prompt, "&") or menu.prompt
    local digits, why = applications.run(call, "BackGround", prompt, call.read_digits, call,
                                         { max = max, timeout = timeout, prompt = menu.prompt })
    if why == "hangup" then return done end
    local failed
    if digits == "" then
      failed = "timeout"
    elseif menu.back and digits == menu.back then
      return "back"
    elseif choices[digits] ~= nil then
      local decision, err = take(call, choices[digits], digits, menu, depth)
      if err then
        failed = "invalid"
      elseif decision ~= "again" then
        return decision
      end
    else
      failed = "invalid"
    end
    if failed then
      local handler = failed == "timeout" and menu.on_timeout or menu.on_invalid
      if handler ~= nil then
        local decision = take(call, handler, failed, menu, depth)
        if decision ~= "again" and decision ~= nil then return decision end
      else
        tries = tries + 1
        dialtone.log("info", string.format("call %s: IVR %s (%s), try %d of %d", tostring(call.id), failed,
                                           digits, tries, max_tries))
        if tries >= max_tries then
          if menu.on_abort ~= nil then
            local decision = take(call, menu.on_abort, "abort", menu, depth)
            if decision ~= "again" and decision ~= nil then return decision end
          end
          say(call, menu.error or M.defaults.error)
          call:hangup()
          return done
        end
        if not say(call, menu.invalid or M.defaults.invalid) then return done end
      end
    end
  end
end

-- The menu of IVR `row` as config.ivr gives it (confd's shape).
function M.from_confd(row)
  local choices = {}
  for _, c in ipairs(row.choices or {}) do
    if c.exten and c.destination then choices[c.exten] = c.destination end
  end
  return {
    greeting = row.greeting_sound,
    prompt = row.menu_sound,
    invalid = row.invalid_sound,
    error = row.abort_sound,
    timeout = row.timeout,
    max_tries = row.max_tries,
    on_invalid = destinations.is_set(row.invalid_destination) and row.invalid_destination or nil,
    on_timeout = destinations.is_set(row.timeout_destination) and row.timeout_destination or nil,
    on_abort = destinations.is_set(row.abort_destination) and row.abort_destination or nil,
    choices = choices,
  }
end

-- Runs `menu` on `call` (answered first); the route decision.
function M.menu(call, menu)
  local ok, err = call:answer()
  if ok == false then
    dialtone.log("warn", string.format("call %s: IVR cannot answer: %s", tostring(call.id), tostring(err)))
    return { action = "reject", code = 480, status = 480, reason = "Temporarily Unavailable" }
  end
  local decision = run(call, menu, 0)
  if decision == "back" then return done end
  return decision
end

destinations.handlers.ivr = function(call, d, context)
  local row = config and config.ivr and config.ivr(tonumber(d.ivr_id) or 0)
  if not row then
    dialtone.log("warn", string.format("call %s: destination ivr %s does not exist", tostring(call.id),
                                       tostring(d.ivr_id)))
    return destinations.reject(404, "Not Found")
  end
  local menu = M.from_confd(row)
  menu.context = context
  dialtone.log("info", string.format("call %s: IVR %s (%s)", tostring(call.id), tostring(row.id), tostring(row.name)))
  return M.menu(call, menu)
end

return M
