-- The test dialplan: lua-dialplan/lib/calls.lua with a short ring timeout.
local calls = require("calls")
calls.ring_timeout = 2

function route_call(call)
  return calls.route(call)
end
