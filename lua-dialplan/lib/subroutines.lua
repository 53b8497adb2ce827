-- Preprocess subroutines as Lua functions (XiVO's preprocess_subroutine and
-- global subroutines). A subroutine receives the call and may read and
-- change call.vars (XIVO_* variables) before they are used:
--
--   local subroutines = require("subroutines")
--   subroutines.define("xivo-subrgbl-user", function(call)
--     call.vars.XIVO_RINGSECONDS = "10"
--   end)
--
-- Per-object subroutines are named by the object's preprocess_subroutine
-- field (incalls, outcalls); the global ones run for every object of a kind
-- while M.global_enabled is true (XIVO_PRESUBR_GLOBAL_ENABLE).
local M = {}

M.global_enabled = true
M.global = {
  user = "xivo-subrgbl-user",
  group = "xivo-subrgbl-group",
  did = "xivo-subrgbl-did",
  outcall = "xivo-subrgbl-outcall",
}
M.forward_enabled = true
M.forward = { user = "xivo-subrfdw-user", extension = "xivo-subrfdw-extension" }

local defined = {}

function M.define(name, fn)
  assert(type(name) == "string" and type(fn) == "function",
         "subroutines.define(name, function)")
  defined[name] = fn
end

function M.undefine(name) defined[name] = nil end

-- Runs the global subroutine of `kind` then the object's own one (`name`,
-- may be nil). A name with no Lua function is logged once per call and
-- skipped, as a missing Asterisk context would be.
function M.run(kind, name, call)
  local names = {}
  if M.global_enabled and M.global[kind] then names[#names + 1] = M.global[kind] end
  if name and name ~= "" then names[#names + 1] = name end
  for _, n in ipairs(names) do
    local fn = defined[n]
    if fn then
      fn(call)
    elseif n == name then
      dialtone.log("warn", string.format("call %s: preprocess subroutine '%s' is not defined; define it with subroutines.define",
                                         tostring(call.id), n))
    end
  end
end

-- Runs the forward subroutine for a forward to `kind`.
function M.run_forward(kind, call)
  if not M.forward_enabled then return end
  local fn = defined[M.forward[kind] or ""]
  if fn then fn(call) end
end

return M
