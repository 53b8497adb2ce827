-- Number matching for the dialplan: Asterisk extension patterns (DIDs,
-- outgoing routes) and the RegExp/Target rewrite of outgoing routes.
local M = {}

-- ---- extension patterns ------------------------------------------------
--
-- As in XiVO (entered without the leading "_"):
--   X any digit, Z 1-9, N 2-9, [1-4a] a set, "." one or more characters,
--   "!" zero or more characters; anything else matches itself.

local function set_of(pattern, i)
  local close = pattern:find("]", i + 1, true)
  if not close then return nil end
  local body, set = pattern:sub(i + 1, close - 1), {}
  local j = 1
  while j <= #body do
    local a, dash, b = body:sub(j, j), body:sub(j + 1, j + 1), body:sub(j + 2, j + 2)
    if dash == "-" and b ~= "" then
      for c = a:byte(), b:byte() do set[string.char(c)] = true end
      j = j + 3
    else
      set[a] = true
      j = j + 1
    end
  end
  return set, close
end

local classes = {
  X = "0123456789", Z = "123456789", N = "23456789",
}

local function compile_extension(pattern)
  if pattern:sub(1, 1) == "_" then pattern = pattern:sub(2) end
  local items, i = {}, 1
  while i <= #pattern do
    local ch = pattern:sub(i, i)
    local up = ch:upper()
    if classes[up] then
      local set = {}
      for d in classes[up]:gmatch(".") do set[d] = true end
      items[#items + 1] = { set = set }
    elseif ch == "[" then
      local set, close = set_of(pattern, i)
      if not set then return nil end
      items[#items + 1] = { set = set }
      i = close
    elseif ch == "." then
      items[#items + 1] = { rest = 1 }
    elseif ch == "!" then
      items[#items + 1] = { rest = 0 }
    else
      items[#items + 1] = { literal = ch }
    end
    i = i + 1
  end
  return items
end

-- True when `number` matches the extension pattern `pattern` (whole number).
function M.extension_matches(pattern, number)
  if type(pattern) ~= "string" or type(number) ~= "string" then return false end
  local items = compile_extension(pattern)
  if not items then return false end
  for k, item in ipairs(items) do
    if item.rest then
      -- "." and "!" end a pattern in Asterisk: they take what is left.
      return #number - k + 1 >= item.rest
    end
    local ch = number:sub(k, k)
    if ch == "" then return false end
    if item.literal then
      if item.literal ~= ch then return false end
    elseif not item.set[ch] then
      return false
    end
  end
  return #number == #items
end

-- True when the pattern holds wildcards (it is not a plain number).
function M.is_pattern(pattern)
  if type(pattern) ~= "string" then return false end
  if pattern:sub(1, 1) == "_" then return true end
  return pattern:find("[XxZzNn%.!%[]") ~= nil
end

-- Sort key so that the most specific pattern wins, as Asterisk does: exact
-- numbers first, then patterns without "."/"!", then longer fixed prefixes.
function M.specificity(pattern)
  if not M.is_pattern(pattern) then return 0 end
  local p = pattern:gsub("^_", "")
  local open = p:find("[%.!]") and 1 or 0
  local prefix = #(p:match("^[%d%*#%+]*") or "")
  return 1 + open * 1000 + (100 - prefix)
end

-- ---- regular expressions (RegExp / Target) ------------------------------
--
-- A small backtracking engine for the expressions used in routes: literals,
-- ".", [sets] with ranges and ^negation, \d, \escapes, (groups), and the
-- quantifiers * + ? {n} {n,} {n,m}. The expression must match the whole
-- number. A "+" with nothing before it (as in "+33(.*)") is a literal +.

local function parse_regex(re)
  local pos, ngroups = 1, 0

  local function atom_test(ch)
    return function(c) return c == ch end
  end

  local function parse_seq(depth)
    local nodes = {}
    while pos <= #re do
      local ch = re:sub(pos, pos)
      local node
      if ch == ")" then
        if depth == 0 then error("unbalanced ')' at " .. pos) end
        return nodes
      elseif ch == "(" then
        pos = pos + 1
        ngroups = ngroups + 1
        local index = ngroups
        local inner = parse_seq(depth + 1)
        if re:sub(pos, pos) ~= ")" then error("missing ')'") end
        node = { group = inner, index = index }
      elseif ch == "." then
        node = { test = function() return true end }
      elseif ch == "[" then
        local close = re:find("]", pos + 2, true)
        if not close then error("missing ']'") end
        local body = re:sub(pos + 1, close - 1)
        local negate = body:sub(1, 1) == "^"
        if negate then body = body:sub(2) end
        local set = set_of("[" .. body .. "]", 1)
        node = { test = function(c) return (set[c] == true) ~= negate end }
        pos = close
      elseif ch == "\\" then
        pos = pos + 1
        local e = re:sub(pos, pos)
        if e == "d" then
          node = { test = function(c) return c:match("%d") ~= nil end }
        else
          node = { test = atom_test(e) }
        end
      elseif (ch == "^" and pos == 1) or (ch == "$" and pos == #re) then
        node = nil
      elseif (ch == "*" or ch == "+" or ch == "?") and #nodes == 0 then
        node = { test = atom_test(ch) }
      else
        node = { test = atom_test(ch) }
      end
      pos = pos + 1
      if node then
        node.min, node.max = 1, 1
        local q = re:sub(pos, pos)
        if q == "*" then node.min, node.max, pos = 0, math.huge, pos + 1
        elseif q == "+" then node.min, node.max, pos = 1, math.huge, pos + 1
        elseif q == "?" then node.min, node.max, pos = 0, 1, pos + 1
        elseif q == "{" then
          local close = re:find("}", pos, true)
          if not close then error("missing '}'") end
          local lo, comma, hi = re:sub(pos + 1, close - 1):match("^(%d+)(,?)(%d*)$")
          if not lo then error("bad repetition at " .. pos) end
          node.min = tonumber(lo)
          node.max = comma == "" and node.min or (hi == "" and math.huge or tonumber(hi))
          pos = close + 1
        end
        nodes[#nodes + 1] = node
      end
    end
    if depth > 0 then error("missing ')'") end
    return nodes
  end

  local nodes = parse_seq(0)
  if pos <= #re then error("unbalanced ')' at " .. pos) end
  return nodes
end

local function with_capture(caps, index, value)
  local copy = {}
  for k, v in pairs(caps) do copy[k] = v end
  copy[index] = value
  return copy
end

local match_seq

local function match_once(node, s, pos, caps, k)
  if node.group then
    return match_seq(node.group, 1, s, pos, caps, function(p, c)
      return k(p, with_capture(c, node.index, s:sub(pos, p - 1)))
    end)
  end
  if pos <= #s and node.test(s:sub(pos, pos)) then return k(pos + 1, caps) end
  return nil
end

local function match_repeat(node, count, s, pos, caps, k)
  if count < node.max then
    local r = match_once(node, s, pos, caps, function(p, c)
      if p == pos and count >= node.min then return nil end
      return match_repeat(node, count + 1, s, p, c, k)
    end)
    if r then return r end
  end
  if count >= node.min then return k(pos, caps) end
  return nil
end

match_seq = function(nodes, i, s, pos, caps, k)
  if i > #nodes then return k(pos, caps) end
  return match_repeat(nodes[i], 0, s, pos, caps, function(p, c)
    return match_seq(nodes, i + 1, s, p, c, k)
  end)
end

-- Captures of `re` matching the whole of `number`, or nil. Raises an error
-- naming the problem when `re` is not a valid expression.
function M.regex_match(re, number)
  local nodes = parse_regex(re)
  return match_seq(nodes, 1, number, 1, {}, function(p, caps)
    if p == #number + 1 then return caps end
    return nil
  end)
end

-- The dialed number rewritten by RegExp `re` and Target `target` (\1..\9
-- are the groups; one digit each, so "33\18" is 33, group 1, then 8).
-- Returns nil when the number does not match.
function M.rewrite(re, target, number)
  local caps = M.regex_match(re, number)
  if not caps then return nil end
  return (target:gsub("\\(%d)", function(d) return caps[tonumber(d)] or "" end))
end

return M
