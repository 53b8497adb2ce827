-- Dialtone dialplan entry file.
--
-- backend.sip calls route_call(call) for each new call, in its own
-- coroutine. The logic lives in lib/: calls.lua (entry), users.lua,
-- groups.lua, incalls.lua, outcalls.lua, callerid.lua, patterns.lua, subroutines.lua,
-- features.lua (feature codes *20 to *25, pickup *8 in pickup.lua), parking.lua.
-- See docs/lua-dialplan.md.
local calls = require("calls")
local autoprov = require("autoprov")
local features = require("features")
local subroutines = require("subroutines")

-- Preprocess subroutines: define them here, e.g.
--   subroutines.define("xivo-subrgbl-user", function(call)
--     dialtone.log("info", "user call " .. call.vars.XIVO_DSTNUM)
--   end)
local _ = subroutines

function route_call(call)
  -- Phones in autoprov mode and the *48378 reset code (lib/autoprov.lua).
  local decision = autoprov.route(call)
  if decision then return decision end
  -- Forward and DND codes of the calling user (lib/features.lua).
  decision = features.route(call)
  if decision then return decision end
  return calls.route(call)
end
