-- The conference tests' dialplan: the shipped lua-dialplan/lib as is, so a
-- room's extension goes through calls.route -> conferences.join, and a call
-- permission with a password through callpermissions.ask_password.
local calls = require("calls")
local features = require("features")

function route_call(call)
  return features.route(call) or calls.route(call)
end
