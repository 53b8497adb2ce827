-- The overload tests' dialplan: calls to 1999 wait in test.hold() until the
-- test lets them go (then 480), so they stay pending as long as it likes;
-- other calls go through the shipped library.
local calls = require("calls")

function route_call(call)
  if call.callee == "1999" then
    test.hold()
    return { action = "reject", status = 480 }
  end
  return calls.route(call)
end
