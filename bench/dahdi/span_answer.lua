-- Benchmark dialplan of bench/dahdi/run_dialtoned.sh: the shipped routing
-- (calls.route: the caller's outgoing route, whose trunk is dahdi/g1), and
-- on the far spans (context from-extern) an "operator" that answers with a
-- continuous tone and keeps the call until the caller hangs up.
local calls = require("calls")

function route_call(call)
  calls.prepare(call)
  if call.context == "from-extern" then
    call:answer()
    call:playtones("dial")
    call:read_digits{ max = 1, timeout = 3600, terminator = "#" }
    return { action = "done" }
  end
  return calls.route(call)
end
