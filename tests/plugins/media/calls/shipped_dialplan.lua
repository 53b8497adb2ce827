-- The dialplan of the paging, recording and group music tests: the shipped
-- lua-dialplan/lib as is (features.route: *11<n> paging, *26; calls.route:
-- users with their recording, groups with their waiting music).
local calls = require("calls")
local features = require("features")

function route_call(call)
  return features.route(call) or calls.route(call)
end
