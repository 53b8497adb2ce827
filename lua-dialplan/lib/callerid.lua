-- Caller identity: normalization of numbers received from trunks (XiVO's
-- xivo_in_callerid.conf default rules) and the caller ID presented on
-- outgoing calls.
local M = {}

-- The default rules, first match wins: { test, strip, add }.
M.rules = {
  -- National number with its leading 0 missing: 123456789 -> 0123456789.
  { test = function(n) return n:match("^[1-9]%d%d%d%d%d%d%d%d$") end, strip = 0, add = "0" },
  -- French number in E.164: +33123456789 -> 0123456789.
  { test = function(n) return n:match("^%+33%d%d%d%d%d%d%d%d%d$") end, strip = 3, add = "0" },
  -- International number in E.164: +44123456789 -> 0044123456789.
  { test = function(n) return n:match("^%+%d%d%d%d+$") end, strip = 1, add = "00" },
  -- International number with its 00 missing: 33123456789 -> 0033123456789.
  { test = function(n) return n:match("^[1-9]%d%d%d%d%d%d%d%d%d%d+$") end, strip = 0, add = "00" },
}

-- `number` after the first rule of M.rules that applies (unchanged if none).
function M.normalize(number)
  if type(number) ~= "string" then return number end
  for _, rule in ipairs(M.rules) do
    if rule.test(number) then return rule.add .. number:sub(rule.strip + 1) end
  end
  return number
end

-- Splits a caller ID written as `"Name" <number>`, `Name <number>` or
-- `number` into name, number.
function M.parse(text)
  if type(text) ~= "string" or text == "" then return nil, nil end
  local name, number = text:match('^%s*"([^"]*)"%s*<([^>]*)>%s*$')
  if not name then name, number = text:match("^%s*([^<]-)%s*<([^>]*)>%s*$") end
  if not number then return nil, text:match("^%s*(.-)%s*$") end
  if name == "" then name = nil end
  return name, number
end

-- The caller ID of an outgoing call through route `outcall` matched by
-- `pattern`, for a caller presenting `internal` ({name, number}) and being
-- the user `user` (may be nil). Precedence, as XiVO:
--   1. route "Internal" set: the caller's internal caller ID;
--   2. the user's outgoing caller ID: "anonymous" hides the caller (the
--      number still goes in P-Asserted-Identity: the route's caller ID if
--      any, else the internal one), a custom value replaces it;
--   3. the route pattern's caller ID;
--   4. the internal caller ID.
-- Returns { name, number, anonymous }.
function M.outgoing(internal, user, outcall, pattern)
  local route_name, route_number = M.parse(pattern and pattern.caller_id)
  if outcall and outcall.internal_caller_id then
    return { name = internal.name, number = internal.number, anonymous = false }
  end
  local chosen = user and user.outgoing_caller_id or "default"
  if chosen == "anonymous" then
    return { name = "Anonymous", number = route_number or internal.number, anonymous = true }
  end
  if chosen ~= "default" and chosen ~= "" then
    local name, number = M.parse(chosen)
    return { name = name or internal.name, number = number, anonymous = false }
  end
  if route_number then
    return { name = route_name or internal.name, number = route_number, anonymous = false }
  end
  return { name = internal.name, number = internal.number, anonymous = false }
end

-- The caller name after an incoming call's caller_id_mode/caller_id_name.
function M.incall_name(name, mode, text)
  if not text or text == "" or not mode then return name end
  name = name or ""
  if mode == "overwrite" then return text end
  if mode == "prepend" then return text .. name end
  if mode == "append" then return name .. text end
  return name
end

-- Reverse lookup (seed 5.11, "Reverse lookup"): an incoming call whose
-- caller-ID name is the number itself or "unknown" (or missing) takes the
-- name its number has in the directories. Runs after normalization, so the
-- directories must hold numbers in the normalized form. Needs the
-- directory.dird plugin, which exports dird.reverse(); without it, or when
-- nothing matches, the name is left as it was.
function M.needs_reverse(name, number)
  if name == nil or name == "" then return true end
  return name == number or name:lower() == "unknown"
end

function M.reverse_name(name, number, profile)
  if number == nil or number == "" or not M.needs_reverse(name, number) then return name end
  local dird = rawget(_G, "dird")
  if type(dird) ~= "table" or type(dird.reverse) ~= "function" then return name end
  local ok, found = pcall(dird.reverse, profile or "default", number)
  if not ok then
    dialtone.log("warn", "reverse lookup of " .. number .. " failed: " .. tostring(found))
    return name
  end
  if type(found) == "string" and found ~= "" then return found end
  return name
end

return M
