-- Dialplan of the fax tests: the shipped libraries, alice's phone standing
-- for a trunk: what it dials is a DID of the from-extern incalls, routed by
-- lib/incalls.lua to the incall's destination (fax_to_mail: lib/faxes.lua).
local calls = require("calls")
local incalls = require("incalls")

function route_call(call)
  calls.prepare(call)
  call.origin = "extern"
  return incalls.call(call, call.called_number, "from-extern")
end
