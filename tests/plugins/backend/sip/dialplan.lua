-- The test dialplan: the shipped lua-dialplan (lib/calls.lua), with a
-- global user subroutine shortening the default 30 s ring time to 2 s so
-- that timeouts stay short (a user's own ring time is kept).
local calls = require("calls")
local subroutines = require("subroutines")
-- Group members ring 2 s each in one-at-a-time strategies (15 s shipped).
require("groups").member_ring_seconds = 2

subroutines.define("xivo-subrgbl-user", function(call)
  if call.vars.XIVO_RINGSECONDS == "30" then call.vars.XIVO_RINGSECONDS = "2" end
end)

function route_call(call)
  return calls.route(call)
end
