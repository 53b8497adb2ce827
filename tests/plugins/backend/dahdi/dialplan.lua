-- The dahdi tests' dialplan: the shipped routing (lib/calls.lua) and DID
-- matching (lib/incalls.lua), with the incalls of each span's context given
-- here instead of by confd. Their destinations are of type "test", served
-- below (lib/destinations.lua's handlers): each logs what it received and
-- does what its name says.
local calls = require("calls")
local destinations = require("destinations")
calls.reverse_profile = nil  -- no directory lookups

local function to(exten) return { type = "test", exten = exten } end

local dids = {
  ["from-extern"] = {
    { id = 1, exten = "140001000", destination = to("answer") },
    { id = 2, exten = "140001017", destination = to("busy") },
    { id = 3, exten = "140001019", destination = to("noanswer") },
    { id = 4, exten = "14000102X", destination = to("ring") },     -- a pattern: 1400010 20..29
    { id = 5, exten = "140001030", destination = to("answer_late") },
  },
  ["from-pabx"] = {
    { id = 10, exten = "2001", destination = to("answer") },
  },
}

config = {
  incalls = function(context) return dids[context] or {} end,
  callpermissions = function() return {} end,
  schedule = function() return nil end,
  user_by_exten = function() return nil end,
  group_by_exten = function() return nil end,
  conference_by_exten = function() return nil end,
  outcalls = function() return {} end,
}

destinations.handlers.test = function(call, d)
  local exten = d.exten
  dialtone.log("info", string.format(
    "routed %s did=%s context=%s caller=%s name=%s incall=%s calling_ton=%s called_ton=%s pres=%s span=%s",
    exten, call.called_number, tostring(call.context), tostring(call.caller_number), tostring(call.caller_name),
    tostring(call.vars.XIVO_INCALL_ID), tostring(call.vars.DAHDI_CALLING_TON), tostring(call.vars.DAHDI_CALLED_TON),
    tostring(call.vars.DAHDI_CALLING_PRES), tostring(call.vars.DAHDI_SPAN)))
  if exten == "answer" then
    call:answer()
    return { action = "done" }
  end
  if exten == "busy" then return { action = "reject", code = 486 } end
  if exten == "noanswer" then
    local o = call:dial{ "test/nobody", timeout = 1 }
    return { action = "reject", code = o.code, cause = o.cause }
  end
  if exten == "ring" then
    local o = call:dial{ "test/nobody", timeout = 60 }
    return { action = "reject", code = o.code, cause = o.cause }
  end
  return { action = "reject", code = 404 }
end

function route_call(call)
  -- The analog tests' ports: a phone that dialed (from-phones) or a line
  -- that rings (from-line) is logged and answered.
  if call.context == "from-phones" or call.context == "from-line" then
    calls.prepare(call)
    dialtone.log("info", string.format("analog call on span %s channel %s to '%s' context %s origin %s from '%s' '%s'",
                                       tostring(call.vars.DAHDI_SPAN), tostring(call.vars.DAHDI_CHANNEL),
                                       tostring(call.called_number), call.context, tostring(call.origin),
                                       tostring(call.caller_number), tostring(call.caller_name)))
    call:answer()
    return { action = "done" }
  end
  return calls.route(call)
end
