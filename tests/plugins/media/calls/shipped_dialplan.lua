-- The dialplan of the paging, recording and group music tests: the shipped
-- lua-dialplan/lib as is (features.route: *11<n> paging, *26; calls.route:
-- users with their recording, groups with their waiting music). Numbers
-- of 555 and four digits stand for DIDs from a trunk: the incalls of
-- from-extern take them.
local calls = require("calls")
local features = require("features")
local incalls = require("incalls")

function route_call(call)
  if call.called_number:match("^555%d%d%d%d$") then
    calls.prepare(call)
    call.origin = "extern"
    return incalls.call(call, call.called_number, "from-extern")
  end
  return features.route(call) or calls.route(call)
end
